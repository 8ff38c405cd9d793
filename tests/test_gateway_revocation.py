"""Rules 1 and 6 at the gateway: participation follows the contacts registry through
``dief.contacts.state.status_changed`` on a real NATS, so a State that stops being a
participant loses access on its next request, and regains it when it takes part again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.common.settings import Settings
from services.contacts import handlers
from tests.conftest import error_codes
from tests.gateway_stack import gateway_stack, wait_until
from tests.test_contacts_api import PARTIES

STATES = "{ states(first: 2) { totalCount edges { node { code } } } }"
CHANGE = """mutation($input: StateStatusChangeInput!) {
  stateStatusChange(input: $input) { state { code status participant } }
}"""


async def test_a_state_that_stops_being_a_participant_loses_access_on_its_next_request(
    settings: Settings, contacts_app: Any, tmp_path: Path
) -> None:
    handlers.seed_states(PARTIES)
    async with gateway_stack(settings, contacts_app, tmp_path) as gw:
        french = gw.token(sub="fra-delegate", state="FRA", roles=["delegate"])
        secretariat = gw.token(sub="sec1", roles=["secretariat"])
        assert "errors" not in await gw.query(STATES, french)

        withdrawal = {"code": "FRA", "status": "NON_PARTY", "withdrawalDate": "2026-01-01"}
        changed = await gw.query(CHANGE, secretariat, {"input": withdrawal})
        assert changed["data"]["stateStatusChange"]["state"]["participant"] is False, changed

        registry = gw.parts.registry
        await wait_until(lambda: not registry.is_participant("FRA"))
        refused = await gw.query(STATES, french)
        assert error_codes(refused) == ["FORBIDDEN"]
        assert refused["errors"][0]["path"] == ["states"]

        # The same token works again once the registry says FRA takes part again.
        back = {"code": "FRA", "status": "SIGNATORY", "signatureDate": "2013-06-03"}
        assert "errors" not in await gw.query(CHANGE, secretariat, {"input": back})
        await wait_until(lambda: registry.is_participant("FRA"))
        assert "errors" not in await gw.query(STATES, french)
