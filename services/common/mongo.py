"""One MongoDB database per service, reached through its own mongoengine alias.

mongoengine and pymongo are synchronous: request handlers call them through
``run_sync`` so that the event loop never blocks on the database.

Every write states its durability: the client's default write concern, and that of every
transaction, is ``WRITE_CONCERN`` (``w: "majority"``, ``j: true``), so an acknowledged write
is on the journal of a majority (the embedded server acknowledges unjournalled writes
otherwise, and needs a journaled write after a commit, see ``transaction``).
``transaction`` bounds a transaction's retries by the alias's ``transaction_seconds``, below
the gateway's mutation timeout: a change the caller was told failed does not commit later.
``unavailable(exc)`` says whether an error means the database could not be reached (the
caller sees ``UNAVAILABLE``, to retry).
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

import mongoengine
import pymongo
from pymongo import MongoClient, WriteConcern
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError

P = ParamSpec("P")
T = TypeVar("T")

WRITE_CONCERN = WriteConcern(w="majority", j=True)
TRANSACTION_SECONDS = 8.0
SERVER_SELECTION_MS = 2000
_transaction_seconds: dict[str, float] = {}
# set while a request is served: its transactions must end before the caller gives up
serving_caller: ContextVar[bool] = ContextVar("dief_serving_caller", default=False)
DURABILITY = "durability"
_connect_hooks: list[Callable[[str], None]] = []


def on_connect(hook: Callable[[str], None]) -> None:
    """Call ``hook(alias)`` whenever ``alias`` is connected anew (data kept in memory for
    the previous connection belongs to another database)."""
    _connect_hooks.append(hook)


def connect(
    alias: str, uri: str, database: str, transaction_seconds: float = TRANSACTION_SECONDS
) -> Database:
    """Register (or replace) the connection ``alias`` to ``database``."""
    mongoengine.disconnect(alias)
    mongoengine.connect(
        db=database,
        host=uri,
        alias=alias,
        uuidRepresentation="standard",
        tz_aware=True,
        serverSelectionTimeoutMS=SERVER_SELECTION_MS,
        w=WRITE_CONCERN.document["w"],
        journal=WRITE_CONCERN.document["j"],
    )
    _transaction_seconds[alias] = transaction_seconds
    forget_cached_collections(alias)
    for hook in _connect_hooks:
        hook(alias)
    return mongoengine.get_db(alias)


def transaction(alias: str, apply: Callable[[ClientSession], T], seconds: float | None = None) -> T:
    """Run ``apply(session)`` in one transaction of ``alias``'s client, retried on transient
    errors for at most ``seconds`` (the alias's ``transaction_seconds``) in all."""
    bound = seconds if seconds is not None else _transaction_seconds.get(alias, TRANSACTION_SECONDS)
    db = database(alias)
    with pymongo.timeout(bound), db.client.start_session() as session:
        result = session.with_transaction(apply, write_concern=WRITE_CONCERN)
        # The embedded server journals single writes asked to (j: true) but not a
        # transaction's commit; one journaled write after it flushes the journal, commit
        # included, before the caller is told (on MongoDB itself it is merely redundant).
        # One document per process and thread: barriers never conflict with each other.
        barrier = f"{os.getpid()}-{threading.get_ident()}"
        db[DURABILITY].update_one({"_id": barrier}, {"$inc": {"n": 1}}, upsert=True)
        return result


def unavailable(exc: BaseException) -> bool:
    """Did this fail because the database could not be reached (or not in time)?"""
    if isinstance(exc, (ConnectionFailure, ExecutionTimeout, WTimeoutError)):
        return True
    return isinstance(exc, PyMongoError) and exc.timeout


def forget_cached_collections(alias: str) -> None:
    """Drop the collections mongoengine cached on Document classes of ``alias``.

    A class keeps the collection of the client it first saw; after a reconnect (tests,
    restarts inside one process) it must look it up again from the new client.
    """
    from mongoengine.base.common import _get_documents_by_db
    from mongoengine.connection import DEFAULT_CONNECTION_NAME

    for doc_cls in _get_documents_by_db(alias, DEFAULT_CONNECTION_NAME):
        if issubclass(doc_cls, mongoengine.Document):
            doc_cls._collection = None


def client(alias: str) -> MongoClient:
    return mongoengine.get_connection(alias)


def database(alias: str) -> Database:
    return mongoengine.get_db(alias)


def collection(alias: str, document: type[mongoengine.Document]) -> Collection:
    """``document``'s collection through the alias's current client (not mongoengine's
    per-class cache), so that it can be used with a session of that same client."""
    return database(alias)[document._get_collection_name()]


def ping(alias: str, timeout_seconds: float = 2.0) -> bool:
    try:
        with pymongo.timeout(timeout_seconds):
            database(alias).command("ping")
    except Exception:
        return False
    return True


class HealthProbe:
    """Pings ``alias`` on a thread of its own, never the pool requests wait on, one ping at a
    time, and answers within ``bound_seconds`` whatever the database does."""

    def __init__(self, alias: str, bound_seconds: float = 1.0) -> None:
        self.alias = alias
        self.bound_seconds = bound_seconds
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"health-{alias}")
        self._ping: asyncio.Future[bool] | None = None

    async def ok(self) -> bool:
        if self._ping is None or self._ping.done():
            loop = asyncio.get_running_loop()
            self._ping = loop.run_in_executor(self._thread, ping, self.alias, self.bound_seconds)
        try:
            return await asyncio.wait_for(asyncio.shield(self._ping), self.bound_seconds)
        except TimeoutError:
            return False

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


async def run_sync(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work in the default thread pool."""
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
