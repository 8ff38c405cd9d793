"""The contacts service as an ASGI app (``services.contacts.app:app``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.common.app import create_app
from services.common.context import authenticate
from services.common.errors import DiefError
from services.common.mongo import run_sync
from services.common.routes import mount
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings, get_settings
from services.contacts import (
    freshness,
    handlers,
    ldap_interrupted,
    ldap_schedule,
    ldap_sources,
    vcard,
)
from services.contacts.documents import Authority
from services.contacts.routes import ROUTES
from services.contacts.schema import schema

HTTP_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "VALIDATION": 400}


def _state_vcards(principal: object, code: str) -> str:
    contacts = handlers.contacts_of_state(principal, code)  # type: ignore[arg-type]
    authorities = {a.pk: a for a in Authority.objects(id__in=[c.authority_id for c in contacts])}
    return vcard.state_cards(contacts, authorities)


def build(settings: Settings | None = None) -> Starlette:
    runtime = ServiceRuntime(
        service="contacts",
        settings=settings or get_settings(),
        on_start=[
            handlers.ensure_indexes,
            ldap_sources.ensure_indexes,
            freshness.ensure_indexes,
            ldap_interrupted.mark_interrupted_runs,
        ],
        consumers=[
            *ldap_schedule.background_work(settings or get_settings()),
            lambda runtime: freshness.FreshnessSchedule(runtime.settings),
        ],
    )

    async def state_vcf(request: Request) -> Response:
        """GET /contacts/{code}.vcf, with the same authorisation as the API."""
        try:
            principal = authenticate(request, runtime.verifier)
            body = await run_sync(_state_vcards, principal, request.path_params["code"])
        except DiefError as refusal:
            return JSONResponse(
                {"error": refusal.message, **refusal.extensions},
                status_code=HTTP_STATUS.get(refusal.code, 400),
            )
        return Response(body, media_type="text/vcard; charset=utf-8")

    return create_app(runtime, schema, routes=mount(ROUTES, {"state_vcf": state_vcf}))


def app() -> Starlette:  # uvicorn --factory services.contacts.app:app
    return build()
