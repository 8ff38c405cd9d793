"""Small strawberry subgraphs, one federation per planning case, and a harness to query them.

Each `Federation` composes its subgraphs with `gateway.compose` (or takes a hand-written
supergraph) and answers through a real `Executor` over the in-process subgraphs (httpx
ASGI transport), recording every subgraph call.

- `requires_arguments`: `Product.price(currency:)` in store; ship's `estimateUSD` and
  `estimateEUR` require the price in USD and in EUR (two fetches, never one merged value);
  ship also has a root field `shipments`, so its `@requires` fields sit in a fetch that
  already goes to ship.
- `requires_chain`: alpha's `Item.x` requires beta's `y`, which requires alpha's `z`.
- `external_keys`: posts references `User` whose key `id` is `@external` there (Federation 2):
  posts cannot give it; `fed1_keys`: the same as a Federation 1 extension, where it can.
"""

from __future__ import annotations

import httpx
import strawberry
from strawberry.asgi import GraphQL

from gateway.compose import compose
from gateway.executor import Executor
from gateway.fetcher import HttpFetcher
from gateway.supergraph import Supergraph
from tests.federation_subgraphs import sdl_of


class Federation:
    """An executor over in-process strawberry subgraphs that records each subgraph call."""

    def __init__(
        self, schemas: dict[str, strawberry.federation.Schema], supergraph: str | None = None
    ) -> None:
        urls = {name: f"http://{name}.test/graphql" for name in schemas}
        self.sdl = supergraph or compose(
            {name: (urls[name], sdl_of(schema)) for name, schema in schemas.items()}
        )
        self.supergraph = Supergraph.parse(self.sdl)
        mounts = {
            f"http://{name}.test": httpx.ASGITransport(app=GraphQL(schema))
            for name, schema in schemas.items()
        }
        self.client = httpx.AsyncClient(mounts=mounts)
        self.inner = HttpFetcher(urls, 10.0, None, client=self.client)
        self.calls: list[tuple[str, str, dict]] = []
        self.executor = Executor(self.supergraph, self._fetch)

    async def _fetch(self, subgraph: str, query: str, variables: dict) -> dict:
        self.calls.append((subgraph, query, variables))
        return await self.inner(subgraph, query, variables)

    async def run(self, query: str, variables: dict | None = None) -> dict:
        self.calls.clear()
        return await self.executor.execute(query, variables)

    def graphs(self) -> list[str]:
        return [c[0] for c in self.calls]


# --- requires with arguments (group C) and requires inside the requiring subgraph (A) ----

STORE = {"1": {"price": 10, "weight": 2}, "2": {"price": 7, "weight": 3}}
RATES = {"USD": 1, "EUR": 2}


@strawberry.federation.type(name="Product", keys=["upc"])
class StoreProduct:
    upc: str

    @strawberry.field
    def name(self) -> str:
        return f"product {self.upc}"

    @strawberry.field
    def weight(self) -> int:
        return STORE[self.upc]["weight"]

    @strawberry.field
    def price(self, currency: str) -> int:
        return STORE[self.upc]["price"] * RATES[currency]

    @classmethod
    def resolve_reference(cls, upc: str) -> StoreProduct:
        return cls(upc=upc)


@strawberry.type
class StoreQuery:
    @strawberry.field
    def products(self) -> list[StoreProduct]:
        return [StoreProduct(upc=u) for u in STORE]


@strawberry.federation.type(name="Product", keys=["upc"])
class ShipProduct:
    upc: str
    weight: int | None = strawberry.federation.field(external=True, default=None)
    given_price: strawberry.Private[int | None] = None

    @strawberry.federation.field(external=True)
    def price(self, currency: str) -> int | None:
        return self.given_price

    @strawberry.federation.field(requires=['price(currency: "USD") weight'])
    def estimate_usd(self) -> int:
        assert self.given_price is not None and self.weight is not None
        return self.given_price * self.weight

    @strawberry.federation.field(requires=['price(currency: "EUR") weight'])
    def estimate_eur(self) -> int:
        assert self.given_price is not None and self.weight is not None
        return self.given_price * self.weight

    @classmethod
    def resolve_reference(
        cls, upc: str, price: int | None = None, weight: int | None = None
    ) -> ShipProduct:
        return cls(upc=upc, weight=weight, given_price=price)


@strawberry.type
class ShipQuery:
    @strawberry.field
    def shipments(self) -> list[ShipProduct]:
        return [ShipProduct(upc="2")]


requires_arguments = {
    "store": strawberry.federation.Schema(query=StoreQuery, types=[StoreProduct]),
    "ship": strawberry.federation.Schema(query=ShipQuery, types=[ShipProduct]),
}

# --- a requires chain back into the requiring subgraph (group B) -------------------------


@strawberry.federation.type(name="Item", keys=["id"])
class AlphaItem:
    id: strawberry.ID
    y: int | None = strawberry.federation.field(external=True, default=None)

    @strawberry.field
    def z(self) -> int:
        return int(self.id) * 10

    @strawberry.federation.field(requires=["y"])
    def x(self) -> int:
        assert self.y is not None
        return self.y + 1

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, y: int | None = None) -> AlphaItem:
        return cls(id=id, y=y)


@strawberry.type
class AlphaQuery:
    @strawberry.field
    def items(self) -> list[AlphaItem]:
        return [AlphaItem(id=strawberry.ID("1")), AlphaItem(id=strawberry.ID("2"))]


@strawberry.federation.type(name="Item", keys=["id"])
class BetaItem:
    id: strawberry.ID
    z: int | None = strawberry.federation.field(external=True, default=None)

    @strawberry.federation.field(requires=["z"])
    def y(self) -> int:
        assert self.z is not None
        return self.z * 2

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, z: int | None = None) -> BetaItem:
        return cls(id=id, z=z)


@strawberry.type
class BetaQuery:
    @strawberry.field
    def beta_version(self) -> int:
        return 1


requires_chain = {
    "alpha": strawberry.federation.Schema(query=AlphaQuery, types=[AlphaItem]),
    "beta": strawberry.federation.Schema(query=BetaQuery, types=[BetaItem]),
}

# --- @external key fields (group G) ------------------------------------------------------

NAMES = {"u1": "Ada", "u2": "Alan"}


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.field
    def name(self) -> str:
        return NAMES[self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)


@strawberry.type
class UsersQuery:
    @strawberry.field
    def users(self) -> list[User]:
        return [User(id=strawberry.ID(i)) for i in NAMES]


@strawberry.federation.type(name="User", keys=["id"])
class PostUser:
    # a wrong id: what posts says of a field it does not resolve must never be used
    id: strawberry.ID = strawberry.federation.field(external=True)


@strawberry.federation.type(name="User", keys=["id"], extend=True)
class Fed1PostUser:
    id: strawberry.ID = strawberry.federation.field(external=True)


@strawberry.type(name="Post")
class Post:
    title: str
    author: PostUser


@strawberry.type
class PostsQuery:
    @strawberry.field
    def posts(self) -> list[Post]:
        return [Post(title="On engines", author=PostUser(id=strawberry.ID("not-u2")))]


@strawberry.type(name="Post")
class Fed1Post:
    title: str
    author: Fed1PostUser


@strawberry.type
class Fed1PostsQuery:
    @strawberry.field
    def posts(self) -> list[Fed1Post]:
        return [Fed1Post(title="On engines", author=Fed1PostUser(id=strawberry.ID("u2")))]


users = strawberry.federation.Schema(query=UsersQuery, types=[User])
external_keys = {
    "users": users,
    "posts": strawberry.federation.Schema(query=PostsQuery, types=[PostUser]),
}
fed1_keys = {
    "users": users,
    "posts": strawberry.federation.Schema(query=Fed1PostsQuery, types=[Fed1PostUser]),
}
