"""A State's contacts as vCard 4.0 (RFC 6350)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from services.contacts.documents import Authority, Contact


def escape(value: str) -> str:
    """RFC 6350 3.4: backslash, comma, semicolon and newline are escaped in text values."""
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """RFC 6350 3.2: lines longer than 75 octets are folded (CRLF + one space)."""
    out: list[str] = []
    current = b""
    for ch in line:
        encoded = ch.encode()
        limit = 75 if not out else 74
        if len(current) + len(encoded) > limit:
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def contact_card(contact: Contact, authority: Authority | None) -> str:
    lines = [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"UID:urn:dief:contact:{contact.pk}",
        f"FN:{escape(contact.name)}",
        "KIND:individual",
    ]
    if authority is not None:
        lines.append(f"ORG:{escape(authority.name)}")
    if contact.title:
        lines.append(f"TITLE:{escape(contact.title)}")
    lines.append(f"EMAIL;TYPE=work;PREF=1:{contact.functional_email}")
    if contact.personal_email:
        lines.append(f"EMAIL;TYPE=work:{contact.personal_email}")
    phones = [
        ("voice", contact.phone),
        ("cell", contact.mobile),
        ("voice,x-emergency", contact.emergency_phone),
    ]
    for kind, number in phones:
        if number:
            lines.append(f'TEL;VALUE=uri;TYPE="{kind}":tel:{number}')
    for pref, lang in enumerate(contact.languages, start=1):
        lines.append(f"LANG;PREF={pref}:{lang}")
    if contact.time_zone:
        lines.append(f"TZ;VALUE=text:{escape(contact.time_zone)}")
    if contact.pgp_fingerprint:
        lines.append(f"KEY;VALUE=text:openpgp4fpr:{contact.pgp_fingerprint.lower()}")
    if contact.roles:
        lines.append("CATEGORIES:" + ",".join(r.value for r in contact.roles))
    if contact.updated_at:
        rev = contact.updated_at
        if rev.tzinfo is not None:
            rev = rev.astimezone(UTC)
        lines.append("REV:" + rev.strftime("%Y%m%dT%H%M%SZ"))
    lines.append("END:VCARD")
    return "".join(fold(line) + "\r\n" for line in lines)


def state_cards(contacts: Iterable[Contact], authorities: dict[object, Authority]) -> str:
    return "".join(contact_card(c, authorities.get(c.authority_id)) for c in contacts)
