"""The client's response from the merged subgraph data, following the client's operation.

`Shaper(api_schema, operation, fragments, variables).shape(data, failed)` walks the
operation's fields (fragments, aliases and the `@skip`/`@include` values it was built for)
over the merged data: it keeps only what the client asked for, in the client's order,
answers `__typename`, serialises leaves against the API schema (an enum value the API
hides is an error), and propagates nulls of non-null fields to the nearest nullable parent
with the standard "Cannot return null for non-nullable field" error, unless a subgraph
error already explains that null (`failed` paths). One shaper serves every execution of a
plan; it is built once with the plan.
"""

from __future__ import annotations

import math
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_location,
    is_abstract_type,
)

from gateway.planner import Collector, NField


class _Null(Exception):
    """A null reached a non-null position; its error is already recorded."""


# Leaves already of their GraphQL type are passed as they are (anything else is serialised
# by the scalar, which refuses what it cannot represent); Int is 32-bit, Float finite.
_FAST_SCALARS = {"String": str, "ID": str, "Boolean": bool}
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1


class Shaper:
    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict,
    ) -> None:
        self.schema = schema
        self.collector = Collector(schema, fragments, variables)
        root = (
            schema.mutation_type
            if operation.operation == OperationType.MUTATION
            else schema.query_type
        )
        assert root is not None
        self.root = root
        self.fields = self.collector.collect(root.name, [operation.selection_set])
        self._children: dict[tuple[int, str], list[NField]] = {}
        self._interface_only: dict[tuple[int, str], bool] = {}

    def shape(self, data: dict, failed: list[tuple]) -> tuple[dict | None, list[dict]]:
        run = _Shaping(self, failed)
        try:
            return run.object(self.root, self.fields, data, []), run.errors
        except _Null:
            return None, run.errors

    def interface_only(self, f: NField, abstract: Any) -> bool:
        """Whether every object type of `abstract` selects just what the abstract type does
        (no type-conditioned field, no `__typename`)."""
        key = (id(f), "")
        cached = self._interface_only.get(key)
        if cached is None:
            own = [k.key for k in self.children(f, abstract.name)]
            cached = not any(
                k.name == "__typename" for k in self.children(f, abstract.name)
            ) and all(
                [k.key for k in self.children(f, obj.name)] == own
                for obj in self.schema.get_possible_types(abstract)
            )
            self._interface_only[key] = cached
        return cached

    def children(self, f: NField, type_name: str) -> list[NField]:
        key = (id(f), type_name)
        cached = self._children.get(key)
        if cached is None:
            sets = [n.selection_set for n in f.nodes if n.selection_set]
            cached = self._children[key] = self.collector.collect(type_name, sets)
        return cached


class _Shaping:
    def __init__(self, shaper: Shaper, failed: list[tuple]) -> None:
        self.shaper = shaper
        self.schema = shaper.schema
        self.failed = failed
        self.errors: list[dict] = []

    def object(
        self, type_: GraphQLObjectType, fields: list[NField], source: dict, path: list
    ) -> dict:
        out: dict[str, Any] = {}
        for f in fields:
            if f.name == "__typename":
                out[f.key] = type_.name
                continue
            fdef = type_.fields[f.name]
            path.append(f.key)
            try:
                out[f.key] = self.value(fdef.type, source.get(f.key), f, path, type_)
            except _Null:
                if isinstance(fdef.type, GraphQLNonNull):
                    raise
                out[f.key] = None
            finally:
                path.pop()
        return out

    def value(
        self, type_: GraphQLOutputType, value: Any, f: NField, path: list, parent: GraphQLObjectType
    ) -> Any:
        if isinstance(type_, GraphQLNonNull):
            result = self.value(type_.of_type, value, f, path, parent)
            if result is None:
                if not self._explained(path):
                    self._error(
                        f"Cannot return null for non-nullable field {parent.name}.{f.name}.",
                        f,
                        path,
                    )
                raise _Null
            return result
        if value is None:
            return None
        if isinstance(type_, GraphQLList):
            if not isinstance(value, list):
                self._error(f"Expected a list for field {parent.name}.{f.name}.", f, path)
                raise _Null
            item_type = type_.of_type
            items = []
            for i, item in enumerate(value):
                path.append(i)
                try:
                    items.append(self.value(item_type, item, f, path, parent))
                except _Null:
                    if isinstance(item_type, GraphQLNonNull):
                        raise
                    items.append(None)
                finally:
                    path.pop()
            return items
        if isinstance(type_, GraphQLScalarType):
            return self._scalar(type_, value, f, path)
        if isinstance(type_, GraphQLEnumType):
            if isinstance(value, str) and value in type_.values:
                return value
            self._error(f"Enum '{type_.name}' cannot represent value: {value!r}", f, path)
            raise _Null
        if not isinstance(value, dict):
            self._error(f"Expected an object for field {parent.name}.{f.name}.", f, path)
            raise _Null
        runtime = type_
        if is_abstract_type(type_):
            typename = value.get("__typename")
            runtime = self.schema.get_type(typename) if isinstance(typename, str) else None
            if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(
                type_,  # type: ignore[arg-type]
                runtime,
            ):
                if typename in (None, type_.name) and self.shaper.interface_only(f, type_):
                    # an @interfaceObject's answer: nothing selected depends on the object
                    # type, so the interface's own fields are the whole answer
                    fields = self.shaper.children(f, type_.name)
                    return self.object(type_, fields, value, path)  # type: ignore[arg-type]
                self._error(
                    f"Abstract type '{type_.name}' must resolve to an Object type at runtime "
                    f"for field '{parent.name}.{f.name}'; got {typename!r}.",
                    f,
                    path,
                )
                raise _Null
        assert isinstance(runtime, GraphQLObjectType)
        return self.object(runtime, self.shaper.children(f, runtime.name), value, path)

    def _scalar(self, type_: GraphQLScalarType, value: Any, f: NField, path: list) -> Any:
        fast = _FAST_SCALARS.get(type_.name)
        if fast is not None and type(value) is fast:
            return value
        if type(value) is int and type_.name == "Int" and _MIN_INT <= value <= _MAX_INT:
            return value
        if type(value) is float and type_.name == "Float" and math.isfinite(value):
            return value
        try:
            return type_.serialize(value)
        except Exception as exc:
            self._error(str(exc), f, path)
            raise _Null from None

    def _explained(self, path: list) -> bool:
        here = tuple(path)
        return any(here[: len(p)] == p for p in self.failed)

    def _error(self, message: str, f: NField, path: list) -> None:
        error: dict[str, Any] = {"message": message}
        node = f.nodes[0]
        if node.loc is not None and node.loc.source is not None:
            location = get_location(node.loc.source, node.loc.start)
            error["locations"] = [{"line": location.line, "column": location.column}]
        error["path"] = list(path)
        self.errors.append(error)
