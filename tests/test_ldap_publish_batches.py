"""Which events of a batch the LDAP publisher applies one by one, and for which States it
publishes the whole State once (pure rules, no servers)."""

from __future__ import annotations

from bson import ObjectId

from services.common.events import CloudEvent, event
from services.common.ids import to_global_id
from services.common.messaging import Delivered
from services.contacts.ldap_publish import COALESCE, plan_batch


def contact_event(code: str, action: str = "CREATED") -> CloudEvent:
    contact = to_global_id("Contact", ObjectId())
    return event(
        "contacts",
        "contact",
        "changed",
        subject=contact,
        contactId=contact,
        authorityId=to_global_id("Authority", ObjectId()),
        stateCode=code,
        action=action,
    )


def authority_event(code: str) -> CloudEvent:
    authority = to_global_id("Authority", ObjectId())
    return event(
        "contacts",
        "authority",
        "changed",
        subject=authority,
        authorityId=authority,
        stateCode=code,
        kind="CUSTOMS",
        action="UPDATED",
    )


def delivered(*events: CloudEvent, first_seq: int = 1) -> list[Delivered]:
    return [Delivered(e, first_seq + i) for i, e in enumerate(events)]


def test_a_few_contact_events_are_applied_one_by_one() -> None:
    events = [contact_event("FRA") for _ in range(COALESCE - 1)]
    plan = plan_batch(delivered(*events), {})
    assert plan.states == ()
    assert plan.events == tuple(events)


def test_many_events_of_one_state_publish_that_state_once() -> None:
    many = [contact_event("FRA") for _ in range(COALESCE)]
    few = [contact_event("DEU")]
    plan = plan_batch(delivered(*many, *few), {})
    assert plan.states == ("FRA",)
    assert plan.events == tuple(few)


def test_an_event_other_than_a_contacts_publishes_its_state() -> None:
    plan = plan_batch(delivered(authority_event("ESP"), contact_event("DEU")), {})
    assert plan.states == ("ESP",)
    assert len(plan.events) == 1


def test_events_covered_by_an_earlier_whole_publishing_need_nothing() -> None:
    batch = delivered(*[contact_event("FRA") for _ in range(COALESCE + 2)], first_seq=10)
    # FRA was published whole when the stream ended at 15: events 10..15 are in the tree.
    plan = plan_batch(batch, {"FRA": 15})
    assert plan.states == ()
    assert [e.id for e in plan.events] == [d.event.id for d in batch if d.stream_seq > 15]
    assert plan_batch(batch, {"FRA": 100}) == plan_batch([], {})


def test_events_that_touch_no_tree_are_left_out() -> None:
    status = event(
        "contacts",
        "contact",
        "changed",
        subject="x",
        contactId=to_global_id("Contact", ObjectId()),
        authorityId=to_global_id("Authority", ObjectId()),
        stateCode="not a code",
        action="CREATED",
    )
    assert plan_batch(delivered(status), {}).events == ()
