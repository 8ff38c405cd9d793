"""A chunked upload reaches the service's app as it arrives (the body limit counts it, never
holds it whole), and one that grows past the limit is answered 413 whatever the app says."""

from __future__ import annotations

from typing import Any

from services.common.body import BodyLimitMiddleware

CHUNK = b"x" * 1000


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/cases/c1/attachments",
        "headers": [(b"content-type", b"application/pdf"), (b"transfer-encoding", b"chunked")],
    }


class Client:
    """Sends ``chunks`` one ``receive`` at a time and records what happened in order."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks
        self.log: list[str] = []
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.left -= 1
        self.log.append("client sent a chunk")
        return {"type": "http.request", "body": CHUNK, "more_body": self.left > 0}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def reading_app(log: list[str]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        more = True
        while more:
            message = await receive()
            log.append("app read a chunk")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stored"})

    return app


async def test_a_chunked_upload_reaches_the_app_chunk_by_chunk() -> None:
    client = Client(chunks=3)
    middleware = BodyLimitMiddleware(reading_app(client.log), max_bytes=10 * len(CHUNK))
    await middleware(_scope(), client.receive, client.send)
    assert client.log == ["client sent a chunk", "app read a chunk"] * 3
    assert client.sent[0]["status"] == 200


async def test_a_chunked_upload_past_the_limit_is_413_whatever_the_app_answers() -> None:
    client = Client(chunks=5)
    middleware = BodyLimitMiddleware(reading_app(client.log), max_bytes=2 * len(CHUNK))
    await middleware(_scope(), client.receive, client.send)
    assert client.log.count("client sent a chunk") == 3  # nothing read past the limit
    assert [m["status"] for m in client.sent if m["type"] == "http.response.start"] == [413]
    assert b"larger than the 2000 bytes" in client.sent[-1]["body"]
