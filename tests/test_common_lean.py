"""Lean documents read what mongoengine reads: every field of a stored case, full or
sparse, has the same value either way (no server: the stored form is what ``to_mongo``
makes, read back as pymongo hands it over)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import bson
from bson import ObjectId
from mongoengine.base import BaseDocument

from services.cases import documents as docs
from services.cases.access import compute_reach
from services.cases.domain import Audience, AudienceKind, CaseStatus, Section
from services.common.lean import Lean, reader


def plain(value: Any, fields: dict[str, Any] | None = None) -> Any:
    """A document (either kind) as nested dicts and lists, field by field."""
    if isinstance(value, BaseDocument):
        return {k: plain(getattr(value, k)) for k in value._fields}
    if isinstance(value, Lean):
        return {k: plain(v) for k, v in vars(value).items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return (type(value).__name__, value)  # an enum and its string stay apart


def stored(doc: docs.Case) -> dict[str, Any]:
    doc.validate()
    son = doc.to_mongo().to_dict()
    return bson.decode(bson.encode(son))  # as pymongo returns it (naive UTC datetimes)


def full_case() -> docs.Case:
    named = Audience(AudienceKind.NAMED_STATES, frozenset({"DEU", "NLD"}), True)
    return docs.Case(
        pk=ObjectId(),
        provider="FRA",
        status=CaseStatus.SHARED,
        title="Port diversion",
        summary="What happened",
        diversion_details="At the port",
        diverted_on=date(2025, 1, 10),
        discovery_details="Customs",
        discovered_on=date(2025, 3, 1),
        methods="False certificate",
        actors=[docs.ActorDoc(role="BROKER", name="Acme", kind="COMPANY", country="CYP")],
        items=[
            docs.ItemDoc(
                kind="SMALL_ARMS_AND_LIGHT_WEAPONS", quantity=200, markings=["AK-1", "AK-2"]
            )
        ],
        routes=[docs.RouteStopDoc(country="FRA", role="ORIGIN")],
        categories=["TRAFFICKING_ROUTES"],
        audience=docs.AudienceDoc(kind="NAMED_STATES", states=["DEU", "NLD"]),
        section_audiences=[
            docs.SectionAudienceDoc(
                section=Section.METHODS, audience=docs.AudienceDoc(kind="NAMED_STATES")
            )
        ],
        handling=docs.HandlingDoc(note="Careful", no_operational_use_without_consultation=False),
        involved=[
            docs.InvolvedStateDoc(
                state="DEU", notified_at=datetime(2025, 4, 1, tzinfo=UTC), response="Seen"
            )
        ],
        arrangements=[
            docs.ArrangementDoc(
                id=ObjectId(),
                states=["FRA", "DEU"],
                what="Joint check",
                due_on=date(2025, 6, 1),
                created_by_state="FRA",
                created_at=datetime(2025, 5, 1, tzinfo=UTC),
            )
        ],
        presentation_ids=["UHJlc2VudGF0aW9uOjE="],
        audience_shown_to_recipients=True,
        reach=compute_reach(named, {Section.METHODS: Audience(AudienceKind.NAMED_STATES)}),
        revision=3,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        created_by="fra-1",
        updated_at=datetime(2025, 5, 2, tzinfo=UTC),
        shared_at=datetime(2025, 1, 2, tzinfo=UTC),
    )


def test_a_full_case_reads_the_same() -> None:
    son = stored(full_case())
    lean = reader(docs.Case)(son)
    assert plain(lean) == plain(docs.Case._from_son(son))
    assert lean.pk == son["_id"] and lean.status is CaseStatus.SHARED
    assert lean.items[0].kind is docs.Case._from_son(son).items[0].kind
    assert lean.diverted_on == date(2025, 1, 10)  # a date, as mongoengine gives it


def test_a_sparse_case_gets_the_same_defaults() -> None:
    son = stored(docs.Case(provider="ITA", title="Bare", created_by="ita-1"))
    for key in ("audience", "handling", "categories", "revision", "investigation_status"):
        son.pop(key, None)  # an older document, stored before these had values
    lean = reader(docs.Case)(son)
    mongoengine = docs.Case._from_son(son)
    assert plain(lean) == plain(mongoengine)
    assert lean.audience.kind is AudienceKind.ALL_PARTICIPANTS  # the embedded default
    assert lean.handling.no_operational_use_without_consultation is True
    assert lean.summary is None and lean.actors == [] and lean.revision == 1


def test_a_listing_audit_row_is_the_entry_the_document_would_store() -> None:
    from services.cases.domain import Viewer
    from services.cases.handlers import audit_entry, audit_rows
    from services.common.principal import Principal, Role

    case = docs.Case(pk=ObjectId(), provider="FRA", title="T", created_by="fra-1")
    for principal in (
        Principal("deu-1", frozenset({Role.ENFORCEMENT_OFFICER, Role.DELEGATE}), state="DEU"),
        Principal("sec-1", frozenset({Role.SECRETARIAT})),
    ):
        viewer = Viewer(principal, participant_now=principal.state is not None)
        for target in ("list", None):
            entry = audit_entry(case, viewer, "READ", target)
            entry.validate()
            want = entry.to_mongo().to_dict()
            [row] = audit_rows([case], viewer, "READ", target)
            assert abs((row.pop("at") - want.pop("at")).total_seconds()) < 60
            assert list(row.items()) == list(want.items())  # the same keys, in order
