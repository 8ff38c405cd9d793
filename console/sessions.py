"""Server-side sessions (the backend-for-frontend pattern): the browser holds only an
opaque random id in an HttpOnly cookie; tokens, identity and CSRF secret stay here.

A session expires after an idle time and after a maximum age; signing in gives a new id
(no session fixation), signing out forgets the session.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COOKIE = "dief_console"
SECURE_COOKIE = "__Host-dief_console"  # Secure, Path=/, no Domain: only this origin


@dataclass(frozen=True)
class Identity:
    """Who is signed in, as the console shows it (the gateway decides what they may do)."""

    subject: str
    roles: tuple[str, ...]
    state: str | None
    via: str  # "dev" or "oidc"

    @property
    def role(self) -> str:
        return self.roles[0] if self.roles else ""


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    seen: float
    identity: Identity | None = None
    access_token: str | None = None
    token_expires: float | None = None
    refresh_token: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    flow: dict[str, Any] = field(default_factory=dict)  # OIDC state, nonce, code verifier
    flashes: list[tuple[str, str, str | None]] = field(default_factory=list)

    def flash(self, kind: str, text: str, code: str | None = None) -> None:
        """A message for the next page; a refusal's with the API's error code."""
        self.flashes.append((kind, text, code))

    def take_flashes(self) -> list[tuple[str, str, str | None]]:
        taken, self.flashes = self.flashes, []
        return taken


class SessionStore:
    """Sessions in memory, by id; one console process keeps its own."""

    def __init__(
        self,
        idle_seconds: float,
        max_age_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle = idle_seconds
        self.max_age = max_age_seconds
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        # Each user's language and time zone, by subject: found again at the next sign-in.
        self._choices: dict[str, tuple[str | None, str | None]] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def new(self) -> Session:
        now = self.clock()
        session = Session(
            id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), created=now, seen=now
        )
        self._sessions[session.id] = session
        self._sweep(now)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown, idle too long or too old)."""
        if not session_id or len(session_id) > 100:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self.clock()
        if now - session.seen > self.idle or now - session.created > self.max_age:
            self._sessions.pop(session_id, None)
            return None
        session.seen = now
        return session

    def rotate(self, session: Session) -> Session:
        """A new id and CSRF secret for the same session (on sign-in and sign-out)."""
        self._sessions.pop(session.id, None)
        session.id = secrets.token_urlsafe(32)
        session.csrf = secrets.token_urlsafe(32)
        session.created = session.seen = self.clock()
        self._sessions[session.id] = session
        return session

    def remember(self, session: Session) -> None:
        """Keep the signed-in user's language and time zone for their next sessions."""
        if session.identity is not None:
            self._choices[session.identity.subject] = (session.locale, session.time_zone)

    def recall(self, session: Session) -> None:
        """A user's remembered language and time zone, on sign-in (none: the browser's)."""
        if session.identity is not None and session.identity.subject in self._choices:
            session.locale, session.time_zone = self._choices[session.identity.subject]

    def drop(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def _sweep(self, now: float) -> None:
        stale = [
            sid
            for sid, s in self._sessions.items()
            if now - s.seen > self.idle or now - s.created > self.max_age
        ]
        for sid in stale:
            del self._sessions[sid]


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE if secure else COOKIE


def cookie_attributes(secure: bool, max_age: int) -> dict[str, Any]:
    """What ``Response.set_cookie`` is given for the session cookie."""
    return {
        "key": cookie_name(secure),
        "httponly": True,
        "secure": secure,
        "samesite": "lax",
        "path": "/",
        "max_age": max_age,
    }
