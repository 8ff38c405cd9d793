"""The console's Starlette app: ``dief serve console`` (``make run`` starts it next to the
gateway on http://127.0.0.1:8000)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console import i18n
from console.gateway import Gateway
from console.pages import auth, cases, directory, files, home, meetings, secretariat
from console.security import BodyLimit, SecurityHeaders
from console.sessions import Identity, SessionStore
from console.settings import ConsoleSettings
from console.web import Console, Handler, page
from services.common.settings import Settings, get_settings
from services.common.tracing import TracingMiddleware

HERE = Path(__file__).parent
DEV_TOKEN_SECONDS = 900


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = i18n.format_when
    env.filters["day"] = i18n.format_day
    return env


def dev_minter(core: Settings):  # type: ignore[no-untyped-def]
    """Dev tokens for the chosen identity, signed with the local dev key (what
    ``dief token`` mints); the gateway takes participation from the registry."""
    from services.common.keys import ensure_dev_key
    from services.common.principal import Principal, Role, sign_principal

    key = ensure_dev_key(core.keys_dir)

    def mint(identity: Identity) -> tuple[str, float]:
        principal = Principal(
            subject=identity.subject,
            roles=frozenset(Role(r) for r in identity.roles),
            state=identity.state,
            participant=False,
        )
        token = sign_principal(
            principal,
            key,
            issuer=core.principal_issuer,
            audience=core.principal_audience,
            ttl_seconds=DEV_TOKEN_SECONDS,
        )
        return token, time.time() + DEV_TOKEN_SECONDS

    return mint


async def schema_fields(gateway: Gateway) -> frozenset[str]:
    """The gateway's Query fields (to wire in features as they land); empty when the
    gateway does not answer introspection."""
    with contextlib.suppress(Exception):
        answer = await gateway.query(None, '{ __type(name: "Query") { fields { name } } }')
        fields = (answer.data.get("__type") or {}).get("fields") or []
        return frozenset(f["name"] for f in fields)
    return frozenset()


def build(settings: ConsoleSettings | None = None, core: Settings | None = None) -> Starlette:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = settings or ConsoleSettings()
    core = core or get_settings()
    secure = settings.secure_cookies if settings.secure_cookies is not None else not core.is_dev
    dev = settings.dev_sign_in if settings.dev_sign_in is not None else core.is_dev
    if dev and not core.is_dev:
        raise ValueError("The dev sign-in page exists only with DIEF_ENV=dev.")
    gateway = Gateway(settings.gateway_url, settings.gateway_timeout_seconds)
    console = Console(
        settings=settings,
        secure=secure,
        dev_sign_in=dev,
        store=SessionStore(settings.session_idle_minutes * 60, settings.session_max_hours * 3600),
        gateway=gateway,
        templates=templates(),
        mint=dev_minter(core) if dev else None,
    )
    oidc_http = httpx.AsyncClient(timeout=10)
    if settings.oidc_enabled:
        from console.oidc import Provider

        console.provider = Provider(settings, oidc_http)

    def p(handler: Handler, signed_in: bool = True):  # type: ignore[no-untyped-def]
        return page(console, handler, signed_in=signed_in)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console.schema_fields = await schema_fields(gateway)
        yield
        await gateway.close()
        await oidc_http.aclose()

    routes = [
        Route("/", p(home.home)),
        Route("/signin", p(auth.signin, signed_in=False), methods=["GET", "POST"]),
        Route("/signin/oidc", p(auth.oidc_start, signed_in=False)),
        Route("/signin/callback", p(auth.callback, signed_in=False)),
        Route("/signout", p(auth.signout, signed_in=False), methods=["POST"]),
        Route("/preferences", p(auth.preferences, signed_in=False), methods=["POST"]),
        Route("/notifications/mark", p(home.mark), methods=["POST"]),
        Route("/directory", p(directory.directory)),
        Route("/directory/{code}.vcf", p(files.vcard)),
        Route("/directory/{code}", p(directory.state)),
        Route("/directory/{code}/{action}", p(directory.act), methods=["POST"]),
        Route("/meetings", p(meetings.meetings)),
        Route("/meetings/calendar.ics", p(files.calendar)),
        Route("/meetings/schedule", p(meetings.schedule), methods=["POST"]),
        Route("/meetings/calendar-links", p(meetings.calendar_link), methods=["POST"]),
        Route("/meetings/documents/{doc_id}", p(files.meeting_document)),
        Route("/meetings/{mid}", p(meetings.meeting)),
        Route("/meetings/{mid}/documents", p(meetings.upload), methods=["POST"]),
        Route("/meetings/{mid}/{action}", p(meetings.act), methods=["POST"]),
        Route("/cases", p(cases.cases)),
        Route("/cases/new", p(cases.new_case), methods=["GET", "POST"]),
        Route("/cases/attachments/{att_id}", p(files.case_attachment)),
        Route("/cases/{cid}", p(cases.case)),
        Route("/cases/{cid}/attachments", p(cases.attach), methods=["POST"]),
        Route("/cases/{cid}/{action}", p(cases.case_act), methods=["POST"]),
        Route("/secretariat", p(secretariat.secretariat)),
        Route("/secretariat/status", p(secretariat.change_status), methods=["POST"]),
        Route("/secretariat/chair", p(secretariat.appoint_chair), methods=["POST"]),
        Route("/secretariat/import", p(secretariat.import_statuses), methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", healthz),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = console
    # a form's fields and its one file, at most (the form parts' overhead allowed for)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 1024 * 1024)
    app.add_middleware(SecurityHeaders, hsts=secure)
    app.add_middleware(TracingMiddleware)  # off unless an OTLP collector is named
    return app


def app() -> Starlette:
    """``uvicorn --factory console.app:app``."""
    return build()
