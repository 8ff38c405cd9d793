"""Pure rules of the meetings service (no servers): deadlines at their boundary days,
rule 3's calendar, the Chair, the invitation, the agenda, rule 12, rule 8, rules 6-7, 22."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.errors import Conflict, DeadlinePassed, Forbidden, ValidationFailed
from services.common.principal import Principal, Role
from services.meetings import agenda, briefing, deadlines, domain, experts, participation
from services.meetings import presentations as rule12
from services.meetings.experts import ExpertProposalStatus as St
from services.meetings.timeline import (
    TimelineFacts,
    TimelineItemKind,
    TimelineStatus,
    item_state,
    item_status,
    meeting_timeline,
)

START = date(2027, 6, 1)
SECRETARIAT = Principal("sec", frozenset({Role.SECRETARIAT}))
DELEGATE = Principal("d", frozenset({Role.DELEGATE}), state="FRA", participant=True)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def days_before(n: int) -> date:
    return START - timedelta(days=n)


# --- deadlines: whole UTC days -----------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "days"),
    [
        (deadlines.invitation_due, 50),
        (deadlines.draft_agenda_due, 30),
        (deadlines.expert_proposal_due, 30),
        (deadlines.involved_state_notification_due, 30),
        (deadlines.involved_state_response_due, 15),
        (deadlines.objection_resolution_due, 20),
    ],
)
def test_each_deadline_counts_whole_days_before_the_first_day(function, days) -> None:
    assert function(START) == START - timedelta(days=days)


def test_an_act_counts_on_its_utc_day_even_late_in_the_evening_elsewhere() -> None:
    due = deadlines.invitation_due(START)
    from zoneinfo import ZoneInfo

    # 23:30 in New York on the due day is already the next UTC day: late
    evening_ny = datetime(due.year, due.month, due.day, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    assert not deadlines.on_or_before(evening_ny, due)
    assert deadlines.on_or_before(at(due, 23), due)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        deadlines.utc_day(datetime(2027, 1, 1))


def test_silence_ends_five_days_after_circulation() -> None:
    assert deadlines.silence_ends_on(at(date(2027, 4, 1), 23)) == date(2027, 4, 6)


# --- rule 3: sessions and the yearly limit -----------------------------------------------


SESSION = domain.Session(
    "s", domain.SessionKind.PREPARATORY_MEETING, "Prep 2027", date(2027, 1, 1), date(2027, 12, 31)
)


def test_rule_3_third_meeting_in_a_calendar_year_is_a_conflict() -> None:
    existing = [
        domain.Meeting("a", "s", date(2027, 2, 1), date(2027, 2, 2), "Geneva"),
        domain.Meeting("b", "s", date(2027, 8, 1), date(2027, 8, 2), "Geneva"),
    ]
    with pytest.raises(Conflict) as refused:
        domain.schedule_meeting(
            "c", SESSION, date(2027, 10, 1), date(2027, 10, 2), "Geneva", existing
        )
    assert refused.value.rule == 3


def test_rule_3_cancelled_meetings_do_not_count_and_other_years_do_not() -> None:
    existing = [
        domain.Meeting("a", "s", date(2027, 2, 1), date(2027, 2, 2), "Geneva"),
        domain.Meeting(
            "b", "s", date(2027, 8, 1), date(2027, 8, 2), "Geneva", domain.MeetingStatus.CANCELLED
        ),
        domain.Meeting("x", "s", date(2026, 8, 1), date(2026, 8, 2), "Geneva"),
    ]
    m = domain.schedule_meeting(
        "c", SESSION, date(2027, 10, 1), date(2027, 10, 2), "Geneva", existing
    )
    assert m.start_date == date(2027, 10, 1)


def test_rule_3_meeting_outside_its_session_is_refused() -> None:
    short = domain.Session(
        "s", domain.SessionKind.CSP, "CSP13", date(2027, 8, 20), date(2027, 8, 24)
    )
    with pytest.raises(ValidationFailed) as refused:
        domain.schedule_meeting("c", short, date(2027, 8, 24), date(2027, 8, 25), "Geneva", [])
    assert refused.value.rule == 3


def test_moving_a_meeting_does_not_count_itself() -> None:
    a = domain.Meeting("a", "s", date(2027, 2, 1), date(2027, 2, 2), "Geneva")
    b = domain.Meeting("b", "s", date(2027, 8, 1), date(2027, 8, 2), "Geneva")
    moved = domain.move_meeting(b, SESSION, date(2027, 9, 1), date(2027, 9, 2), [a, b])
    assert moved.start_date == date(2027, 9, 1)


# --- rule 4: the Chair -------------------------------------------------------------------


def test_rule_4_chair_serves_until_the_end_of_the_following_csp() -> None:
    csp = [
        domain.Session("c1", domain.SessionKind.CSP, "CSP12", date(2026, 8, 24), date(2026, 8, 28)),
        domain.Session("c2", domain.SessionKind.CSP, "CSP13", date(2027, 8, 23), date(2027, 8, 27)),
    ]
    a = domain.appoint_chair("Ms A", date(2026, 8, 28), csp)
    assert a.term_ends_on == date(2027, 8, 27)
    assert domain.current_chair([a], date(2027, 8, 27)) == a
    assert domain.current_chair([a], date(2027, 8, 28)) is None
    b = domain.appoint_chair("Mr B", date(2027, 8, 27), csp)
    assert domain.current_chair([a, b], date(2027, 8, 27)) == b


# --- rule 9: the invitation --------------------------------------------------------------


MEETING = domain.Meeting("m", "s", START, START + timedelta(days=1), "Geneva")


def test_rule_9_invitation_on_day_50_is_on_time() -> None:
    inv = domain.issue_invitation(
        MEETING,
        issued_by=SECRETARIAT,
        issued_at=at(days_before(50)),
        call_for_presentations="Present your cases.",
    )
    assert not inv.late


def test_rule_9_invitation_on_day_49_is_refused_without_a_reason() -> None:
    with pytest.raises(DeadlinePassed) as refused:
        domain.issue_invitation(
            MEETING,
            issued_by=SECRETARIAT,
            issued_at=at(days_before(49)),
            call_for_presentations="Present your cases.",
        )
    assert refused.value.rule == 9


def test_rule_9_invitation_on_day_49_goes_out_late_with_a_reason() -> None:
    inv = domain.issue_invitation(
        MEETING,
        issued_by=SECRETARIAT,
        issued_at=at(days_before(49)),
        call_for_presentations="Present.",
        late_reason="Venue change",
    )
    assert inv.late and inv.late_reason == "Venue change"


def test_rule_9_invitation_always_carries_the_call_and_comes_from_the_secretariat() -> None:
    with pytest.raises(ValidationFailed) as refused:
        domain.issue_invitation(
            MEETING,
            issued_by=SECRETARIAT,
            issued_at=at(days_before(60)),
            call_for_presentations="  ",
        )
    assert refused.value.rule == 9
    with pytest.raises(Forbidden):
        domain.issue_invitation(
            MEETING, issued_by=DELEGATE, issued_at=at(days_before(60)), call_for_presentations="x"
        )


# --- rule 10, 11, 23: the agenda ---------------------------------------------------------


def test_rule_10_draft_agenda_on_day_30_is_on_time_and_day_29_is_late() -> None:
    agenda.ensure_may_distribute(agenda.AgendaStatus.DRAFT, START, at(days_before(30)))
    with pytest.raises(DeadlinePassed) as refused:
        agenda.ensure_may_distribute(agenda.AgendaStatus.DRAFT, START, at(days_before(29)))
    assert refused.value.rule == 10


def test_rule_10_adoption_freezes_the_agenda() -> None:
    with pytest.raises(Conflict) as refused:
        agenda.ensure_agenda_open(agenda.AgendaStatus.ADOPTED)
    assert refused.value.rule == 10


def test_rule_11_intentions_close_when_the_agenda_is_adopted() -> None:
    agenda.ensure_may_intend_presentation(agenda.AgendaStatus.DISTRIBUTED)
    with pytest.raises(DeadlinePassed) as refused:
        agenda.ensure_may_intend_presentation(agenda.AgendaStatus.ADOPTED)
    assert refused.value.rule == 11


def test_rule_12_agenda_with_a_presentation_not_notified_in_time_cannot_be_adopted() -> None:
    with pytest.raises(Conflict) as refused:
        agenda.ensure_may_adopt(agenda.AgendaStatus.DISTRIBUTED, 1)
    assert refused.value.rule == 12


@pytest.mark.parametrize("language", ["ar", "zh", "en", "fr", "ru", "es"])
def test_rule_23_documents_in_each_un_language_are_accepted(language: str) -> None:
    facts = agenda.DocumentFacts("brief.pdf", "application/pdf", language, 10)
    assert agenda.check_document(facts, 100).language == language


def test_rule_23_other_languages_types_and_sizes_are_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        agenda.check_document(agenda.DocumentFacts("a.pdf", "application/pdf", "de", 10), 100)
    assert refused.value.rule == 23
    with pytest.raises(ValidationFailed):
        agenda.check_document(
            agenda.DocumentFacts("a.exe", "application/x-msdownload", "en", 1), 100
        )
    with pytest.raises(ValidationFailed):
        agenda.check_document(agenda.DocumentFacts("a.pdf", "application/pdf", "en", 101), 100)


# --- rule 12: involved States ------------------------------------------------------------


def test_rule_12_notification_on_day_30_is_on_time_and_asks_for_day_15() -> None:
    assert rule12.ensure_may_notify(START, at(days_before(30))) == days_before(15)


def test_rule_12_notification_on_day_29_is_refused() -> None:
    with pytest.raises(DeadlinePassed) as refused:
        rule12.ensure_may_notify(START, at(days_before(29)))
    assert refused.value.rule == 12


def test_rule_12_presentation_not_notified_in_time_cannot_be_scheduled() -> None:
    rule12.ensure_may_schedule(START, ["DEU"], {"DEU": at(days_before(30))})
    with pytest.raises(Conflict) as refused:
        rule12.ensure_may_schedule(START, ["DEU", "ITA"], {"DEU": at(days_before(30))})
    assert refused.value.rule == 12


def test_rule_12_the_presenter_is_not_an_involved_state() -> None:
    with pytest.raises(ValidationFailed):
        rule12.check_involved_states("FRA", ["FRA"])
    assert rule12.check_involved_states("FRA", ["ita", "DEU", "DEU"]) == ["DEU", "ITA"]


def test_rule_12_right_of_reply_follows_each_presentation() -> None:
    order = rule12.running_order(
        [
            rule12.ScheduledItem("i2", 2, "p1", ("DEU", "ITA")),
            rule12.ScheduledItem("i1", 1, None, ()),
        ]
    )
    assert [(e.kind.value, e.state) for e in order] == [
        ("ITEM", None),
        ("PRESENTATION", None),
        ("RIGHT_OF_REPLY", "DEU"),
        ("RIGHT_OF_REPLY", "ITA"),
    ]


# --- rule 8: experts ---------------------------------------------------------------------


def test_rule_8_proposal_on_day_30_opens_silence_and_day_29_is_refused() -> None:
    assert experts.ensure_may_propose(START, at(days_before(30))) == days_before(25)
    with pytest.raises(DeadlinePassed) as refused:
        experts.ensure_may_propose(START, at(days_before(29)))
    assert refused.value.rule == 8


def test_rule_8_silence_closes_by_itself_the_day_after_its_fifth_day() -> None:
    ends = date(2027, 4, 6)
    assert experts.due_transition(St.SILENCE, ends, START, ends) is None
    assert experts.due_transition(St.SILENCE, ends, START, ends + timedelta(days=1)) is St.APPROVED


def test_rule_8_objection_during_silence_only() -> None:
    ends = date(2027, 4, 6)
    experts.ensure_may_object(St.SILENCE, ends, at(ends))
    with pytest.raises(DeadlinePassed) as refused:
        experts.ensure_may_object(St.SILENCE, ends, at(ends + timedelta(days=1)))
    assert refused.value.rule == 8
    with pytest.raises(Conflict):
        experts.ensure_may_object(St.APPROVED, ends, at(ends))


def test_rule_8_unresolved_objection_is_referred_from_day_20() -> None:
    ends = days_before(40)
    assert experts.due_transition(St.OBJECTED, ends, START, days_before(21)) is None
    assert experts.due_transition(St.OBJECTED, ends, START, days_before(20)) is St.REFERRED


def test_rule_8_only_a_referred_objection_is_decided() -> None:
    experts.ensure_may_decide(St.REFERRED)
    with pytest.raises(Conflict):
        experts.ensure_may_decide(St.OBJECTED)
    assert experts.is_approved(St.DECIDED, experts.ExpertDecision.APPROVED)
    assert not experts.is_approved(St.DECIDED, experts.ExpertDecision.REJECTED)
    assert experts.is_approved(St.RESOLVED, None)


# --- rules 6, 7, 22 ----------------------------------------------------------------------


def test_rule_6_non_party_cannot_register() -> None:
    participation.ensure_may_register("FRA", True)
    with pytest.raises(Forbidden) as refused:
        participation.ensure_may_register("USA", False)
    assert refused.value.rule == 6


def test_rule_7_figures_count_enforcement_officers() -> None:
    f = participation.participation_figures(
        [
            ("FRA", participation.DelegateFunction.CUSTOMS),
            ("FRA", participation.DelegateFunction.LICENSING),
            ("DEU", participation.DelegateFunction.POLICE),
        ]
    )
    assert (f.delegates, f.states, f.enforcement_officers) == (3, 2, 2)


def test_rule_22_only_the_presenting_state_objects_and_attribution_needs_consent() -> None:
    briefing.ensure_may_object("FRA", "FRA")
    with pytest.raises(Forbidden) as refused:
        briefing.ensure_may_object("DEU", "FRA")
    assert refused.value.rule == 22
    assert briefing.attributable_states(["FRA", "DEU"], ["DEU"]) == ["DEU"]
    assert not briefing.may_brief(False)


# --- the timeline ------------------------------------------------------------------------


def test_timeline_item_status_on_its_boundary_days() -> None:
    due = days_before(50)
    assert item_status(due, None, 1, due) is TimelineStatus.PENDING
    assert item_status(due, None, 1, due + timedelta(days=1)) is TimelineStatus.LATE
    assert item_status(due, due, 0, due + timedelta(days=9)) is TimelineStatus.DONE
    assert item_status(due, due + timedelta(days=1), 0, due) is TimelineStatus.LATE


def test_timeline_moves_with_the_meeting() -> None:
    today = date(2027, 1, 1)
    before = {i.kind: i.due_on for i in meeting_timeline(START, TimelineFacts(), today)}
    later = START + timedelta(days=10)
    after = {i.kind: i.due_on for i in meeting_timeline(later, TimelineFacts(), today)}
    assert before[TimelineItemKind.INVITATION] == days_before(50)
    assert after[TimelineItemKind.INVITATION] == days_before(40)
    assert all(after[k] - before[k] == timedelta(days=10) for k in before)


def test_rule_8_objection_resolved_only_when_every_objector_withdrew() -> None:
    assert not experts.objections_resolved({"DEU", "ISR"}, {"DEU"})
    assert experts.objections_resolved({"DEU", "ISR"}, {"DEU", "ISR"})
    assert not experts.objections_resolved(set(), set())


DUE = date(2027, 5, 2)
ONE = timedelta(days=1)


@pytest.mark.parametrize(
    ("done_on", "open_acts", "today", "status", "shown"),
    [
        (None, 1, DUE, TimelineStatus.PENDING, None),  # not done yet
        (DUE - ONE, 1, DUE, TimelineStatus.PENDING, None),  # partly done: no date shown
        (None, 1, DUE + ONE, TimelineStatus.LATE, None),  # overdue
        (DUE - ONE, 2, DUE + ONE, TimelineStatus.LATE, None),  # partly done, overdue
        (DUE, 0, DUE, TimelineStatus.DONE, DUE),  # done on the day
        (DUE - ONE, 0, DUE + 9 * ONE, TimelineStatus.DONE, DUE - ONE),
        (DUE + ONE, 0, DUE + ONE, TimelineStatus.LATE, DUE + ONE),  # done late
        (None, 0, DUE, TimelineStatus.PENDING, None),  # nothing asked yet
        (None, 0, DUE + ONE, TimelineStatus.DONE, None),  # nothing was asked
    ],
)
def test_each_timeline_item_has_one_consistent_state(
    done_on: date | None, open_acts: int, today: date, status: TimelineStatus, shown: date | None
) -> None:
    got = item_state(DUE, done_on, open_acts, today)
    assert got == (status, shown)
    # The invariants every state keeps.
    if got[0] is TimelineStatus.PENDING:
        assert got[1] is None
    if got[1] is not None:
        assert got[0] is (TimelineStatus.DONE if got[1] <= DUE else TimelineStatus.LATE)
