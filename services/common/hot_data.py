"""Small, hot, rarely changing data held in memory by each process of a service.

The State registry, a service's register of participants: read on nearly every request,
changed a few times a year. Each process keeps a copy and reads it without a database
round trip. The copy is dropped, and loaded again on the next read:

- at once, by the service's own writes (``UnitOfWork.touch`` drops it after the commit);
- on the event that announces a change (the caller's consumer calls ``invalidate``);
- as the safety net, when the data's version changed: every write that goes through
  ``UnitOfWork.touch`` also increments a counter in the service's ``versions`` collection,
  and each process reads that counter every ``hot_data_check_seconds``
  (``ServiceRuntime`` runs ``check_all``). A process that missed the event, for instance
  another replica whose consumer was not the one handed it, so serves the old copy at most
  that long plus one read of the counter.

A load reads the counter first and the data after it, so a change made between the two
only makes the next check load again. A load that an ``invalidate`` overtook gives its data
to its own caller but does not keep it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from pymongo.client_session import ClientSession

from services.common import mongo

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")

VERSIONS = "versions"

log = logging.getLogger("dief.hot_data")

_caches: dict[str, list[HotData[Any]]] = {}


def read_version(alias: str, name: str) -> int:
    found = mongo.database(alias)[VERSIONS].find_one({"_id": name}, {"n": 1})
    return int(found["n"]) if found else 0


def bump_version(alias: str, name: str, session: ClientSession | None = None) -> None:
    mongo.database(alias)[VERSIONS].update_one(
        {"_id": name}, {"$inc": {"n": 1}}, upsert=True, session=session
    )


class HotData(Generic[T]):
    """``load()`` (blocking, run in a handler's thread) kept in memory under ``name``."""

    def __init__(self, alias: str, name: str, load: Callable[[], T]) -> None:
        self.alias = alias
        self.name = name
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version: int | None = None
        self._generation = 0
        self.loads = 0  # how many times the data was read from the database
        _caches.setdefault(alias, []).append(self)

    @property
    def loaded(self) -> bool:
        """Whether a copy is in memory now (``get`` would not read the database)."""
        return self._value is not None

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn`` (a handler that reads only this data) run at once while the copy is in
        memory, with no thread hand-off; in the thread pool when ``get`` must read the
        database first (after a change dropped the copy)."""
        if self.loaded:
            return fn(*args, **kwargs)
        return await mongo.run_sync(fn, *args, **kwargs)

    def get(self) -> T:
        value = self._value
        if value is not None:
            return value
        with self._lock:
            generation = self._generation
        version = read_version(self.alias, self.name)
        value = self._load()
        with self._lock:
            self.loads += 1
            if generation == self._generation:
                self._value, self._version = value, version
        return value

    def invalidate(self) -> None:
        """Drop the copy; the next ``get`` reads the database."""
        with self._lock:
            self._generation += 1
            self._value = None
            self._version = None

    def check(self) -> bool:
        """Drop the copy if the version in the database is not the one loaded with it;
        True if it was dropped."""
        with self._lock:
            loaded = self._version
        if loaded is None:
            return False
        if read_version(self.alias, self.name) != loaded:
            self.invalidate()
            return True
        return False


def caches_of(alias: str) -> list[HotData[Any]]:
    return list(_caches.get(alias, ()))


def check_all(alias: str) -> None:
    for cache in caches_of(alias):
        try:
            cache.check()
        except Exception:  # the database away for a moment: the next check tries again
            log.warning("version check failed", extra={"cache": cache.name}, exc_info=True)


def forget(alias: str) -> None:
    """Drop every copy of ``alias`` (its connection was replaced: another database)."""
    for cache in caches_of(alias):
        cache.invalidate()


mongo.on_connect(forget)
