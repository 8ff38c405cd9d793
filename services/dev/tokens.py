"""Dev tokens: principal tokens signed with the local dev key, for calling the services
directly (and, later, caller tokens for the gateway)."""

from __future__ import annotations

from pymongo import MongoClient

from services.common.keys import ensure_dev_key
from services.common.principal import Principal, Role, sign_principal
from services.common.settings import Settings

PARTICIPANT_STATUSES = ("STATE_PARTY", "SIGNATORY")


def registry_participant(settings: Settings, state: str) -> bool:
    """Ask the contacts registry whether ``state`` is a participant now."""
    client: MongoClient[dict[str, object]] = MongoClient(
        settings.mongodb_uri, serverSelectionTimeoutMS=10_000
    )
    try:
        doc = client[settings.contacts_db]["states"].find_one({"_id": state}, {"status": 1})
    finally:
        client.close()
    return doc is not None and doc.get("status") in PARTICIPANT_STATUSES


def dev_token(
    settings: Settings,
    *,
    sub: str,
    state: str | None,
    roles: list[str],
    participant: bool | None,
    ttl_seconds: int,
) -> str:
    if not settings.is_dev:
        raise SystemExit("dief token mints dev tokens only (DIEF_ENV=dev).")
    if participant is None:
        participant = registry_participant(settings, state) if state else False
    principal = Principal(
        subject=sub,
        roles=frozenset(Role(r) for r in roles),
        state=state.upper() if state else None,
        participant=participant,
    )
    key = ensure_dev_key(settings.keys_dir)
    return sign_principal(
        principal,
        key,
        issuer=settings.principal_issuer,
        audience=settings.principal_audience,
        ttl_seconds=ttl_seconds,
    )
