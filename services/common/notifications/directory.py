"""Who receives a notice: the contacts each State chose by role for the notice's audience
(``noticeRecipients`` of the contacts service; never every contact of a State), and the
States it concerns that have nobody to tell (reported by the caller, never skipped).

Asked of the contacts service at the moment of issue, over its GraphQL API, carrying the
token of the person whose act the notice tells of (the meetings and cases services). Why
a call and not a local copy: the contacts service's events are thin on purpose (no
names, no addresses, rule 20 and personal data), so a local replica would have to call
back for every address anyway; a call at issue time also gives exactly "the contacts
registered at the moment of issue", and the directory's own authorisation applies to the
person who issues. Participation itself (who may see and do what) uses each service's
local register fed by ``dief.contacts.state.status_changed``, which needs no address.
"""

from __future__ import annotations

import httpx

from services.common.errors import DiefError, Forbidden, Unauthenticated
from services.common.notifications.kinds import Audience
from services.common.notifications.recipients import Recipient, Resolution

RECIPIENTS = """query($audience: NoticeAudience!, $states: [String!]) {
  noticeRecipients(audience: $audience, stateCodes: $states) {
    stateCode participant stateParty recipients { email role publicKey publicKeyFingerprint }
  }
}"""


class DirectoryUnavailable(DiefError):
    code = "INTERNAL"


class ContactsDirectory:
    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self.transport = transport

    async def recipients(
        self, token: str, audience: Audience, states: list[str] | None = None
    ) -> Resolution:
        """The recipients in ``states`` (default: every participant State) by role."""
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10.0) as http:
                response = await http.post(
                    self.url,
                    json={
                        "query": RECIPIENTS,
                        "variables": {"audience": audience.value, "states": states},
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
        except httpx.HTTPError as exc:
            raise DirectoryUnavailable(
                f"The contact directory is unreachable ({exc}); nothing was issued."
            ) from exc
        body = response.json() if response.status_code == 200 else {}
        if body.get("errors"):
            code = body["errors"][0].get("extensions", {}).get("code")
            message = body["errors"][0].get("message", "")
            if code == "UNAUTHENTICATED":
                raise Unauthenticated(f"The contact directory refused the token: {message}")
            if code == "FORBIDDEN":
                raise Forbidden(f"The contact directory refused: {message}")
        found = (body.get("data") or {}).get("noticeRecipients")
        if found is None:
            raise DirectoryUnavailable(
                "The contact directory did not answer; nothing was issued. Try again."
            )
        concerned = [s["stateCode"] for s in found] if states is None else list(states)
        return Resolution.of(
            concerned,
            [
                Recipient(
                    s["stateCode"],
                    r["email"],
                    r["role"],
                    r.get("publicKey"),
                    r.get("publicKeyFingerprint"),
                )
                for s in found
                for r in s["recipients"]
            ],
            [s["stateCode"] for s in found if s.get("stateParty")],
        )
