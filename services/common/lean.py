"""Read-only documents built straight from what pymongo returns, for the hot lists where
mongoengine's object building dominates a request (its per-field descriptors, change
tracking and dereferencing cost far more than the query).

    as_case = reader(Case)
    cases = [as_case(raw) for raw in Case.objects(...).as_pymongo()]

A lean document has the attributes of the mongoengine one, with the same values: each
field converted by the field's own ``to_python`` (embedded documents and lists of them
converted the same way, recursively), and a missing or null field given the field's
default, as mongoengine does. It is only read: it cannot be saved, and writes go through
the real documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mongoengine import fields
from mongoengine.base import BaseDocument, BaseField

Convert = Callable[[Any], Any]


class Lean:
    """The attributes of one stored document (``pk`` is its ``id``)."""

    _kind: str = "Lean"

    @property
    def pk(self) -> Any:
        return self.__dict__.get("id")

    def __repr__(self) -> str:
        return f"<{self._kind} {self.__dict__.get('id', '')}>"


def _converter(field: BaseField) -> Convert:
    if isinstance(field, fields.EmbeddedDocumentField):
        return reader(field.document_type)
    if isinstance(field, fields.ListField):
        inner = _converter(field.field) if field.field is not None else _same
        return lambda values: [inner(v) for v in values]
    if isinstance(field, fields.DictField) and field.field is None:
        return _same  # a plain dict, as stored
    return field.to_python


def _same(value: Any) -> Any:
    return value


def _default(field: BaseField) -> Callable[[], Any]:
    default = field.default
    if default is None:
        return lambda: None
    if isinstance(default, type) and issubclass(default, BaseDocument):
        empty = reader(default)
        return lambda: empty({})
    if callable(default):
        return default
    return lambda: default


_readers: dict[type, Callable[[Mapping[str, Any]], Lean]] = {}


def reader(document: type[BaseDocument]) -> Callable[[Mapping[str, Any]], Lean]:
    """How to read ``document``'s stored form (one per class, made once)."""
    found = _readers.get(document)
    if found is not None:
        return found
    kind = type(document.__name__ + "Lean", (Lean,), {"_kind": document.__name__})
    plan: list[tuple[str, str, Convert, Callable[[], Any]]] = []

    def read(son: Mapping[str, Any]) -> Lean:
        out = kind()
        values = out.__dict__
        for name, stored, convert, default in plan:
            value = son.get(stored)
            values[name] = default() if value is None else convert(value)
        return out

    _readers[document] = read  # before the plan: a document may embed itself
    for name, field in document._fields.items():
        absent = (lambda: None) if field.null else _default(field)
        plan.append((name, field.db_field, _converter(field), absent))
    return read
