"""Limits on what one request may ask, checked before any planning or subgraph call.

Body size and batch size are checked on the raw request; the token count while parsing
(graphql-core stops lexing past the limit, so a huge document costs little); depth,
aliases, root fields and the cost estimate on the parsed operation, fragments included.

The cost estimate counts one per field; a field with a ``first`` or ``last`` argument
multiplies what is selected under it by that number (a variable's value or default; null
or omitted counts as ``default_list_size``, a negative number as 0); any other list field
multiplies by ``default_list_size``, or by ``nested_list_size`` when it sits under another
list without ``first`` (the one-to-few lists of an entity graph: three nested lists of an
object count 20 x 5 x 5, not 20 x 20 x 20), except the ``edges`` and ``nodes`` of a
connection, already counted by the connection's ``first``. Depth and aliases are measured
over the whole operation, so a refusal says how deep and how many as well as the maximum.
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
    nested_list_size: int = 5


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


@dataclass(frozen=True)
class _Cost:
    """What a selection set costs and how deep and aliased it is, below where it sits."""

    cost: int = 0
    depth: int = 0
    aliases: int = 0

    def __add__(self, other: _Cost) -> _Cost:
        return _Cost(
            self.cost + other.cost, max(self.depth, other.depth), self.aliases + other.aliases
        )


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
        # (fragment, type, under an unpaginated list) -> its measure; a fragment spread
        # many times is walked once, so nested spreads cost linear time, not exponential
        self._fragments: dict[tuple[str, str | None, bool], _Cost] = {}

    def _type_named(self, name: str) -> GraphQLNamedType | None:
        return self.schema.type_map.get(name)

    def _multiplier(self, field: FieldNode, is_list: bool, in_list: bool) -> int:
        """How many times what is selected under `field` counts.

        `first`/`last` given (literally or by a variable, its default applied): that number,
        a negative one counting as 0; null or not given: the default list size. A list
        without them: the default list size, or the smaller nested list size when it sits
        under another such list already counted at the default size.
        """
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
            return self.limits.nested_list_size if in_list else self.limits.default_list_size
        return 1

    def cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        visiting: frozenset[str],
        in_list: bool = False,
    ) -> _Cost:
        """Cost, depth (1 for a flat selection) and aliases of a selection set."""
        if selection_set is None:
            return _Cost()
        inner = self._selections(selection_set, parent, visiting, in_list)
        return _Cost(inner.cost, inner.depth + 1, inner.aliases)

    def _selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        visiting: frozenset[str],
        in_list: bool,
    ) -> _Cost:
        """The same, fragments' selections counted at the level they are spread at."""
        total = _Cost()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, visiting, in_list)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._type_named(condition.name.value) if condition else parent
                total += self._selections(selection.selection_set, target, visiting, in_list)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visiting:
                    continue  # unknown or cyclic: validation reports it
                target = self._type_named(fragment.type_condition.name.value)
                memo = (name, getattr(target, "name", None), in_list)
                measured = self._fragments.get(memo)
                if measured is None:
                    measured = self._selections(
                        fragment.selection_set, target, visiting | {name}, in_list
                    )
                    self._fragments[memo] = measured
                total += measured
        return total

    def _field_cost(
        self,
        field: FieldNode,
        parent: GraphQLNamedType | None,
        visiting: frozenset[str],
        in_list: bool,
    ) -> _Cost:
        aliases = 1 if field.alias is not None else 0
        if field.name.value.startswith("__"):
            inner = self.cost(field.selection_set, None, visiting) if field.selection_set else None
            if inner is None:
                return _Cost(0, 0, aliases)
            return _Cost(1, inner.depth, aliases + inner.aliases)
        child_type: GraphQLNamedType | None = None
        is_list = False
        fields = getattr(parent, "fields", None)
        if fields is not None and field.name.value in fields:
            output = fields[field.name.value].type
            is_list = is_list_type(get_nullable_type(output))
            child_type = get_named_type(output)
        if field.selection_set is None:
            return _Cost(1, 0, aliases)
        introspected = parent is None or parent.name.startswith("__")
        if introspected and field.name.value == "ofType":
            # Introspection's chain of type wrappers (as deep as a type's [X!]! nesting, a
            # few levels) is not nesting a client chose: standard introspection queries,
            # GraphiQL's among them, ask for seven levels of it.
            inner = self.cost(field.selection_set, None, visiting, in_list)
            return _Cost(1 + inner.cost, inner.depth - 1, aliases + inner.aliases)
        multiplier = self._multiplier(field, is_list, in_list)
        unpaginated = is_list and not any(
            a.name.value in PAGINATION_ARGUMENTS for a in field.arguments or ()
        )
        inner = self.cost(field.selection_set, child_type, visiting, in_list or unpaginated)
        return _Cost(1 + multiplier * inner.cost, inner.depth, aliases + inner.aliases)


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
    # the pipeline passes graphql-core's VariableValues; tests and callers a plain mapping
    values = getattr(variables, "coerced", variables)
    walker = _Walker(schema, fragments, values if isinstance(values, Mapping) else {}, limits)
    measured = walker.cost(operation.selection_set, root_type(schema, operation), frozenset())
    if measured.depth > limits.max_depth:
        raise LimitExceeded(
            "depth",
            limits.max_depth,
            measured.depth,
            f"The query is nested {measured.depth} levels deep; at most {limits.max_depth} "
            "are accepted.",
        )
    if measured.aliases > limits.max_aliases:
        raise LimitExceeded(
            "aliases",
            limits.max_aliases,
            measured.aliases,
            f"The query uses {measured.aliases} aliases; at most {limits.max_aliases} are "
            "accepted.",
        )
    cost = measured.cost
    if cost > limits.max_cost:
        raise LimitExceeded(
            "cost",
            limits.max_cost,
            cost,
            f"The query's estimated cost is {cost}; at most {limits.max_cost} is accepted. "
            "Ask for fewer items (smaller 'first') or fewer nested lists.",
        )
    return cost
