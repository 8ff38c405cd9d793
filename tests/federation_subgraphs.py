"""Small strawberry subgraphs exercising the Federation v2 features the gateway plans.

- accounts: `User @key(id)` (name, `username @shareable`, `email @inaccessible`), `me`, `users`,
  a shared root field `hello`, mutation `userRename`.
- products: `Product @key(upc)` (name, price, weight, category enum, `delivery` later
  overridden), `topProducts(first:)`, `product(upc:)`, shared `hello`, mutation `productAdd`.
- inventory: `Product` extension: `inStock` (fails for upc "3"), `shippingEstimate
  @requires(fields: "price weight")`, `packaging @requires(fields: "dimensions { size }")`,
  `delivery @override(from: "products")`.
- reviews: `Review @key(id)` with `author: User @provides(fields: "username")` and a
  nullable `product` (null for one review), `User.reviews`, `Product.reviews`, and
  `Media @interfaceObject` adding `rating`, and `topRated: [Media!]!`.
- media: `interface Media @key(id)` with `Book` and `Movie`, `union SearchResult = Book |
  Product`, where Product is a key-only stub.
- loyalty: `User @key(username)` with `points` and `Product @key(name)` with `popularity`:
  entities known by another key than their owners use.
"""

from __future__ import annotations

import enum
from typing import Annotated

import httpx
import strawberry
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import FieldSet, Key

from gateway.compose import compose
from gateway.fetcher import HttpFetcher, SubgraphUnreachable

# --- accounts ---------------------------------------------------------------------------

USERS = {
    "1": {"name": "Ada Lovelace", "username": "ada", "email": "ada@example.org"},
    "2": {"name": "Alan Turing", "username": "alan", "email": "alan@example.org"},
}


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str
    username: str = strawberry.federation.field(shareable=True)
    email: str = strawberry.federation.field(inaccessible=True)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return _user(id)


def _user(id: str) -> User:
    data = USERS[id]
    return User(
        id=strawberry.ID(id), name=data["name"], username=data["username"], email=data["email"]
    )


@strawberry.type
class AccountsQuery:
    @strawberry.field
    def me(self) -> User:
        return _user("1")

    @strawberry.field
    def users(self) -> list[User]:
        return [_user(i) for i in USERS]

    @strawberry.federation.field(shareable=True)
    def hello(self) -> str:
        return "hello from accounts"


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    def user_rename(self, id: strawberry.ID, name: str) -> User:
        USERS[id]["name"] = name
        return _user(id)


accounts = strawberry.federation.Schema(
    query=AccountsQuery, mutation=AccountsMutation, types=[User]
)

# --- products ---------------------------------------------------------------------------


@strawberry.enum
class Category(enum.Enum):
    TOOLS = "tools"
    TOYS = "toys"


PRODUCTS: dict[str, dict] = {
    "1": {"name": "Hammer", "price": 12, "weight": 6, "category": Category.TOOLS},
    "2": {"name": "Kite", "price": 30, "weight": 2, "category": Category.TOYS},
    "3": {"name": "Saw", "price": 20, "weight": 4, "category": Category.TOOLS},
}


@strawberry.federation.type(shareable=True)
class Dimensions:
    size: str
    mass: int


@strawberry.federation.type(keys=["upc"])
class Product:
    upc: str
    name: str
    price: int
    weight: int
    category: Category
    delivery: str
    dimensions: Dimensions

    @classmethod
    def resolve_reference(cls, upc: str) -> Product:
        return _product(upc)


def _product(upc: str) -> Product:
    data = PRODUCTS[upc]
    return Product(
        upc=upc,
        name=data["name"],
        price=data["price"],
        weight=data["weight"],
        category=data["category"],
        delivery="products",
        dimensions=Dimensions(size="large" if data["weight"] > 5 else "small", mass=data["weight"]),
    )


@strawberry.type
class ProductsQuery:
    @strawberry.field
    def top_products(self, first: int = 5) -> list[Product]:
        return [_product(upc) for upc in list(PRODUCTS)[:first]]

    @strawberry.field
    def product(self, upc: str) -> Product | None:
        return _product(upc) if upc in PRODUCTS else None

    @strawberry.federation.field(shareable=True)
    def hello(self) -> str:
        return "hello from products"


@strawberry.type
class ProductsMutation:
    @strawberry.mutation
    def product_add(self, upc: str, name: str) -> Product:
        PRODUCTS[upc] = {"name": name, "price": 1, "weight": 1, "category": Category.TOYS}
        return _product(upc)


products = strawberry.federation.Schema(
    query=ProductsQuery, mutation=ProductsMutation, types=[Product]
)

# --- inventory --------------------------------------------------------------------------


@strawberry.federation.type(name="Product", keys=["upc"])
class InventoryProduct:
    upc: str
    price: int = strawberry.federation.field(external=True)
    weight: int = strawberry.federation.field(external=True)

    @strawberry.field
    def in_stock(self) -> bool | None:
        if self.upc == "3":
            raise ValueError("Stock of product 3 is unknown")
        return self.upc != "2"

    @strawberry.federation.field(requires=["price weight"])
    def shipping_estimate(self) -> int:
        return self.price + self.weight * 10

    @strawberry.federation.field(override="products")
    def delivery(self) -> str:
        return "inventory"

    dimensions: Dimensions | None = strawberry.federation.field(external=True, default=None)

    @strawberry.federation.field(requires=["dimensions { size }"])
    def packaging(self) -> str:
        assert self.dimensions is not None
        return f"{self.dimensions.size} box"

    @classmethod
    def resolve_reference(
        cls, upc: str, price: int = 0, weight: int = 0, dimensions: dict | None = None
    ) -> InventoryProduct:
        found = Dimensions(size=dimensions["size"], mass=0) if dimensions else None
        return cls(upc=upc, price=price, weight=weight, dimensions=found)


@strawberry.type
class InventoryQuery:
    @strawberry.field
    def inventory_size(self) -> int:
        return 3


inventory = strawberry.federation.Schema(query=InventoryQuery, types=[InventoryProduct])

# --- reviews ----------------------------------------------------------------------------

REVIEWS = [
    {"id": "r1", "body": "Solid.", "author": "1", "product": "1"},
    {"id": "r2", "body": "Flies well.", "author": "2", "product": "2"},
    {"id": "r3", "body": "Sharp.", "author": "1", "product": "3"},
    {"id": "r4", "body": "Lost the receipt.", "author": "2", "product": None},
]


@strawberry.federation.type(name="User", keys=["id"])
class ReviewsUser:
    id: strawberry.ID
    username: str = strawberry.federation.field(external=True)

    @strawberry.field
    def reviews(self) -> list[Review]:
        return [_review(r) for r in REVIEWS if r["author"] == self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ReviewsUser:
        return cls(id=id, username="")


@strawberry.federation.type(name="Product", keys=["upc"])
class ReviewsProduct:
    upc: str

    @strawberry.field
    def reviews(self, min_length: int = 0) -> list[Review]:
        return [
            _review(r) for r in REVIEWS if r["product"] == self.upc and len(r["body"]) >= min_length
        ]

    @classmethod
    def resolve_reference(cls, upc: str) -> ReviewsProduct:
        return cls(upc=upc)


@strawberry.federation.type(keys=["id"])
class Review:
    id: strawberry.ID
    body: str
    author_id: strawberry.Private[str]
    product_upc: strawberry.Private[str | None]

    @strawberry.federation.field(provides=["username"])
    def author(self) -> ReviewsUser:
        return ReviewsUser(
            id=strawberry.ID(self.author_id), username=USERS[self.author_id]["username"]
        )

    @strawberry.field
    def product(self) -> ReviewsProduct | None:
        return ReviewsProduct(upc=self.product_upc) if self.product_upc else None

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Review:
        return _review(next(r for r in REVIEWS if r["id"] == id))


def _review(r: dict) -> Review:
    return Review(
        id=strawberry.ID(r["id"]), body=r["body"], author_id=r["author"], product_upc=r["product"]
    )


@strawberry.federation.interface_object(keys=["id"])
class Media:
    id: strawberry.ID

    @strawberry.field
    def rating(self) -> int:
        return {"b1": 5, "m1": 3}.get(self.id, 0)


@strawberry.type
class ReviewsQuery:
    @strawberry.field
    def reviews(self) -> list[Review]:
        return [_review(r) for r in REVIEWS]

    @strawberry.field
    def top_rated(self) -> list[Media]:
        return [Media(id=strawberry.ID("b1")), Media(id=strawberry.ID("m1"))]


reviews = strawberry.federation.Schema(
    query=ReviewsQuery, types=[ReviewsUser, ReviewsProduct, Review, Media]
)

# --- media ------------------------------------------------------------------------------


@strawberry.federation.interface(name="Media", keys=["id"])
class MediaInterface:
    id: strawberry.ID
    title: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> MediaInterface:
        return next(m for m in _media() if m.id == id)


@strawberry.federation.type(keys=["id"])
class Book(MediaInterface):
    author_name: str


@strawberry.federation.type(keys=["id"])
class Movie(MediaInterface):
    minutes: int


@strawberry.federation.type(name="Product", keys=[Key(fields=FieldSet("upc"), resolvable=False)])
class MediaProduct:
    upc: str


def _media() -> list[MediaInterface]:
    return [
        Book(id=strawberry.ID("b1"), title="Dune", author_name="Herbert"),
        Movie(id=strawberry.ID("m1"), title="Alien", minutes=117),
    ]


SearchResult = Annotated[Book | MediaProduct, strawberry.union("SearchResult")]


@strawberry.type
class MediaQuery:
    @strawberry.field
    def media(self) -> list[MediaInterface]:
        return _media()

    @strawberry.field
    def search(self, term: str) -> list[SearchResult]:
        return [
            Book(id=strawberry.ID("b1"), title="Dune", author_name="Herbert"),
            MediaProduct(upc="2"),
        ]


media = strawberry.federation.Schema(query=MediaQuery, types=[Book, Movie, MediaProduct])

# --- loyalty ----------------------------------------------------------------------------


@strawberry.federation.type(name="User", keys=["username"])
class LoyaltyUser:
    username: str

    @strawberry.field
    def points(self) -> int:
        return len(self.username) * 100

    @classmethod
    def resolve_reference(cls, username: str) -> LoyaltyUser:
        return cls(username=username)


@strawberry.federation.type(name="Product", keys=["name"])
class LoyaltyProduct:
    name: str = strawberry.federation.field(shareable=True)

    @strawberry.field
    def popularity(self) -> int:
        return len(self.name)

    @classmethod
    def resolve_reference(cls, name: str) -> LoyaltyProduct:
        return cls(name=name)


@strawberry.type
class LoyaltyQuery:
    @strawberry.field
    def loyalty_programme(self) -> str:
        return "points"


loyalty = strawberry.federation.Schema(query=LoyaltyQuery, types=[LoyaltyUser, LoyaltyProduct])

SCHEMAS = {
    "accounts": accounts,
    "products": products,
    "inventory": inventory,
    "reviews": reviews,
    "media": media,
    "loyalty": loyalty,
}


def url(name: str) -> str:
    return f"http://{name}.test/graphql"


def sdl_of(schema: strawberry.federation.Schema) -> str:
    result = schema.execute_sync("{ _service { sdl } }")
    assert result.errors is None, result.errors
    return result.data["_service"]["sdl"]  # type: ignore[index]


def supergraph_sdl(names: list[str] | None = None) -> str:
    names = names or list(SCHEMAS)
    return compose({name: (url(name), sdl_of(SCHEMAS[name])) for name in names})


_CLIENT: httpx.AsyncClient | None = None


def _client() -> httpx.AsyncClient:
    """One client over every in-process subgraph (making a client costs an SSL context)."""
    global _CLIENT
    if _CLIENT is None:
        mounts = {
            f"http://{name}.test": httpx.ASGITransport(app=GraphQL(schema))
            for name, schema in SCHEMAS.items()
        }
        _CLIENT = httpx.AsyncClient(mounts=mounts)
    return _CLIENT


class RecordingFetcher:
    """An HttpFetcher over the in-process subgraphs that records every call."""

    def __init__(self) -> None:
        urls = {name: url(name) for name in SCHEMAS}
        self.inner = HttpFetcher(urls, 5.0, None, client=_client())
        self.calls: list[tuple[str, str, dict]] = []
        self.down: set[str] = set()

    async def __call__(self, subgraph: str, query: str, variables: dict) -> dict:
        self.calls.append((subgraph, query, variables))
        if subgraph in self.down:
            raise SubgraphUnreachable(f"{subgraph}: connection refused")
        return await self.inner(subgraph, query, variables)

    def graphs(self) -> list[str]:
        return [c[0] for c in self.calls]
