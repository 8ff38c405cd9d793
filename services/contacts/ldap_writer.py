"""An LDAP server as the publisher sees it (ldap3): connect, read a part of the tree,
carry out a plan of additions, modifications and deletions."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ldap3 import (
    ALL_ATTRIBUTES,
    AUTO_BIND_NO_TLS,
    AUTO_BIND_TLS_BEFORE_BIND,
    BASE,
    DEREF_NEVER,
    MODIFY_REPLACE,
    NONE,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.core.exceptions import (
    LDAPEntryAlreadyExistsResult,
    LDAPNoSuchObjectResult,
    LDAPNotAllowedOnNotLeafResult,
)

from services.contacts.ldap_tree import Add, Delete, Entry, Modify, Operation, Scope

PAGE_SIZE = 500


@dataclass(frozen=True)
class LdapTarget:
    url: str
    bind_dn: str
    password: str = field(repr=False)
    start_tls: bool = False
    ca_file: str | None = None
    timeout_seconds: float = 10.0


class Collision(RuntimeError):
    """The tree changed under the plan (another writer got there first): read it again."""


def connect(target: LdapTarget) -> Connection:
    """A bound connection. TLS (ldaps:// or StartTLS) always checks the server's certificate."""
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=target.ca_file)
    server = Server(target.url, get_info=NONE, tls=tls, connect_timeout=target.timeout_seconds)
    return Connection(
        server,
        user=target.bind_dn,
        password=target.password,
        auto_bind=AUTO_BIND_TLS_BEFORE_BIND if target.start_tls else AUTO_BIND_NO_TLS,
        auto_referrals=False,
        raise_exceptions=True,
        receive_timeout=max(1, int(target.timeout_seconds)),
    )


def _entry(result: dict[str, Any]) -> Entry:
    attributes = {
        name: tuple(v.decode("utf-8", errors="replace") for v in values)
        for name, values in result["raw_attributes"].items()
    }
    return Entry(result["dn"], attributes)


def search(conn: Connection, base: str, *, subtree: bool) -> list[Entry]:
    """Every entry at ``base`` (and under it), with its user attributes; none if absent."""
    try:
        results = conn.extend.standard.paged_search(
            base,
            "(objectClass=*)",
            search_scope=SUBTREE if subtree else BASE,
            dereference_aliases=DEREF_NEVER,
            attributes=[ALL_ATTRIBUTES],
            paged_size=PAGE_SIZE,
            generator=False,
        )
    except LDAPNoSuchObjectResult:
        return []
    return [_entry(r) for r in results if r.get("type") == "searchResEntry"]


def read_scope(conn: Connection, scope: Scope) -> list[Entry]:
    found = [e for root in scope.subtrees for e in search(conn, root, subtree=True)]
    found += [e for dn in scope.entries for e in search(conn, dn, subtree=False)]
    return list({e.key: e for e in found}.values())


def apply(conn: Connection, operations: Iterable[Operation]) -> None:
    """Carry out the operations in order; raise ``Collision`` if the tree changed meanwhile."""
    for op in operations:
        try:
            if isinstance(op, Add):
                conn.add(op.dn, attributes={k: list(v) for k, v in op.attributes.items()})
            elif isinstance(op, Modify):
                conn.modify(op.dn, {k: [(MODIFY_REPLACE, list(v))] for k, v in op.changes.items()})
            elif isinstance(op, Delete):
                conn.delete(op.dn)
        except (
            LDAPEntryAlreadyExistsResult,
            LDAPNoSuchObjectResult,
            LDAPNotAllowedOnNotLeafResult,
        ) as exc:
            raise Collision(f"{type(op).__name__} {op.dn}: {exc}") from exc
