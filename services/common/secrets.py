"""Secrets by reference: settings and stored configuration name where a password is
(``env:VARIABLE`` or ``file:/path``), never the password itself."""

from __future__ import annotations

import os
from pathlib import Path


class SecretUnavailable(ValueError):
    """The reference is malformed or points at nothing. The message never holds a secret."""


def resolve_secret(reference: str) -> str:
    """The secret ``reference`` points at: an environment variable or a file's content
    (without its final line break, as ``echo`` or a mounted secret leaves it)."""
    scheme, sep, where = reference.partition(":")
    if not sep or not where:
        raise SecretUnavailable("a secret reference is env:VARIABLE or file:/path")
    if scheme == "env":
        value = os.environ.get(where)
        if not value:
            raise SecretUnavailable(f"environment variable {where} is not set")
        return value
    if scheme == "file":
        path = Path(where.removeprefix("//"))
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretUnavailable(f"cannot read the secret file {path}: {exc.strerror}") from None
        if not value:
            raise SecretUnavailable(f"the secret file {path} is empty")
        return value
    raise SecretUnavailable(f"unknown secret scheme {scheme!r}: use env:VARIABLE or file:/path")
