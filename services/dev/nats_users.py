"""The dev NATS runs with the shipped deploy/nats/nats.conf: the same users and rights as
production, with passwords made once under DIEF_HOME/keys (never in the repository)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

CONFIG = Path(__file__).resolve().parent.parent.parent / "deploy" / "nats" / "nats.conf"
USERS = ("contacts", "meetings", "cases", "gateway", "att-systems")
PASSWORDS_FILE = "nats-passwords.json"


def dev_passwords(keys_dir: Path) -> dict[str, str]:
    """Each user's dev password, made on first use (mode 0600)."""
    path = keys_dir / PASSWORDS_FILE
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if set(USERS) - set(known):
        # Letters and digits, starting with a letter: nats-server parses a substituted
        # variable as a value, and one like "2026-01..." or "1e5" would not be a string.
        known = {user: known.get(user) or "pw" + secrets.token_hex(20) for user in USERS}
        keys_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(known, out)
    return known


def server_env(passwords: dict[str, str]) -> dict[str, str]:
    """The environment nats.conf reads the passwords from."""
    return {f"DIEF_NATS_{u.upper().replace('-', '_')}_PASSWORD": pw for u, pw in passwords.items()}


def url_for(nats_url: str, user: str, password: str) -> str:
    """``nats_url`` with ``user``'s credentials (replacing any it had)."""
    parts = urlsplit(nats_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user)}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme or "nats", netloc, "", "", ""))
