"""Request bodies every service accepts: at most ``max_bytes``, refused before they are
read (``Content-Length``) or as soon as they grow past it (chunked, streamed on to the app
as it arrives, never held whole); a JSON GraphQL request
must be UTF-8 and a JSON object. Refusals answer as the gateway does (413 or 400, code
``VALIDATION``) and leave the connection usable."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class BodyTooLarge(Exception):
    pass


def _error(message: str, **extensions: Any) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": "VALIDATION", **extensions}}]}
    ).encode()


async def _answer(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def json_problem(body: bytes) -> str | None:
    """Why a JSON GraphQL request body is not one, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "The request body is not UTF-8."
    try:
        payload = json.loads(text)
    except ValueError:
        return "The request body is not JSON."
    if not isinstance(payload, dict):
        return "A GraphQL request is a JSON object."
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, json_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_paths = json_paths

    def _too_large(self, size: int | None) -> bytes:
        return _error(
            f"The request body is larger than the {self.max_bytes} bytes accepted.",
            limit="bodySize",
            maximum=self.max_bytes,
            **({"actual": size} if size is not None else {}),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        if length and (not length.isdigit() or int(length) > self.max_bytes):
            size = int(length) if length.isdigit() else None
            await _answer(send, 413, self._too_large(size), close=True)
            return
        media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        is_json = scope["path"] in self.json_paths and media == b"application/json"
        if length and not is_json:
            # The server frames the body by its Content-Length: it cannot grow past it.
            await self.app(scope, receive, send)
            return
        if not is_json:
            await self._streamed(scope, receive, send)
            return
        try:
            body = await self._read_all(receive)
        except BodyTooLarge:
            await _answer(send, 413, self._too_large(None), close=True)
            return
        problem = json_problem(body) if is_json else None
        if problem is not None:
            await _answer(send, 400, _error(problem))
            return
        await self._replayed(scope, receive, send, body)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A chunked upload handed on as it arrives, counted; past the limit the app's reads
        fail, whatever it answers is dropped, and the caller gets the 413."""
        size, exceeded, started = 0, False, False

        async def counted() -> Message:
            nonlocal size, exceeded
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # an answer to a body it never got whole: the 413 goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _answer(send, 413, self._too_large(None), close=True)

    async def _read_all(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyTooLarge  # the client is gone; the answer goes nowhere
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _replayed(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
