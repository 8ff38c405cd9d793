"""Pages read as a range on the list's sort key, on the index of that order, up to the
page's size: a page after a cursor starts after the cursor's item, instead of skipping the
items before it, so a server that stops at the limit touches the page and no more.

    ORDER = ListOrder((("state_code", 1), ("name", 1), ("id", 1)), index="state_name_id")
    page = ranged_page(Contact.objects(...), ORDER, first, after)
    connection([node(d) for d in page.items], page.offset, keys=page.keys, ...)

The cursor (``pagination.encode_key_cursor``) carries the item's sort values, stored as
BSON: only plain values (strings, numbers, datetimes, ObjectIds) are taken back from a
cursor, so a forged one can move a page, never change what the caller may see (that is
the query's own filter, kept as it is). An offset cursor still pages, by skipping.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from typing import Any

import bson
from bson import ObjectId
from bson.errors import BSONError

from services.common.errors import ValidationFailed
from services.common.pagination import Connection, connection, keyed_page_bounds

PLAIN = (str, int, float, datetime, ObjectId)


@dataclass(frozen=True)
class ListOrder:
    """A list's order, field by field (mongoengine names, 1 or -1), ending on ``id`` so
    that it is total, and the name of the index with exactly that order."""

    fields: tuple[tuple[str, int], ...]
    index: str

    def sort(self) -> list[str]:
        return [f"{'-' if d < 0 else ''}{name}" for name, d in self.fields]

    def db_fields(self, document: Any) -> list[str]:
        return [document._fields[name].db_field for name, _ in self.fields]

    def spec(self) -> dict[str, Any]:
        """The index's declaration for the document's ``meta``."""
        return {"fields": self.sort(), "name": self.index}


def _stored(value: Any) -> Any:
    """A value as the database holds it (a day is stored as its midnight)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time.min)
    return value


def encode_key(values: Sequence[Any]) -> str | None:
    """The cursor key of an item's sort values; None when one cannot be a range bound
    (a missing value: that item's cursor is an offset)."""
    stored = [_stored(v) for v in values]
    if not all(isinstance(v, PLAIN) and not isinstance(v, bool) for v in stored):
        return None
    return base64.urlsafe_b64encode(bson.encode({"k": stored})).decode()


def decode_key(key: str, size: int) -> list[Any]:
    refused = ValidationFailed("after is not a cursor of this list.", field="after")
    try:
        values = bson.decode(base64.b64decode(key.encode(), altchars=b"-_", validate=True))["k"]
    except (ValueError, binascii.Error, BSONError, KeyError, TypeError) as exc:
        raise refused from exc
    if not isinstance(values, list) or len(values) != size:
        raise refused
    if not all(isinstance(v, PLAIN) and not isinstance(v, bool) for v in values):
        raise refused  # no document, list, regex or operator: plain values only
    return values


def after_condition(db_fields: Sequence[str], order: Sequence[int], values: Sequence[Any]) -> dict:
    """The items after ``values`` in this order: a bound on the leading field (the
    index's range), then the lexicographic rest."""
    strict = {1: "$gt", -1: "$lt"}
    either: list[dict[str, Any]] = []
    for i, (name, direction) in enumerate(zip(db_fields, order, strict=True)):
        clause = {db_fields[j]: values[j] for j in range(i)}
        clause[name] = {strict[direction]: values[i]}
        either.append(clause)
    leading = {db_fields[0]: {"$gte" if order[0] > 0 else "$lte": values[0]}}
    return {"$and": [leading, {"$or": either}]}


@dataclass(frozen=True)
class RangedPage:
    items: list[Any]
    offset: int
    has_next_page: bool
    keys: list[str | None]


def ranged_page(
    queryset: Any,
    order: ListOrder,
    first: int | None,
    after: str | None,
    *,
    hint: bool = True,
    raw: bool = False,
) -> RangedPage:
    """The page of ``queryset`` (filtered, not ordered) after ``after``: one find, sorted
    by ``order``, on its index when ``hint`` (leave it to the planner when the filter has
    a more selective index of its own), limited to the page and one more. ``raw``: the
    documents as pymongo returns them (``as_pymongo``)."""
    offset, limit, key = keyed_page_bounds(first, after)
    if not limit:
        return RangedPage([], offset, False, [])
    names = order.db_fields(queryset._document)
    if key is not None:
        values = decode_key(key, len(names))
        queryset = queryset.filter(
            __raw__=after_condition(names, [d for _, d in order.fields], values)
        )
    else:
        queryset = queryset.skip(offset)
    queryset = queryset.order_by(*order.sort()).limit(limit + 1)
    if hint:
        queryset = queryset.hint(order.index)
    fetched = list(queryset.as_pymongo() if raw else queryset)
    page = fetched[:limit]
    if raw:
        keys = [encode_key([_at(d, n) for n in names]) for d in page]
    else:
        keys = [encode_key([getattr(d, name) for name, _ in order.fields]) for d in page]
    return RangedPage(page, offset, len(fetched) > limit, keys)


def _at(document: Mapping[str, Any], name: str) -> Any:
    return document.get(name)


def paginate_ranged(
    queryset: Any,
    order: ListOrder,
    first: int | None,
    after: str | None,
    to_node: Callable[[Any], Any],
    *,
    hint: bool = True,
) -> Connection[Any]:
    """``pagination.paginate`` with a ranged page: the count still waits until asked."""
    page = ranged_page(queryset, order, first, after, hint=hint)
    has_next = page.offset < queryset.count() if first == 0 else page.has_next_page
    return connection(
        [to_node(item) for item in page.items],
        page.offset,
        total=queryset.count,
        has_next_page=has_next,
        keys=page.keys,
    )
