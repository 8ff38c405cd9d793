"""A lease in the service's database: at most one replica does a job at a time.

    lease = Lease("contacts", "outbox-relay", ttl_seconds=15)
    if lease.take():                 # taken, or renewed by its holder
        while lease.held(margin=6):  # still ours for at least 6 s
            ...

The lease is one document (``leases``, ``_id`` = the job) naming its holder and when it
expires. ``take`` renews it for its holder, or takes it over once it has expired (its
holder died or hung); while another holds it, ``take`` is False. The holder counts its
lease from before it asked, on its own monotonic clock, less ``skew_seconds`` for the
replicas' wall clocks, so it stops acting before anyone may take over.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.common import mongo

LEASES = "leases"


class Lease:
    def __init__(
        self,
        alias: str,
        name: str,
        ttl_seconds: float = 15.0,
        holder: str | None = None,
        skew_seconds: float = 1.0,
    ) -> None:
        self.alias = alias
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.holder = holder or uuid.uuid4().hex
        self.skew_seconds = skew_seconds
        self._valid_until = 0.0

    def take(self) -> bool:
        """Renew or take the lease (blocking: call through ``run_sync``)."""
        asked = time.monotonic()
        now = datetime.now(UTC)
        try:
            mongo.database(self.alias)[LEASES].find_one_and_update(
                {"_id": self.name, "$or": [{"holder": self.holder}, {"expires_at": {"$lt": now}}]},
                {
                    "$set": {
                        "holder": self.holder,
                        "expires_at": now + timedelta(seconds=self.ttl_seconds),
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # someone else's, and not expired
            self._valid_until = 0.0
            return False
        self._valid_until = asked + self.ttl_seconds - self.skew_seconds
        return True

    def held(self, margin: float = 0.0) -> bool:
        """Is the lease ours for at least ``margin`` more seconds?"""
        return time.monotonic() + margin < self._valid_until

    def release(self) -> None:
        """Give the lease up (a clean stop), so another replica takes over at once."""
        self._valid_until = 0.0
        mongo.database(self.alias)[LEASES].update_one(
            {"_id": self.name, "holder": self.holder},
            {"$set": {"expires_at": datetime.fromtimestamp(0, UTC)}},
        )
