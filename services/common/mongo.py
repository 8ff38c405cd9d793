"""One MongoDB database per service, reached through its own mongoengine alias.

mongoengine and pymongo are synchronous: request handlers call them through
``run_sync`` so that the event loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import mongoengine
import pymongo
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

P = ParamSpec("P")
T = TypeVar("T")

_connect_hooks: list[Callable[[str], None]] = []


def on_connect(hook: Callable[[str], None]) -> None:
    """Call ``hook(alias)`` whenever ``alias`` is connected anew (data kept in memory for
    the previous connection belongs to another database)."""
    _connect_hooks.append(hook)


def connect(alias: str, uri: str, database: str) -> Database:
    """Register (or replace) the connection ``alias`` to ``database``."""
    mongoengine.disconnect(alias)
    mongoengine.connect(
        db=database,
        host=uri,
        alias=alias,
        uuidRepresentation="standard",
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
    )
    forget_cached_collections(alias)
    for hook in _connect_hooks:
        hook(alias)
    return mongoengine.get_db(alias)


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


async def run_sync(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work in the default thread pool."""
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
