"""The directory (rule 20): States and their ATT status; a State's authorities and
contacts (kept by its own representatives and the Secretariat); stale contacts; vCard;
the LDAP sync source and its runs."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from console.i18n import gettext as _
from console.web import Ctx

KINDS = ("CUSTOMS", "POLICE", "BORDER_GUARD", "LICENSING", "PROSECUTION", "INTELLIGENCE", "OTHER")
CONTACT_ROLES = ("NATIONAL_POINT_OF_CONTACT", "DIEF_ENFORCEMENT_CONTACT", "ALTERNATE")
CODE = re.compile(r"^[A-Z]{3}$")

STATES = """
query ConsoleStates($filter: StateFilter, $after: String) {
  states(first: 200, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { code name status participant ratificationDate } }
  }
}
"""

STATE = """
query ConsoleState($code: String!, $manage: Boolean!) {
  state(code: $code) {
    code name status participant signatureDate ratificationDate entryIntoForceDate
    withdrawalDate
    statusHistory { status changedAt changedBy note }
    authorities { id kind name email phone timeZone languages
      contacts { id name title functionalEmail phone roles languages lastVerifiedAt stale
                 archivedAt source } }
  }
  staleContacts(stateCode: $code, first: 100) @include(if: $manage) {
    totalCount edges { node { id name lastVerifiedAt authority { name } } }
  }
  ldapSyncSource(stateCode: $code) @include(if: $manage) {
    url baseDn filter scope enabled updatedAt updatedBy startTls verifyCertificates bindDn
    hasBindPassword authorityId caCertificates mapping { field attribute }
  }
  ldapSyncRuns(stateCode: $code, last: 5) @include(if: $manage) {
    id trigger full dryRun startedAt finishedAt status error read added changed archived
    unchanged rejected details { action dn key reason fields } detailsTruncated
  }
}
"""


def manages(ctx: Ctx, code: str) -> bool:
    return ctx.has("secretariat") or (
        ctx.state == code and ctx.has("delegate", "enforcement_officer")
    )


async def directory(ctx: Ctx) -> Response:
    everyone = ctx.request.query_params.get("all") == "1"
    states, _answer = await ctx.every(
        STATES, {"filter": None if everyone else {"participant": True}}, "states"
    )
    return await ctx.render(
        "directory.html",
        states=states,
        everyone=everyone,
    )


async def state(ctx: Ctx) -> Response:
    code = ctx.request.path_params["code"].upper()
    if not CODE.match(code):
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    manage = manages(ctx, code)
    answer = await ctx.api(STATE, {"code": code, "manage": manage})
    # An LDAP source not set yet is NOT_FOUND: not a refusal to show.
    ctx.refusals[:] = [
        r for r in ctx.refusals if not (r.path[:1] == ("ldapSyncSource",) and r.code == "NOT_FOUND")
    ]
    return await ctx.render(
        "state.html",
        code=code,
        state=answer.data.get("state"),
        stale=answer.data.get("staleContacts"),
        source=answer.data.get("ldapSyncSource"),
        runs=answer.data.get("ldapSyncRuns") or [],
        manage=manage,
        kinds=KINDS,
        contact_roles=CONTACT_ROLES,
        edit=ctx.request.query_params.get("edit"),
    )


def ldap_source_input(value: Any, code: str) -> dict[str, Any]:
    """The LDAP source form as ``LdapSyncSourceInput``: an empty password keeps the stored
    one; mapping lines are ``field=attribute`` (``field=`` for not read)."""
    mapping = []
    for line in value("mapping").splitlines()[:50]:
        field, sep, attribute = line.partition("=")
        if sep and field.strip():
            mapping.append({"field": field.strip(), "attribute": attribute.strip() or None})
    return {
        "stateCode": code,
        "url": value("url"),
        "baseDn": value("base_dn"),
        "authorityId": value("authority"),
        "bindDn": value("bind_dn") or None,
        "bindPassword": value("bind_password") or None,
        "startTls": value("start_tls") == "on",
        "verifyCertificates": value("verify") == "on",
        "caCertificates": value("ca") or None,
        "filter": value("filter") or "(objectClass=inetOrgPerson)",
        "scope": value("scope") or "SUBTREE",
        "mapping": mapping,
        "enabled": value("enabled") == "on",
    }


def _languages(text: str) -> list[str]:
    return [x.strip().lower() for x in text.split(",") if x.strip()]


def _opt(ctx: Ctx, name: str) -> str | None:
    return ctx.value(name) or None


ACTIONS: dict[str, tuple[str, Any, Any]] = {
    "authority": (
        "mutation($i: AuthorityCreateInput!) { authorityCreate(input: $i) { authority { id } } }",
        lambda c, code: {
            "i": {
                "stateCode": code,
                "kind": c.value("kind"),
                "name": c.value("name"),
                "email": _opt(c, "email"),
                "phone": _opt(c, "phone"),
                "languages": _languages(c.value("languages")),
            }
        },
        lambda: _("The authority was added."),
    ),
    "contact": (
        "mutation($i: ContactCreateInput!) { contactCreate(input: $i) { contact { id } } }",
        lambda c, code: {
            "i": {
                "authorityId": c.value("authority"),
                "name": c.value("name"),
                "functionalEmail": c.value("email"),
                "title": _opt(c, "title"),
                "phone": _opt(c, "phone"),
                "languages": _languages(c.value("languages")),
                "roles": [r for r in c.values("roles") if r in CONTACT_ROLES],
            }
        },
        lambda: _("The contact was added."),
    ),
    "edit": (
        "mutation($i: ContactUpdateInput!) { contactUpdate(input: $i) { contact { id } } }",
        lambda c, code: {
            "i": {
                "id": c.value("id"),
                "name": c.value("name"),
                "functionalEmail": c.value("email"),
                "title": _opt(c, "title"),
                "phone": _opt(c, "phone"),
                "languages": _languages(c.value("languages")),
            }
        },
        lambda: _("The contact was changed."),
    ),
    "verify": (
        "mutation($i: ContactRefInput!) { contactVerify(input: $i) { contact { id } } }",
        lambda c, code: {"i": {"id": c.value("id")}},
        lambda: _("The contact was verified."),
    ),
    "archive": (
        "mutation($i: ContactRefInput!) { contactArchive(input: $i) { contact { id } } }",
        lambda c, code: {"i": {"id": c.value("id")}},
        lambda: _("The contact was archived."),
    ),
    "ldap_source": (
        "mutation($i: LdapSyncSourceInput!) { ldapSyncSourceSet(input: $i) "
        "{ source { stateCode } } }",
        lambda c, code: {"i": ldap_source_input(c.value, code)},
        lambda: _("The LDAP source was saved."),
    ),
    "sync": (
        "mutation($i: LdapSyncRunInput!) { ldapSyncRun(input: $i) { run { id status } } }",
        lambda c, code: {
            "i": {
                "stateCode": code,
                "full": c.value("full") == "on",
                "dryRun": c.value("apply") != "on",
            }
        },
        lambda: _("The LDAP sync ran; its report is below."),
    ),
}


async def act(ctx: Ctx) -> Response:
    code = ctx.request.path_params["code"].upper()
    action = ctx.request.path_params["action"]
    if action not in ACTIONS or not CODE.match(code):
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    document, variables, done = ACTIONS[action]
    await ctx.mutate(document, variables(ctx, code), done())
    return ctx.redirect(f"/directory/{code}")
