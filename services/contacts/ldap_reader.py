"""Reading a national LDAP directory (ldap3): connect with TLS checked, search page by page
(RFC 2696), and turn every way this can fail into one clear ``SourceUnreadable``."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ldap3 import (
    AUTO_BIND_NO_TLS,
    AUTO_BIND_TLS_BEFORE_BIND,
    DEREF_NEVER,
    LEVEL,
    NONE,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.core.exceptions import (
    LDAPBindError,
    LDAPException,
    LDAPInvalidCredentialsResult,
    LDAPNoSuchObjectResult,
    LDAPSizeLimitExceededResult,
    LDAPSocketOpenError,
    LDAPSSLConfigurationError,
    LDAPStartTLSError,
)
from ldap3.utils.conv import to_unicode

from services.contacts.ldap_hosts import parse_target
from services.contacts.ldap_mapping import SourceEntry

SCOPES = {"SUBTREE": SUBTREE, "ONE_LEVEL": LEVEL}
SEARCH_RESULT_ENTRY = 4  # protocolOp of a SearchResultEntry (RFC 4511, 4.5.2)


@dataclass(frozen=True)
class SourceConnection:
    url: str
    bind_dn: str | None
    password: str | None = field(repr=False)
    start_tls: bool = False
    verify_certificates: bool = True
    ca_certificates: str | None = None  # PEM
    timeout_seconds: float = 10.0
    # The checked address to connect to (ldap_hosts.pinned_address); the URL's host is
    # still the name TLS verifies. None: the URL's host as it resolves.
    address: str | None = None


class SourceUnreadable(RuntimeError):
    """The source could not be read completely. ``kind``: UNREACHABLE, TLS, CREDENTIALS,
    BASE_DN, LIMIT or LDAP. The message never holds a password."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _tls(source: SourceConnection, host: str) -> Tls:
    return Tls(
        validate=ssl.CERT_REQUIRED if source.verify_certificates else ssl.CERT_NONE,
        ca_certs_data=source.ca_certificates,
        version=ssl.PROTOCOL_TLS_CLIENT,
        valid_names=[host],
        sni=host,
    )


def _server(source: SourceConnection) -> Server:
    if source.address is None:
        host = urlsplit(source.url).hostname or ""
        return Server(
            source.url,
            get_info=NONE,
            tls=_tls(source, host),
            connect_timeout=source.timeout_seconds,
        )
    target = parse_target(source.url)
    return Server(
        source.address,
        port=target.port,
        use_ssl=target.scheme == "ldaps",
        get_info=NONE,
        tls=_tls(source, target.host),
        connect_timeout=source.timeout_seconds,
    )


def _is_tls_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, LDAPStartTLSError | LDAPSSLConfigurationError | ssl.SSLError) or any(
        word in text for word in ("ssl", "certificate", "tls", "handshake")
    )


def connect(source: SourceConnection) -> Connection:
    """A bound connection, or ``SourceUnreadable`` saying why not."""
    try:
        return Connection(
            _server(source),
            user=source.bind_dn,
            password=source.password,
            auto_bind=AUTO_BIND_TLS_BEFORE_BIND if source.start_tls else AUTO_BIND_NO_TLS,
            auto_referrals=False,
            raise_exceptions=True,
            receive_timeout=max(1, int(source.timeout_seconds)),
            read_only=True,
        )
    except (LDAPInvalidCredentialsResult, LDAPBindError) as exc:
        if _is_tls_failure(exc):
            raise SourceUnreadable("TLS", f"TLS failed with {source.url}: {exc}") from None
        raise SourceUnreadable(
            "CREDENTIALS", f"{source.url} refused the bind as {source.bind_dn}: invalid credentials"
        ) from None
    except LDAPSocketOpenError as exc:
        if _is_tls_failure(exc):
            raise SourceUnreadable("TLS", f"TLS failed with {source.url}: {exc}") from None
        raise SourceUnreadable("UNREACHABLE", f"cannot reach {source.url}: {exc}") from None
    except (LDAPStartTLSError, LDAPSSLConfigurationError, ssl.SSLError) as exc:
        raise SourceUnreadable("TLS", f"TLS failed with {source.url}: {exc}") from None
    except LDAPException as exc:
        kind = "TLS" if _is_tls_failure(exc) else "LDAP"
        raise SourceUnreadable(kind, f"{source.url}: {exc}") from None


@dataclass
class ReadResult:
    entries: list[SourceEntry]
    pages: int = 0


def _decode(values: list[bytes]) -> list[str]:
    return [v.decode("utf-8", errors="replace") for v in values]


def read_entries(
    conn: Connection,
    *,
    base_dn: str,
    search_filter: str,
    scope: str,
    attributes: list[str],
    page_size: int,
) -> ReadResult:
    """Every entry under ``base_dn`` matching ``search_filter``, read page by page."""
    result = ReadResult(entries=[])
    cookie: bytes | None = None
    standard_decoder = _entries_as_read(conn)
    try:
        while True:
            conn.search(
                base_dn,
                search_filter,
                search_scope=SCOPES[scope],
                dereference_aliases=DEREF_NEVER,
                attributes=attributes,
                paged_size=page_size,
                paged_cookie=cookie,
            )
            result.pages += 1
            result.entries.extend(_entries(conn.response or []))
            control = (conn.result or {}).get("controls", {}).get("1.2.840.113556.1.4.319", {})
            cookie = control.get("value", {}).get("cookie")
            if not cookie:
                return result
    except LDAPNoSuchObjectResult:
        raise SourceUnreadable("BASE_DN", f"the base DN {base_dn} does not exist") from None
    except LDAPSizeLimitExceededResult:
        raise SourceUnreadable(
            "LIMIT", "the server stopped the search at its size limit; nothing was applied"
        ) from None
    except LDAPSocketOpenError as exc:
        raise SourceUnreadable("UNREACHABLE", f"connection lost: {exc}") from None
    except LDAPException as exc:
        raise SourceUnreadable("LDAP", f"search failed: {exc}") from None
    finally:
        conn.strategy.decode_response_fast = standard_decoder


def _entries_as_read(conn: Connection) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Let ``conn`` turn search result entries into their DN and raw values only, and
    return its own decoder (to put back).

    ldap3 makes two dictionaries of every entry: the raw values and the values formatted
    by the schema, through a configuration lookup per value. A sync reads only the raw
    values, and making the formatted ones took about half of its reading time. Any other
    message, and an entry with controls or ranged attributes (``member;range=0-1499``),
    is decoded by ldap3 as before."""
    strategy = conn.strategy
    standard: Callable[[dict[str, Any]], dict[str, Any]] = strategy.decode_response_fast

    def decode(message: dict[str, Any]) -> dict[str, Any]:
        if message["protocolOp"] != SEARCH_RESULT_ENTRY or message["controls"]:
            return standard(message)
        dn, attributes = message["payload"][0][3], message["payload"][1][3]
        raw: dict[str, list[bytes]] = {}
        for attribute in attributes:
            name = str(attribute[3][0][3], "utf-8")
            if ";range=" in name:
                return standard(message)
            raw[name] = [bytes(value[3]) for value in attribute[3][1][3]]
        return {
            "type": "searchResEntry",
            "raw_dn": dn,
            "dn": to_unicode(dn, from_server=True),
            "raw_attributes": raw,
            "attributes": {},
        }

    strategy.decode_response_fast = decode
    return standard


def _entries(response: list[dict[str, object]]) -> Iterator[SourceEntry]:
    for item in response:
        if item.get("type") != "searchResEntry":
            continue
        raw: Any = item.get("raw_attributes") or {}
        yield SourceEntry(str(item["dn"]), {k: _decode(v) for k, v in raw.items() if v})
