"""Automatic persisted queries and trusted documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.persisted import PersistedQueries, PersistedQueryError, load_manifest, sha256_hex

QUERY = "{ hello }"


def ext(digest: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def refused(store: PersistedQueries, query: str | None, extensions: dict[str, object]) -> str:
    with pytest.raises(PersistedQueryError) as caught:
        store.resolve(query, extensions)
    return caught.value.code


def test_apq_unknown_hash_then_registration_then_hash_alone() -> None:
    store = PersistedQueries("apq")
    digest = sha256_hex(QUERY)
    assert refused(store, None, ext(digest)) == "PERSISTED_QUERY_NOT_FOUND"
    assert store.resolve(QUERY, ext(digest)) == QUERY
    assert store.resolve(None, ext(digest)) == QUERY


def test_apq_refuses_a_document_that_does_not_match_its_hash() -> None:
    store = PersistedQueries("apq")
    assert refused(store, QUERY, ext(sha256_hex("{ other }"))) == "VALIDATION"
    assert refused(store, None, ext(sha256_hex("{ other }"))) == "PERSISTED_QUERY_NOT_FOUND"


def test_apq_store_is_bounded() -> None:
    store = PersistedQueries("apq", capacity=2)
    documents = ["{ a }", "{ b }", "{ c }"]
    for document in documents:
        store.resolve(document, ext(sha256_hex(document)))
    assert refused(store, None, ext(sha256_hex("{ a }"))) == "PERSISTED_QUERY_NOT_FOUND"
    assert store.resolve(None, ext(sha256_hex("{ c }"))) == "{ c }"


def test_plain_queries_run_when_not_in_trusted_mode() -> None:
    assert PersistedQueries("apq").resolve(QUERY, None) == QUERY
    assert PersistedQueries("off").resolve(QUERY, {}) == QUERY
    assert refused(PersistedQueries("off"), None, ext(sha256_hex(QUERY))) == (
        "PERSISTED_QUERY_NOT_SUPPORTED"
    )


def test_trusted_mode_runs_only_known_documents(tmp_path: Path) -> None:
    manifest = tmp_path / "trusted.json"
    manifest.write_text(json.dumps({sha256_hex(QUERY): QUERY}))
    store = PersistedQueries("trusted", load_manifest(manifest))
    assert store.resolve(None, ext(sha256_hex(QUERY))) == QUERY
    assert store.resolve(QUERY, None) == QUERY  # the exact known text is accepted too
    assert refused(store, "{ other }", {}) == "FORBIDDEN"
    assert refused(store, "{ other }", ext(sha256_hex("{ other }"))) == "FORBIDDEN"
    assert refused(store, None, ext(sha256_hex("{ other }"))) == "FORBIDDEN"


def test_a_manifest_entry_that_does_not_hash_to_its_key_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "trusted.json"
    manifest.write_text(json.dumps({sha256_hex("{ other }"): QUERY}))
    with pytest.raises(ValueError, match="does not hash"):
        load_manifest(manifest)
    apollo_form = tmp_path / "apollo.json"
    apollo_form.write_text(
        json.dumps({"operations": [{"id": sha256_hex(QUERY), "body": QUERY, "name": "Q"}]})
    )
    assert load_manifest(apollo_form) == {sha256_hex(QUERY): QUERY}


def test_trusted_mode_needs_a_manifest() -> None:
    with pytest.raises(ValueError, match="manifest"):
        PersistedQueries("trusted", {})


def test_unsupported_persisted_query_version_is_refused() -> None:
    store = PersistedQueries("apq")
    bad = {"persistedQuery": {"version": 2, "sha256Hash": sha256_hex(QUERY)}}
    assert refused(store, None, bad) == "PERSISTED_QUERY_NOT_SUPPORTED"
