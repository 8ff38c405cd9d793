"""The gateway follows status changes with only the NATS rights ``deploy/nats/nats.conf``
gives it (a JetStream consumer of its own, no plain subscription to ``dief.>``)."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from gateway.participants import ParticipantRegistry
from services.common.events import event
from tests.gateway_stack import wait_until
from tests.gateway_support import free_port
from tests.test_nats_permissions import PASSWORDS, contacts_client, secured_nats

__all__ = ["contacts_client", "secured_nats"]  # fixtures shared with the permissions tests


def status_changed(state: str, participant: bool) -> bytes:
    status, before = ("STATE_PARTY", "NON_PARTY") if participant else ("NON_PARTY", "STATE_PARTY")
    return event(
        "contacts",
        "state",
        "status_changed",
        subject=state,
        stateCode=state,
        status=status,
        previousStatus=before,
        participant=participant,
        changedAt="2026-01-01T00:00:00+00:00",
    ).to_json()


async def test_the_gateway_user_follows_status_changes_under_the_deployed_permissions(
    secured_nats: int, contacts_client: NATS
) -> None:
    js = contacts_client.jetstream()
    consumers_before = (await js.stream_info("DIEF")).state.consumer_count
    url = f"nats://gateway:{PASSWORDS['gateway']}@127.0.0.1:{secured_nats}"
    unreachable_contacts = f"http://127.0.0.1:{free_port()}/graphql"
    registry = ParticipantRegistry(unreachable_contacts, url, lambda _: "unused", retry_seconds=0.2)
    registry.start()
    try:

        async def consumer_made() -> bool:
            return (await js.stream_info("DIEF")).state.consumer_count > consumers_before

        await wait_until(consumer_made)
        assert not registry.is_participant("NZL")
        for participant in (True, False, True):
            await js.publish(
                "dief.contacts.state.status_changed", status_changed("NZL", participant)
            )
            await wait_until(lambda p=participant: registry.is_participant("NZL") is p)
        assert not registry.loaded.is_set()  # contacts is unreachable: the gateway is not ready
    finally:
        await registry.stop()
