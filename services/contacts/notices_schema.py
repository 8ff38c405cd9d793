"""The notices part of the contacts subgraph: a State's choice of who is told, and the
recipients by role that the meetings and cases services ask for. Resolvers only call
``notices``."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from services.common.context import RequestContext
from services.common.mongo import run_sync
from services.common.notifications import kinds
from services.common.notifications.schema import FeedOf, feed_field, mark_field
from services.contacts import domain, freshness, notices
from services.contacts.documents import utcnow

Ctx = Info[RequestContext, None]
FEED = FeedOf(freshness.ContactsNotice, freshness.ContactsDelivery)
READ_POLICY = [["directory_reader"]]
WRITE_POLICY = [["directory_manager"]]

NoticeAudience = strawberry.enum(
    kinds.Audience,
    name="NoticeAudience",
    description="Which notices: MEETINGS (invitation, agenda, changes, experts, reminders), "
    "INFORMATION (rules 12, 15, 16), DIRECTORY (rule 20 re-verification).",
)
NoticeRole = strawberry.enum(
    domain.ContactRole,
    name="ContactRole",
    description="What a contact is for in the Forum (rule 20).",
)


@strawberry.type(description="One address a notice goes to, and why.")
class NoticeRecipient:
    email: str
    role: NoticeRole = strawberry.field(description="The role it was chosen for.")
    public_key: str | None = strawberry.field(description="Encrypt to this key, if any.")
    public_key_fingerprint: str | None


@strawberry.type(description="Who in one State receives an audience's notices.")
class StateNoticeRecipients:
    state_code: str
    participant: bool
    state_party: bool = strawberry.field(
        description="A State Party (not only a signatory): rule 8 lets only these object to "
        "a non-state expert and decide a referral."
    )
    roles: list[NoticeRole] = strawberry.field(description="The roles the State chose.")
    recipients: list[NoticeRecipient] = strawberry.field(
        description="Empty: nobody in the State can be told (report it, do not skip it)."
    )

    @classmethod
    def of(cls, found: notices.StateRecipients) -> StateNoticeRecipients:
        return cls(
            state_code=found.state,
            participant=found.participant,
            state_party=found.state_party,
            roles=[domain.ContactRole(r) for r in found.roles],
            recipients=[
                NoticeRecipient(
                    email=r.email,
                    role=domain.ContactRole(r.role),
                    public_key=r.public_key,
                    public_key_fingerprint=r.fingerprint,
                )
                for r in found.recipients
            ],
        )


@strawberry.input(description="Which roles of a State's contacts receive an audience's notices.")
class StateNoticeRolesSetInput:
    state_code: str
    audience: NoticeAudience
    roles: list[NoticeRole] = strawberry.field(
        description="In order; the State's alternates are told when nobody holds these."
    )


@strawberry.type(description="Rule 20: how up to date one State's contacts are.")
class StateFreshness:
    state_code: str
    contacts: int
    stale: int = strawberry.field(description="Not confirmed within the configured days.")


@strawberry.type(description="The contact whose details were confirmed.")
class ContactVerified:
    functional_email: str
    last_verified_at: datetime


@strawberry.type
class NoticeQuery:
    my_directory_notifications = feed_field(
        FEED,
        "Your notices of the directory (rule 20), newest first, in the same Notice type as "
        "myNotifications: your State's re-verification reminders and stale contacts, and the "
        "Secretariat's freshness reports.",
    )

    @strawberry.federation.field(
        description="Rule 20: per State, how many contacts are stale (the Secretariat's).",
        policy=[["secretariat"]],
    )
    async def freshness_report(self, info: Ctx) -> list[StateFreshness] | None:
        days = info.context.runtime.settings.stale_after_days
        rows = await run_sync(freshness.freshness_report, info.context.principal, utcnow(), days)
        return [
            StateFreshness(state_code=r.state, contacts=r.contacts, stale=r.stale) for r in rows
        ]

    @strawberry.federation.field(
        description="Who receives an audience's notices in each State named (default: every "
        "participant State), chosen by the roles each State set; never every contact.",
        policy=READ_POLICY,
    )
    async def notice_recipients(
        self, info: Ctx, audience: NoticeAudience, state_codes: list[str] | None = None
    ) -> list[StateNoticeRecipients] | None:
        found = await run_sync(
            notices.notice_recipients, info.context.principal, audience, state_codes
        )
        return [StateNoticeRecipients.of(f) for f in found]


@strawberry.type
class NoticeMutation:
    directory_notifications_mark = mark_field(
        FEED, "Mark directory notices of yours read (or unread)."
    )

    @strawberry.federation.mutation(
        description="Rule 20: a contact confirms its own details with the one-time token "
        "its re-verification message carried (no sign-in needed; the token works once)."
    )
    async def contact_verify_by_token(self, info: Ctx, token: str) -> ContactVerified | None:
        contact = await run_sync(freshness.verify_by_token, token, utcnow())
        return ContactVerified(
            functional_email=contact.functional_email,
            last_verified_at=contact.last_verified_at,
        )

    @strawberry.federation.mutation(
        description="A State chooses which roles of its contacts receive an audience's "
        "notices (its own representatives only).",
        policy=WRITE_POLICY,
    )
    async def state_notice_roles_set(
        self, info: Ctx, input: StateNoticeRolesSetInput
    ) -> StateNoticeRecipients | None:
        await run_sync(
            notices.set_notice_roles,
            info.context.principal,
            input.state_code,
            input.audience,
            input.roles,
        )
        [found] = await run_sync(
            notices.notice_recipients, info.context.principal, input.audience, [input.state_code]
        )
        return StateNoticeRecipients.of(found)
