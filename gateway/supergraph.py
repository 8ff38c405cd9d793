"""A Federation v2 supergraph: which subgraph resolves what, and the schema clients see.

`Supergraph.parse(sdl)` reads a standard supergraph SDL (as written by composition tools
or by `gateway.compose`): `@link`, `join__Graph`, `@join__type`, `@join__field`,
`@join__implements`, `@join__unionMember`, `@join__enumValue`, `@inaccessible`,
`@authenticated`, `@requiresScopes` and `@policy`.

Public attributes and methods:

- `api_schema: GraphQLSchema`: what clients may query; no `join__`/`link__` machinery and no
  `@inaccessible` element.
- `schema: GraphQLSchema`: the full schema (inaccessible elements kept) used for planning.
- `subgraphs: dict[str, str]`: subgraph name -> routing URL.
- `field_directives(type_name, field_name) -> dict` and `type_directives(type_name) -> dict`:
  the authorisation directives, e.g. `{"authenticated": True, "requiresScopes": [["a", "b"]],
  "policy": [["p"]]}` (empty dict when none).
- planning queries: `field_graphs`, `keys`, `requires`, `provides`, `graph_has_type`,
  `possible_types_in_graph`, `interface_object_graphs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    GraphQLSchema,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    SchemaDefinitionNode,
    SelectionSetNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    is_abstract_type,
    parse,
    value_from_ast_untyped,
)

from gateway.scalars import implement

KEPT_DIRECTIVES = {"deprecated", "specifiedBy", "oneOf"}
AUTH_DIRECTIVES = ("authenticated", "requiresScopes", "policy")


class SupergraphError(ValueError):
    """The supergraph SDL cannot be used."""


@dataclass(frozen=True)
class JoinType:
    graph: str
    key: str | None
    resolvable: bool = True
    extension: bool = False
    is_interface_object: bool = False


@dataclass(frozen=True)
class JoinField:
    graph: str | None
    requires: str | None = None
    provides: str | None = None
    type: str | None = None
    external: bool = False
    override: str | None = None
    used_overridden: bool = False
    override_label: str | None = None


@dataclass
class _TypeInfo:
    joins: list[JoinType] = field(default_factory=list)
    fields: dict[str, list[JoinField]] = field(default_factory=dict)
    implements: set[tuple[str, str]] = field(default_factory=set)
    union_members: set[tuple[str, str]] = field(default_factory=set)
    directives: dict[str, Any] = field(default_factory=dict)
    field_directives: dict[str, dict[str, Any]] = field(default_factory=dict)


def _args(node: DirectiveNode) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value) for a in node.arguments or ()}


def override_label_on(label: str) -> bool:
    """Whether a progressive `@override` label is on for every request.

    `percent(100)` is; any smaller percentage, and any other label (labels a router would
    switch per request), is not: the field stays with its old subgraph, so one plan holds
    for every request and answers never depend on chance.
    """
    match = re.fullmatch(r"\s*percent\(\s*([0-9]+(?:\.[0-9]+)?)\s*\)\s*", label)
    return bool(match) and float(match.group(1)) >= 100


def parse_field_set(fields: str) -> SelectionSetNode:
    """A `@key`/`@requires`/`@provides` field set as a selection set."""
    return parse("{" + fields + "}", no_location=True).definitions[0].selection_set  # type: ignore[attr-defined]


class Supergraph:
    """The supergraph's routing facts and its client-facing schema."""

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self._names = self._link_names(document)
        self.subgraphs: dict[str, str] = {}
        self._graph_enum: dict[str, str] = {}
        self._types: dict[str, _TypeInfo] = {}
        self._read_graphs(document)
        self._read_types(document)
        self.schema: GraphQLSchema = build_ast_schema(
            self._strip(document, drop_inaccessible=False), assume_valid_sdl=True
        )
        self.api_schema: GraphQLSchema = implement(
            build_ast_schema(self._strip(document, drop_inaccessible=True), assume_valid_sdl=True)
        )
        self._field_graphs_cache: dict[tuple[str, str], list[str]] = {}

    @classmethod
    def parse(cls, sdl: str) -> Supergraph:
        return cls(parse(sdl, no_location=True))

    # --- @link: which directive names the spec features use -------------------------------

    @staticmethod
    def _link_names(document: DocumentNode) -> dict[str, str]:
        """Canonical feature name (`join`, `inaccessible`, ...) -> name used in this SDL."""
        names: dict[str, str] = {}
        for definition in document.definitions:
            if not isinstance(definition, SchemaDefinitionNode) and not hasattr(
                definition, "operation_types"
            ):
                continue
            for directive in definition.directives or ():
                if directive.name.value not in ("link", "core"):
                    continue
                args = _args(directive)
                url = args.get("url") or args.get("feature") or ""
                match = re.search(r"/([A-Za-z_]+)/v\d+\.\d+", url)
                if match:
                    names[match.group(1)] = args.get("as") or match.group(1)
        names.setdefault("join", "join")
        names.setdefault("link", "link")
        for feature in ("inaccessible", *AUTH_DIRECTIVES):
            names.setdefault(feature, feature)
        return names

    def _machinery(self) -> set[str]:
        return set(self._names.values())

    def _is_machinery_type(self, name: str) -> bool:
        prefix, sep, _ = name.partition("__")
        return bool(sep) and prefix in self._machinery()

    # --- join__Graph ---------------------------------------------------------------------

    def _read_graphs(self, document: DocumentNode) -> None:
        enum_name = f"{self._names['join']}__Graph"
        graph_directive = f"{self._names['join']}__graph"
        for definition in document.definitions:
            if (
                isinstance(definition, EnumTypeDefinitionNode)
                and definition.name.value == enum_name
            ):
                for value in definition.values or ():
                    for directive in value.directives or ():
                        if directive.name.value == graph_directive:
                            args = _args(directive)
                            self._graph_enum[value.name.value] = args["name"]
                            self.subgraphs[args["name"]] = args.get("url") or ""
        if not self.subgraphs:
            raise SupergraphError("the supergraph declares no subgraph (join__Graph)")

    def _graph(self, enum_value: Any) -> str:
        return self._graph_enum.get(enum_value, enum_value)

    # --- types and fields ----------------------------------------------------------------

    def _read_types(self, document: DocumentNode) -> None:
        join = self._names["join"]
        for definition in document.definitions:
            if not isinstance(definition, TypeDefinitionNode):
                continue
            name = definition.name.value
            if self._is_machinery_type(name):
                continue
            info = self._types.setdefault(name, _TypeInfo())
            for directive in definition.directives or ():
                dname, args = directive.name.value, _args(directive)
                if dname == f"{join}__type":
                    info.joins.append(
                        JoinType(
                            graph=self._graph(args["graph"]),
                            key=args.get("key"),
                            resolvable=args.get("resolvable", True) is not False,
                            extension=bool(args.get("extension")),
                            is_interface_object=bool(args.get("isInterfaceObject")),
                        )
                    )
                elif dname == f"{join}__implements":
                    info.implements.add((self._graph(args["graph"]), args["interface"]))
                elif dname == f"{join}__unionMember":
                    info.union_members.add((self._graph(args["graph"]), args["member"]))
                else:
                    self._auth_directive(info.directives, dname, args)
            for fdef in getattr(definition, "fields", None) or ():
                entries = info.fields.setdefault(fdef.name.value, [])
                fdirs: dict[str, Any] = {}
                for directive in fdef.directives or ():
                    dname, args = directive.name.value, _args(directive)
                    if dname == f"{join}__field":
                        graph = args.get("graph")
                        entries.append(
                            JoinField(
                                graph=self._graph(graph) if graph is not None else None,
                                requires=args.get("requires"),
                                provides=args.get("provides"),
                                type=args.get("type"),
                                external=bool(args.get("external")),
                                override=args.get("override"),
                                used_overridden=bool(args.get("usedOverridden")),
                                override_label=args.get("overrideLabel"),
                            )
                        )
                    else:
                        self._auth_directive(fdirs, dname, args)
                if fdirs:
                    info.field_directives[fdef.name.value] = fdirs

    def _auth_directive(self, into: dict[str, Any], name: str, args: dict[str, Any]) -> None:
        if name == self._names["authenticated"]:
            into["authenticated"] = True
        elif name == self._names["requiresScopes"]:
            into.setdefault("requiresScopes", []).extend(args.get("scopes") or [])
        elif name == self._names["policy"]:
            into.setdefault("policy", []).extend(args.get("policies") or [])

    # --- the client-facing schema ----------------------------------------------------------

    def _strip(self, document: DocumentNode, drop_inaccessible: bool) -> DocumentNode:
        inaccessible = self._names["inaccessible"]
        machinery = self._machinery()

        def hidden(node: Any) -> bool:
            return drop_inaccessible and any(
                d.name.value == inaccessible for d in node.directives or ()
            )

        def clean(node: Any) -> Any:
            return replace(
                node,
                directives=tuple(
                    d for d in node.directives or () if d.name.value in KEPT_DIRECTIVES
                ),
            )

        hidden_types = {
            d.name.value
            for d in document.definitions
            if isinstance(d, TypeDefinitionNode) and hidden(d)
        }
        definitions = []
        for definition in document.definitions:
            if isinstance(definition, SchemaDefinitionNode):
                definitions.append(clean(definition))
                continue
            if isinstance(definition, DirectiveDefinitionNode):
                name = definition.name.value
                if name in machinery or self._is_machinery_type(name):
                    continue
                definitions.append(definition)
                continue
            if not isinstance(definition, TypeDefinitionNode):
                continue
            name = definition.name.value
            if self._is_machinery_type(name) or name in hidden_types:
                continue
            node = clean(definition)
            if isinstance(
                node,
                ObjectTypeDefinitionNode
                | InterfaceTypeDefinitionNode
                | InputObjectTypeDefinitionNode,
            ):
                fields = []
                for fdef in node.fields or ():
                    if hidden(fdef):
                        continue
                    fdef = clean(fdef)
                    if getattr(fdef, "arguments", None):
                        fdef = replace(
                            fdef, arguments=tuple(clean(a) for a in fdef.arguments if not hidden(a))
                        )
                    fields.append(fdef)
                node = replace(node, fields=tuple(fields))
                if not isinstance(node, InputObjectTypeDefinitionNode):
                    node = replace(
                        node,
                        interfaces=tuple(
                            i for i in node.interfaces or () if i.name.value not in hidden_types
                        ),
                    )
            elif isinstance(node, EnumTypeDefinitionNode):
                node = replace(
                    node, values=tuple(clean(v) for v in node.values or () if not hidden(v))
                )
            elif isinstance(node, UnionTypeDefinitionNode):
                node = replace(
                    node,
                    types=tuple(t for t in node.types or () if t.name.value not in hidden_types),
                )
            definitions.append(node)
        return replace(document, definitions=tuple(definitions))

    # --- authorisation directives -----------------------------------------------------------

    def field_directives(self, type_name: str, field_name: str) -> dict[str, Any]:
        info = self._types.get(type_name)
        return dict(info.field_directives.get(field_name, {})) if info else {}

    def type_directives(self, type_name: str) -> dict[str, Any]:
        info = self._types.get(type_name)
        return dict(info.directives) if info else {}

    # --- routing facts for the planner ------------------------------------------------------

    def type_graphs(self, type_name: str) -> list[str]:
        info = self._types.get(type_name)
        if info is None or not info.joins:
            return list(self.subgraphs)
        return list(dict.fromkeys(j.graph for j in info.joins))

    def graph_has_type(self, graph: str, type_name: str) -> bool:
        return graph in self.type_graphs(type_name)

    def join_field(self, type_name: str, field_name: str, graph: str) -> JoinField | None:
        info = self._types.get(type_name)
        for entry in info.fields.get(field_name, []) if info else []:
            if entry.graph == graph:
                return entry
        return None

    def field_type_in_graph(self, type_name: str, field_name: str, graph: str) -> str | None:
        """The named type of this field in `graph` when it differs there (`type:`)."""
        entry = self.join_field(type_name, field_name, graph)
        if entry is None or not entry.type:
            return None
        match = re.search(r"[_A-Za-z][_0-9A-Za-z]*", entry.type)
        return match.group(0) if match else None

    def field_graphs(self, type_name: str, field_name: str) -> list[str]:
        """Subgraphs that resolve this field on this type (not where external or overridden)."""
        cached = self._field_graphs_cache.get((type_name, field_name))
        if cached is not None:
            return cached
        info = self._types.get(type_name)
        entries = info.fields.get(field_name, []) if info else []
        if not entries:
            graphs = self.type_graphs(type_name)
        else:
            graphs = [
                e.graph
                for e in entries
                if e.graph is not None and self._resolves(type_name, field_name, e)
            ]
        self._field_graphs_cache[(type_name, field_name)] = graphs
        return graphs

    def _resolves(self, type_name: str, field_name: str, entry: JoinField) -> bool:
        """Whether the subgraph of this `@join__field` resolves the field itself.

        An `@external` field is resolved elsewhere, with one exception: Federation 1 marked
        the key fields of a type extension `@external`, and such a subgraph does know them.
        A field overridden away from a subgraph is still known there when it is one of that
        subgraph's key fields. Anything else external is never read from that subgraph
        (outside `@provides`): its value there could be anything.
        """
        graph = entry.graph
        assert graph is not None
        if entry.override_label:
            # a progressive override: the new subgraph once its label is on, the old one
            # until then (and still for its own key fields)
            if entry.override:
                return override_label_on(entry.override_label)
            if override_label_on(entry.override_label):
                return self._in_own_key(type_name, field_name, graph)
            return True
        if entry.external:
            return self._in_own_key(type_name, field_name, graph, extension_only=True)
        if entry.used_overridden:
            return self._in_own_key(type_name, field_name, graph)
        return True

    def _in_own_key(
        self, type_name: str, field_name: str, graph: str, extension_only: bool = False
    ) -> bool:
        info = self._types.get(type_name)
        joins = [j for j in (info.joins if info else []) if j.graph == graph and j.key]
        if extension_only:
            joins = [j for j in joins if j.extension]
        for key in (j.key for j in joins if j.key):
            selections = parse_field_set(key).selections
            if any(getattr(s, "name", None) and s.name.value == field_name for s in selections):
                return True
        return False

    def keys(self, type_name: str, graph: str) -> list[str]:
        """Field sets by which `graph` can resolve this entity (`_entities`)."""
        info = self._types.get(type_name)
        return [
            j.key
            for j in (info.joins if info else [])
            if j.graph == graph and j.key and j.resolvable
        ]

    def all_keys(self, type_name: str, graph: str) -> list[str]:
        info = self._types.get(type_name)
        return [j.key for j in (info.joins if info else []) if j.graph == graph and j.key]

    def is_interface_object(self, type_name: str, graph: str) -> bool:
        info = self._types.get(type_name)
        return any(j.graph == graph and j.is_interface_object for j in (info.joins if info else []))

    def requires(self, type_name: str, field_name: str, graph: str) -> str | None:
        entry = self.join_field(type_name, field_name, graph)
        return entry.requires if entry else None

    def provides(self, type_name: str, field_name: str, graph: str) -> str | None:
        entry = self.join_field(type_name, field_name, graph)
        return entry.provides if entry else None

    def possible_types_in_graph(self, abstract_name: str, graph: str) -> list[str]:
        """Object types a field of this abstract type can return when resolved by `graph`."""
        abstract = self.schema.get_type(abstract_name)
        if abstract is None or not is_abstract_type(abstract):
            return [abstract_name]
        abstract_info = self._types.get(abstract_name) or _TypeInfo()
        result = []
        for obj in self.schema.get_possible_types(abstract):  # type: ignore[arg-type]
            if not self.graph_has_type(graph, obj.name):
                continue
            info = self._types.get(obj.name) or _TypeInfo()
            if abstract_info.union_members:
                if (graph, obj.name) not in abstract_info.union_members:
                    continue
            elif (
                info.implements
                and (graph, abstract_name) not in info.implements
                and not isinstance(abstract, GraphQLUnionType)
            ):
                continue
            result.append(obj.name)
        return result

    def interfaces_of(self, type_name: str) -> list[str]:
        obj = self.schema.get_type(type_name)
        return [i.name for i in getattr(obj, "interfaces", ())]
