"""A service's own register of participant States (rules 1 and 6), kept current by the
contacts service's ``dief.contacts.state.status_changed`` events.

The gateway resolves the ``participant`` flag of a principal token when it signs it, but
a token lives on for its short lifetime and a caller may still hold one signed before its
State withdrew. A service that decides who may see what checks both: the token must say
participant and the register must not know the State as withdrawn. Each service keeps the
register in its own database (a ``KnownParticipantStatus`` subclass with its alias and
collection) and follows the events with a durable consumer of its own.

A State the register has not heard of yet is taken at the token's word: the register
starts empty and learns only from status changes, while the gateway loads every State's
status from the contacts registry before it signs anything.

Each process reads the register from memory (``services.common.hot_data``): a recorded
change drops the copy of the process that recorded it at once, and the others within
``hot_data_check_seconds`` (the durable consumer hands each event to one replica only).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from mongoengine import BooleanField, DateTimeField, Document, StringField
from pymongo.errors import DuplicateKeyError

from services.common.events import CloudEvent
from services.common.hot_data import HotData, bump_version
from services.common.messaging import DurableConsumer, consumer_options
from services.common.mongo import run_sync
from services.common.principal import Principal

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime

SUBJECT = "dief.contacts.state.status_changed"


class KnownParticipantStatus(Document):
    """The last status change heard of one State (``_id``: its ISO 3166 alpha-3 code).
    Subclasses name the service's database alias and collection in their ``meta``."""

    meta = {"abstract": True}

    code = StringField(primary_key=True, regex=r"^[A-Z]{3}$")
    participant = BooleanField(required=True)
    changed_at = DateTimeField(required=True)


def standing(principal: Principal, known: bool | None) -> bool:
    """Whether the caller's State is a participant now: the token says so and the
    register (``known``: its last word on the State, None if it has none) agrees."""
    if not principal.participant or principal.state is None:
        return False
    return known is None or known


@dataclass(frozen=True)
class StatusChange:
    """The part of a ``status_changed`` event the register keeps."""

    code: str
    participant: bool
    changed_at: datetime

    @classmethod
    def of(cls, event: CloudEvent) -> StatusChange:
        data = event.data
        changed_at = datetime.fromisoformat(str(data["changedAt"]).replace("Z", "+00:00"))
        return cls(str(data["stateCode"]), bool(data["participant"]), changed_at)


@dataclass(frozen=True)
class ParticipantRegister:
    """One service's register: its document class and the durable name of its consumer."""

    document: type[KnownParticipantStatus]
    durable: str
    cache: HotData[dict[str, bool]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        alias = self.document._meta["db_alias"]
        object.__setattr__(self, "cache", HotData(alias, "participants", self._load))

    def _load(self) -> dict[str, bool]:
        collection = self.document._get_collection()
        return {d["_id"]: bool(d["participant"]) for d in collection.find({}, {"participant": 1})}

    def known(self, code: str) -> bool | None:
        return self.cache.get().get(code)

    def effective_participant(self, principal: Principal) -> bool:
        """Rules 1 and 6 as this service knows them now (see ``standing``)."""
        if not principal.participant or principal.state is None:
            return False
        return standing(principal, self.known(principal.state))

    def record(self, change: StatusChange) -> None:
        """The register's update; a later change wins, redeliveries change nothing.

        One conditional write (replaced only by a later change, else inserted), so two
        replicas handling changes of one State at once never store the older over the
        newer."""
        collection = self.document._get_collection()
        # a duplicate key: the register already holds this change or a later one
        with contextlib.suppress(DuplicateKeyError):
            done = collection.update_one(
                {"_id": change.code, "changed_at": {"$lt": change.changed_at}},
                {"$set": {"participant": change.participant, "changed_at": change.changed_at}},
                upsert=True,
            )
            if done.modified_count or done.upserted_id is not None:
                bump_version(self.cache.alias, self.cache.name)
                self.cache.invalidate()

    async def on_status_changed(self, event: CloudEvent) -> None:
        await run_sync(self.record, StatusChange.of(event))

    def consumer(self, runtime: ServiceRuntime) -> DurableConsumer:
        """The consumer factory for ``ServiceRuntime(consumers=[register.consumer])``."""
        assert runtime.nats.js is not None
        return DurableConsumer(
            runtime.nats.js,
            alias=runtime.alias,
            durable=self.durable,
            subject_filter=SUBJECT,
            handler=self.on_status_changed,
            stream=runtime.settings.stream_name,
            **consumer_options(runtime.settings),
        )
