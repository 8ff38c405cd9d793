"""Limits on what one request may ask: pure checks on the parsed operation."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import build_schema

from gateway.limits import (
    LimitExceeded,
    Limits,
    check_batch_size,
    check_body_size,
    check_operation,
    parse_within_limits,
    select_operation,
)

SCHEMA = build_schema(
    """
    type Query {
      me: Person
      people(first: Int, after: String): PersonConnection!
      tags: [String!]!
    }
    type PersonConnection { edges: [PersonEdge!]! totalCount: Int! }
    type PersonEdge { node: Person! cursor: String! }
    type Person { name: String friends(first: Int): [Person!]! best: Person }
    """
)


def cost(query: str, limits: Limits | None = None, variables: dict[str, Any] | None = None) -> int:
    limits = limits or Limits()
    document = parse_within_limits(query, limits)
    operation = select_operation(document, None)
    return check_operation(SCHEMA, document, operation, variables or {}, limits)


def refusal(query: str, limits: Limits, variables: dict[str, Any] | None = None) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        cost(query, limits, variables)
    return caught.value


def test_cost_weights_what_a_list_returns_by_first() -> None:
    # people (1) + 100 x (edges 1 + node 1 + name 1)
    assert cost("{ people(first: 100) { edges { node { name } } } }") == 1 + 100 * 3
    assert cost("{ people(first: 10) { edges { node { name } } } }") == 1 + 10 * 3


def test_cost_reads_first_from_variables() -> None:
    query = "query($n: Int) { people(first: $n) { edges { node { name } } } }"
    assert cost(query, variables={"n": 7}) == 1 + 7 * 3


def test_lists_without_first_count_as_the_default_list_size() -> None:
    limits = Limits(default_list_size=5)
    assert cost("{ me { friends { name } } }", limits) == 1 + 1 + 5 * 1
    assert cost("{ tags }", limits) == 1


def test_nested_lists_multiply_and_a_costly_query_is_refused_with_its_estimate() -> None:
    query = "{ people(first: 100) { edges { node { friends(first: 100) { name } } } } }"
    error = refusal(query, Limits(max_cost=5000))
    assert error.limit == "cost" and error.actual == 1 + 100 * (1 + 1 + 1 + 100)
    assert error.to_error()["extensions"] == {
        "code": "VALIDATION",
        "limit": "cost",
        "maximum": 5000,
        "actual": error.actual,
    }
    assert "smaller 'first'" in error.message


def test_depth_is_counted_through_fragments() -> None:
    query = """
      { me { ...F } }
      fragment F on Person { best { best { best { name } } } }
    """
    assert cost(query, Limits(max_depth=5)) > 0
    assert refusal(query, Limits(max_depth=4)).limit == "depth"


def test_too_many_aliases_are_refused() -> None:
    query = "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(4)) + " }"
    assert cost(query, Limits(max_aliases=4)) > 0
    assert refusal(query, Limits(max_aliases=3)).limit == "aliases"


def test_too_many_root_fields_are_refused() -> None:
    query = "{ " + " ".join(f"a{i}: tags" for i in range(5)) + " }"
    error = refusal(query, Limits(max_root_fields=4))
    assert (error.limit, error.maximum, error.actual) == ("rootFields", 4, 5)
    hidden = (
        "{ ...R ... on Query { c: tags d: tags } } fragment R on Query { a: tags b: tags e: tags }"
    )
    assert refusal(hidden, Limits(max_root_fields=4)).actual == 5


def test_a_document_of_too_many_tokens_is_refused_while_parsing() -> None:
    query = "{ " + " ".join("tags" for _ in range(100)) + " }"
    with pytest.raises(LimitExceeded) as caught:
        parse_within_limits(query, Limits(max_tokens=50))
    assert caught.value.limit == "tokens"


def test_body_and_batch_sizes() -> None:
    limits = Limits(max_body_bytes=2000, max_batch=3)
    check_body_size(2000, limits)
    with pytest.raises(LimitExceeded, match="at most 2000"):
        check_body_size(2001, limits)
    check_batch_size(3, limits)
    with pytest.raises(LimitExceeded, match="at most 3"):
        check_batch_size(4, limits)
    with pytest.raises(LimitExceeded, match="no operation"):
        check_batch_size(0, limits)


def test_a_fragment_cycle_does_not_loop() -> None:
    query = """
      { me { ...A } }
      fragment A on Person { best { ...B } }
      fragment B on Person { best { ...A } }
    """
    assert cost(query) > 0


def coerced(query: str, variables: dict[str, Any]) -> Any:
    """The variables as the pipeline passes them: graphql-core's VariableValues."""
    from graphql.execution.values import get_variable_values

    operation = select_operation(parse_within_limits(query, Limits()), None)
    values = get_variable_values(SCHEMA, operation.variable_definitions or (), variables)
    assert not isinstance(values, list), values
    return values


@pytest.mark.parametrize(
    ("definition", "variables", "counted"),
    [
        ("$n: Int", {"n": 7}, 7),
        ("$n: Int", {}, 20),  # omitted, no default: the default list size
        ("$n: Int = 3", {}, 3),  # omitted: its default
        ("$n: Int = 3", {"n": None}, 20),  # null: the default list size
        ("$n: Int", {"n": -5}, 0),  # negative: nothing
        ("$n: Int!", {"n": 0}, 0),
    ],
)
def test_first_from_variables_as_the_pipeline_coerces_them(
    definition: str, variables: dict[str, Any], counted: int
) -> None:
    query = f"query({definition}) {{ people(first: $n) {{ totalCount edges {{ cursor }} }} }}"
    document = parse_within_limits(query, Limits())
    operation = select_operation(document, None)
    values = coerced(query, variables)
    assert check_operation(SCHEMA, document, operation, values, Limits()) == 1 + counted * 3


def test_depth_and_alias_refusals_name_the_value_and_the_maximum() -> None:
    deep = "{ me { best { best { best { best { name } } } } } }"
    error = refusal(deep, Limits(max_depth=4))
    assert (error.limit, error.maximum, error.actual) == ("depth", 4, 6)
    assert error.message == "The query is nested 6 levels deep; at most 4 are accepted."
    assert error.to_error()["extensions"] == {
        "code": "VALIDATION",
        "limit": "depth",
        "maximum": 4,
        "actual": 6,
    }
    aliased = "{ " + " ".join(f"a{i}: me {{ n{i}: name }}" for i in range(4)) + " }"
    error = refusal(aliased, Limits(max_aliases=5))
    assert (error.limit, error.maximum, error.actual) == ("aliases", 5, 8)
    assert error.message == "The query uses 8 aliases; at most 5 are accepted."


def test_nested_lists_without_first_count_the_nested_list_size() -> None:
    # me (1) + friends: 20 x (1 + friends: 5 x (1 + friends: 5 x name))
    query = "{ me { friends { friends { friends { name } } } } }"
    assert cost(query) == 1 + 1 + 20 * (1 + 5 * (1 + 5 * 1))
    assert cost(query, Limits(nested_list_size=20)) == 1 + 1 + 20 * (1 + 20 * (1 + 20 * 1))
    # a list with first resets nothing: what it counts is what it asks
    assert cost("{ me { friends(first: 50) { friends { name } } } }") == 1 + 1 + 50 * (1 + 20)


def test_fragments_spread_many_times_are_measured_once_and_counted_each_time() -> None:
    levels = 18
    fragments = " ".join(
        f"fragment F{i} on Person {{ a{i}: best {{ ...F{i + 1} }} b{i}: best {{ ...F{i + 1} }} }}"
        for i in range(levels)
    )
    query = "{ me { ...F0 } } " + fragments + f" fragment F{levels} on Person {{ name }}"
    error = refusal(query, Limits(max_depth=100, max_aliases=10**9, max_cost=10**5))
    assert error.limit == "cost"
    assert error.actual is not None and error.actual > 2**levels


def test_introspection_fields_nest_like_any_other() -> None:
    for query in ("{ __schema { types { name } } }", "{ me { best { name } } }"):
        assert cost(query, Limits(max_depth=3)) > 0
        assert refusal(query, Limits(max_depth=2)).actual == 3


def test_a_request_shapes_cost_is_kept_per_document_and_scalar_variables() -> None:
    """The pipeline walks a document once per distinct scalar variable values: a cached
    cost never lets a larger ``first`` through."""
    from gateway.persisted import PersistedQueries
    from gateway.pipeline import Pipeline

    limits = Limits(max_cost=100)
    pipeline = Pipeline(SCHEMA, None, None, limits=limits, persisted=PersistedQueries("apq"))  # type: ignore[arg-type]
    query = "query($n: Int) { people(first: $n) { totalCount edges { cursor } } }"
    document = parse_within_limits(query, limits)
    operation = select_operation(document, None)

    def priced(variables: dict[str, Any]) -> int:
        return pipeline.cost(query, document, operation, coerced(query, variables))

    assert priced({"n": 5}) == 16 and priced({"n": 5}) == 16
    assert priced({"n": 7}) == 22
    with pytest.raises(LimitExceeded):
        priced({"n": 50})  # its own walk: 151 is over 100, whatever was cached before
    with pytest.raises(LimitExceeded):
        priced({"n": 50})
    assert len(pipeline._costs) == 2  # n=5 and n=7; refusals are not kept
