"""A service's own register of participant States (rules 1 and 6), kept current by the
contacts service's ``dief.contacts.state.status_changed`` events.

The gateway resolves the ``participant`` flag of a principal token when it signs it, but
a token lives on for its short lifetime and a caller may still hold one signed before its
State withdrew. A service that decides who may see what checks both: the token must say
participant and the register must know the State as a participant now. Each service keeps
the register in its own database (a ``KnownParticipantStatus`` subclass with its alias and
collection) and follows the events with a durable consumer of its own.

The register is the only source of participation: a State it has never heard of is not a
participant, whatever a token says (a forged or mis-issued ``participant: true`` opens
nothing here). A fresh service learns every participant from the stream: the contacts
service announces each State it seeds as a participant and every status change on
``dief.contacts.state.status_changed``, and the durable consumer starts at the stream's
beginning (so the stream's retention must outlast the announcements: docs/security.md).

Changes apply in the stream's order: each record keeps the stream sequence of the event it
came from and is replaced only by an event later in the stream, in one conditional write,
so a late redelivery, or two replicas handling changes of one State at once, never store
an older change over a newer one.

Each process reads the register from memory (``services.common.hot_data``): a recorded
change drops the copy of the process that recorded it at once, and the others within
``hot_data_check_seconds`` (the durable consumer hands each event to one replica only).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from mongoengine import BooleanField, DateTimeField, Document, IntField, StringField
from pymongo.errors import DuplicateKeyError

from services.common.events import CloudEvent
from services.common.hot_data import HotData, bump_version
from services.common.messaging import Delivered, DurableConsumer, consumer_options
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
    sequence = IntField(min_value=1)  # of the event in the stream; later ones win


def standing(principal: Principal, known: bool | None) -> bool:
    """Whether the caller's State is a participant now: the token says so and the
    register (``known``: its last word on the State, None if it has none) says so too. A
    State the register has never heard of is not a participant."""
    if not principal.participant or principal.state is None:
        return False
    return known is True


@dataclass(frozen=True)
class StatusChange:
    """The part of a ``status_changed`` event the register keeps."""

    code: str
    participant: bool
    changed_at: datetime
    sequence: int  # the event's sequence in the stream: the order changes apply in

    @classmethod
    def of(cls, event: CloudEvent, sequence: int) -> StatusChange:
        data = event.data
        changed_at = datetime.fromisoformat(str(data["changedAt"]).replace("Z", "+00:00"))
        return cls(str(data["stateCode"]), bool(data["participant"]), changed_at, sequence)


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

    def record(self, change: StatusChange) -> bool:
        """The register's update; an event later in the stream wins, an earlier one or a
        redelivery changes nothing. True if the register changed.

        One conditional write (replaced only by a change of a later stream sequence, else
        inserted), so two replicas handling changes of one State at once never store the
        older over the newer, whatever order they write in."""
        collection = self.document._get_collection()
        older = {"$or": [{"sequence": {"$lt": change.sequence}}, {"sequence": None}]}
        fields = {
            "participant": change.participant,
            "changed_at": change.changed_at,
            "sequence": change.sequence,
        }
        # a duplicate key: the register already holds this change or a later one
        with contextlib.suppress(DuplicateKeyError):
            done = collection.update_one(
                {"_id": change.code, **older}, {"$set": fields}, upsert=True
            )
            if done.modified_count or done.upserted_id is not None:
                bump_version(self.cache.alias, self.cache.name)
                self.cache.invalidate()
                return True
        return False

    def record_all(self, changes: list[StatusChange]) -> int:
        """Several changes in stream order; how many changed the register."""
        return sum(self.record(c) for c in sorted(changes, key=lambda c: c.sequence))

    async def on_status_changes(self, batch: list[Delivered]) -> None:
        changes = [StatusChange.of(d.event, d.stream_seq) for d in batch]
        await run_sync(self.record_all, changes)

    def consumer(self, runtime: ServiceRuntime) -> DurableConsumer:
        """The consumer factory for ``ServiceRuntime(consumers=[register.consumer])``."""
        assert runtime.nats.js is not None
        return DurableConsumer(
            runtime.nats.js,
            alias=runtime.alias,
            durable=self.durable,
            subject_filter=SUBJECT,
            batch_handler=self.on_status_changes,
            stream=runtime.settings.stream_name,
            **consumer_options(runtime.settings),
        )
