"""What reaches MongoDB, counted with pymongo's command monitoring.

    with commands() as seen:
        ...                       # anything that talks to MongoDB in this process
    seen.of("test_contacts")      # the commands sent to one database, by name
    seen.docs_examined(client)    # what each find read, per the server's explain

One listener is registered with pymongo for the test session (clients made after that
report to it); it records only inside ``commands()``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo import MongoClient, monitoring

# Sent by drivers and servers on their own, not by the code under test.
HOUSEKEEPING = {"hello", "ismaster", "isMaster", "ping", "endSessions", "killCursors"}


@dataclass
class Seen:
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def of(self, database: str | None = None, *, besides: tuple[str, ...] = ()) -> list[str]:
        """The commands' names, in order; ``besides`` leaves out those on these collections
        (e.g. ``versions``: the background check of data kept in memory)."""
        return [
            name
            for db, name, cmd in self.events
            if (database is None or db == database) and cmd.get(name) not in besides
        ]

    def commands_of(self, database: str) -> list[dict[str, Any]]:
        return [cmd for db, _, cmd in self.events if db == database]

    def docs_examined(self, client: MongoClient[Any], database: str) -> int:
        """The documents the server examines for every ``find`` seen on ``database``
        (its ``explain`` in executionStats, run again after the fact)."""
        total = 0
        for cmd in self.commands_of(database):
            if "find" not in cmd:
                continue
            query = {
                k: v
                for k, v in cmd.items()
                if k in ("find", "filter", "sort", "hint", "projection", "limit", "skip")
            }
            plan = client[database].command({"explain": query, "verbosity": "executionStats"})
            total += int(plan["executionStats"]["totalDocsExamined"])
        return total


class _Listener(monitoring.CommandListener):
    def __init__(self) -> None:
        self.active: list[Seen] = []
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.active or event.command_name in HOUSEKEEPING:
            return
        entry = (event.database_name, event.command_name, dict(event.command))
        with self.lock:
            for seen in self.active:
                seen.events.append(entry)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_listener: _Listener | None = None


def install() -> None:
    """Register the listener; call before the clients to watch are made."""
    global _listener
    if _listener is None:
        _listener = _Listener()
        monitoring.register(_listener)


@contextmanager
def commands() -> Iterator[Seen]:
    install()
    assert _listener is not None
    seen = Seen()
    with _listener.lock:
        _listener.active.append(seen)
    try:
        yield seen
    finally:
        with _listener.lock:
            _listener.active.remove(seen)


install()  # at import: before any test makes a client
