"""Which directory hosts a State's sync source may reach: the operator's allow-list.

A source's URL names a host the operator allowed for that State
(``DIEF_LDAP_SYNC_ALLOWED_HOSTS``: State code or ``*`` -> host name patterns or IP networks).
When a run connects, the host is resolved once, every address it resolves to is checked,
and the connection goes to the checked address (a name that resolves elsewhere between the
check and the connection cannot redirect it). Loopback, link-local, unspecified, multicast
and the services' own addresses are refused, and so are private ones unless the operator
listed that network; ``DIEF_LDAP_SYNC_ALLOW_INTERNAL_HOSTS`` lifts this in dev only.
"""

from __future__ import annotations

import contextlib
import fnmatch
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from pymongo.uri_parser import parse_uri

from services.common.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"ldap": 389, "ldaps": 636}


class HostRefused(ValueError):
    """The host is not allowed. ``public`` is what the delegate is told; the exception's
    text (for the log) may name addresses."""

    def __init__(self, public: str, detail: str) -> None:
        super().__init__(detail)
        self.public = public


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, without brackets
    port: int


def parse_target(url: str) -> Target:
    """``ldap://host[:port]`` or ``ldaps://host[:port]``: nothing else (no user, path, query)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("url must be ldap://host[:port] or ldaps://host[:port]") from None
    scheme = parts.scheme.lower()
    if (
        scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError("url must be ldap://host[:port] or ldaps://host[:port]")
    return Target(scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme])


def _patterns(code: str, settings: Settings) -> list[str]:
    allowed = settings.ldap_sync_allowed_hosts
    return [p.strip().lower() for p in [*allowed.get(code, []), *allowed.get("*", [])]]


def _network(pattern: str) -> Network | None:
    try:
        return ipaddress.ip_network(pattern.strip("[]"), strict=False)
    except ValueError:
        return None


def _address(text: str) -> Address | None:
    try:
        found = ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped:
        return found.ipv4_mapped
    return found


def check_allowed(code: str, host: str, settings: Settings) -> None:
    """The host (as written in the URL) matches one of the operator's patterns for ``code``."""
    as_address = _address(host)
    for pattern in _patterns(code, settings):
        network = _network(pattern)
        if network is not None:
            if as_address is not None and as_address in network:
                return
        elif as_address is None and fnmatch.fnmatchcase(host, pattern):
            return
    raise HostRefused(
        f"the host {host} is not allowed for {code}'s directory; the Secretariat sets which "
        "hosts each State's source may use",
        f"{host} matches none of {code}'s allowed host patterns",
    )


def _resolve(host: str, port: int) -> list[Address]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[Address] = []
    for info in infos:
        address = _address(str(info[4][0]))
        if address is not None and address not in found:
            found.append(address)
    return found


def own_addresses(settings: Settings) -> set[Address]:
    """The addresses the services themselves use: database, NATS, SMTP, their own hosts."""
    hosts = {settings.host, socket.gethostname(), settings.smtp_host or ""}
    with contextlib.suppress(ValueError, KeyError):
        hosts.update(host for host, _ in parse_uri(settings.mongodb_uri)["nodelist"])
    urls = [settings.nats_url, settings.meetings_contacts_url, settings.ldap_publish_url or ""]
    urls.extend(settings.gateway_subgraph_urls.values())
    hosts.update(urlsplit(url).hostname or "" for url in urls)
    found: set[Address] = set()
    for host in filter(None, hosts):
        try:
            found.update(_resolve(host.strip("[]"), 0))
        except OSError:
            continue
    return found


def _internal(address: Address) -> bool:
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def pinned_address(code: str, target: Target, settings: Settings) -> str:
    """The address a run connects to: ``target.host`` resolved once and every address it
    resolves to checked. ``HostRefused`` if the host or any of its addresses is not allowed."""
    check_allowed(code, target.host, settings)
    try:
        addresses = _resolve(target.host, target.port)
    except OSError as exc:
        raise HostRefused(
            f"cannot connect to the directory at {target.host}: its name does not resolve",
            f"{target.host} does not resolve: {exc}",
        ) from None
    if not addresses:
        raise HostRefused(
            f"cannot connect to the directory at {target.host}: its name does not resolve",
            f"{target.host} resolves to no address",
        )
    if not settings.ldap_sync_allow_internal_hosts:
        networks = [n for n in map(_network, _patterns(code, settings)) if n is not None]
        own = own_addresses(settings)
        for address in addresses:
            listed = any(address in n for n in networks)
            if _internal(address) or address in own or (not address.is_global and not listed):
                raise HostRefused(
                    f"the host {target.host} is not allowed for {code}'s directory: it is an "
                    "internal address",
                    f"{target.host} resolves to {address}, an internal or the services' own",
                )
    return str(addresses[0])
