"""What callers see of errors: our refusals as the subgraph stated them, nothing else.

An error that carries one of the suite's codes keeps its message, path and the extensions
``code``, ``field`` and ``rule`` (and a ``SUBGRAPH_UNAVAILABLE``'s ``subgraph``); anything
else (a subgraph crash, an error in another shape) is logged with the request id and
answered as ``INTERNAL`` with that id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("dief.gateway.errors")

STABLE_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "VALIDATION",
        "NOT_FOUND",
        "CONFLICT",
        "DEADLINE_PASSED",
        "BAD_REQUEST",
        "UNAVAILABLE",
        "SUBGRAPH_UNAVAILABLE",
        "QUERY_PLAN_FAILED",
        "INTERNAL",
    }
)
KEPT_EXTENSIONS = ("code", "field", "rule", "requestId")


def internal_error(request_id: str, path: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": f"Internal error. Quote request id {request_id} to the operators.",
        "extensions": {"code": "INTERNAL", "requestId": request_id},
    }
    if path:
        error["path"] = path
    return error


def mask_error(error: dict[str, Any], request_id: str) -> dict[str, Any]:
    extensions = error.get("extensions") or {}
    code = extensions.get("code") if isinstance(extensions, dict) else None
    path = error.get("path")
    if code not in STABLE_CODES or not isinstance(error.get("message"), str):
        log.error(
            "unexpected error from a subgraph or the executor",
            extra={"error": str(error)[:2000], "request_id": request_id},
        )
        return internal_error(request_id, path if isinstance(path, list) else None)
    if code == "INTERNAL":
        # A subgraph's INTERNAL, or one the executor made of an unreachable subgraph; the
        # details stay in the log, under this request's id.
        log.error(
            "internal error from a subgraph or the executor",
            extra={"error": str(error)[:2000], "request_id": request_id},
        )
        return internal_error(request_id, path if isinstance(path, list) else None)
    kept: dict[str, Any] = {"message": error["message"]}
    if isinstance(path, list):
        kept["path"] = path
    kept["extensions"] = {k: extensions[k] for k in KEPT_EXTENSIONS if k in extensions}
    if code == "SUBGRAPH_UNAVAILABLE" and isinstance(extensions.get("subgraph"), str):
        kept["extensions"]["subgraph"] = extensions["subgraph"]  # a name, never an address
    return kept


def mask_errors(errors: Iterable[dict[str, Any]] | None, request_id: str) -> list[dict[str, Any]]:
    return [mask_error(e, request_id) for e in errors or ()]
