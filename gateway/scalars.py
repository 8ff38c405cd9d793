"""The custom scalars' input rules at the gateway, the same as the subgraphs' (strawberry's
``Date``, ``DateTime``, ``Time``, ``UUID``, ``Decimal`` and ``Upload``), so that a bad value
(``"2029-13-01"`` as a literal or a variable) is refused while the request is validated, as
``VALIDATION`` with the argument or variable it came in, instead of a subgraph's uncoded
error answered as ``INTERNAL``. A valid value stays as the client sent it: the subgraph
parses it again.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable

from dateutil.parser import isoparse
from graphql import GraphQLScalarType, GraphQLSchema

from gateway.uploads import UploadRef


def _string_parser(name: str, parse: Callable[[str], object]) -> Callable[[object], object]:
    def parse_value(value: object) -> object:
        if not isinstance(value, str):
            raise ValueError(f'Value cannot represent a {name}: "{value}". Expected a string.')
        try:
            parse(value)
        except (ValueError, TypeError, OverflowError, decimal.InvalidOperation) as exc:
            raise ValueError(f'Value cannot represent a {name}: "{value}". {exc}') from None
        return value

    return parse_value


def _decimal(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f'Value cannot represent a Decimal: "{value}".')
    try:
        decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise ValueError(f'Value cannot represent a Decimal: "{value}".') from None
    return value


def _upload(value: object) -> object:
    if not isinstance(value, UploadRef):
        raise ValueError(
            "Value cannot represent an Upload: send the file as a part of a multipart request "
            "(the GraphQL multipart request specification)."
        )
    return value


PARSERS: dict[str, Callable[[object], object]] = {
    "Date": _string_parser("Date", dt.date.fromisoformat),
    "DateTime": _string_parser("DateTime", isoparse),
    "Time": _string_parser("Time", dt.time.fromisoformat),
    "UUID": _string_parser("UUID", uuid.UUID),
    "Decimal": _decimal,
    "Upload": _upload,
}


def implement(schema: GraphQLSchema) -> GraphQLSchema:
    """Give the schema's custom scalars their input rules (in place); returns the schema."""
    for name, parse_value in PARSERS.items():
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            # graphql-core 3.3 reads coerce_input_value; older ones parse_value.
            scalar.parse_value = parse_value  # type: ignore[method-assign]
            if hasattr(scalar, "coerce_input_value"):
                scalar.coerce_input_value = parse_value
    return schema
