"""SIGTERM makes a server unready first, then stops it gracefully.

uvicorn, on SIGTERM, stops accepting at once and gives the requests in flight
``DIEF_SHUTDOWN_GRACE_SECONDS`` to finish. Behind a load balancer (a Kubernetes Service)
new requests may still be routed to it for a moment, and they would meet a closed port. So,
in a server run by ``dief serve``, the first SIGTERM only starts draining: ``/readyz``
answers 503 (``"draining": true``), every response says ``Connection: close`` (clients stop
reusing their connections to it), and requests go on being served for
``DIEF_SHUTDOWN_DRAIN_SECONDS``; then uvicorn's own shutdown runs. A second signal, or
SIGINT (Ctrl-C), skips the drain.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("dief.shutdown")

SignalHandler = Any  # what signal.getsignal returns


class Drain:
    def __init__(self, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds
        self.draining = False
        self._previous: dict[int, SignalHandler] = {}

    def install(self) -> None:
        """Wrap uvicorn's SIGTERM/SIGINT handler (from the lifespan's start-up, which runs
        after uvicorn installed it); anywhere else (tests serving an app in-process, a
        thread) nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not _is_uvicorns(previous):
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._handler(loop, previous))

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handler(self, loop: asyncio.AbstractEventLoop, previous: SignalHandler) -> Any:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            first = not self.draining
            self.draining = True
            if not first or signum != signal.SIGTERM or self.delay_seconds <= 0:
                previous(signum, frame)
                return
            log.info("draining before shutdown", extra={"seconds": self.delay_seconds})
            loop.call_soon_threadsafe(loop.call_later, self.delay_seconds, previous, signum, None)

        return on_signal


def _is_uvicorns(handler: SignalHandler) -> bool:
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("uvicorn.") and callable(handler)


class DrainMiddleware:
    """While draining, each response asks the client to close its connection."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.drain.draining:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, send_closing)
