"""Rule 13, as the cases service checks it when a case is linked to a presentation: who
gives the presentation, asked of the meetings service at the moment of linking.

Why a call and not a local copy: the meetings service's events are thin on purpose (no
agenda content, no States a presentation concerns, rule 14), so the cases service would
otherwise never know a presentation's presenter. The call carries the linking person's
own token, so the meetings service's own rules decide whether that person may see the
presentation at all (a presentation they may not see cannot be linked either). A link
that cannot be checked is not recorded (UNAVAILABLE: try again)."""

from __future__ import annotations

import httpx

from services.common.errors import DiefError, Forbidden, NotFound, Unavailable, ValidationFailed

PRESENTER = "query($id: ID!) { presentation(id: $id) { id presentingStateCode } }"
REFUSALS: dict[str, type[DiefError]] = {
    "FORBIDDEN": Forbidden,
    "UNAUTHENTICATED": Forbidden,
    "NOT_FOUND": NotFound,
    "VALIDATION": ValidationFailed,
}


class MeetingsPresentations:
    """The meetings subgraph, asked for one presentation's presenting State."""

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self.transport = transport

    async def presenting_state(self, token: str, presentation_id: str) -> str:
        """The State that gives ``presentation_id``; the meetings service's refusal (as the
        same code), or UNAVAILABLE when it cannot be asked."""
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10.0) as http:
                response = await http.post(
                    self.url,
                    json={"query": PRESENTER, "variables": {"id": presentation_id}},
                    headers={"Authorization": f"Bearer {token}"},
                )
            body = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(
                "The meetings service could not be asked who gives the presentation; "
                "nothing was linked. Try again."
            ) from exc
        errors = body.get("errors") or []
        if errors:
            code = (errors[0].get("extensions") or {}).get("code", "")
            refusal = REFUSALS.get(code)
            if refusal is not None:
                raise refusal(
                    "No presentation you may see has that id; nothing was linked.",
                    field="presentationId",
                )
        found = (body.get("data") or {}).get("presentation")
        if not found:
            if "data" in body and not errors:
                raise NotFound("No such presentation.", field="presentationId")
            raise Unavailable(
                "The meetings service did not say who gives the presentation; nothing was "
                "linked. Try again."
            )
        return str(found["presentingStateCode"])
