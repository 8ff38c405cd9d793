"""The status an ASGI app answers a request with, for the middleware that reports it (traces,
metrics): the app's ``send`` wrapped, the status 500 until a response starts."""

from __future__ import annotations

from starlette.types import Message, Send


class ResponseStatus:
    def __init__(self, send: Send) -> None:
        self.code = 500
        self._send = send

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.code = message["status"]
        await self._send(message)
