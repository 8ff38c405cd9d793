"""Every document the console sends is valid against the supergraph's API schema and within
the gateway's default limits (depth, cost), so no page breaks on a schema change unseen."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from console.queries import documents
from gateway.limits import Limits, check_operation, select_operation
from gateway.supergraph import Supergraph
from tests.flows_support import REPO

SUPERGRAPH = Supergraph.parse((REPO / "gateway" / "supergraph.graphql").read_text())
DOCUMENTS = documents()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_console_document_is_valid_and_within_the_gateway_limits(name: str) -> None:
    document = parse(DOCUMENTS[name])
    errors = validate(SUPERGRAPH.api_schema, document)
    assert not errors, [e.message for e in errors]
    operation = select_operation(document, None)
    cost = check_operation(SUPERGRAPH.api_schema, document, operation, {}, Limits())
    assert cost <= Limits().max_cost


def test_the_check_refuses_a_document_the_schema_does_not_have() -> None:
    errors = validate(SUPERGRAPH.api_schema, parse("{ meetings { nothingHere } }"))
    assert errors
