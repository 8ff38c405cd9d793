"""Composition: subgraph SDLs (`_service { sdl }`) into one Federation v2 supergraph SDL.

    sdl = compose({"contacts": ("http://127.0.0.1:4001/graphql", contacts_sdl), ...})

The result is a standard supergraph (`@link` to link/v1.0 and join/v0.5, `join__Graph`,
`@join__type`, `@join__field`, `@join__implements`, `@join__unionMember`,
`@join__enumValue`) that `gateway.supergraph.Supergraph.parse` and other routers read.
Handled subgraph directives: `@key` (also `resolvable: false`), `@shareable`, `@external`,
`@requires`, `@provides`, `@override`, `@inaccessible`, `@interfaceObject`, `@extends` and
`extend type`, `@authenticated`, `@requiresScopes`, `@policy`; interfaces, unions, enums,
input types and scalars. Output is deterministic (types sorted by name, subgraphs by name).

Composition checks the basics and raises `CompositionError`: a non-shareable field resolved
by two subgraphs, a kind conflict, a key naming an unknown field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    NameNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    parse,
    print_ast,
    value_from_ast_untyped,
)

FEDERATION_TYPES = {"_Service", "_Any", "_Entity", "FieldSet", "_FieldSet", "link__Import"}
FEDERATION_ROOT_FIELDS = {"_entities", "_service"}
KEPT_DIRECTIVES = {"deprecated", "specifiedBy", "oneOf"}

HEADER = '''schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)
  @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)
{
%s
}

directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM

directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION \
| SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, \
type: String, external: Boolean, override: String, usedOverridden: Boolean, overrideLabel: String) \
repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT \
| INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, \
resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE \
| UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable \
on SCHEMA

directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE \
| SCALAR | ENUM

directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT \
| INTERFACE | SCALAR | ENUM

scalar join__FieldSet

enum link__Purpose {
  """`SECURITY` features provide metadata necessary to securely resolve fields."""
  SECURITY

  """`EXECUTION` features provide metadata necessary for operation execution."""
  EXECUTION
}

scalar link__Import

scalar policy__Policy

scalar requiresScopes__Scope
'''


class CompositionError(ValueError):
    """The subgraphs cannot be composed into one supergraph."""


@dataclass
class _Field:
    type: str
    args: list[InputValueDefinitionNode]
    description: Any
    directives: list[DirectiveNode]
    external: bool = False
    shareable: bool = False
    requires: str | None = None
    provides: str | None = None
    override: str | None = None
    override_label: str | None = None


@dataclass
class _Type:
    name: str
    kind: str
    description: Any = None
    graphs: dict[str, list[dict]] = field(default_factory=dict)  # graph -> join__type args list
    fields: dict[str, dict[str, _Field]] = field(default_factory=dict)  # field -> graph -> _Field
    implements: dict[str, list[str]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # value -> graph -> node
    directives: list[DirectiveNode] = field(default_factory=list)
    shareable_graphs: set[str] = field(default_factory=set)


_KINDS = {
    ObjectTypeDefinitionNode: "type",
    ObjectTypeExtensionNode: "type",
    InterfaceTypeDefinitionNode: "interface",
    InterfaceTypeExtensionNode: "interface",
    UnionTypeDefinitionNode: "union",
    UnionTypeExtensionNode: "union",
    EnumTypeDefinitionNode: "enum",
    EnumTypeExtensionNode: "enum",
    InputObjectTypeDefinitionNode: "input",
    InputObjectTypeExtensionNode: "input",
    ScalarTypeDefinitionNode: "scalar",
    ScalarTypeExtensionNode: "scalar",
}


def _args(node: DirectiveNode) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value) for a in node.arguments or ()}


def _graph_enum(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class _Subgraph:
    """One subgraph's SDL with its federation directive names resolved."""

    def __init__(self, name: str, sdl: str) -> None:
        self.name = name
        self.document: DocumentNode = parse(sdl, no_location=True)
        self.renames: dict[str, str] = {}
        self.prefixes = ["federation__", "link__"]
        self.roots = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
        for definition in self.document.definitions:
            if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                for op in definition.operation_types or ():
                    self.roots[op.operation.value] = op.type.name.value
                for directive in definition.directives or ():
                    if directive.name.value == "link":
                        self._read_link(_args(directive))

    def _read_link(self, args: dict[str, Any]) -> None:
        url = args.get("url") or ""
        match = re.search(r"/([A-Za-z_]+)/v\d+\.\d+", url)
        if not match:
            return
        if args.get("as"):
            self.prefixes.append(f"{args['as']}__")
        for item in args.get("import") or ():
            if isinstance(item, dict):
                name, alias = item["name"].lstrip("@"), (item.get("as") or item["name"]).lstrip("@")
            else:
                name = alias = str(item).lstrip("@")
            self.renames[alias] = name

    def canonical(self, directive: DirectiveNode) -> str:
        name = directive.name.value
        if name in self.renames:
            return self.renames[name]
        for prefix in self.prefixes:
            if name.startswith(prefix):
                return name[len(prefix) :]
        return name


class _Composer:
    def __init__(self, subgraphs: dict[str, tuple[str, str]]) -> None:
        self.urls = {name: url for name, (url, _) in subgraphs.items()}
        self.subgraphs = [_Subgraph(name, sdl) for name, (_, sdl) in sorted(subgraphs.items())]
        self.types: dict[str, _Type] = {}

    def run(self) -> str:
        for sub in self.subgraphs:
            self._read(sub)
        self._add_interface_object_fields()
        self._check()
        return self._print()

    # --- reading -----------------------------------------------------------------------

    def _read(self, sub: _Subgraph) -> None:
        renamed_roots = {v: k for k, v in sub.roots.items()}
        for definition in sub.document.definitions:
            kind = _KINDS.get(type(definition))
            if kind is None:
                continue
            name = definition.name.value
            if name in FEDERATION_TYPES or name.startswith(("federation__", "link__")):
                continue
            if name in renamed_roots:  # e.g. `mutation: AccountsMutation` becomes Mutation
                name = renamed_roots[name].capitalize()
            directives = {sub.canonical(d): d for d in definition.directives or ()}
            if kind == "type" and "interfaceObject" in directives:
                kind = "interface"
            if kind == "type" and name == "Query":
                fields = [
                    f for f in definition.fields or () if f.name.value not in FEDERATION_ROOT_FIELDS
                ]
                if not fields:
                    continue
            t = self.types.get(name)
            if t is None:
                t = self.types[name] = _Type(name, kind)
            elif t.kind != kind:
                raise CompositionError(
                    f"{name} is a {t.kind} in one subgraph, a {kind} in {sub.name}"
                )
            if t.description is None and getattr(definition, "description", None) is not None:
                t.description = definition.description
            self._read_type(sub, t, definition, kind, directives)

    def _read_type(
        self, sub: _Subgraph, t: _Type, definition: Any, kind: str, directives: dict
    ) -> None:
        g = sub.name
        extension = isinstance(
            definition, ObjectTypeExtensionNode | InterfaceTypeExtensionNode
        ) or ("extends" in directives)
        joins = t.graphs.setdefault(g, [])
        for d in definition.directives or ():
            cname = sub.canonical(d)
            if cname == "key":
                args = _args(d)
                join: dict[str, Any] = {"key": args["fields"]}
                if args.get("resolvable") is False:
                    join["resolvable"] = False
                if extension:
                    join["extension"] = True
                if "interfaceObject" in directives:
                    join["isInterfaceObject"] = True
                joins.append(join)
            elif cname in ("inaccessible", "authenticated", "requiresScopes", "policy"):
                if not any(x.name.value == cname for x in t.directives):
                    t.directives.append(_renamed(d, cname))
            elif cname in KEPT_DIRECTIVES and not any(x.name.value == cname for x in t.directives):
                t.directives.append(d)
        if not joins:
            joins.append({"isInterfaceObject": True} if "interfaceObject" in directives else {})
        if "shareable" in directives:
            t.shareable_graphs.add(g)
        if kind in ("type", "interface", "input"):
            t.implements[g] = [i.name.value for i in getattr(definition, "interfaces", None) or ()]
            skip = FEDERATION_ROOT_FIELDS if t.name == "Query" else set()
            for fdef in definition.fields or ():
                if fdef.name.value in skip:
                    continue
                self._read_field(sub, t, fdef)
        elif kind == "union":
            t.members[g] = [m.name.value for m in definition.types or ()]
        elif kind == "enum":
            for value in definition.values or ():
                t.values.setdefault(value.name.value, {})[g] = value

    def _read_field(self, sub: _Subgraph, t: _Type, fdef: Any) -> None:
        f = _Field(
            type=print_ast(fdef.type),
            args=list(getattr(fdef, "arguments", None) or ()),
            description=fdef.description,
            directives=[],
        )
        if isinstance(fdef, InputValueDefinitionNode) and fdef.default_value is not None:
            f.args = [fdef]
        for d in fdef.directives or ():
            cname = sub.canonical(d)
            args = _args(d)
            if cname == "external":
                f.external = True
            elif cname == "shareable":
                f.shareable = True
            elif cname == "requires":
                f.requires = args["fields"]
            elif cname == "provides":
                f.provides = args["fields"]
            elif cname == "override":
                f.override = args["from"]
                f.override_label = args.get("label")
            elif cname in ("inaccessible", "authenticated", "requiresScopes", "policy"):
                f.directives.append(_renamed(d, cname))
            elif cname in KEPT_DIRECTIVES:
                f.directives.append(d)
        if sub.name in t.shareable_graphs:
            f.shareable = True
        t.fields.setdefault(fdef.name.value, {})[sub.name] = f

    def _add_interface_object_fields(self) -> None:
        """Fields an @interfaceObject adds to an interface appear on its implementations."""
        for iface in self.types.values():
            io_graphs = [
                g for g, js in iface.graphs.items() if any(j.get("isInterfaceObject") for j in js)
            ]
            if not io_graphs:
                continue
            for obj in self.types.values():
                if obj.kind != "type" or not any(iface.name in i for i in obj.implements.values()):
                    continue
                for fname, per_graph in iface.fields.items():
                    if fname in obj.fields:
                        continue
                    if any(g in io_graphs for g in per_graph):
                        obj.fields[fname] = {"": next(iter(per_graph.values()))}

    def _check(self) -> None:
        for t in self.types.values():
            if t.kind != "type":
                continue
            for fname, per_graph in t.fields.items():
                resolving = [
                    g
                    for g, f in per_graph.items()
                    if g
                    and not f.external
                    and not self._overridden(t, fname, g)
                    and not self._is_key_field(t, g, fname)
                ]
                if len(resolving) > 1 and not all(per_graph[g].shareable for g in resolving):
                    raise CompositionError(
                        f"{t.name}.{fname} is resolved by {', '.join(resolving)} "
                        "but is not @shareable in all of them"
                    )
            for g, joins in t.graphs.items():
                for join in joins:
                    for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", join.get("key") or ""):
                        if name not in t.fields:
                            raise CompositionError(f"{t.name} key field {name} is unknown ({g})")

    def _is_key_field(self, t: _Type, graph: str, fname: str) -> bool:
        return any(
            fname in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", j.get("key") or "")
            for j in t.graphs.get(graph, [])
        )

    def _overridden(self, t: _Type, fname: str, graph: str) -> bool:
        return any(f.override == graph for f in t.fields.get(fname, {}).values())

    def _override_label(self, t: _Type, fname: str, graph: str) -> str | None:
        """The label of a progressive `@override` of this field away from `graph`."""
        for f in t.fields.get(fname, {}).values():
            if f.override == graph and f.override_label:
                return f.override_label
        return None

    # --- printing -----------------------------------------------------------------------

    def _print(self) -> str:
        roots = [
            f"  {op}: {name}"
            for op, name in (
                ("query", "Query"),
                ("mutation", "Mutation"),
                ("subscription", "Subscription"),
            )
            if name in self.types
        ]
        out = [HEADER % "\n".join(roots)]
        graphs = "\n".join(
            f"  {_graph_enum(n)} @join__graph(name: {_quote(n)}, url: {_quote(self.urls[n])})"
            for n in sorted(self.urls)
        )
        out.append(f"enum join__Graph {{\n{graphs}\n}}\n")
        for name in sorted(self.types):
            out.append(self._print_type(self.types[name]))
        return "\n".join(out)

    def _print_type(self, t: _Type) -> str:
        lines = []
        if t.description is not None:
            lines.append(print_ast(t.description))
        head = f"{t.kind} {t.name}"
        all_interfaces = list(
            dict.fromkeys(i for g in sorted(t.implements) for i in t.implements[g])
        )
        if all_interfaces:
            head += " implements " + " & ".join(all_interfaces)
        directives = []
        for g in sorted(t.graphs):
            for join in t.graphs[g]:
                args = [f"graph: {_graph_enum(g)}"]
                if "key" in join:
                    args.append(f"key: {_quote(join['key'])}")
                if join.get("extension"):
                    args.append("extension: true")
                if join.get("resolvable") is False:
                    args.append("resolvable: false")
                if join.get("isInterfaceObject"):
                    args.append("isInterfaceObject: true")
                directives.append(f"@join__type({', '.join(args)})")
        for g in sorted(t.implements):
            for iface in t.implements[g]:
                directives.append(
                    f"@join__implements(graph: {_graph_enum(g)}, interface: {_quote(iface)})"
                )
        for g in sorted(t.members):
            for member in t.members[g]:
                directives.append(
                    f"@join__unionMember(graph: {_graph_enum(g)}, member: {_quote(member)})"
                )
        directives += [print_ast(d) for d in t.directives]
        if directives:
            head += "\n  " + "\n  ".join(directives)
        if t.kind == "scalar":
            return "\n".join([*lines, head]) + "\n"
        if t.kind == "union":
            members = list(dict.fromkeys(m for g in sorted(t.members) for m in t.members[g]))
            return "\n".join([*lines, head]) + "\n  = " + " | ".join(members) + "\n"
        if t.kind == "enum":
            body = [self._print_enum_value(v, per_graph) for v, per_graph in t.values.items()]
        else:
            body = [self._print_field(t, fname, per_graph) for fname, per_graph in t.fields.items()]
        return "\n".join([*lines, head + " {", *body, "}"]) + "\n"

    def _print_enum_value(self, value: str, per_graph: dict[str, Any]) -> str:
        first = next(iter(per_graph.values()))
        parts = []
        if first.description is not None:
            parts.append("  " + print_ast(first.description).replace("\n", "\n  "))
        directives = [f"@join__enumValue(graph: {_graph_enum(g)})" for g in sorted(per_graph)]
        for d in first.directives or ():
            if d.name.value in ("inaccessible", *KEPT_DIRECTIVES):
                directives.append(print_ast(d))
        parts.append(f"  {value} " + " ".join(directives))
        return "\n".join(parts)

    def _supergraph_type(self, types: set[str]) -> str:
        """A field typed differently by subgraphs: the most nullable type, and of
        covariant types (an interface or union in one, an implementation in another) the
        abstract one."""

        def named(text: str) -> str:
            return re.sub(r"[\[\]!\s]", "", text)

        abstract = [
            s
            for s in types
            if (found := self.types.get(named(s))) is not None
            and found.kind in ("interface", "union")
        ]
        if abstract and len({named(s) for s in types}) > 1:
            types = set(abstract)
        return min(types, key=lambda s: (s.count("!"), s))

    def _print_field(self, t: _Type, fname: str, per_graph: dict[str, _Field]) -> str:
        fields = list(per_graph.values())
        first = fields[0]
        types = {f.type for f in fields}
        ftype = self._supergraph_type(types) if len(types) > 1 else first.type
        lines = []
        description = next((f.description for f in fields if f.description is not None), None)
        if description is not None:
            lines.append("  " + print_ast(description).replace("\n", "\n  "))
        text = f"  {fname}"
        if t.kind != "input" and first.args:
            text += "(" + ", ".join(_print_arg(a) for a in first.args) + ")"
        text += f": {ftype}"
        if t.kind == "input" and first.args and first.args[0].default_value is not None:
            text += " = " + print_ast(first.args[0].default_value)
        directives = []
        if "" in per_graph:
            directives.append("@join__field")
        else:
            needs_join = len(t.graphs) > 1 or any(
                f.external or f.requires or f.provides or f.override for f in fields
            )
            if needs_join:
                for g in sorted(per_graph):
                    f = per_graph[g]
                    args = [f"graph: {_graph_enum(g)}"]
                    label = self._override_label(t, fname, g)
                    if label is not None:
                        # a progressive override: this subgraph resolves it until it is on
                        args.append(f"overrideLabel: {_quote(label)}")
                    elif self._overridden(t, fname, g):
                        if not self._is_key_field(t, g, fname):
                            continue
                        # still part of this subgraph's key, which planners may use
                        args.append("usedOverridden: true")
                    if f.requires:
                        args.append(f"requires: {_quote(f.requires)}")
                    if f.provides:
                        args.append(f"provides: {_quote(f.provides)}")
                    if len(types) > 1:
                        args.append(f"type: {_quote(f.type)}")
                    if f.external:
                        args.append("external: true")
                    if f.override:
                        args.append(f"override: {_quote(f.override)}")
                        if f.override_label:
                            args.append(f"overrideLabel: {_quote(f.override_label)}")
                    directives.append(f"@join__field({', '.join(args)})")
        seen: set[str] = set()
        for f in fields:
            for d in f.directives:
                printed = print_ast(d)
                if printed not in seen:
                    seen.add(printed)
                    directives.append(printed)
        if directives:
            text += " " + " ".join(directives)
        return "\n".join([*lines, text])


def _renamed(directive: DirectiveNode, name: str) -> DirectiveNode:
    if directive.name.value == name:
        return directive
    return replace(directive, name=NameNode(value=name))


def _print_arg(arg: InputValueDefinitionNode) -> str:
    text = ""
    if arg.description is not None:
        text += print_ast(arg.description) + " "
    text += f"{arg.name.value}: {print_ast(arg.type)}"
    if arg.default_value is not None:
        text += " = " + print_ast(arg.default_value)
    for d in arg.directives or ():
        if d.name.value in ("inaccessible", *KEPT_DIRECTIVES):
            text += " " + print_ast(d)
    return text


def compose(subgraphs: dict[str, tuple[str, str]]) -> str:
    """Supergraph SDL from `{name: (routing_url, subgraph_sdl)}`."""
    if not subgraphs:
        raise CompositionError("no subgraph to compose")
    return _Composer(subgraphs).run()
