"""What reaches MongoDB, counted with pymongo's command monitoring.

    with commands() as seen:
        ...                       # anything that talks to MongoDB in this process
    seen.of("test_contacts")      # the commands sent to one database, by name
    seen.docs_examined(client)    # what each find read, per the server's explain

``walk_pages`` walks a connection page by page, with each page's one ``find``.

One listener is registered with pymongo for the test session (clients made after that
report to it). It records only the commands sent from inside ``commands()``: from its
context, which the work it starts inherits (tasks, ``asyncio.to_thread``, in-process ASGI
apps called through httpx), and not the services' own background tasks (outbox relay,
schedulers, version checks), started before and running on their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


_watching: ContextVar[Seen | None] = ContextVar("watching_mongodb_commands", default=None)


class _Listener(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        seen = _watching.get()
        if seen is None or event.command_name in HOUSEKEEPING:
            return
        seen.events.append((event.database_name, event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_installed = False


def install() -> None:
    """Register the listener; call before the clients to watch are made."""
    global _installed
    if not _installed:
        monitoring.register(_Listener())
        _installed = True


@contextmanager
def commands() -> Iterator[Seen]:
    install()
    seen = Seen()
    token = _watching.set(seen)
    try:
        yield seen
    finally:
        _watching.reset(token)


async def walk_pages(
    ask: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    variables: dict[str, Any],
    field: str,
    database: str,
    collection: str,
    most: int,
) -> tuple[list[str], list[dict[str, Any]]]:
    """A connection walked to its end in at most ``most`` pages, ``ask`` answering
    ``variables`` and an ``after`` with the page at ``data[field]``: the nodes' ids in order,
    and the one ``find`` on ``collection`` of ``database`` each page was read with."""
    walked: list[str] = []
    finds: list[dict[str, Any]] = []
    after = None
    for _ in range(most):
        with commands() as seen:
            answered = await ask({**variables, "after": after})
        assert "errors" not in answered, answered
        page = answered["data"][field]
        [find] = [c for c in seen.commands_of(database) if c.get("find") == collection]
        finds.append(find)
        walked += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return walked, finds


install()  # at import: before any test makes a client
