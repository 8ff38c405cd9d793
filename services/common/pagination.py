"""Relay connections: ``first``/``after``, ``edges { cursor node }``, ``pageInfo``,
``totalCount``. Cursors are opaque to clients."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from services.common.errors import ValidationFailed
from services.common.mongo import run_sync

T = TypeVar("T")
S = TypeVar("S")

DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_OFFSET = 2**31 - 1  # far beyond any list here, well inside MongoDB's 64-bit skip


@strawberry.federation.type(shareable=True, description="Where a page stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.federation.type(shareable=True, description="One item of a list and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` to continue after this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.federation.type(shareable=True, description="A page of a list.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    # The count itself, or how to count: counting is left until a caller asks for it.
    total: strawberry.Private[int | Callable[[], int]]

    @strawberry.field(description="How many items the whole list has.")
    async def total_count(self) -> int:
        if callable(self.total):
            self.total = await run_sync(self.total)
        return self.total


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        decoded = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
        if not re.fullmatch(r"o:(0|[1-9][0-9]{0,9})", decoded):
            raise ValueError(cursor)
        offset = int(decoded[2:])
        if offset >= MAX_OFFSET:
            raise ValueError(cursor)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("after is not a cursor of this list.", field="after") from exc
    return offset


KEY_PATTERN = r"[A-Za-z0-9_=-]{1,2048}"  # a base64url key (``ranged_pages``)


def encode_key_cursor(offset: int, key: str) -> str:
    """A cursor that also holds the item's sort key (``KEY_PATTERN``): the next page is
    read as a range after it on the list's index, not by skipping ``offset`` items."""
    return base64.urlsafe_b64encode(f"k:{offset}:{key}".encode()).decode()


def decode_keyed_cursor(cursor: str) -> tuple[int, str | None]:
    """(offset, key) of either kind of cursor (an offset cursor has no key)."""
    try:
        decoded = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("after is not a cursor of this list.", field="after") from exc
    found = re.fullmatch(r"k:(0|[1-9][0-9]{0,9}):(" + KEY_PATTERN + ")", decoded)
    if found is None:
        return decode_cursor(cursor), None
    offset = int(found.group(1))
    if offset >= MAX_OFFSET:
        raise ValidationFailed("after is not a cursor of this list.", field="after")
    return offset, found.group(2)


def keyed_page_bounds(first: int | None, after: str | None) -> tuple[int, int, str | None]:
    """``page_bounds``, with the sort key of the item the page comes after (if the cursor
    has one)."""
    offset, limit = page_bounds(first, None)
    if not after:
        return offset, limit, None
    before, key = decode_keyed_cursor(after)
    return before + 1, limit, key


def page_bounds(first: int | None, after: str | None) -> tuple[int, int]:
    """(offset, limit) for a request; ``first`` must be 0..MAX_PAGE."""
    limit = DEFAULT_PAGE if first is None else first
    if not 0 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"first must be between 0 and {MAX_PAGE}.", field="first")
    offset = decode_cursor(after) + 1 if after else 0
    return offset, limit


def paginate(
    queryset: Any, first: int | None, after: str | None, to_node: Callable[[S], T]
) -> Connection[T]:
    """A page of a mongoengine queryset (already filtered and ordered)."""
    offset, limit = page_bounds(first, after)
    # One more than the page tells whether more follow; the count waits until asked for.
    fetched = list(queryset.skip(offset).limit(limit + 1))
    return connection(
        [to_node(item) for item in fetched[:limit]],
        offset,
        has_next_page=len(fetched) > limit,
        total=queryset.count,
    )


def connection(
    nodes: Sequence[T],
    offset: int,
    *,
    total: int | Callable[[], int],
    has_next_page: bool | None = None,
    keys: Sequence[str | None] | None = None,
) -> Connection[T]:
    """The page ``nodes`` starting at ``offset`` of a list of ``total`` items (or a function
    counting them, called only if the caller selects ``totalCount``); with ``keys`` (each
    node's sort key, or None) the cursors carry them (``encode_key_cursor``)."""
    found = keys if keys is not None else [None] * len(nodes)
    edges = [
        Edge(
            cursor=encode_cursor(offset + i) if key is None else encode_key_cursor(offset + i, key),
            node=node,
        )
        for i, (node, key) in enumerate(zip(nodes, found, strict=True))
    ]
    if has_next_page is None:
        if callable(total):
            raise TypeError("has_next_page is needed when the total is counted lazily")
        has_next_page = offset + len(edges) < total
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next_page,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total=total,
    )


def paginate_list(
    items: Sequence[S], first: int | None, after: str | None, to_node: Callable[[S], T]
) -> Connection[T]:
    """A page of a list already in memory, in its order."""
    offset, limit = page_bounds(first, after)
    page = [to_node(x) for x in items[offset : offset + limit]]
    return connection(page, offset, total=len(items))
