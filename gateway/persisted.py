"""Persisted queries: automatic (APQ, sha256) and trusted documents.

APQ follows the common protocol: a request may send only
``extensions.persistedQuery = {"version": 1, "sha256Hash": ...}``; an unknown hash answers
``PERSISTED_QUERY_NOT_FOUND`` and the client sends the document with its hash once, which is
checked and remembered (in a bounded LRU).

In ``trusted`` mode only the documents of a manifest (a JSON object ``{sha256: document}``,
or the Apollo manifest form ``{"operations": [{"id", "body"}]}``) run: by hash, or by sending
the exact text of a known document. Anything else is refused with ``FORBIDDEN``.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_error(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """Trusted documents by sha256; every entry's hash is checked against its text."""
    raw = json.loads(path.read_text())
    if isinstance(raw, dict) and isinstance(raw.get("operations"), list):
        entries = {op["id"]: op["body"] for op in raw["operations"]}
    elif isinstance(raw, dict):
        entries = raw
    else:
        raise ValueError(f"{path}: expected a JSON object of sha256 to document")
    for digest, document in entries.items():
        if not isinstance(document, str) or sha256_hex(document) != digest.lower():
            raise ValueError(f"{path}: the document under {digest} does not hash to it")
    return {digest.lower(): document for digest, document in entries.items()}


def _requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    if not extensions:
        return None
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryError(
            "PERSISTED_QUERY_NOT_SUPPORTED", "Only persisted query version 1 is supported."
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError("VALIDATION", "sha256Hash must be 64 hexadecimal characters.")
    return digest.lower()


class PersistedQueries:
    """Resolves the document a request means, by mode: ``apq``, ``trusted`` or ``off``."""

    def __init__(
        self, mode: str, trusted: Mapping[str, str] | None = None, capacity: int = 10_000
    ) -> None:
        if mode not in ("apq", "trusted", "off"):
            raise ValueError(f"unknown persisted queries mode {mode!r}")
        if mode == "trusted" and not trusted:
            raise ValueError("trusted mode needs a manifest of trusted documents")
        self.mode = mode
        self.capacity = capacity
        self._trusted = dict(trusted or {})
        self._trusted_texts = frozenset(self._trusted.values())
        self._apq: OrderedDict[str, str] = OrderedDict()

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str:
        """The document to run, or PersistedQueryError."""
        digest = _requested_hash(extensions)
        if self.mode == "trusted":
            return self._trusted_document(query, digest)
        if digest is None:
            if not query:
                raise PersistedQueryError("VALIDATION", "The request has no query.")
            return query
        if self.mode == "off":
            raise PersistedQueryError(
                "PERSISTED_QUERY_NOT_SUPPORTED", "Persisted queries are not enabled here."
            )
        if query:
            if sha256_hex(query) != digest:
                raise PersistedQueryError(
                    "VALIDATION", "The query does not hash to the sha256Hash sent with it."
                )
            self._remember(digest, query)
            return query
        known = self._apq.get(digest)
        if known is None:
            raise PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        self._apq.move_to_end(digest)
        return known

    def _remember(self, digest: str, query: str) -> None:
        self._apq[digest] = query
        self._apq.move_to_end(digest)
        while len(self._apq) > self.capacity:
            self._apq.popitem(last=False)

    def _trusted_document(self, query: str | None, digest: str | None) -> str:
        if digest is not None:
            known = self._trusted.get(digest)
            if known is None:
                raise PersistedQueryError(
                    "FORBIDDEN", "Only trusted documents run here; this hash is not one."
                )
            if query and query != known:
                raise PersistedQueryError(
                    "VALIDATION", "The query does not match the trusted document of that hash."
                )
            return known
        if query and query in self._trusted_texts:
            return query
        raise PersistedQueryError(
            "FORBIDDEN", "Only trusted documents run here; send a known document's sha256Hash."
        )
