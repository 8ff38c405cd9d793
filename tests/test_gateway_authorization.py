# ruff: noqa: E501  (the supergraph SDL's directive definitions are long lines)
"""@authenticated, @requiresScopes and @policy from a supergraph, decided before any
subgraph call: pure rules, no servers."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, print_ast, validate

from gateway.access import POLICIES, holds_scopes, meets_policies, scopes_of
from gateway.authorization import RequestRefused, answer_removed, authorise
from gateway.limits import select_operation
from gateway.supergraph import Supergraph
from services.common.principal import Principal, Role

SUPERGRAPH = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)
{
  query: Query
}

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM

scalar join__FieldSet
scalar link__Import
scalar requiresScopes__Scope
scalar policy__Policy
enum link__Purpose { SECURITY EXECUTION }

enum join__Graph {
  REGISTRY @join__graph(name: "registry", url: "http://127.0.0.1:1/graphql")
}

type Query @join__type(graph: REGISTRY) {
  hello: String
  states(first: Int): [State!]! @policy(policies: [["directory_reader"]])
  state(code: String!): State
  secret: Secret
  audit: String @requiresScopes(scopes: [["secretariat"], ["chair", "participant"]])
}

type State @join__type(graph: REGISTRY, key: "code") @authenticated {
  code: String!
  name: String
  notes: String! @policy(policies: [["secretariat"]])
  ownNotes: String @requiresScopes(scopes: [["state:FRA"]])
  mystery: String @policy(policies: [["no_such_policy"]])
}

type Secret @join__type(graph: REGISTRY) @policy(policies: [["chair"]]) {
  text: String
}
"""


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.parse(SUPERGRAPH)


def person(*roles: str, state: str | None = None, participant: bool = False) -> Principal:
    return Principal(
        subject="alice",
        roles=frozenset(Role(r) for r in roles),
        state=state,
        participant=participant,
    )


DELEGATE_FRA = person("delegate", state="FRA", participant=True)
DELEGATE_USA = person("delegate", state="USA", participant=False)
SECRETARIAT = person("secretariat")


def decide(
    supergraph: Supergraph,
    query: str,
    principal: Principal | None,
    reject: bool = False,
    variables: dict[str, Any] | None = None,
) -> Any:
    document = parse(query)
    operation = select_operation(document, None)
    return authorise(
        supergraph.api_schema,
        supergraph,
        document,
        operation,
        principal,
        reject=reject,
        variables=variables,
    )


def test_scopes_come_from_roles_registry_participation_and_state() -> None:
    assert scopes_of(DELEGATE_FRA) == {"delegate", "participant", "state:FRA"}
    assert scopes_of(DELEGATE_USA) == {"delegate", "state:USA"}
    assert scopes_of(SECRETARIAT) == {"secretariat"}
    expert = person("expert", state="FRA", participant=True)  # not a State representative
    assert "participant" not in scopes_of(expert)


def test_scope_alternatives_need_every_name_of_one_alternative() -> None:
    alternatives = [["secretariat"], ["chair", "participant"]]
    assert holds_scopes(SECRETARIAT, alternatives)
    assert not holds_scopes(person("chair"), alternatives)
    assert holds_scopes(person("chair", "delegate", state="FRA", participant=True), alternatives)


def test_rule_20_directory_reader_policy_follows_the_contacts_rule() -> None:
    assert meets_policies(DELEGATE_FRA, [["directory_reader"]])
    assert not meets_policies(DELEGATE_USA, [["directory_reader"]])
    assert meets_policies(person("chair"), [["directory_reader"]])
    assert not meets_policies(person("expert"), [["directory_reader"]])


def test_an_unknown_policy_is_never_granted() -> None:
    assert "no_such_policy" not in POLICIES
    assert not meets_policies(SECRETARIAT, [["no_such_policy"]])


def test_nothing_refused_leaves_the_document_untouched(supergraph: Supergraph) -> None:
    query = "{ hello states { code name } }"
    decision = decide(supergraph, query, DELEGATE_FRA)
    assert decision.removed == [] and print_ast(decision.document) == print_ast(parse(query))


def test_anonymous_caller_is_refused_authenticated_types_with_unauthenticated(
    supergraph: Supergraph,
) -> None:
    decision = decide(supergraph, '{ hello state(code: "FRA") { code } }', None)
    assert decision.errors == [
        {
            "message": "Sign in to see State.",
            "path": ["state"],
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
    assert "state" not in print_ast(decision.document)
    assert "hello" in print_ast(decision.document)


def test_non_participant_is_refused_the_directory_policy_with_forbidden(
    supergraph: Supergraph,
) -> None:
    decision = decide(supergraph, "{ hello list: states { code } }", DELEGATE_USA)
    assert [(e["path"], e["extensions"]["code"]) for e in decision.errors] == [
        (["list"], "FORBIDDEN")
    ]
    assert "states" not in print_ast(decision.document)


def test_refused_fields_inside_named_fragments_are_reported_where_they_are_used(
    supergraph: Supergraph,
) -> None:
    query = """
      query Q($code: String!) { state(code: $code) { ...S } states { ...S } }
      fragment S on State { code notes ownNotes }
    """
    decision = decide(supergraph, query, DELEGATE_FRA)
    paths = sorted(e["path"] for e in decision.errors)
    assert paths == [["state", "notes"], ["states", "notes"]]
    printed = print_ast(decision.document)
    assert "notes" not in printed.replace("ownNotes", "") and "ownNotes" in printed
    assert "$code" in printed  # still used, still declared


def test_variables_only_a_refused_field_used_are_dropped(supergraph: Supergraph) -> None:
    query = "query Q($n: Int) { hello states(first: $n) { code } }"
    decision = decide(supergraph, query, DELEGATE_USA)
    assert "$n" not in print_ast(decision.document)


def test_a_type_level_policy_refuses_every_field_returning_it(supergraph: Supergraph) -> None:
    decision = decide(supergraph, "{ secret { text } }", DELEGATE_FRA)
    assert decision.document is None  # nothing left to ask any subgraph
    assert decision.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert answer_removed({}, decision.removed) == {"secret": None}


def test_scopes_with_alternatives_on_a_root_field(supergraph: Supergraph) -> None:
    assert decide(supergraph, "{ audit }", SECRETARIAT).errors == []
    assert decide(supergraph, "{ audit }", DELEGATE_FRA).errors[0]["path"] == ["audit"]


def test_reject_mode_fails_the_whole_request(supergraph: Supergraph) -> None:
    with pytest.raises(RequestRefused) as refused:
        decide(supergraph, "{ hello states { code notes } }", DELEGATE_FRA, reject=True)
    assert refused.value.errors[0]["path"] == ["states", "notes"]


def test_refused_fields_answer_null_and_non_null_ones_null_their_parent(
    supergraph: Supergraph,
) -> None:
    decision = decide(supergraph, "{ states { code name mystery notes } }", DELEGATE_FRA)
    # notes is String!: its null goes up to the State, which is non-null in [State!]!, and
    # so on to the root field; mystery (nullable) would only be null on its own.
    data = answer_removed({"states": [{"code": "FRA", "name": "France"}]}, decision.removed)
    assert data is None
    decision = decide(supergraph, '{ state(code: "FRA") { code mystery notes } }', SECRETARIAT)
    data = answer_removed({"state": {"code": "FRA", "notes": "n"}}, decision.removed)
    assert data == {"state": {"code": "FRA", "notes": "n", "mystery": None}}
    decision = decide(supergraph, '{ state(code: "FRA") { code notes } }', DELEGATE_FRA)
    assert answer_removed({"state": {"code": "FRA"}}, decision.removed) == {"state": None}


def refused_paths(
    supergraph: Supergraph,
    query: str,
    principal: Principal | None,
    variables: dict[str, Any] | None = None,
) -> list[list[str]]:
    """The refused paths in filter mode; in reject mode, the same paths fail the request."""
    decision = decide(supergraph, query, principal, variables=variables)
    paths = sorted(e["path"] for e in decision.errors)
    if paths:
        with pytest.raises(RequestRefused) as refused:
            decide(supergraph, query, principal, reject=True, variables=variables)
        assert sorted(e["path"] for e in refused.value.errors) == paths
    else:
        assert decision.removed == [] and decision.document is not None
        assert print_ast(decision.document) == print_ast(parse(query))
        decide(supergraph, query, principal, reject=True, variables=variables)
    return paths


def test_a_refused_field_skipped_by_a_literal_is_neither_checked_nor_reported(
    supergraph: Supergraph,
) -> None:
    assert refused_paths(supergraph, "{ hello audit @skip(if: true) }", DELEGATE_FRA) == []
    assert refused_paths(supergraph, "{ hello audit @skip(if: false) }", DELEGATE_FRA) == [
        ["audit"]
    ]


def test_a_refused_field_skipped_by_a_variable_follows_its_value(supergraph: Supergraph) -> None:
    query = "query Q($hide: Boolean!) { hello audit @skip(if: $hide) }"
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"hide": True}) == []
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"hide": False}) == [["audit"]]


def test_a_condition_variable_left_out_takes_its_default(supergraph: Supergraph) -> None:
    query = "query Q($hide: Boolean = true) { hello audit @skip(if: $hide) }"
    assert refused_paths(supergraph, query, DELEGATE_FRA, {}) == []
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"hide": False}) == [["audit"]]


def test_without_the_variables_a_condition_on_one_counts_as_asking(
    supergraph: Supergraph,
) -> None:
    query = "query Q($hide: Boolean = true) { hello audit @skip(if: $hide) }"
    assert refused_paths(supergraph, query, DELEGATE_FRA, None) == [["audit"]]


def test_a_refused_field_under_include_false_is_not_reported(supergraph: Supergraph) -> None:
    query = "query Q($show: Boolean!) { hello secret @include(if: $show) { text } }"
    assert refused_paths(supergraph, "{ hello secret @include(if: false) { text } }", None) == []
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"show": False}) == []
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"show": True}) == [["secret"]]


def test_an_excluded_fragment_spread_is_not_checked(supergraph: Supergraph) -> None:
    query = """
      query Q($full: Boolean!) { hello states { code ...Notes @include(if: $full) } }
      fragment Notes on State { notes mystery }
    """
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"full": False}) == []
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"full": True}) == [
        ["states", "mystery"],
        ["states", "notes"],
    ]
    spread_on_secret = "{ hello ...S @skip(if: true) } fragment S on Query { secret { text } }"
    assert refused_paths(supergraph, spread_on_secret, DELEGATE_FRA) == []


def test_an_excluded_inline_fragment_is_not_checked(supergraph: Supergraph) -> None:
    query = "query Q($v: Boolean!) { hello ... on Query @skip(if: $v) { audit secret { text } } }"
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"v": True}) == []
    assert refused_paths(supergraph, query, DELEGATE_FRA, {"v": False}) == [
        ["audit"],
        ["secret"],
    ]
    assert refused_paths(supergraph, query, None, {"v": True}) == []


def test_excluded_selections_stay_in_a_rewritten_operation_as_written(
    supergraph: Supergraph,
) -> None:
    query = """
      query Q($code: String!, $brief: Boolean!) {
        state(code: $code) { code notes ...Own @skip(if: $brief) }
      }
      fragment Own on State { ownNotes mystery ...More }
      fragment More on State { name }
    """
    variables = {"code": "FRA", "brief": True}
    decision = decide(supergraph, query, DELEGATE_FRA, variables=variables)
    assert [e["path"] for e in decision.errors] == [["state", "notes"]]
    assert validate(supergraph.api_schema, decision.document) == []
    printed = print_ast(decision.document)
    assert "...Own @skip(if: $brief)" in printed and "$brief: Boolean!" in printed
    assert "fragment Own on State" in printed and "fragment More on State" in printed
    assert "notes" not in printed.replace("ownNotes", "")
