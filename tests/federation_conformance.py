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

from typing import Annotated

import httpx
import strawberry
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import Key, Override

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

# --- a shared root field returning a type without a key (group D) -----------------------


@strawberry.federation.type(name="Info", shareable=True)
class EastInfo:
    version: str
    region: str


@strawberry.federation.type(name="Info", shareable=True)
class WestInfo:
    version: str
    uptime: int


@strawberry.type
class EastQuery:
    @strawberry.federation.field(shareable=True)
    def info(self) -> EastInfo:
        return EastInfo(version="1.2", region="east")


@strawberry.type
class WestQuery:
    @strawberry.federation.field(shareable=True)
    def info(self) -> WestInfo:
        return WestInfo(version="1.2", uptime=99)


shared_root = {
    "east": strawberry.federation.Schema(query=EastQuery, types=[EastInfo]),
    "west": strawberry.federation.Schema(query=WestQuery, types=[WestInfo]),
}

# --- a type without a key below an entity (group E) --------------------------------------


@strawberry.federation.type(name="Details", shareable=True)
class CatalogDetails:
    size: str


@strawberry.federation.type(name="Product", keys=["id"])
class CatalogProduct:
    id: strawberry.ID
    details: CatalogDetails = strawberry.federation.field(shareable=True)


@strawberry.type
class CatalogQuery:
    @strawberry.field
    def catalog(self) -> list[CatalogProduct]:
        return [
            CatalogProduct(id=strawberry.ID(i), details=CatalogDetails(size=size))
            for i, size in (("1", "S"), ("2", "L"))
        ]


COLOURS = {"1": "red", "2": "blue"}


@strawberry.federation.type(name="Details", shareable=True)
class SpecsDetails:
    size: str
    colour: str


@strawberry.federation.type(name="Product", keys=["id"])
class SpecsProduct:
    id: strawberry.ID

    @strawberry.federation.field(shareable=True)
    def details(self) -> SpecsDetails:
        return SpecsDetails(size="?", colour=COLOURS[self.id])

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> SpecsProduct:
        return cls(id=id)


@strawberry.type
class SpecsQuery:
    @strawberry.field
    def specs_version(self) -> int:
        return 1


value_below_entity = {
    "catalog": strawberry.federation.Schema(query=CatalogQuery, types=[CatalogProduct]),
    "specs": strawberry.federation.Schema(query=SpecsQuery, types=[SpecsProduct]),
}

# --- @provides chooses the root field's subgraph (group F) -------------------------------

LABELS = {"1": "one", "2": "two"}


@strawberry.federation.type(name="Item", keys=["id"])
class OwnerItem:
    id: strawberry.ID

    @strawberry.field
    def label(self) -> str:
        return LABELS[self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> OwnerItem:
        return cls(id=id)


@strawberry.type
class OwnerQuery:
    @strawberry.field
    def owner_version(self) -> int:
        return 1


@strawberry.federation.type(name="Item", keys=["id"])
class ListItem:
    id: strawberry.ID


@strawberry.type
class ListQuery:
    @strawberry.federation.field(shareable=True)
    def top_items(self) -> list[ListItem]:
        return [ListItem(id=strawberry.ID(i)) for i in LABELS]


@strawberry.federation.type(name="Item", keys=["id"])
class ProvidingItem:
    id: strawberry.ID
    label: str = strawberry.federation.field(external=True)


@strawberry.type
class ProvidingQuery:
    @strawberry.federation.field(shareable=True, provides=["label"])
    def top_items(self) -> list[ProvidingItem]:
        return [ProvidingItem(id=strawberry.ID(i), label=f"{v}!") for i, v in LABELS.items()]


provides_choice = {
    "a_list": strawberry.federation.Schema(query=ListQuery, types=[ListItem]),
    "b_provides": strawberry.federation.Schema(query=ProvidingQuery, types=[ProvidingItem]),
    "owner": strawberry.federation.Schema(query=OwnerQuery, types=[OwnerItem]),
}

# --- a field typed differently by two subgraphs (group J) --------------------------------


@strawberry.federation.interface(name="Media")
class LibraryMedia:
    id: strawberry.ID


@strawberry.federation.type(name="Book", keys=["id"])
class LibraryBook(LibraryMedia):
    title: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> LibraryBook:
        return cls(id=id, title=f"book {id}")


@strawberry.federation.type(name="Movie", keys=["id"])
class LibraryMovie(LibraryMedia):
    minutes: int


@strawberry.type
class LibraryQuery:
    @strawberry.federation.field(shareable=True)
    def featured(self) -> LibraryMedia:
        return LibraryMovie(id=strawberry.ID("m1"), minutes=90)

    @strawberry.field
    def media(self) -> list[LibraryMedia]:
        return [
            LibraryBook(id=strawberry.ID("b1"), title="book b1"),
            LibraryMovie(id=strawberry.ID("m1"), minutes=90),
        ]


@strawberry.federation.type(name="Book", keys=["id"])
class ShelfBook:
    id: strawberry.ID
    shelf: int


@strawberry.type
class ShelfQuery:
    @strawberry.federation.field(shareable=True)
    def featured(self) -> ShelfBook:
        return ShelfBook(id=strawberry.ID("b7"), shelf=3)


covariant_types = {
    "library": strawberry.federation.Schema(query=LibraryQuery, types=[LibraryBook, LibraryMovie]),
    "shelf": strawberry.federation.Schema(query=ShelfQuery, types=[ShelfBook]),
}

# --- an @interfaceObject that is not resolvable (group K) --------------------------------


@strawberry.federation.interface(name="Node", keys=["id"])
class OwnerNode:
    id: strawberry.ID


@strawberry.federation.type(name="Bread", keys=["id"])
class OwnerBread(OwnerNode):
    name: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> OwnerBread:
        return cls(id=id, name=f"bread {id}")


@strawberry.type
class BakeryQuery:
    @strawberry.field
    def bread(self) -> OwnerNode:
        return OwnerBread(id=strawberry.ID("n2"), name="bread n2")


@strawberry.federation.interface_object(name="Node", keys=[Key(fields="id", resolvable=False)])
class ReferencedNode:
    id: strawberry.ID

    @strawberry.field
    def field(self) -> str:
        return "foo"


@strawberry.type
class PantryQuery:
    @strawberry.field
    def b(self) -> ReferencedNode:
        return ReferencedNode(id=strawberry.ID("n1"))


non_resolvable_interface_object = {
    "bakery": strawberry.federation.Schema(query=BakeryQuery, types=[OwnerBread]),
    "pantry": strawberry.federation.Schema(query=PantryQuery, types=[ReferencedNode]),
}

# --- one response name typed differently in sibling fragments (group H) ------------------


SIZES = {"c1": 3, "s1": None, "s2": 4}


@strawberry.federation.type(name="Circle", keys=["id"])
class ShapesCircle:
    id: strawberry.ID
    size: int = strawberry.federation.field(shareable=True)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ShapesCircle:
        return cls(id=id, size=SIZES[id] or 0)


@strawberry.federation.type(name="Square", keys=["id"])
class ShapesSquare:
    id: strawberry.ID
    size: int | None = strawberry.federation.field(shareable=True)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ShapesSquare:
        return cls(id=id, size=SIZES[id])


Shape = Annotated[ShapesCircle | ShapesSquare, strawberry.union("Shape")]


@strawberry.type
class ShapesQuery:
    @strawberry.field
    def shapes(self) -> list[Shape]:
        return [
            ShapesCircle(id=strawberry.ID("c1"), size=3),
            ShapesSquare(id=strawberry.ID("s1"), size=None),
            ShapesSquare(id=strawberry.ID("s2"), size=4),
        ]


@strawberry.federation.type(name="Circle", keys=["id"])
class SizesCircle:
    id: strawberry.ID
    size: int | None = strawberry.federation.field(shareable=True)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> SizesCircle:
        return cls(id=id, size=3)


@strawberry.type
class SizesQuery:
    @strawberry.field
    def sizes_version(self) -> int:
        return 1


@strawberry.federation.type(name="Circle", keys=["id"])
class GalleryCircle:
    id: strawberry.ID


@strawberry.federation.type(name="Square", keys=["id"])
class GallerySquare:
    id: strawberry.ID


GalleryShape = Annotated[GalleryCircle | GallerySquare, strawberry.union("Shape")]


@strawberry.type
class GalleryQuery:
    @strawberry.field
    def gallery(self) -> list[GalleryShape]:
        return [GallerySquare(id=strawberry.ID("s2")), GalleryCircle(id=strawberry.ID("c1"))]


conflicting_types = {
    "gallery": strawberry.federation.Schema(
        query=GalleryQuery, types=[GalleryCircle, GallerySquare]
    ),
    "shapes": strawberry.federation.Schema(query=ShapesQuery, types=[ShapesCircle, ShapesSquare]),
    "sizes": strawberry.federation.Schema(query=SizesQuery, types=[SizesCircle]),
}

# --- entity chains over three subgraphs, abstract types from entities, nested lists with
# nulls, progressive @override labels ---------------------------------------------------
#
# people: Person (name, nickname and age overridden from pets: nickname at percent(100),
#   age under a label a router would switch per request), people with a null in the middle,
#   a grid (a list of lists) of people; Vet.name.
# pets: Person.pet (a union Dog | Cat; null for p3, which pets does not know), Dog, Cat.
# vets: Dog.vet, a Vet known by id.

PEOPLE = {"p1": "Ada", "p2": "Alan", "p3": "Grace"}
PETS = {"p1": ("Dog", "d1"), "p2": ("Cat", "c1")}
VETS = {"v1": "Dr Who"}


@strawberry.federation.type(name="Person", keys=["id"])
class PeoplePerson:
    id: strawberry.ID

    @strawberry.field
    def name(self) -> str:
        return PEOPLE[self.id]

    @strawberry.federation.field(override=Override(override_from="pets", label="percent(100)"))
    def nickname(self) -> str:
        return f"{PEOPLE[self.id].lower()} (people)"

    @strawberry.federation.field(override=Override(override_from="pets", label="beta"))
    def age(self) -> int:
        return 99

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> PeoplePerson:
        return cls(id=id)


@strawberry.federation.type(name="Vet", keys=["id"])
class PeopleVet:
    id: strawberry.ID

    @strawberry.field
    def name(self) -> str:
        return VETS[self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> PeopleVet:
        return cls(id=id)


def _person(id: str) -> PeoplePerson:
    return PeoplePerson(id=strawberry.ID(id))


@strawberry.type
class PeopleQuery:
    @strawberry.field
    def people(self) -> list[PeoplePerson | None]:
        return [_person("p1"), None, _person("p3"), _person("p2")]

    @strawberry.field
    def grid(self) -> list[list[PeoplePerson | None]]:
        return [[_person("p2"), None], [], [_person("p1")]]


@strawberry.federation.type(name="Dog", keys=["id"])
class PetsDog:
    id: strawberry.ID
    name: str


@strawberry.federation.type(name="Cat", keys=["id"])
class PetsCat:
    id: strawberry.ID
    lives: int


Pet = Annotated[PetsDog | PetsCat, strawberry.union("Pet")]


@strawberry.federation.type(name="Person", keys=["id"])
class PetsPerson:
    id: strawberry.ID

    @strawberry.field
    def pet(self) -> Pet | None:
        kind, id = PETS.get(self.id, ("", ""))
        if kind == "Dog":
            return PetsDog(id=strawberry.ID(id), name="Rex")
        if kind == "Cat":
            return PetsCat(id=strawberry.ID(id), lives=9)
        return None

    @strawberry.field
    def nickname(self) -> str:
        return "from pets"

    @strawberry.field
    def age(self) -> int:
        return {"p1": 36, "p2": 41}.get(self.id, 0)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> PetsPerson | None:
        return cls(id=id) if id in PETS else None


@strawberry.type
class PetsQuery:
    @strawberry.field
    def pets_version(self) -> int:
        return 1


@strawberry.federation.type(name="Vet", keys=["id"])
class VetsVet:
    id: strawberry.ID


@strawberry.federation.type(name="Dog", keys=["id"])
class VetsDog:
    id: strawberry.ID

    @strawberry.field
    def vet(self) -> VetsVet:
        return VetsVet(id=strawberry.ID("v1"))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> VetsDog:
        return cls(id=id)


@strawberry.type
class VetsQuery:
    @strawberry.field
    def vets_version(self) -> int:
        return 1


households = {
    "people": strawberry.federation.Schema(query=PeopleQuery, types=[PeoplePerson, PeopleVet]),
    "pets": strawberry.federation.Schema(query=PetsQuery, types=[PetsPerson, PetsDog, PetsCat]),
    "vets": strawberry.federation.Schema(query=VetsQuery, types=[VetsDog, VetsVet]),
}

# --- requirements that need entity fetches of their own, in a circle ---------------------
#
# writing: Post.byExpert requires byNovice; Author.yearsOfExperience.
# reading: Post.byNovice requires author { yearsOfExperience }, Post.author.

YEARS = {"a1": 2, "a2": 12}
AUTHORS = {"1": "a1", "2": "a2"}


@strawberry.federation.type(name="Post", keys=["id"])
class WritingPost:
    id: strawberry.ID
    by_novice: bool | None = strawberry.federation.field(external=True, default=None)

    @strawberry.federation.field(requires=["byNovice"])
    def by_expert(self) -> bool | None:
        return None if self.by_novice is None else not self.by_novice

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, byNovice: bool | None = None) -> WritingPost:
        return cls(id=id, by_novice=byNovice)


@strawberry.federation.type(name="Author", keys=["id"])
class WritingAuthor:
    id: strawberry.ID

    @strawberry.field
    def years_of_experience(self) -> int:
        return YEARS[self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> WritingAuthor:
        return cls(id=id)


@strawberry.type
class WritingQuery:
    @strawberry.field
    def feed(self) -> list[WritingPost]:
        return [WritingPost(id=strawberry.ID(i)) for i in AUTHORS]


@strawberry.federation.type(name="Author", keys=["id"])
class ReadingAuthor:
    id: strawberry.ID
    years_of_experience: int | None = strawberry.federation.field(external=True, default=None)


@strawberry.federation.type(name="Post", keys=["id"])
class ReadingPost:
    id: strawberry.ID
    given_author: strawberry.Private[dict | None] = None

    @strawberry.field
    def author(self) -> ReadingAuthor:
        return ReadingAuthor(id=strawberry.ID(AUTHORS[self.id]))

    @strawberry.federation.field(requires=["author { yearsOfExperience }"])
    def by_novice(self) -> bool | None:
        if not self.given_author:
            return None  # the requirement was not given
        return self.given_author["yearsOfExperience"] < 5

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, author: dict | None = None) -> ReadingPost:
        return cls(id=id, given_author=author)


@strawberry.type
class ReadingQuery:
    @strawberry.field
    def reading_version(self) -> int:
        return 1


requires_circle = {
    "writing": strawberry.federation.Schema(query=WritingQuery, types=[WritingPost, WritingAuthor]),
    "reading": strawberry.federation.Schema(query=ReadingQuery, types=[ReadingPost, ReadingAuthor]),
}

# --- a shared root field whose keyless type three subgraphs each resolve a part of ---------


@strawberry.federation.type(name="Offer", shareable=True)
class TitleOffer:
    id: strawberry.ID
    title: str


@strawberry.federation.type(name="Offer", shareable=True)
class PriceOffer:
    id: strawberry.ID
    amount: int


@strawberry.federation.type(name="Offer", shareable=True)
class StockOffer:
    id: strawberry.ID
    stock: int


@strawberry.type
class TitleQuery:
    @strawberry.federation.field(shareable=True)
    def offers(self) -> list[TitleOffer]:
        return [TitleOffer(id=strawberry.ID("o1"), title="Lamp")]


@strawberry.type
class PriceQuery:
    @strawberry.federation.field(shareable=True)
    def offers(self) -> list[PriceOffer]:
        return [PriceOffer(id=strawberry.ID("o1"), amount=30)]


@strawberry.type
class StockQuery:
    @strawberry.federation.field(shareable=True)
    def offers(self) -> list[StockOffer]:
        return [StockOffer(id=strawberry.ID("o1"), stock=4)]


shared_root_parts = {
    "titles": strawberry.federation.Schema(query=TitleQuery, types=[TitleOffer]),
    "prices": strawberry.federation.Schema(query=PriceQuery, types=[PriceOffer]),
    "stock": strawberry.federation.Schema(query=StockQuery, types=[StockOffer]),
}

# --- @requires on an @interfaceObject's field ---------------------------------------------


@strawberry.federation.interface_object(name="Media", keys=["id"])
class ScoredMedia:
    id: strawberry.ID
    title: str | None = strawberry.federation.field(external=True, default=None)

    @strawberry.federation.field(requires=["title"])
    def blurb(self) -> str:
        assert self.title is not None, "the requirement was not given"
        return f"{self.title}: {len(self.title)} letters"

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, title: str | None = None) -> ScoredMedia:
        return cls(id=id, title=title)


@strawberry.type
class ScoresQuery:
    @strawberry.field
    def scores_version(self) -> int:
        return 1


def interface_object_requires() -> dict[str, strawberry.federation.Schema]:
    from tests.federation_subgraphs import media

    return {
        "media": media,
        "scores": strawberry.federation.Schema(query=ScoresQuery, types=[ScoredMedia]),
    }
