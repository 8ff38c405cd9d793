"""Three small subgraphs for the gateway benchmark: ``items`` lists items, ``prices`` and
``stock`` each add a field to ``Item`` by its key. (Module-level types: strawberry resolves
annotations from module scope.)"""

import strawberry
from strawberry.asgi import GraphQL


@strawberry.federation.type(keys=["id"])
class Item:
    id: strawberry.ID
    name: str


@strawberry.type
class ItemsQuery:
    @strawberry.field
    def items(self, first: int = 10) -> list[Item]:
        return [Item(id=strawberry.ID(str(n)), name=f"item {n}") for n in range(first)]


@strawberry.type
class Price:
    amount: float
    currency: str


@strawberry.federation.type(keys=["id"], name="Item")
class PricedItem:
    id: strawberry.ID

    @strawberry.field
    def price(self) -> Price:
        return Price(amount=int(self.id) * 1.5, currency="EUR")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "PricedItem":
        return PricedItem(id=id)


@strawberry.type
class PricesQuery:
    @strawberry.field
    def currency(self) -> str:
        return "EUR"


@strawberry.type
class Stock:
    available: int


@strawberry.federation.type(keys=["id"], name="Item")
class StockedItem:
    id: strawberry.ID

    @strawberry.field
    def stock(self) -> Stock:
        return Stock(available=int(self.id) % 7)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "StockedItem":
        return StockedItem(id=id)


@strawberry.type
class StockQuery:
    @strawberry.field
    def warehouses(self) -> int:
        return 1


SCHEMAS = {
    "items": lambda: strawberry.federation.Schema(query=ItemsQuery),
    "prices": lambda: strawberry.federation.Schema(query=PricesQuery, types=[PricedItem]),
    "stock": lambda: strawberry.federation.Schema(query=StockQuery, types=[StockedItem]),
}


def app(name: str) -> GraphQL:
    return GraphQL(SCHEMAS[name](), graphql_ide=None)


def counted(name: str):
    """``app(name)`` that counts the GraphQL requests it is sent: ``GET /requests`` says how
    many, so the bench sees what any gateway (ours or another) sent to each subgraph."""
    inner = app(name)
    seen = {"n": 0}

    async def asgi(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/requests":
            body = str(seen["n"]).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            seen["n"] += 1
        await inner(scope, receive, send)

    return asgi
