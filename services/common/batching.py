"""Field resolvers of many entities of one request batched into one load.

    @strawberry.field
    async def presentations(self, info, first: int | None = None) -> Connection[...]:
        return await batched(info, "State.presentations", load_pages, (self.code, first))

Every call made for the same name while one request resolves the same level (the
``presentations`` of each of the States of an ``_entities`` call) is collected and
``load(keys)`` is called once, with every key in the order asked; it answers one value
per key (or an exception for that key alone). Loaders live in the request's context, so
nothing is shared between requests or callers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Load = Callable[[list[Any]], Awaitable[Sequence[Any]]]


def loader(info: Any, name: str, load: Load) -> DataLoader[Any, Any]:
    loaders: dict[str, DataLoader[Any, Any]] = info.context.loaders
    found = loaders.get(name)
    if found is None:
        found = loaders[name] = DataLoader(load_fn=load)
    return found


async def batched(info: Any, name: str, load: Load, key: Hashable) -> Any:
    return await loader(info, name, load).load(key)
