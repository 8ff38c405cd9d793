"""The pure rules of personal calendar feed links (the HTTP side is in test_gateway_files)."""

from __future__ import annotations

from services.common.app import loggable_path
from services.meetings.feed_links import digest, feed_path, new_secret, participant_at_fetch


def test_each_secret_is_new_and_only_its_digest_is_kept() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("dcf_") and len(a) > 40
    assert digest(a) == digest(a) != digest(b)
    assert a not in digest(a) and len(digest(a)) == 64


def test_participation_at_fetch_is_the_registers_word_alone() -> None:
    assert participant_at_fetch(True, None) is False  # never heard of: not a participant
    assert participant_at_fetch(False, None) is False
    assert participant_at_fetch(True, False) is False  # withdrew since the link was made
    assert participant_at_fetch(False, True) is True  # joined since


def test_a_feed_links_secret_never_reaches_the_access_log() -> None:
    secret = new_secret()
    logged = loggable_path(feed_path(secret))
    assert secret not in logged and logged == "/meetings/calendar/dcf_[redacted].ics"
    assert loggable_path("/meetings/documents/abc") == "/meetings/documents/abc"
