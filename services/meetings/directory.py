"""Who receives the invitation: every participant State's registered contacts (rule 9).

Asked of the contacts service at the moment of issue, over its GraphQL API, carrying the
issuing Secretariat member's own token. Why a call and not a local copy: the contacts
service's events are thin on purpose (no names, no addresses, rule 20 and personal data),
so a local replica would have to call back for every address anyway; a call at issue
time also gives exactly "the contacts registered at the moment of issue", and the
directory's own authorisation applies to the person who issues. Participation itself
(who may see and do what here) uses the local register fed by
``dief.contacts.state.status_changed`` (see ``consumers``), which needs no address.
"""

from __future__ import annotations

import httpx

from services.common.errors import DiefError, Forbidden, Unauthenticated
from services.meetings.handlers import Recipient

PAGE = 200

STATES = """query($after: String) {
  states(first: 200, after: $after, filter: {participant: true}) {
    pageInfo { hasNextPage endCursor } edges { node { code } }
  }
}"""

CONTACTS = """query($after: String) {
  contacts(first: 200, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { stateCode functionalEmail } }
  }
}"""


class DirectoryUnavailable(DiefError):
    code = "INTERNAL"


class ContactsDirectory:
    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self.transport = transport

    async def _pages(self, http: httpx.AsyncClient, query: str, key: str, token: str) -> list:
        nodes: list = []
        after: str | None = None
        while True:
            response = await http.post(
                self.url,
                json={"query": query, "variables": {"after": after}},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.json() if response.status_code == 200 else {}
            if body.get("errors"):
                code = body["errors"][0].get("extensions", {}).get("code")
                message = body["errors"][0].get("message", "")
                if code == "UNAUTHENTICATED":
                    raise Unauthenticated(f"The contact directory refused the token: {message}")
                if code == "FORBIDDEN":
                    raise Forbidden(f"The contact directory refused: {message}", rule=9)
            data = (body.get("data") or {}).get(key)
            if data is None:
                raise DirectoryUnavailable(
                    "The contact directory did not answer; nothing was issued. Try again."
                )
            nodes += [edge["node"] for edge in data["edges"]]
            if not data["pageInfo"]["hasNextPage"]:
                return nodes
            after = data["pageInfo"]["endCursor"]

    async def recipients(self, token: str) -> list[Recipient]:
        """Every current contact of every participant State, by functional address."""
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10.0) as http:
                states = {n["code"] for n in await self._pages(http, STATES, "states", token)}
                contacts = await self._pages(http, CONTACTS, "contacts", token)
        except httpx.HTTPError as exc:
            raise DirectoryUnavailable(
                f"The contact directory is unreachable ({exc}); nothing was issued."
            ) from exc
        return [
            Recipient(c["stateCode"], c["functionalEmail"])
            for c in contacts
            if c["stateCode"] in states
        ]
