"""Sign-in (the identity provider, or in dev a chosen dev identity), sign-out, preferences."""

from __future__ import annotations

import re

from starlette.responses import RedirectResponse, Response

from console import i18n
from console.allowances import ROLES
from console.i18n import gettext as _
from console.oidc import SignInError
from console.sessions import Identity
from console.web import Ctx, safe_next

STATE_CODE = re.compile(r"^[A-Z]{3}$")
SUBJECT = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


async def signin(ctx: Ctx) -> Response:
    console = ctx.console
    next_url = safe_next(ctx.request.query_params.get("next"))
    error = None
    if ctx.request.method == "POST":
        next_url = safe_next(ctx.value("next"))
        if not console.dev_sign_in:
            return await ctx.render("error.html", status=404, title=_("Not found"), message="")
        subject, state, role = ctx.value("subject"), ctx.value("state").upper(), ctx.value("role")
        if role not in ROLES:
            error = _("Choose a role.")
        elif not SUBJECT.match(subject):
            error = _("A user name is letters, digits and . _ @ - (at most 64).")
        elif role in ("delegate", "enforcement_officer") and not STATE_CODE.match(state):
            error = _("A State's representative names their State (ISO 3166 alpha-3, e.g. FRA).")
        elif state and not STATE_CODE.match(state):
            error = _("A State is its ISO 3166 alpha-3 code, e.g. FRA.")
        else:
            session = console.store.rotate(ctx.session)
            session.identity = Identity(
                subject=subject,
                roles=(role,),
                state=state if role not in ("secretariat", "chair") else None,
                via="dev",
            )
            session.access_token = session.token_expires = None
            console.store.recall(session)
            return RedirectResponse(next_url, 303)
    return await ctx.render(
        "signin.html",
        next_url=next_url,
        error=error,
        roles=ROLES,
        oidc=console.provider is not None,
        dev=console.dev_sign_in,
        form={k: ctx.value(k) for k in ("subject", "state", "role")},
    )


async def oidc_start(ctx: Ctx) -> Response:
    if ctx.console.provider is None:
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    url = await ctx.console.provider.start(ctx.session)
    return RedirectResponse(url, 303)


async def callback(ctx: Ctx) -> Response:
    provider = ctx.console.provider
    if provider is None:
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    try:
        identity = await provider.finish(ctx.session, dict(ctx.request.query_params))
    except SignInError as exc:
        return await ctx.render(
            "error.html", status=400, title=_("Sign-in failed"), message=str(exc)
        )
    session = ctx.console.store.rotate(ctx.session)
    session.identity = identity
    ctx.console.store.recall(session)
    return RedirectResponse("/", 303)


async def signout(ctx: Ctx) -> Response:
    ctx.console.store.drop(ctx.session)
    return RedirectResponse("/signin", 303)


async def preferences(ctx: Ctx) -> Response:
    """The user's language and time zone (an empty zone: follow the browser's), kept for
    their next sign-ins."""
    locale, zone = ctx.value("locale"), ctx.value("time_zone")
    if locale in i18n.LOCALES:
        ctx.session.locale = locale
    if zone and i18n.valid_time_zone(zone):
        ctx.session.time_zone = zone
    elif zone:
        i18n.locale_var.set(ctx.session.locale or "en")
        ctx.session.flash("refusal", _("Unknown time zone: %(zone)s") % {"zone": zone[:64]})
    else:
        ctx.session.time_zone = None
    ctx.console.store.remember(ctx.session)
    return ctx.redirect(safe_next(ctx.value("next")))
