"""Root fields are nullable, so one field's failure is never the whole answer's."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLNonNull

from gateway.supergraph import Supergraph

SUPERGRAPH = Path(__file__).resolve().parent.parent / "gateway" / "supergraph.graphql"

# contributed by one subgraph to another's entity: they fail with their own subgraph
CROSS_SUBGRAPH = {"State": ("presentations", "meetingsParticipated")}


def test_every_root_field_and_contributed_entity_field_is_nullable() -> None:
    schema = Supergraph.parse(SUPERGRAPH.read_text()).api_schema
    non_null = [
        f"{root.name}.{name}"
        for root in (schema.query_type, schema.mutation_type)
        if root is not None
        for name, field in root.fields.items()
        if isinstance(field.type, GraphQLNonNull)
    ]
    for type_name, names in CROSS_SUBGRAPH.items():
        fields = schema.get_type(type_name).fields  # type: ignore[union-attr]
        non_null += [
            f"{type_name}.{n}" for n in names if isinstance(fields[n].type, GraphQLNonNull)
        ]
    assert non_null == []
