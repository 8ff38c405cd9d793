"""The request plumbing every page shares: the session, sign-in check, CSRF check on every
form, the caller's banner and rendering in the user's language and time zone."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote

from jinja2 import Environment
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from console import i18n
from console.allowances import allowances, policy_reason, role_label
from console.gateway import Answer, Gateway, GatewayError, Refusal
from console.security import CSRF_FIELD, CSRF_HEADER, BodyTooLarge, csrf_valid
from console.sessions import Identity, Session, SessionStore, cookie_attributes, cookie_name
from console.settings import ConsoleSettings

log = logging.getLogger("dief.console")
CALLER_QUERY = (
    "query ConsoleCaller($c: String!) { state(code: $c) { code name status participant } }"
)


@dataclass
class Console:
    """What the pages share: settings, sessions, the gateway, templates, token minting."""

    settings: ConsoleSettings
    secure: bool
    dev_sign_in: bool
    store: SessionStore
    gateway: Gateway
    templates: Environment
    mint: Callable[[Identity], tuple[str, float]] | None  # dev tokens: (token, expires at)
    provider: Any = None  # console.oidc.Provider when configured
    schema_fields: frozenset[str] = frozenset()  # Query fields the gateway offers


@dataclass
class Ctx:
    """One request: its session, its form (already CSRF-checked), and the API."""

    console: Console
    request: Request
    session: Session
    form: FormData | None = None
    refusals: list[Refusal] = field(default_factory=list)
    request_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def identity(self) -> Identity | None:
        return self.session.identity

    @property
    def state(self) -> str | None:
        return self.identity.state if self.identity else None

    @property
    def roles(self) -> tuple[str, ...]:
        return self.identity.roles if self.identity else ()

    def has(self, *roles: str) -> bool:
        return bool(set(roles) & set(self.roles))

    def value(self, name: str, default: str = "") -> str:
        if self.form is None:
            return default
        got = self.form.get(name)
        return got.strip() if isinstance(got, str) else default

    def values(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str) and v.strip()]

    def token(self) -> str | None:
        session = self.session
        identity = session.identity
        if identity is None:
            return None
        expiring = session.token_expires is not None and session.token_expires - time.time() < 60
        if (
            identity.via == "dev"
            and self.console.mint
            and (session.access_token is None or expiring)
        ):
            session.access_token, session.token_expires = self.console.mint(identity)
        return session.access_token

    async def api(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        files: dict[str, tuple[str, IO[bytes], str]] | None = None,
    ) -> Answer:
        """A GraphQL request to the gateway with the user's token (with ``files``, a
        multipart request); its refusals are kept for the page to show."""
        gateway = self.console.gateway
        try:
            if files:
                answer = await gateway.upload(
                    self.token(), document, variables or {}, files, request_id=self.request_id
                )
            else:
                answer = await gateway.query(
                    self.token(), document, variables, request_id=self.request_id
                )
        except GatewayError as exc:
            answer = Answer(data={}, refusals=[Refusal(message=str(exc), code="UNAVAILABLE")])
        self.refusals.extend(answer.refusals)
        return answer

    async def every(
        self, document: str, variables: dict[str, Any], root: str, pages: int = 5
    ) -> tuple[list[dict[str, Any]], Answer]:
        """The nodes of a connection page after page (``$after``; at most ``pages``)."""
        nodes: list[dict[str, Any]] = []
        after = None
        answer = Answer(data={})
        for _ in range(pages):
            answer = await self.api(document, {**variables, "after": after})
            found = answer.data.get(root)
            if not found:
                break
            nodes += [e["node"] for e in found["edges"]]
            if not found["pageInfo"]["hasNextPage"]:
                break
            after = found["pageInfo"]["endCursor"]
        return nodes, answer

    async def mutate(
        self,
        document: str,
        variables: dict[str, Any],
        done: str,
        files: dict[str, tuple[str, IO[bytes], str]] | None = None,
    ) -> bool:
        """A change: on success a flash saying ``done``; on refusal the refusals flashed
        (message, code, rule) for the next page."""
        answer = await self.api(document, variables, files)
        if answer.ok:
            self.session.flash("ok", done)
            return True
        for refusal in answer.refusals:
            self.session.flash("refusal", describe(refusal, self.roles), refusal.code)
        self.refusals.clear()
        return False

    def redirect(self, url: str) -> Response:
        """After a form: 303 to the next page; for the upload script (which would follow a
        redirect itself and eat the flash) the next page's address as JSON."""
        if self.request.headers.get("x-console-upload") == "1":
            return JSONResponse({"next": url})
        return RedirectResponse(url, status_code=303)

    async def render(self, template: str, status: int = 200, **context: Any) -> Response:
        caller = await self.caller()
        page = self.console.templates.get_template(template).render(
            ctx=self,
            caller=caller,
            csrf=self.session.csrf,
            csrf_field=CSRF_FIELD,
            refusals=self.refusals,
            flashes=self.session.take_flashes(),
            locale=i18n.locale_var.get(),
            time_zone=i18n.zone_var.get(),
            chosen_zone=self.session.time_zone or "",
            languages=i18n.LANGUAGE_NAMES,
            time_zones=i18n.time_zones(),
            role_label=role_label,
            describe=lambda r: describe(r, self.roles),
            path=self.request.url.path,
            **context,
        )
        return HTMLResponse(page, status_code=status)

    async def caller(self) -> dict[str, Any]:
        """The banner: who, which State, its status now, and what the rules allow."""
        identity = self.identity
        if identity is None:
            return {}
        info: dict[str, Any] = {"identity": identity, "state": None, "refusal": None}
        participant: bool | None = None
        if identity.state:
            try:
                answer = await self.console.gateway.query(
                    self.token(), CALLER_QUERY, {"c": identity.state}, self.request_id
                )
            except GatewayError as exc:
                answer = Answer(data={}, refusals=[Refusal(message=str(exc))])
            info["state"] = answer.data.get("state")
            if answer.refusals:
                info["refusal"] = answer.refusals[0]
                participant = False if answer.refusals[0].code == "FORBIDDEN" else None
            elif info["state"]:
                participant = bool(info["state"]["participant"])
        info["participant"] = participant
        info["allowances"] = allowances(identity.roles, identity.state, participant)
        return info


def describe(refusal: Refusal, roles: tuple[str, ...] = ()) -> str:
    """The API's message, its rule, and for a gateway policy refusal the reason in words."""
    text = refusal.message
    if refusal.rule is not None:
        text += " " + i18n.gettext("(rule %(rule)s)") % {"rule": refusal.rule}
    reason = policy_reason(refusal.message, roles) if refusal.code == "FORBIDDEN" else None
    if reason:
        text += " " + reason
    return text


Handler = Callable[[Ctx], Awaitable[Response]]


def page(console: Console, handler: Handler, *, signed_in: bool = True) -> Callable[..., Any]:
    """An endpoint: session loaded (or started), language and zone set, sign-in required
    unless told otherwise, and for every POST the form parsed and its CSRF token checked."""

    async def endpoint(request: Request) -> Response:
        store = console.store
        name = cookie_name(console.secure)
        session = store.get(request.cookies.get(name))
        fresh = session is None
        if session is None:
            session = store.new()
        issued_id = session.id
        locale = session.locale or i18n.negotiate(
            request.headers.get("accept-language"), console.settings.default_locale
        )
        i18n.locale_var.set(locale)
        i18n.zone_var.set(
            i18n.choose_zone(
                session.time_zone,
                request.cookies.get(i18n.BROWSER_ZONE_COOKIE),
                console.settings.default_time_zone,
            )
        )
        ctx = Ctx(console, request, session)
        if request.method == "POST":
            token = request.headers.get(CSRF_HEADER)
            try:
                ctx.form = await request.form(max_files=5, max_fields=200)
            except BodyTooLarge:
                response = await ctx.render(
                    "error.html",
                    status=413,
                    title=i18n.gettext("Too large"),
                    message=i18n.gettext("The file is larger than %(n)s bytes.")
                    % {"n": console.settings.max_upload_bytes},
                )
                return finish(console, response, session, issued_id, fresh)
            except Exception:  # malformed body: refused like a missing token
                ctx.form = None
            if token is None and ctx.form is not None:
                token = ctx.form.get(CSRF_FIELD)  # type: ignore[assignment]
            if fresh or not csrf_valid(session.csrf, token):
                response = await ctx.render(
                    "error.html",
                    status=403,
                    title=i18n.gettext("The form has expired"),
                    message=i18n.gettext(
                        "This form was not sent from your current session. "
                        "Reload the page and try again."
                    ),
                )
                return finish(console, response, session, issued_id, fresh)
        if signed_in and session.identity is None:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            response = RedirectResponse(f"/signin?next={quote(target, safe='')}", 303)
        else:
            try:
                response = await handler(ctx)
            except Exception:
                log.exception("page failed", extra={"request_id": ctx.request_id})
                response = await ctx.render(
                    "error.html",
                    status=500,
                    title=i18n.gettext("Something went wrong"),
                    message=i18n.gettext(
                        "The page could not be shown. Quote %(id)s to the operators."
                    )
                    % {"id": ctx.request_id},
                )
        if ctx.form is not None:
            await ctx.form.close()
        return finish(console, response, session, issued_id, fresh)

    return endpoint


def finish(
    console: Console, response: Response, session: Session, issued_id: str, fresh: bool
) -> Response:
    """Set the cookie for a new or renewed session id; clear it for a dropped one."""
    attrs = cookie_attributes(console.secure, console.settings.session_max_hours * 3600)
    if console.store.get(session.id) is None:
        response.delete_cookie(attrs["key"], path="/", secure=console.secure, httponly=True)
    elif fresh or session.id != issued_id:
        response.set_cookie(value=session.id, **attrs)
    return response


def safe_next(target: str | None) -> str:
    """Only a path of this console (no scheme, no host, no ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
