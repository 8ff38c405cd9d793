"""Reading supergraph SDL as composition tools write it; composing one from subgraph SDL."""

from __future__ import annotations

import pytest
from graphql import print_schema

from gateway.compose import CompositionError, compose
from gateway.executor import Executor
from gateway.supergraph import Supergraph, SupergraphError
from tests.federation_subgraphs import SCHEMAS, RecordingFetcher, sdl_of, supergraph_sdl, url

# As Apollo's composition writes it (join v0.3, imports, inaccessible elements everywhere).
STANDARD = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)
  @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)
{
  query: Query
}

directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION \
| SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, \
type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on \
FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT \
| INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, \
resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT \
| INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) \
repeatable on SCHEMA
directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE \
| SCALAR | ENUM
directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT \
| INTERFACE | SCALAR | ENUM

enum Category @join__type(graph: PRODUCTS) {
  TOOLS @join__enumValue(graph: PRODUCTS)
  TOYS @join__enumValue(graph: PRODUCTS)
  SECRET @join__enumValue(graph: PRODUCTS) @inaccessible
}

input Filter @join__type(graph: PRODUCTS) {
  category: Category
  internal: Boolean @inaccessible
}

scalar join__FieldSet

enum join__Graph {
  ACCOUNTS @join__graph(name: "accounts", url: "http://accounts.test/graphql")
  INVENTORY @join__graph(name: "inventory", url: "http://inventory.test/graphql")
  PRODUCTS @join__graph(name: "products", url: "http://products.test/graphql")
  REVIEWS @join__graph(name: "reviews", url: "http://reviews.test/graphql")
}

scalar link__Import

enum link__Purpose {
  SECURITY
  EXECUTION
}

scalar policy__Policy
scalar requiresScopes__Scope

type Internal @join__type(graph: ACCOUNTS) @inaccessible {
  note: String
}

type Product
  @join__type(graph: INVENTORY, key: "upc")
  @join__type(graph: PRODUCTS, key: "upc")
  @join__type(graph: REVIEWS, key: "upc")
  @authenticated
{
  upc: String!
  name: String! @join__field(graph: PRODUCTS)
  category: Category @join__field(graph: PRODUCTS)
  price: Int! @join__field(graph: INVENTORY, external: true) @join__field(graph: PRODUCTS)
  weight: Int! @join__field(graph: INVENTORY, external: true) @join__field(graph: PRODUCTS)
  inStock: Boolean @join__field(graph: INVENTORY) @requiresScopes(scopes: [["stock:read"]])
  shippingEstimate: Int! @join__field(graph: INVENTORY, requires: "price weight")
  delivery: String! @join__field(graph: INVENTORY, override: "products") \
@join__field(graph: PRODUCTS, usedOverridden: true)
  reviews: [Review!]! @join__field(graph: REVIEWS) @policy(policies: [["reader"], ["admin"]])
}

type Query
  @join__type(graph: ACCOUNTS)
  @join__type(graph: INVENTORY)
  @join__type(graph: PRODUCTS)
  @join__type(graph: REVIEWS)
{
  me: User! @join__field(graph: ACCOUNTS) @authenticated
  topProducts(first: Int! = 5, filter: Filter @inaccessible): [Product!]! \
@join__field(graph: PRODUCTS)
  hello: String! @join__field(graph: ACCOUNTS) @join__field(graph: PRODUCTS)
  internal: Internal @join__field(graph: ACCOUNTS) @inaccessible
  reviews: [Review!]! @join__field(graph: REVIEWS)
}

type Review @join__type(graph: REVIEWS, key: "id") {
  id: ID!
  body: String!
  author: User! @join__field(graph: REVIEWS, provides: "username")
  product: Product
}

type User
  @join__type(graph: ACCOUNTS, key: "id")
  @join__type(graph: REVIEWS, key: "id", extension: true)
{
  id: ID!
  name: String! @join__field(graph: ACCOUNTS)
  username: String! @join__field(graph: ACCOUNTS) @join__field(graph: REVIEWS, external: true)
  email: String! @join__field(graph: ACCOUNTS) @inaccessible
  reviews: [Review!]! @join__field(graph: REVIEWS)
}
"""


@pytest.fixture(scope="module")
def standard() -> Supergraph:
    return Supergraph.parse(STANDARD)


def test_subgraph_routing_urls_come_from_join_graph(standard: Supergraph) -> None:
    assert standard.subgraphs == {
        "accounts": "http://accounts.test/graphql",
        "inventory": "http://inventory.test/graphql",
        "products": "http://products.test/graphql",
        "reviews": "http://reviews.test/graphql",
    }


def test_api_schema_has_no_machinery_and_no_inaccessible_element(standard: Supergraph) -> None:
    api = print_schema(standard.api_schema)
    for hidden in (
        "join__",
        "link__",
        "policy__",
        "@join",
        "email",
        "SECRET",
        "internal",
        "Internal",
    ):
        assert hidden not in api, hidden
    assert "input Filter {\n  category: Category\n}" in api
    assert "topProducts(first: Int! = 5): [Product!]!" in api
    assert "enum Category {\n  TOOLS\n  TOYS\n}" in api
    # the planning schema keeps them
    assert "email" in standard.schema.get_type("User").fields  # type: ignore[union-attr]


def test_authorisation_directives_of_fields_and_types(standard: Supergraph) -> None:
    assert standard.type_directives("Product") == {"authenticated": True}
    assert standard.type_directives("User") == {}
    assert standard.field_directives("Query", "me") == {"authenticated": True}
    assert standard.field_directives("Product", "inStock") == {"requiresScopes": [["stock:read"]]}
    assert standard.field_directives("Product", "reviews") == {"policy": [["reader"], ["admin"]]}
    assert standard.field_directives("Product", "name") == {}
    assert standard.field_directives("Nope", "name") == {}


def test_routing_facts(standard: Supergraph) -> None:
    assert standard.field_graphs("Product", "price") == ["products"]
    assert standard.field_graphs("Product", "delivery") == ["inventory"]
    assert standard.field_graphs("Product", "upc") == ["inventory", "products", "reviews"]
    assert standard.field_graphs("Query", "hello") == ["accounts", "products"]
    assert standard.keys("User", "reviews") == ["id"]
    assert standard.requires("Product", "shippingEstimate", "inventory") == "price weight"
    assert standard.provides("Review", "author", "reviews") == "username"


async def test_a_standard_supergraph_runs_over_the_subgraphs(standard: Supergraph) -> None:
    fetcher = RecordingFetcher()
    executor = Executor(standard, fetcher)
    query = """{ topProducts(first: 2) {
      name delivery shippingEstimate reviews { author { username name } } } }"""
    result = await executor.execute(query)
    assert result == {
        "data": {
            "topProducts": [
                {
                    "name": "Hammer",
                    "delivery": "inventory",
                    "shippingEstimate": 72,
                    "reviews": [{"author": {"username": "ada", "name": "Ada Lovelace"}}],
                },
                {
                    "name": "Kite",
                    "delivery": "inventory",
                    "shippingEstimate": 50,
                    "reviews": [{"author": {"username": "alan", "name": "Alan Turing"}}],
                },
            ]
        }
    }
    assert fetcher.graphs()[0] == "products"
    assert sorted(fetcher.graphs()[1:3]) == ["inventory", "reviews"]
    assert fetcher.graphs()[3:] == ["accounts"]
    assert fetcher.calls[0][1] == (
        "query { topProducts(first: 2) { name __typename upc price weight } }"
    )


def test_supergraph_without_subgraphs_is_refused() -> None:
    with pytest.raises(SupergraphError):
        Supergraph.parse("type Query { a: Int }")


# --- composition -----------------------------------------------------------------------


def test_composed_supergraph_declares_every_federation_fact() -> None:
    sdl = supergraph_sdl()
    assert '@link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)' in sdl
    assert 'ACCOUNTS @join__graph(name: "accounts", url: "http://accounts.test/graphql")' in sdl
    assert (
        "type Product\n"
        '  @join__type(graph: INVENTORY, key: "upc")\n'
        '  @join__type(graph: LOYALTY, key: "name")\n'
        '  @join__type(graph: MEDIA, key: "upc", resolvable: false)\n'
        '  @join__type(graph: PRODUCTS, key: "upc")\n'
        '  @join__type(graph: REVIEWS, key: "upc") {'
    ) in sdl
    assert (
        "  price: Int! @join__field(graph: INVENTORY, external: true) @join__field(graph: PRODUCTS)"
    ) in sdl
    assert (
        '  shippingEstimate: Int! @join__field(graph: INVENTORY, requires: "price weight")' in sdl
    )
    assert '  delivery: String! @join__field(graph: INVENTORY, override: "products")' in sdl
    assert '  author: User! @join__field(graph: REVIEWS, provides: "username")' in sdl
    assert "  email: String! @join__field(graph: ACCOUNTS) @inaccessible" in sdl
    assert '  @join__type(graph: REVIEWS, key: "id", isInterfaceObject: true) {' in sdl
    assert "  rating: Int! @join__field\n" in sdl  # on Book and Movie, from the interface object
    assert '  @join__implements(graph: MEDIA, interface: "Media") {' in sdl
    assert '  @join__unionMember(graph: MEDIA, member: "Product")\n  = Book | Product' in sdl
    assert "  TOOLS @join__enumValue(graph: PRODUCTS)" in sdl
    assert "type Mutation\n  @join__type(graph: ACCOUNTS)\n  @join__type(graph: PRODUCTS) {" in sdl
    assert "_entities" not in sdl and "_Service" not in sdl and "_Any" not in sdl


def test_composition_is_deterministic() -> None:
    names = list(SCHEMAS)
    assert supergraph_sdl(names) == supergraph_sdl(list(reversed(names)))


def test_composition_keeps_authorisation_directives() -> None:
    sub = """
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.9",
      import: ["@key", "@authenticated", "@requiresScopes", {name: "@policy", as: "@pol"}])
    type Query { files: [File!]! @requiresScopes(scopes: [["files:read"]]) }
    type File @key(fields: "id") @authenticated {
      id: ID!
      name: String! @pol(policies: [["owner"]])
    }
    """
    supergraph = Supergraph.parse(compose({"files": ("http://files.test/graphql", sub)}))
    assert supergraph.type_directives("File") == {"authenticated": True}
    assert supergraph.field_directives("Query", "files") == {"requiresScopes": [["files:read"]]}
    assert supergraph.field_directives("File", "name") == {"policy": [["owner"]]}


def test_fields_resolved_by_two_subgraphs_must_be_shareable() -> None:
    a = "type Query { a: Thing } type Thing { name: String }"
    b = "type Query { b: Thing } type Thing { name: String }"
    with pytest.raises(CompositionError, match=r"Thing\.name .* not @shareable"):
        compose({"a": ("http://a", a), "b": ("http://b", b)})
    shareable = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", '
        'import: ["@shareable"])'
    )
    ok = compose(
        {
            "a": ("http://a", shareable + a.replace("type Thing", "type Thing @shareable")),
            "b": ("http://b", shareable + b.replace("type Thing", "type Thing @shareable")),
        }
    )
    assert "  name: String @join__field(graph: A) @join__field(graph: B)" in ok


def test_unknown_key_field_is_refused() -> None:
    sub = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])'
        ' type Query { t: T } type T @key(fields: "nope") { id: ID! }'
    )
    with pytest.raises(CompositionError, match="key field nope"):
        compose({"a": ("http://a", sub)})


def test_composed_supergraph_of_each_subgraph_alone_parses() -> None:
    for name, schema in SCHEMAS.items():
        supergraph = Supergraph.parse(compose({name: (url(name), sdl_of(schema))}))
        assert supergraph.subgraphs == {name: url(name)}


def _mini(body: str) -> str:
    header = STANDARD[: STANDARD.index("enum Category")]
    graphs = """
enum join__Graph {
  A @join__graph(name: "a", url: "http://a.test/graphql")
  B @join__graph(name: "b", url: "http://b.test/graphql")
}
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
scalar policy__Policy
scalar requiresScopes__Scope
"""
    return header + graphs + body


def test_federation_1_key_fields_marked_external_are_still_known_to_their_subgraph() -> None:
    supergraph = Supergraph.parse(
        _mini("""
type Query @join__type(graph: A) { t: T @join__field(graph: A) }
type T @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", extension: true) {
  id: ID! @join__field(graph: A) @join__field(graph: B, external: true)
  b: Int @join__field(graph: B)
}
""")
    )
    assert supergraph.field_graphs("T", "id") == ["a", "b"]


async def test_field_no_key_can_reach_is_a_planning_error_without_any_fetch() -> None:
    supergraph = Supergraph.parse(
        _mini("""
type Query @join__type(graph: A) { t: T @join__field(graph: A) }
type T @join__type(graph: A, key: "id") @join__type(graph: B, key: "sku") {
  id: ID! @join__field(graph: A)
  sku: ID! @join__field(graph: B)
  b: Int @join__field(graph: B)
}
""")
    )
    calls: list[str] = []

    async def fetch(subgraph: str, query: str, variables: dict) -> dict:
        calls.append(subgraph)
        return {"data": None}

    result = await Executor(supergraph, fetch).execute("{ t { b } }")
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "The query cannot be planned over the subgraphs: "
                "no subgraph can give a key to fetch T.sku.",
                "extensions": {"code": "QUERY_PLAN_FAILED"},
            }
        ],
    }
    assert calls == []


FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: [{}])\n'


def test_root_fields_in_two_subgraphs_must_be_shareable() -> None:
    a = FED.format('"@key"') + "type Query { now: String }"
    b = FED.format('"@key"') + "type Query { now: String }"
    with pytest.raises(CompositionError, match=r"Query\.now"):
        compose({"a": ("http://a", a), "b": ("http://b", b)})


def test_overridden_key_field_stays_usable_as_the_old_subgraph_key() -> None:
    old = FED.format('"@key"') + (
        'type Query { items: [Item!]! } type Item @key(fields: "sku") { sku: ID! name: String }'
    )
    new = FED.format('"@key", "@override"') + (
        'type Item @key(fields: "sku") { sku: ID! @override(from: "old") price: Int }'
    )
    sdl = compose({"old": ("http://old", old), "new": ("http://new", new)})
    assert (
        '  sku: ID! @join__field(graph: NEW, override: "old") '
        "@join__field(graph: OLD, usedOverridden: true)"
    ) in sdl
    supergraph = Supergraph.parse(sdl)
    assert supergraph.field_graphs("Item", "sku") == ["new", "old"]
    plan = Executor(supergraph, _no_fetch).plan("{ items { name price } }")
    assert plan.describe() == [("old", "query", ()), ("new", "entities", ("items",))]


async def _no_fetch(subgraph: str, query: str, variables: dict) -> dict:
    raise AssertionError("planning only")
