"""File uploads at the gateway: the GraphQL multipart request specification (the one Apollo
and most clients speak: an ``operations`` part, a ``map`` part, then one part per file).

    curl $GATEWAY/graphql -H 'Authorization: Bearer …' -H 'Apollo-Require-Preflight: true' \\
      -F operations='{"query": "mutation($f: Upload!) { … }", "variables": {"f": null}}' \\
      -F map='{"0": ["variables.f"]}' -F 0=@brief.pdf

A browser may send a multipart form to any site without a preflight, so such a request must
carry a non-simple header (``Apollo-Require-Preflight`` or ``X-Apollo-Operation-Name``, as
Apollo Router asks), which a cross-site form cannot set without CORS allowing it.

Files are spooled as they arrive (to disk past 1 MiB, never whole in memory), the body is
refused past ``upload_limit`` bytes, and each file takes its place in the variables as an
``UploadRef``. The operation then goes through the pipeline like any other (caller,
authorisation, limits, plan); the fetcher sends a subgraph call whose variables hold
``UploadRef`` values as a multipart request of the same specification, streaming the files
from their spool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from gateway.limits import LimitExceeded

CSRF_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
MAX_FILES = 10
MAX_FIELD_BYTES = 256 * 1024  # the operations and map parts
OVERHEAD_BYTES = 64 * 1024  # part headers and boundaries around the files


class UploadRejected(ValueError):
    """The request is not a well-formed multipart GraphQL request."""


@dataclass(frozen=True, eq=False)
class UploadRef:
    """A file of the request, spooled, standing where the client's variables put it."""

    file: IO[bytes]
    filename: str
    content_type: str

    def __repr__(self) -> str:  # never the content
        return f"UploadRef({self.filename!r}, {self.content_type!r})"


def is_multipart(headers: Headers) -> bool:
    return headers.get("content-type", "").lower().startswith("multipart/form-data")


def upload_limit(settings: Any) -> int:
    """The largest upload body: the largest file a subgraph takes, plus the other parts."""
    largest = max(
        int(settings.meetings_document_max_bytes), int(settings.cases_attachment_max_bytes)
    )
    return largest + MAX_FIELD_BYTES + OVERHEAD_BYTES


def check_csrf(headers: Headers) -> None:
    if not any(headers.get(name, "").strip() for name in CSRF_HEADERS):
        raise UploadRejected(
            "A multipart request must carry an Apollo-Require-Preflight (or "
            "X-Apollo-Operation-Name) header, so that a cross-site form cannot send it."
        )


def too_large(limit: int, size: int | None) -> LimitExceeded:
    return LimitExceeded(
        "bodySize",
        limit,
        size,
        f"The upload is larger than the {limit} bytes accepted (the largest file a service "
        "takes, and the operation).",
    )


async def _counted(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise too_large(limit, None)
        yield chunk


async def read_multipart(request: Request, limit: int) -> dict[str, Any]:
    """The operation of a multipart request, with its files as ``UploadRef`` values."""
    check_csrf(request.headers)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, int(declared))
    parser = MultiPartParser(
        request.headers,
        _counted(request.stream(), limit),
        max_files=MAX_FILES,
        max_fields=2,
        max_part_size=MAX_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise UploadRejected(f"The multipart body is malformed: {exc.message}") from exc
    operations = _json_part(form.get("operations"), "operations")
    mapping = _json_part(form.get("map"), "map")
    if not isinstance(operations, dict):
        raise UploadRejected("'operations' must be one operation (a JSON object).")
    if not isinstance(mapping, dict):
        raise UploadRejected("'map' must be a JSON object of file part names to paths.")
    for name, paths in mapping.items():
        upload = form.get(name)
        if not isinstance(upload, UploadFile):
            raise UploadRejected(f"The map names a file part {name!r} the request lacks.")
        if not isinstance(paths, list) or not paths:
            raise UploadRejected(f"The map gives no paths for file part {name!r}.")
        ref = UploadRef(
            upload.file,
            upload.filename or name,
            upload.content_type or "application/octet-stream",
        )
        for path in paths:
            _place(operations, path, ref)
    return operations


def _json_part(value: object, name: str) -> Any:
    if not isinstance(value, str):
        raise UploadRejected(f"A multipart request needs an '{name}' part before its files.")
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise UploadRejected(f"'{name}' is not valid JSON.") from exc


def _place(operations: dict[str, Any], path: object, ref: UploadRef) -> None:
    """Put ``ref`` at ``path`` (``variables.input.file``, ``variables.files.0``), where the
    client left a null."""
    if not isinstance(path, str) or not path.startswith("variables."):
        raise UploadRejected(f"A map path must start with 'variables.': {path!r}.")
    keys = path.split(".")
    node: Any = operations
    for key in keys[:-1]:
        node = _step(node, key, path)
    last = keys[-1]
    if isinstance(node, dict) and last in node and node[last] is None:
        node[last] = ref
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        if node[int(last)] is not None:
            raise UploadRejected(f"The map path {path!r} does not point at a null.")
        node[int(last)] = ref
    else:
        raise UploadRejected(f"The map path {path!r} does not point at a null in operations.")


def _step(node: Any, key: str, path: str) -> Any:
    if isinstance(node, dict) and isinstance(node.get(key), dict | list):
        return node[key]
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    raise UploadRejected(f"The map path {path!r} leads nowhere in operations.")


# --- the subgraph side: variables holding files -------------------------------------------


def uploads_in(value: Any, path: str = "variables") -> Iterator[tuple[str, UploadRef]]:
    """Each ``UploadRef`` in ``value`` with its multipart path."""
    if isinstance(value, UploadRef):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from uploads_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from uploads_in(item, f"{path}.{i}")


def without_uploads(value: Any) -> Any:
    if isinstance(value, UploadRef):
        return None
    if isinstance(value, dict):
        return {k: without_uploads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_uploads(v) for v in value]
    return value
