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
from pymongo.database import Database

P = ParamSpec("P")
T = TypeVar("T")


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
    return mongoengine.get_db(alias)


def client(alias: str) -> MongoClient:
    return mongoengine.get_connection(alias)


def database(alias: str) -> Database:
    return mongoengine.get_db(alias)


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
