"""The console's only way to the suite: the gateway's GraphQL endpoint and file routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

import httpx
import orjson

from services.common import tracing


@dataclass(frozen=True)
class Refusal:
    """An error the API gave, as a page shows it: its message, code and rule."""

    message: str
    code: str | None = None
    rule: int | None = None
    path: tuple[str | int, ...] = ()
    field: str | None = None

    @classmethod
    def from_error(cls, error: dict[str, Any]) -> Refusal:
        ext = error.get("extensions") or {}
        rule = ext.get("rule")
        return cls(
            message=str(error.get("message") or "The request was refused."),
            code=ext.get("code"),
            rule=rule if isinstance(rule, int) else None,
            path=tuple(error.get("path") or ()),
            field=ext.get("field"),
        )


@dataclass
class Answer:
    data: dict[str, Any]
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refusals

    def at(self, name: str) -> list[Refusal]:
        """The refusals of one root field."""
        return [r for r in self.refusals if r.path[:1] == (name,)]


class GatewayError(Exception):
    """The gateway could not be reached or answered something that is not GraphQL."""


class Gateway:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base = base_url.rstrip("/")
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    def _headers(self, token: str | None, request_id: str | None) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if request_id:
            headers["x-request-id"] = request_id
        tracing.inject(headers)  # traced: the gateway's span continues the page's
        return headers

    async def query(
        self,
        token: str | None,
        document: str,
        variables: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Answer:
        try:
            response = await self.http.post(
                f"{self.base}/graphql",
                json={"query": document, "variables": variables or {}},
                headers=self._headers(token, request_id),
            )
        except httpx.HTTPError as exc:
            raise GatewayError(f"The gateway cannot be reached ({type(exc).__name__}).") from exc
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> Answer:
        try:
            body = response.json()
        except ValueError as exc:
            raise GatewayError(f"The gateway answered HTTP {response.status_code}.") from exc
        if not isinstance(body, dict):
            raise GatewayError(f"The gateway answered HTTP {response.status_code}.")
        refusals = [Refusal.from_error(e) for e in body.get("errors") or [] if isinstance(e, dict)]
        return Answer(data=body.get("data") or {}, refusals=refusals)

    async def upload(
        self,
        token: str | None,
        document: str,
        variables: dict[str, Any],
        files: dict[str, tuple[str, IO[bytes], str]],
        request_id: str | None = None,
    ) -> Answer:
        """An operation with files: the GraphQL multipart request specification (an
        ``operations`` part, a ``map`` part, then the files, each streamed from its spool).
        ``files`` maps a variable path (``i.file``) to (filename, file, content type); the
        variable is sent as null and the map puts the file there. The gateway asks for the
        ``Apollo-Require-Preflight`` header, which a cross-site form cannot send."""
        names = {path: str(n) for n, path in enumerate(files)}
        data = {
            "operations": orjson.dumps({"query": document, "variables": variables}).decode(),
            "map": orjson.dumps({n: [f"variables.{path}"] for path, n in names.items()}).decode(),
        }
        headers = {**self._headers(token, request_id), "apollo-require-preflight": "true"}
        try:
            response = await self.http.post(
                f"{self.base}/graphql",
                data=data,
                files={names[path]: spec for path, spec in files.items()},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise GatewayError(f"The gateway cannot be reached ({type(exc).__name__}).") from exc
        return self._answer(response)

    async def get_file(
        self, token: str | None, path: str, request_id: str | None = None
    ) -> httpx.Response:
        """GET one of the gateway's file routes (the body read whole: files are bounded)."""
        try:
            return await self.http.get(
                f"{self.base}{path}", headers=self._headers(token, request_id)
            )
        except httpx.HTTPError as exc:
            raise GatewayError(f"The gateway cannot be reached ({type(exc).__name__}).") from exc
