"""What the meetings service tells people, and to whom (rules 8, 9, 10, 12 and the
reminders): each notice's text, following rule 14 (an invitation names date and venue,
never agenda content; a confidential matter only says that there is something to see,
with a link, unless the message is encrypted to the recipient), and its recording in the
caller's unit of work (feed entry + one delivery per recipient address).
"""

from __future__ import annotations

from datetime import date, datetime

from services.common.ids import to_global_id
from services.common.notifications.kinds import NoticeKind
from services.common.notifications.queue import (
    Attachment,
    Notice,
    entry_and_deliveries,
)
from services.common.notifications.recipients import Recipient, Resolution
from services.common.unit_of_work import UnitOfWork
from services.meetings.calendar import calendar, invitation_entry
from services.meetings.documents import Delivery, KnownRecipients, Meeting, NoticeRecord

FORUM = "Diversion Information Exchange Forum"
CONFIDENTIAL = "The meeting, its agenda and its documents are confidential to the participants."
SEE = "There is something for you to see in DIEF Exchange; sign in to read it:"


def _dates(first: date, last: date) -> str:
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"


def _where(meeting: Meeting) -> list[str]:
    return [f"  Date:  {_dates(meeting.start_date, meeting.end_date)}", f"  Venue: {meeting.venue}"]


def invitation(meeting: Meeting) -> Notice:
    """Rule 9: date, venue and the call for presentations; never agenda content."""
    inv = meeting.invitation
    body = [f"The {FORUM} will meet", *_where_of_invitation(meeting)]
    if inv.late_reason:
        body += ["", f"This invitation is issued late: {inv.late_reason}"]
    body += ["", "Call for presentations:", inv.call_for_presentations, "", CONFIDENTIAL]
    mid = to_global_id("Meeting", meeting.pk)
    ics = calendar(
        [invitation_entry(mid, inv.start_date, inv.end_date, inv.venue)],
        inv.issued_at,
        method="PUBLISH",
    )
    return Notice(
        NoticeKind.INVITATION,
        f"Invitation: {FORUM}, {inv.start_date.isoformat()}",
        "\n".join(body),
        topic=mid,
        attachments=(
            Attachment(
                "invitation.ics",
                "text",
                "calendar",
                ics.decode() if isinstance(ics, bytes) else ics,
                {"method": "PUBLISH"},
            ),
        ),
    )


def _where_of_invitation(meeting: Meeting) -> list[str]:
    inv = meeting.invitation
    return [f"  Date:  {_dates(inv.start_date, inv.end_date)}", f"  Venue: {inv.venue}"]


def about_meeting(
    kind: NoticeKind,
    meeting: Meeting,
    headline: str,
    link_base: str,
    *,
    lines: tuple[str, ...] = (),
    confidential: tuple[str, ...] = (),
) -> Notice:
    """A notice about a meeting: the headline, date and venue, open ``lines``; anything
    ``confidential`` only in the encrypted copy, the open copy saying there is something
    to see and linking to it (the link is completed with the notice's ID on issue)."""
    mid = to_global_id("Meeting", meeting.pk)
    body = [headline, *_where(meeting), *(["", *lines] if lines else [])]
    if confidential:
        body += ["", SEE, link_base]
    return Notice(
        kind,
        f"{FORUM}, {meeting.start_date.isoformat()}: {headline.rstrip('.')}",
        "\n".join(body),
        topic=mid,
        link=link_base if confidential else None,
        private_body="\n".join(confidential) if confidential else None,
    )


def record(
    uow: UnitOfWork,
    notice: Notice,
    resolution: Resolution,
    now: datetime,
    *,
    meeting: Meeting | None = None,
    states: tuple[str, ...] = (),
    secretariat: bool = False,
    key: str | None = None,
) -> NoticeRecord:
    """The feed entry and the deliveries, written with the change they tell of."""
    extra = {"meeting_id": meeting.pk} if meeting is not None else {}
    entry, deliveries = entry_and_deliveries(
        notice,
        resolution,
        now,
        NoticeRecord,
        Delivery,
        states=(*states, *resolution.unreachable),
        secretariat=secretariat,
        key=key,
        **extra,
    )
    if notice.link:
        link = f"{notice.link.rstrip('/')}/{to_global_id('Notice', entry.pk)}"
        entry.link = link
        for d in deliveries:
            d.body = (d.body or "").replace(notice.link, link)
        entry.body = entry.body.replace(notice.link, link)
    uow.insert(entry)
    for delivery in deliveries:
        uow.insert(delivery)
    return entry


def learn(resolution: Resolution, audience: str, states: tuple[str, ...], now: datetime) -> None:
    """Keep the recipients the directory named, for the clock-driven notices (reminders)."""
    by_state: dict[str, list[Recipient]] = {s: [] for s in states}
    for r in resolution.recipients:
        by_state.setdefault(r.state, []).append(r)
    for state, found in by_state.items():
        KnownRecipients(
            key=f"{state}:{audience}",
            state=state,
            audience=audience,
            recipients=[
                {"email": r.email, "role": r.role, "key": r.public_key, "fpr": r.fingerprint}
                for r in found
            ],
            state_party=state in resolution.state_parties,
            learned_at=now,
        ).save()


def known(states: list[str] | None, audience: str) -> Resolution:
    """The recipients last learned for these States (None: every State learned of), with
    no directory call: for the clock, or when the directory cannot answer."""
    query = KnownRecipients.objects(audience=audience)
    if states is not None:
        query = query.filter(pk__in=[f"{s}:{audience}" for s in states])
    found = {k.state: k for k in query}
    if states is None:
        states = sorted(found)
    recipients = [
        Recipient(s, r["email"], r["role"], r.get("key"), r.get("fpr"))
        for s in states
        if s in found
        for r in found[s].recipients
    ]
    return Resolution.of(
        states, recipients, [s for s in states if s in found and found[s].state_party]
    )


def known_state_parties(audience: str) -> set[str]:
    """Rule 8: the States the directory last named as States Parties (every participant
    State is named when a proposal is circulated, before any objection or referral)."""
    return set(KnownRecipients.objects(audience=audience, state_party=True).scalar("state"))


def known_state_party(state: str, audience: str) -> bool | None:
    """Whether the directory last said ``state`` is a State Party (None: never asked)."""
    found = KnownRecipients.objects(pk=f"{state}:{audience}").first()
    return None if found is None or found.state_party is None else bool(found.state_party)


# --- what each notice says ---------------------------------------------------------------


def meeting_moved(meeting: Meeting) -> Notice:
    return about_meeting(
        NoticeKind.MEETING_MOVED,
        meeting,
        f"The {FORUM} meeting has been moved.",
        "",
        lines=("A new invitation will follow with the new dates.",),
    )


def meeting_cancelled(meeting: Meeting) -> Notice:
    return about_meeting(
        NoticeKind.MEETING_CANCELLED, meeting, f"The {FORUM} meeting is cancelled.", ""
    )


def agenda_notice(meeting: Meeting, kind: NoticeKind, titles: list[str], link: str) -> Notice:
    """Rule 10; rule 14: the agenda itself only in the encrypted copy."""
    what = "distributed" if kind is NoticeKind.AGENDA_DISTRIBUTED else "adopted"
    headline = (
        f"The draft agenda has been {what}."
        if what == "distributed"
        else ("The agenda has been adopted.")
    )
    late = (
        (f"It is distributed late: {meeting.agenda_late_reason}",)
        if what == "distributed" and getattr(meeting, "agenda_late_reason", None)
        else ()
    )
    agenda = "\n".join(f"  {i}. {t}" for i, t in enumerate(titles, 1)) or "  (no item yet)"
    return about_meeting(
        kind, meeting, headline, link, lines=late, confidential=(f"Agenda:\n{agenda}",)
    )


def involved_state_notified(
    meeting: Meeting,
    title: str,
    presenting: str,
    reply_due: date,
    late_reason: str | None,
    link: str,
) -> Notice:
    """Rule 12: the involved State is told and asked for its response; the presentation's
    subject only encrypted."""
    lines = [f"Your response is asked by {reply_due.isoformat()}."]
    if late_reason:
        lines.append(
            f"This notification is late (less than 30 days ahead): {late_reason}. The Chair "
            "decides whether the presentation stays on the agenda."
        )
    return about_meeting(
        NoticeKind.INVOLVED_STATE_NOTIFIED,
        meeting,
        "A presentation at the meeting involves your State (rule 12).",
        link,
        lines=tuple(lines),
        confidential=(f"Presenting State: {presenting}", f"Presentation: {title}"),
    )


def response_received(meeting: Meeting, title: str, responding: str, link: str) -> Notice:
    return about_meeting(
        NoticeKind.RESPONSE_RECEIVED,
        meeting,
        "An involved State responded to your presentation (rule 12).",
        link,
        confidential=(f"Responding State: {responding}", f"Presentation: {title}"),
    )


def expert_notice(
    meeting: Meeting,
    kind: NoticeKind,
    expert: str,
    proposing: str,
    link: str,
    silence_ends_on: date | None = None,
) -> Notice:
    """Rule 8: the proposal, an objection, the silence ended, a referral."""
    headline, lines = {
        NoticeKind.EXPERT_PROPOSAL_CIRCULATED: (
            "A non-state expert is proposed for a presentation (rule 8).",
            (
                f"A State Party may object until {silence_ends_on.isoformat()} (rule 8); "
                "silence means approval.",
            )
            if silence_ends_on
            else (),
        ),
        NoticeKind.EXPERT_PROPOSED_FOR_YOUR_PRESENTATION: (
            "Another State proposed a non-state expert for your presentation (rule 8); the "
            "expert would attend it and read its documents.",
            (f"Your State may object until {silence_ends_on.isoformat()}; silence means approval.",)
            if silence_ends_on
            else (),
        ),
        NoticeKind.EXPERT_OBJECTION_RAISED: (
            "An objection was raised to the non-state expert you proposed (rule 8).",
            ("The objecting and proposing States consult to resolve it.",),
        ),
        NoticeKind.EXPERT_SILENCE_ENDED: (
            "The silence procedure on a proposed non-state expert has ended: approved.",
            (),
        ),
        NoticeKind.EXPERT_REFERRED: (
            "An unresolved objection to a non-state expert is referred to the States "
            "participating in the meeting (rule 8).",
            (),
        ),
    }[kind]
    return about_meeting(
        kind,
        meeting,
        headline,
        link,
        lines=lines,
        confidential=(f"Expert: {expert}", f"Proposed by: {proposing}"),
    )


def deadline_reminder(meeting: Meeting, item: str, due_on: date, days_left: int) -> Notice:
    what = item.replace("_", " ").lower()
    return about_meeting(
        NoticeKind.DEADLINE_REMINDER,
        meeting,
        f"Reminder: {what} due on {due_on.isoformat()} ({days_left} days left).",
        "",
    )
