"""Slow clients cannot hold a server's connections: uvicorn's HTTP protocol (httptools) with
read timeouts on the request and a cap on connections still sending theirs.

uvicorn bounds only the idle time between two requests of a keep-alive connection; a
client that connects and sends its headers (or its body) one byte at a time is kept for
ever. Here:

- the request line and headers must arrive within ``header_seconds`` of the connection (or
  of the request's first byte on a kept-alive connection), and hold at most ``max_header_bytes``;
- the body must arrive within ``body_seconds``, a bound each received chunk extends by its
  size at ``body_min_rate`` bytes per second (a large upload at a fair pace is never cut;
  a trickle is); while the application is not reading (flow control), the clock waits;
- at most ``max_reading`` connections of a process may be sending their request at once:
  past it the one that has been at it the longest (preferring those still in their headers)
  is closed.

A late request gets ``408 Request Timeout``, too many header bytes ``431``, and the
connection is closed. ``dief serve`` runs every service and the gateway with this protocol
(``http="services.common.http_guard:GuardedHttpToolsProtocol"``); the limits are settings.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from services.common.settings import Settings, get_settings

log = logging.getLogger("dief.http")

IDLE, HEADERS, BODY = "idle", "headers", "body"


@dataclass(frozen=True)
class HttpLimits:
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    body_min_rate: float = 1000.0
    max_header_bytes: int = 65536
    max_reading: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            header_seconds=settings.http_header_timeout_seconds,
            body_seconds=settings.http_body_timeout_seconds,
            body_min_rate=settings.http_body_min_bytes_per_second,
            max_header_bytes=settings.http_max_header_bytes,
            max_reading=settings.http_max_slow_connections,
        )


@lru_cache(maxsize=1)
def _configured() -> HttpLimits:
    return HttpLimits.from_settings(get_settings())


def extended(deadline: float, received: int, min_rate: float) -> float:
    """The body's deadline after ``received`` more bytes: each byte buys 1/min_rate s."""
    return deadline + received / min_rate


def to_evict(reading: list[tuple[str, object]], cap: int) -> list[object]:
    """Which connections to close when ``reading`` (oldest first, with their phase) is over
    ``cap``: the oldest still in their headers first, then the oldest in their body."""
    excess = len(reading) - cap
    if excess <= 0:
        return []
    in_headers = [conn for phase, conn in reading if phase == HEADERS]
    in_body = [conn for phase, conn in reading if phase != HEADERS]
    return (in_headers + in_body)[:excess]


def _reading(server_state: ServerState) -> dict[GuardedHttpToolsProtocol, None]:
    """The connections of this server still sending their request, oldest first."""
    found: dict[GuardedHttpToolsProtocol, None] | None = getattr(server_state, "dief_reading", None)
    if found is None:
        found = {}
        server_state.dief_reading = found  # type: ignore[attr-defined]
    return found


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: HttpLimits | None = None  # None: from the settings

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = self.limits or _configured()
        self.phase = IDLE
        self.header_bytes = 0
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.reading = _reading(server_state)

    # --- the phases of a request ----------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._begin_headers()
        self._keep_within_cap()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_reading()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.phase == IDLE:  # the next request of a kept-alive connection
            self._begin_headers()

    def on_headers_complete(self) -> None:
        self.phase = BODY
        self._arm(self.loop.time() + self.guard.body_seconds)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._stop_reading()
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        phase = self.phase
        if phase == BODY:
            self.deadline = extended(self.deadline, len(data), self.guard.body_min_rate)
        super().data_received(data)
        if phase == HEADERS and self.phase == HEADERS:  # still not all the headers
            self.header_bytes += len(data)
            if self.header_bytes > self.guard.max_header_bytes:
                self._refuse(431, "The request's headers are too large.")

    # --- timing ---------------------------------------------------------------------------

    def _begin_headers(self) -> None:
        self.phase = HEADERS
        self.header_bytes = 0
        self.reading[self] = None
        self._arm(self.loop.time() + self.guard.header_seconds)

    def _stop_reading(self) -> None:
        self.phase = IDLE
        self.reading.pop(self, None)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _arm(self, deadline: float) -> None:
        self.deadline = deadline
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        self.timer = None
        if self.phase == IDLE or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.phase == BODY and self.flow.read_paused:
            # the application is not reading yet: not the client's delay
            self._arm(max(self.deadline, now + self.guard.body_seconds))
            return
        if self.phase == HEADERS and self.cycle is not None and not self.cycle.response_complete:
            # a pipelined request waits behind one still being answered
            self._arm(now + self.guard.header_seconds)
            return
        if self.deadline > now:  # chunks arrived since: the deadline moved
            self._arm(self.deadline)
            return
        self._refuse(408, "The request was not received in time.")

    def _keep_within_cap(self) -> None:
        oldest_first = [(conn.phase, conn) for conn in self.reading]
        for conn in to_evict(oldest_first, self.guard.max_reading):
            assert isinstance(conn, GuardedHttpToolsProtocol)
            conn._refuse(408, "Too many requests are being received; this one was too slow.")

    # --- refusing -------------------------------------------------------------------------

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` (unless a response has begun) and close the connection."""
        log.info(
            "slow or oversized request refused",
            extra={"status": status, "phase": self.phase, "client": _client(self.client)},
        )
        cycle = self.cycle
        started = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's reads end, its answer is dropped
            cycle.message_event.set()
        self._stop_reading()
        if not started and not self.transport.is_closing():
            body = message.encode()
            self.transport.write(
                b"".join(
                    [
                        STATUS_LINE[status],
                        b"content-type: text/plain; charset=utf-8\r\n",
                        b"content-length: %d\r\n" % len(body),
                        b"connection: close\r\n\r\n",
                        body,
                    ]
                )
            )
        self.transport.close()


def _client(address: tuple[str, int] | None) -> str | None:
    return f"{address[0]}:{address[1]}" if address else None
