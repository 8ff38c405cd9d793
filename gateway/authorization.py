"""``@authenticated``, ``@requiresScopes`` and ``@policy`` from the supergraph, enforced on
the operation before any subgraph is called.

A field is refused when the field itself, or the type it returns, carries a directive the
caller does not satisfy; on an interface, when any implementation's field would be refused;
a fragment on a type the caller may not see is refused as a whole. ``@authenticated``
without a caller is ``UNAUTHENTICATED``; everything else ``FORBIDDEN``.

``filter`` mode (default): refused fields are taken out of the operation, each reported
with an error at its response path (list positions are not known before execution, so a
path names the field, not the item), and answered as ``null``, the null going up to the
nearest nullable field as GraphQL requires. ``reject`` mode: any refusal fails the request.
What scopes and policies a caller holds is in ``gateway.access``.

A field, inline fragment or fragment spread that ``@skip``/``@include`` leaves out of the
request is neither checked nor reported: it stays in the operation as written, and the
executor, evaluating the same conditions with the same variables, leaves it out too. A
condition on a variable whose value is not given counts as asking for the selection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_non_null_type,
    visit,
)
from graphql.language import Visitor
from graphql.type.definition import GraphQLNamedType

from gateway import refusals
from gateway.access import holds_scopes, meets_policies
from services.common.principal import Principal


class DirectiveSource(Protocol):
    def field_directives(self, type_name: str, field_name: str) -> Mapping[str, Any]: ...

    def type_directives(self, type_name: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True)
class Removed:
    """A refused field: where it answers, and whether each step of the path may be null."""

    path: tuple[str, ...]
    nullable: tuple[bool, ...]
    refusal: Refusal | None  # None: taken out because nothing under it was left

    def to_error(self) -> dict[str, Any]:
        assert self.refusal is not None
        return {
            "message": self.refusal.message,
            "path": list(self.path),
            "extensions": {"code": self.refusal.code},
        }


@dataclass
class Decision:
    """The operation to run (None: nothing left to ask) and what was taken out of it."""

    document: DocumentNode | None
    removed: list[Removed] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [r.to_error() for r in self.removed if r.refusal is not None]


class RequestRefused(Exception):
    """``reject`` mode: the request asked for something the caller may not see."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "refused")
        self.errors = errors


def refusal_for(
    directives: Mapping[str, Any], principal: Principal | None, what: str
) -> Refusal | None:
    if not directives:
        return None
    needs_caller = bool(
        directives.get("authenticated")
        or directives.get("requiresScopes")
        or directives.get("policy")
    )
    if needs_caller and principal is None:
        return Refusal("UNAUTHENTICATED", refusals.unauthenticated(what))
    assert principal is not None or not needs_caller
    scopes = directives.get("requiresScopes")
    if scopes and (principal is None or not holds_scopes(principal, scopes)):
        assert principal is not None
        return Refusal("FORBIDDEN", refusals.forbidden(principal, what, scopes, policy=False))
    policies = directives.get("policy")
    if policies and (principal is None or not meets_policies(principal, policies)):
        assert principal is not None
        return Refusal("FORBIDDEN", refusals.forbidden(principal, what, policies, policy=True))
    return None


class _Conditions:
    """``@skip``/``@include`` as the request's variables decide them."""

    def __init__(
        self,
        definitions: tuple[VariableDefinitionNode, ...],
        variables: Mapping[str, Any] | None,
    ) -> None:
        self.variables = variables
        self.defaults = {
            d.variable.name.value: d.default_value.value
            for d in definitions
            if isinstance(d.default_value, BooleanValueNode)
        }

    def included(self, node: SelectionNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            value = self._value(directive)
            if value is not None and (name == "skip") == value:
                return False
        return True

    def _value(self, directive: Any) -> bool | None:
        """The ``if`` argument, None when it is not known (then the selection counts)."""
        argument = next((a for a in directive.arguments or () if a.name.value == "if"), None)
        if argument is None:
            return None
        value = argument.value
        if isinstance(value, BooleanValueNode):
            return value.value
        if not isinstance(value, VariableNode) or self.variables is None:
            return None
        name = value.name.value
        given = self.variables[name] if name in self.variables else self.defaults.get(name)
        return given if isinstance(given, bool) else None


class _Authoriser:
    def __init__(
        self,
        schema: GraphQLSchema,
        directives: DirectiveSource,
        principal: Principal | None,
        fragments: Mapping[str, FragmentDefinitionNode],
        conditions: _Conditions,
    ) -> None:
        self.schema = schema
        self.directives = directives
        self.principal = principal
        self.fragments = fragments
        self.conditions = conditions
        self.removed: list[Removed] = []
        self._field_cache: dict[tuple[str, str], Refusal | None] = {}
        self._type_cache: dict[str, Refusal | None] = {}

    def type_refusal(self, type_name: str) -> Refusal | None:
        if type_name not in self._type_cache:
            self._type_cache[type_name] = refusal_for(
                self.directives.type_directives(type_name), self.principal, type_name
            )
        return self._type_cache[type_name]

    def field_refusal(self, parent: GraphQLNamedType, name: str) -> Refusal | None:
        key = (parent.name, name)
        if key in self._field_cache:
            return self._field_cache[key]
        refusal = refusal_for(
            self.directives.field_directives(parent.name, name),
            self.principal,
            f"{parent.name}.{name}",
        )
        if refusal is None and is_abstract_type(parent):
            for possible in self.schema.get_possible_types(parent):  # type: ignore[arg-type]
                if name in possible.fields:
                    refusal = refusal_for(
                        self.directives.field_directives(possible.name, name),
                        self.principal,
                        f"{possible.name}.{name}",
                    )
                    if refusal is not None:
                        break
        if refusal is None:
            fields = getattr(parent, "fields", {})
            if name in fields:
                refusal = self.type_refusal(get_named_type(fields[name].type).name)
        self._field_cache[key] = refusal
        return refusal

    def selection_set(
        self,
        node: SelectionSetNode,
        parent: GraphQLNamedType,
        path: tuple[str, ...],
        nullable: tuple[bool, ...],
        visiting: frozenset[str],
    ) -> SelectionSetNode | None:
        """The selection set without refused fields, None if nothing is left."""
        kept: list[SelectionNode] = []
        for selection in node.selections:
            if not self.conditions.included(selection):
                kept.append(selection)  # not asked for: the executor leaves it out too
            elif isinstance(selection, FieldNode):
                new_field = self.field(selection, parent, path, nullable, visiting)
                if new_field is not None:
                    kept.append(new_field)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self.schema.type_map[selection.type_condition.name.value]
                    refusal = self.type_refusal(target.name)
                    if refusal is not None:
                        self.removed.append(Removed(path, nullable, refusal))
                        continue
                inner = self.selection_set(
                    selection.selection_set, target, path, nullable, visiting
                )
                if inner is not None:
                    kept.append(
                        InlineFragmentNode(
                            type_condition=selection.type_condition,
                            directives=selection.directives,
                            selection_set=inner,
                        )
                    )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments[name]
                if name in visiting:
                    continue
                target = self.schema.type_map[fragment.type_condition.name.value]
                refusal = self.type_refusal(target.name)
                if refusal is not None:
                    self.removed.append(Removed(path, nullable, refusal))
                    continue
                # Inlined: what is refused inside a fragment depends on where it is used.
                inner = self.selection_set(
                    fragment.selection_set, target, path, nullable, visiting | {name}
                )
                if inner is not None:
                    kept.append(
                        InlineFragmentNode(
                            type_condition=fragment.type_condition,
                            directives=selection.directives,
                            selection_set=inner,
                        )
                    )
        if not kept:
            return None
        return SelectionSetNode(selections=tuple(kept))

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        path: tuple[str, ...],
        nullable: tuple[bool, ...],
        visiting: frozenset[str],
    ) -> FieldNode | None:
        name = node.name.value
        if name.startswith("__"):
            return node
        key = node.alias.value if node.alias else name
        fields = getattr(parent, "fields", {})
        definition = fields.get(name)
        here = (*path, key)
        here_nullable = (*nullable, definition is None or not is_non_null_type(definition.type))
        refusal = self.field_refusal(parent, name)
        if refusal is not None:
            self.removed.append(Removed(here, here_nullable, refusal))
            return None
        if node.selection_set is None or definition is None:
            return node
        inner = self.selection_set(
            node.selection_set,
            get_named_type(definition.type),
            here,
            here_nullable,
            visiting,
        )
        if inner is None:
            self.removed.append(Removed(here, here_nullable, None))
            return None
        return FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=node.arguments,
            directives=node.directives,
            selection_set=inner,
        )


def _spread_fragments(
    node: Any, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    """The fragments a selection set still spreads (in selections left out), transitively."""
    found: dict[str, FragmentDefinitionNode] = {}
    pending = [node]
    while pending:
        for name in sorted(_spread_names(pending.pop()) - found.keys()):
            found[name] = fragments[name]
            pending.append(fragments[name])
    return list(found.values())


def _spread_names(node: Any) -> set[str]:
    names: set[str] = set()

    class Collect(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
            names.add(spread.name.value)

    visit(node, Collect())
    return names


def _used_variables(node: Any) -> set[str]:
    used: set[str] = set()

    class Collect(Visitor):
        def enter_variable(self, variable: VariableNode, *_: Any) -> None:
            used.add(variable.name.value)

    visit(node, Collect())
    return used


def authorise(
    schema: GraphQLSchema,
    directives: DirectiveSource,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    principal: Principal | None,
    *,
    reject: bool = False,
    variables: Mapping[str, Any] | None = None,
) -> Decision:
    """The operation as the caller may run it (fragments inlined, except in selections left
    out), and what was refused.

    ``variables``: the request's, for ``@skip``/``@include``; None when not known."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    assert root is not None
    conditions = _Conditions(tuple(operation.variable_definitions or ()), variables)
    authoriser = _Authoriser(schema, directives, principal, fragments, conditions)
    selection_set = authoriser.selection_set(operation.selection_set, root, (), (), frozenset())
    removed = authoriser.removed
    if not removed:
        return Decision(document)
    if reject:
        errors = [r.to_error() for r in removed if r.refusal is not None]
        raise RequestRefused(errors)
    if selection_set is None:
        return Decision(None, removed)
    still_spread = _spread_fragments(selection_set, fragments)
    used = _used_variables(selection_set)
    for node in [*still_spread, *(operation.directives or ())]:
        used |= _used_variables(node)
    variable_definitions = tuple(
        v for v in operation.variable_definitions or () if v.variable.name.value in used
    )
    new_operation = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name or NameNode(value="Authorised"),
        variable_definitions=variable_definitions,
        directives=operation.directives,
        selection_set=selection_set,
    )
    return Decision(DocumentNode(definitions=(new_operation, *still_spread)), removed)


def answer_removed(data: dict[str, Any] | None, removed: list[Removed]) -> dict[str, Any] | None:
    """Put ``null`` where refused fields would have answered, as GraphQL nulls propagate."""
    if data is None:
        return None
    for entry in removed:
        if _null_at(data, entry.path, entry.nullable, 0):
            return None  # a non-null root field was refused: the whole data is null
    return data


def _null_at(obj: Any, path: tuple[str, ...], nullable: tuple[bool, ...], depth: int) -> bool:
    """Null ``path`` under ``obj``; True when the null must go up past ``obj``."""
    if not isinstance(obj, dict):
        return False
    key = path[depth]
    if depth == len(path) - 1:
        if nullable[depth]:
            obj[key] = None
            return False
        obj.pop(key, None)
        return True
    child = obj.get(key)
    if child is None:
        if key not in obj and nullable[depth]:
            obj[key] = None
        return False
    if _null_in(child, path, nullable, depth + 1):
        if nullable[depth]:
            obj[key] = None
            return False
        return True
    return False


def _null_in(value: Any, path: tuple[str, ...], nullable: tuple[bool, ...], depth: int) -> bool:
    if isinstance(value, list):
        return any(_null_in(item, path, nullable, depth) for item in value)
    return _null_at(value, path, nullable, depth)
