"""Limits on what one request may ask, checked before any planning or subgraph call.

Body size and batch size are checked on the raw request; the token count while parsing
(graphql-core stops lexing past the limit, so a huge document costs little); depth,
aliases, root fields and the cost estimate on the parsed operation, fragments included.

The cost estimate counts one per field; a field with a ``first`` or ``last`` argument
multiplies what is selected under it by that number; any other list field multiplies by
``default_list_size``, except the ``edges`` and ``nodes`` of a connection, already counted
by the connection's ``first``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
)
from graphql.type.definition import GraphQLNamedType

PAGINATION_ARGUMENTS = ("first", "last")
CONNECTION_LISTS = ("edges", "nodes")


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 256_000
    max_batch: int = 10
    max_tokens: int = 5000
    max_depth: int = 15
    max_aliases: int = 30
    max_root_fields: int = 20
    max_cost: int = 20_000
    default_list_size: int = 20


class LimitExceeded(Exception):
    """A request beyond one of the configured limits; says which, the maximum and the value."""

    def __init__(self, limit: str, maximum: int, actual: int | None, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum
        self.actual = actual
        self.message = message

    def to_error(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {
            "code": "VALIDATION",
            "limit": self.limit,
            "maximum": self.maximum,
        }
        if self.actual is not None:
            extensions["actual"] = self.actual
        return {"message": self.message, "extensions": extensions}


def check_body_size(size: int, limits: Limits) -> None:
    if size > limits.max_body_bytes:
        raise LimitExceeded(
            "bodySize",
            limits.max_body_bytes,
            size,
            f"The request body is {size} bytes; at most {limits.max_body_bytes} are accepted.",
        )


def check_batch_size(size: int, limits: Limits) -> None:
    if size > limits.max_batch:
        raise LimitExceeded(
            "batchSize",
            limits.max_batch,
            size,
            f"The batch holds {size} operations; at most {limits.max_batch} are accepted.",
        )
    if size == 0:
        raise LimitExceeded("batchSize", limits.max_batch, 0, "The batch holds no operation.")


def parse_within_limits(source: str, limits: Limits) -> DocumentNode:
    """Parse, refusing documents of more than ``max_tokens`` tokens.

    A syntax error is raised as ``GraphQLSyntaxError``; too many tokens as LimitExceeded.
    """
    try:
        return parse(source, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as exc:
        if "tokens" in exc.message and "Parsing aborted" in exc.message:
            raise LimitExceeded(
                "tokens",
                limits.max_tokens,
                None,
                f"The document has more than {limits.max_tokens} tokens.",
            ) from exc
        raise


@dataclass
class _Measure:
    depth: int = 0
    aliases: int = 0


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.measure = _Measure()

    def _type_named(self, name: str) -> GraphQLNamedType | None:
        return self.schema.type_map.get(name)

    def _multiplier(self, field: FieldNode, is_list: bool) -> int:
        for argument in field.arguments or ():
            if argument.name.value not in PAGINATION_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(given, 0)
            return self.limits.default_list_size
        if is_list and field.name.value not in CONNECTION_LISTS:
            return self.limits.default_list_size
        return 1

    def cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        depth: int,
        visiting: frozenset[str],
    ) -> int:
        """Cost of a selection set; records depth and aliases on the way."""
        if selection_set is None:
            return 0
        if depth > self.measure.depth:
            self.measure.depth = depth
            if depth > self.limits.max_depth:
                raise LimitExceeded(
                    "depth",
                    self.limits.max_depth,
                    None,
                    f"The query is nested more than {self.limits.max_depth} levels deep.",
                )
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, depth, visiting)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._type_named(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, target, depth, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visiting:
                    continue  # unknown or cyclic: validation reports it
                target = self._type_named(fragment.type_condition.name.value)
                total += self.cost(fragment.selection_set, target, depth, visiting | {name})
        return total

    def _field_cost(
        self,
        field: FieldNode,
        parent: GraphQLNamedType | None,
        depth: int,
        visiting: frozenset[str],
    ) -> int:
        if field.alias is not None:
            self.measure.aliases += 1
            if self.measure.aliases > self.limits.max_aliases:
                raise LimitExceeded(
                    "aliases",
                    self.limits.max_aliases,
                    None,
                    f"The query uses more than {self.limits.max_aliases} aliases.",
                )
        if field.name.value.startswith("__"):
            return 0 if field.selection_set is None else 1
        child_type: GraphQLNamedType | None = None
        is_list = False
        fields = getattr(parent, "fields", None)
        if fields is not None and field.name.value in fields:
            output = fields[field.name.value].type
            is_list = is_list_type(get_nullable_type(output))
            child_type = get_named_type(output)
        if field.selection_set is None:
            return 1
        inner = self.cost(field.selection_set, child_type, depth + 1, visiting)
        return 1 + self._multiplier(field, is_list) * inner


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        for operation in operations:
            if operation.name is not None and operation.name.value == operation_name:
                return operation
        raise GraphQLError(f"Unknown operation named '{operation_name}'.")
    if len(operations) != 1:
        raise GraphQLError(
            "Must provide operation name if query contains multiple operations."
            if operations
            else "The document holds no operation."
        )
    return operations[0]


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    visiting: frozenset[str],
) -> int:
    """Root fields, counting those that fragments at the root bring in."""
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += 1
        elif isinstance(selection, InlineFragmentNode):
            count += _root_fields(selection.selection_set, fragments, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visiting:
                count += _root_fields(fragment.selection_set, fragments, visiting | {name})
    return count


def root_type(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> GraphQLObjectType | None:
    return schema.get_root_type(operation.operation)


def check_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    limits: Limits,
) -> int:
    """Depth, aliases, root fields and cost of ``operation``; returns the cost estimate."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    roots = _root_fields(operation.selection_set, fragments, frozenset())
    if roots > limits.max_root_fields:
        raise LimitExceeded(
            "rootFields",
            limits.max_root_fields,
            roots,
            f"The operation asks {roots} root fields; at most {limits.max_root_fields} are "
            "accepted.",
        )
    walker = _Walker(schema, fragments, variables, limits)
    cost = walker.cost(operation.selection_set, root_type(schema, operation), 1, frozenset())
    if cost > limits.max_cost:
        raise LimitExceeded(
            "cost",
            limits.max_cost,
            cost,
            f"The query's estimated cost is {cost}; at most {limits.max_cost} is accepted. "
            "Ask for fewer items (smaller 'first') or fewer nested lists.",
        )
    return cost
