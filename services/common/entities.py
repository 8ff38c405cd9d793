"""Entity references resolved in batches: one call per type for a whole ``_entities``
request, instead of one per representation.

A federated type opts in with a classmethod

    @classmethod
    async def resolve_references(cls, info, keys: list[dict]) -> Sequence[Self | Exception]

that gets the key fields of every representation of its type, in order, and answers one
item per key: the entity, or the exception that refuses that key alone (it becomes the
error at that item's path). Checking the caller once and reading the database once, with
an ``$in`` on the keys, is its job. Types without it keep ``resolve_reference``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

BatchResolver = Callable[[Any, list[dict[str, Any]]], Awaitable[Sequence[Any]]]


def batch_resolver(origin: type) -> BatchResolver | None:
    return getattr(origin, "resolve_references", None)


async def _item(batch: asyncio.Future[Sequence[Any]], position: int) -> Any:
    return (await batch)[position]


async def _checked(
    resolve: BatchResolver, info: Any, keys: list[dict[str, Any]], typename: str
) -> Sequence[Any]:
    found = await resolve(info, keys)
    if len(found) != len(keys):
        raise RuntimeError(f"{typename}.resolve_references answered {len(found)} of {len(keys)}")
    return found


def resolve_batches(
    info: Any,
    representations: list[dict[str, Any]],
    origin_of: Callable[[str], type],
    one_by_one: Callable[[list[dict[str, Any]]], list[Any]],
) -> list[Any]:
    """The ``_entities`` answer: an awaitable per item of a batched type (all of a type
    share one call), and ``one_by_one``'s answers for the others, each in its place."""
    batched: dict[str, list[int]] = {}
    others: list[int] = []
    for i, rep in enumerate(representations):
        typename = rep.get("__typename")
        try:
            origin = origin_of(typename) if isinstance(typename, str) else None
        except KeyError:  # not a type of this subgraph: refused one by one, as before
            origin = None
        if origin is not None and batch_resolver(origin) is not None:
            batched.setdefault(typename, []).append(i)  # type: ignore[arg-type]
        else:
            others.append(i)
    if not batched:
        return one_by_one(representations)
    results: list[Any] = [None] * len(representations)
    for typename, positions in batched.items():
        resolve = batch_resolver(origin_of(typename))
        assert resolve is not None
        keys = [
            {k: v for k, v in representations[i].items() if k != "__typename"} for i in positions
        ]
        batch = asyncio.ensure_future(_checked(resolve, info, keys, typename))
        for j, i in enumerate(positions):
            results[i] = _item(batch, j)
    if others:
        for i, result in zip(others, one_by_one([representations[i] for i in others]), strict=True):
            results[i] = result
    return results


def key_values(keys: list[dict[str, Any]], field: str) -> list[Any]:
    """The ``field`` of each key (None where a representation left it out)."""
    return [key.get(field) for key in keys]


def object_ids(keys: list[dict[str, Any]], kind: str, field: str = "id") -> list[Any]:
    """The ObjectId inside each key's global id of ``kind``, or the refusal of that key."""
    from services.common.errors import ValidationFailed
    from services.common.ids import from_global_id

    out: list[Any] = []
    for value in key_values(keys, field):
        if not isinstance(value, str):
            out.append(ValidationFailed(f"{field} is not a valid {kind} id.", field=field))
            continue
        try:
            out.append(from_global_id(value, kind, field=field))
        except ValidationFailed as refusal:
            out.append(refusal)
    return out
