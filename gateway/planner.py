"""The query planner: from one client operation to a `QueryPlan` over the subgraphs.

`Planner(supergraph).plan(operation, fragments, variables) -> QueryPlan`. The operation has
already been validated against `supergraph.api_schema`. `@skip`/`@include` are applied while
planning, so a plan is valid for one set of those conditions (`condition_variables` names the
variables they read; the executor keys its cache on their values).

How fields are placed:
- a root field goes to the subgraph that answers it with the fewest entity fetches after it
  (`@provides` counted), then one already in the plan, then the first (mutations: one step
  per run of consecutive fields on the same subgraph, in order);
- a field stays in the current fetch when its subgraph resolves it (or `@provides` it) and
  does not `@require` anything; a field with `@requires` always goes through `_entities`,
  even to the subgraph of the current fetch, since its subgraph reads the requirements
  from the representation;
- otherwise the planner jumps to a subgraph that resolves it through `_entities`, preferring
  one already planned at that path. The parent fetch also selects `__typename` and the key;
  `@requires` fields, and key fields the parent cannot give, are planned in the parent
  (possibly through other entity steps, even on the requiring subgraph) and the new step
  waits for them. A step is reused unless it would have to run before its own inputs or
  already carries a required field of that name with other arguments (a field required
  with arguments has a data key per set of arguments);
- fields of a type without a key that the current subgraph cannot resolve are fetched
  with their field from a subgraph that can: through the parent entity, or for a shared
  root field, as a second root fetch (never a mutation);
- `@external` fields are never read from the subgraph that marks them so (outside
  `@provides`), except the key fields of a Federation 1 type extension;
- a field only an `@interfaceObject` subgraph resolves is fetched with the interface's
  name as `__typename` in the representation;
- abstract fields are planned per possible object type that the subgraph can return, by the
  field's type in that subgraph (`@join__field(type:)`); fields of one response name typed
  differently in sibling fragments are aliased, and the step restores the names;
- a field returning an interface its subgraph knows only as an `@interfaceObject` also
  fetches the real `__typename` (and fields selected on the object types) from a subgraph
  that owns the interface, unless nothing selected depends on the object type;
- a progressive `@override` is followed once its label is `percent(100)`; until then (and
  for labels a router would switch per request) the field stays with its old subgraph.

What cannot be planned raises `PlanningError` saying why (the executor answers it as
`QUERY_PLAN_FAILED`); no part of an operation is silently left out.

Not handled: subscriptions, `@defer`/`@stream`, `@fromContext`/`@context`,
`@join__directive`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    print_ast,
    value_from_ast,
)
from graphql.type import GraphQLBoolean

from gateway.plan import (
    FetchStep,
    Projection,
    QueryPlan,
    RepSpec,
    Selection,
    SelField,
    print_selection,
    selection_variables,
)
from gateway.supergraph import Supergraph, parse_field_set

INTERNAL_PREFIX = "_dief_"
META_ROOT_FIELDS = {"__typename", "__schema", "__type"}


class PlanningError(Exception):
    """No subgraph can resolve part of the operation (the supergraph is inconsistent)."""


@dataclass
class NField:
    """A field of the operation after fragments and conditions are applied."""

    key: str
    name: str
    nodes: list[FieldNode]
    return_type: GraphQLNamedType | None
    internal: bool = False
    mate: NField | None = None  # the client field an internal field shares its key with
    _children: dict[str, list[NField]] = field(default_factory=dict)

    @property
    def args(self) -> tuple[Any, ...]:
        return tuple(self.nodes[0].arguments or ())


def condition_variables(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> list[str]:
    """Variables read by `@skip`/`@include` anywhere in the operation."""
    names: list[str] = []
    for node in [operation, *fragments.values()]:
        stack = [node.selection_set]
        while stack:
            selection_set = stack.pop()
            for sel in selection_set.selections:
                for directive in sel.directives or ():
                    if directive.name.value in ("skip", "include"):
                        for arg in directive.arguments or ():
                            if isinstance(arg.value, VariableNode):
                                names.append(arg.value.name.value)
                if getattr(sel, "selection_set", None):
                    stack.append(sel.selection_set)
    return sorted(set(names))


class Collector:
    """Collects the fields selected on an object type (fragments merged, conditions applied)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def _included(self, node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            arg = next((a for a in directive.arguments or () if a.name.value == "if"), None)
            value = bool(value_from_ast(arg.value, GraphQLBoolean, self.variables)) if arg else True
            if (name == "skip") == value:
                return False
        return True

    def _applies(self, condition: Any, type_name: str) -> bool:
        if condition is None or condition.name.value == type_name:
            return True
        cond_type = self.schema.get_type(condition.name.value)
        obj = self.schema.get_type(type_name)
        if cond_type is None or obj is None or not is_abstract_type(cond_type):
            return False
        if not isinstance(obj, GraphQLObjectType):
            # an interface object: fields selected on the interface itself apply
            return cond_type.name == type_name
        return self.schema.is_sub_type(cond_type, obj)  # type: ignore[arg-type]

    def collect(self, type_name: str, selection_sets: list[SelectionSetNode]) -> list[NField]:
        parent = self.schema.get_type(type_name)
        fields_def = getattr(parent, "fields", {})
        out: dict[str, NField] = {}

        def visit(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
            for sel in selection_set.selections:
                if not self._included(sel):
                    continue
                if isinstance(sel, FieldNode):
                    key = sel.alias.value if sel.alias else sel.name.value
                    if key in out:
                        out[key].nodes.append(sel)
                        continue
                    fdef = fields_def.get(sel.name.value)
                    rtype = get_named_type(fdef.type) if fdef else None
                    out[key] = NField(key, sel.name.value, [sel], rtype)
                elif isinstance(sel, InlineFragmentNode):
                    if self._applies(sel.type_condition, type_name):
                        visit(sel.selection_set, seen)
                elif isinstance(sel, FragmentSpreadNode):
                    name = sel.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in seen:
                        continue
                    if self._applies(fragment.type_condition, type_name):
                        visit(fragment.selection_set, seen | {name})

        for selection_set in selection_sets:
            visit(selection_set, frozenset())
        return list(out.values())


class Planner:
    def __init__(self, supergraph: Supergraph) -> None:
        self.sg = supergraph

    def plan(
        self,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict,
    ) -> QueryPlan:
        return _Planning(self.sg, operation, fragments, variables).run()


class _Planning:
    """One planning run; holds the steps being built."""

    def __init__(
        self,
        supergraph: Supergraph,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict,
    ) -> None:
        self.sg = supergraph
        self.operation = operation
        self.collector = Collector(supergraph.schema, fragments, variables)
        self.steps: list[FetchStep] = []
        self.groups: dict[tuple[int, tuple[str, ...], str], list[FetchStep]] = {}
        self._jumps: set[tuple] = set()
        self._hops: dict[tuple[str, str, int], float] = {}
        self.by_graph: dict[str, FetchStep] = {}
        self.roots: list[FetchStep] = []
        self.root_name = ""
        self.mutation = False

    # --- fields ------------------------------------------------------------------------

    def children(self, f: NField, type_name: str) -> list[NField]:
        cached = f._children.get(type_name)
        if cached is not None:
            return cached
        sets = [n.selection_set for n in f.nodes if n.selection_set]
        if not f.internal:
            result = self.collector.collect(type_name, sets)
        else:
            mates = self.children(f.mate, type_name) if f.mate else []
            result = self._internal(self.collector.collect(type_name, sets), mates)
        f._children[type_name] = result
        return result

    def field_set(self, type_name: str, fields: str, siblings: list[NField]) -> list[NField]:
        raw = self.collector.collect(type_name, [parse_field_set(fields)])
        return self._internal(raw, siblings)

    @staticmethod
    def _internal(raw: list[NField], siblings: list[NField]) -> list[NField]:
        """Key/required fields, under the client's key when it is the same field.

        A field with arguments gets a key of its own per set of arguments, so that
        `price(currency: "USD")` and `price(currency: "EUR")` never share a value.
        """
        by_key = {s.key: s for s in siblings}
        result = []
        for f in raw:
            mate = by_key.get(f.name)
            if f.args:
                key, mate = _argument_key(f), None
            elif mate is not None and (mate.name != f.name or mate.args):
                key, mate = INTERNAL_PREFIX + f.name, None
            else:
                key = f.name
            result.append(NField(key, f.name, f.nodes, f.return_type, internal=True, mate=mate))
        return result

    def projections(self, fields: list[NField], type_name: str) -> list[Projection]:
        result = []
        for f in fields:
            children: tuple[Projection, ...] = ()
            if f.return_type is not None and is_composite_type(f.return_type):
                kids: list[Projection] = []
                for t in self._object_types(f.return_type.name):
                    for p in self.projections(self.children(f, t), t):
                        if p not in kids:
                            kids.append(p)
                children = tuple(kids)
            result.append(Projection(f.name, f.key, children))
        return result

    def _object_types(self, name: str) -> list[str]:
        named = self.sg.schema.get_type(name)
        if named is not None and is_abstract_type(named):
            return [t.name for t in self.sg.schema.get_possible_types(named)]  # type: ignore[arg-type]
        return [name]

    # --- steps -------------------------------------------------------------------------

    def new_step(
        self, graph: str, path: tuple[str, ...], kind: str, parent: FetchStep | None
    ) -> FetchStep:
        step = FetchStep(id=len(self.steps), graph=graph, path=path, kind=kind)
        if parent is not None:
            step.parent, step.root = parent.id, parent.root
            step.deps.add(parent.id)
        else:
            step.root = step.id
        self.steps.append(step)
        return step

    def group(
        self,
        parent: FetchStep,
        graph: str,
        path: tuple[str, ...],
        type_name: str | None = None,
        after: set[int] | frozenset[int] = frozenset(),
        inputs: list[Projection] | None = None,
    ) -> FetchStep:
        """The entity step under `parent` at `path` on `graph` that can take these inputs.

        A step already planned is reused unless it must run before one of the steps
        `after` (the new field's inputs come from them) or its representations already
        carry a field of the same name with other arguments (two requirements of one
        field with different arguments need two fetches).
        """
        candidates = self.groups.setdefault((parent.id, path, graph), [])
        for step in candidates:
            if step.id in after or any(self._depends(a, step.id) for a in after):
                continue
            spec = step.reps.get(type_name) if type_name else None
            if spec is not None and inputs and _conflicting(spec, inputs):
                continue
            return step
        step = self.new_step(graph, path, "entities", parent)
        candidates.append(step)
        return step

    def _planned(self, parent: FetchStep, path: tuple[str, ...], graph: str) -> bool:
        return bool(self.groups.get((parent.id, path, graph)))

    def _depends(self, step_id: int, on: int) -> bool:
        """Whether step `step_id` waits (directly or not) for step `on`."""
        seen: set[int] = set()
        stack = [step_id]
        while stack:
            current = stack.pop()
            if current == on:
                return True
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.steps[current].deps)
        return False

    # --- planning ------------------------------------------------------------------------

    def run(self) -> QueryPlan:
        op = self.operation.operation
        root_type = (
            self.sg.schema.mutation_type
            if op == OperationType.MUTATION
            else self.sg.schema.query_type
        )
        if op == OperationType.SUBSCRIPTION or root_type is None:
            raise PlanningError(f"{op.value} operations are not supported")
        root = root_type.name
        self._refuse_reserved_aliases()
        fields = self.collector.collect(root, [self.operation.selection_set])
        mutation = op == OperationType.MUTATION
        self.root_name, self.mutation = root, mutation
        kind = "mutation" if mutation else "query"
        roots = self.roots
        if not mutation:
            # fields only one subgraph resolves first, so shared ones join a planned fetch
            fields = sorted(fields, key=lambda f: len(self.sg.field_graphs(root, f.name)) > 1)
        for f in fields:
            if f.name in META_ROOT_FIELDS:
                continue
            graphs = self.sg.field_graphs(root, f.name)
            if not graphs:
                raise PlanningError(f"no subgraph resolves {root}.{f.name}")
            if mutation:
                if roots and roots[-1].graph in graphs:
                    step = roots[-1]
                else:
                    step = self.new_step(graphs[0], (), kind, None)
                    roots.append(step)
            else:
                step = self.root_step(self._best_root_graph(root, f, graphs))
            sel = step.selections.setdefault(root, {})
            self.plan_fields(step, root, [f], (), sel, None, fields)
        for step in self.steps:
            self.compile(step, root)
        self._check_acyclic()
        return QueryPlan(kind, self.steps, [s.id for s in roots])

    def _refuse_reserved_aliases(self) -> None:
        """Response names the planner gives its own fields are not the client's to use: a
        client field under one would be read as a key or a requirement."""
        stack = [self.operation.selection_set]
        stack += [f.selection_set for f in self.collector.fragments.values()]
        while stack:
            selection_set = stack.pop()
            for sel in selection_set.selections:
                alias = getattr(sel, "alias", None)
                if alias is not None and alias.value.startswith(INTERNAL_PREFIX):
                    raise PlanningError(
                        f"the alias {alias.value} is refused: names starting with "
                        f"{INTERNAL_PREFIX} are the gateway's own"
                    )
                if getattr(sel, "selection_set", None) is not None:
                    stack.append(sel.selection_set)

    def root_step(self, graph: str) -> FetchStep:
        step = self.by_graph.get(graph)
        if step is None:
            step = self.by_graph[graph] = self.new_step(graph, (), "query", None)
            self.roots.append(step)
        return step

    def _best_root_graph(self, root: str, f: NField, graphs: list[str]) -> str:
        """The subgraph that answers a root field with the fewest entity fetches after it
        (`@provides` counted), a subgraph already in the plan on a tie, else the first."""
        if len(graphs) == 1:
            return graphs[0]
        ranked = sorted(
            range(len(graphs)),
            key=lambda i: (self.hops(graphs[i], root, f, None), graphs[i] not in self.by_graph, i),
        )
        return graphs[ranked[0]]

    def hops(
        self, graph: str, type_name: str, f: NField, provided: dict | None, depth: int = 0
    ) -> float:
        """Entity fetches needed below `graph` for `f` of `type_name` (inf: cannot tell how).

        An estimate to choose between subgraphs; planning itself decides what is possible.
        """
        if f.name == "__typename" or depth > 12:
            return 0
        memo = (graph, type_name, id(f)) if provided is None else None
        if memo is not None and memo in self._hops:
            return self._hops[memo]
        if self._local(graph, type_name, f, provided):
            result = self._hops_below(
                graph, type_name, f, provided.get(f.name) if provided else None, depth
            )
        else:
            result = float("inf")
            for g in self.sg.field_graphs(type_name, f.name):
                keys = self.sg.keys(type_name, g)
                if g == graph and not self.sg.requires(type_name, f.name, g):
                    continue
                if any(self._resolvable(graph, type_name, k, provided) for k in keys):
                    result = min(result, 1 + self._hops_below(g, type_name, f, None, depth + 1))
        if memo is not None:
            self._hops[memo] = result
        return result

    def _hops_below(
        self, graph: str, type_name: str, f: NField, provided: dict | None, depth: int
    ) -> float:
        if f.return_type is None or not is_composite_type(f.return_type):
            return 0
        if is_abstract_type(f.return_type) and self.sg.is_interface_object(
            f.return_type.name, graph
        ):
            return 1
        provides = self.sg.provides(type_name, f.name, graph)
        if provides:
            provided = _merge_provided(provided, _provided_tree(provides))
        total = 0.0
        for obj in self._types_in_graph(type_name, f, graph):
            for k in self.children(f, obj):
                sub = provided if provided is not None else None
                total += self.hops(graph, obj, k, sub, depth + 1)
        return total

    def plan_fields(
        self,
        step: FetchStep,
        type_name: str,
        fields: list[NField],
        path: tuple[str, ...],
        sel: Selection,
        provided: dict | None,
        siblings: list[NField] | None = None,
    ) -> set[int]:
        """Place `fields` of `type_name` at `path`; returns the steps that fetch them."""
        siblings = fields if siblings is None else siblings
        touched = {step.id}
        for f in fields:
            if f.name == "__typename":
                continue
            local = step.graph in self.sg.field_graphs(type_name, f.name)
            if local and self.sg.requires(type_name, f.name, step.graph):
                # its subgraph reads the required fields from a representation only
                local = False
            if local or (provided is not None and f.name in provided):
                sub = provided.get(f.name) if provided is not None else None
                touched |= self.add_local(step, type_name, f, path, sel, sub, siblings)
            else:
                touched |= self.jump(step, type_name, f, path, sel, siblings, provided)
        return touched

    def add_local(
        self,
        step: FetchStep,
        type_name: str,
        f: NField,
        path: tuple[str, ...],
        sel: Selection,
        provided: dict | None,
        siblings: list[NField] | None = None,
    ) -> set[int]:
        rtype = f.return_type
        existing = sel.get(f.key)
        if rtype is None or not is_composite_type(rtype):
            if existing is None:
                sel[f.key] = SelField(f.name, f.args)
            return {step.id}
        if is_abstract_type(rtype) and self.sg.is_interface_object(rtype.name, step.graph):
            return self.add_interface_object(step, f, path, sel, provided)
        abstract = is_abstract_type(rtype)
        if existing is None:
            existing = sel[f.key] = SelField(f.name, f.args, abstract, {})
        assert existing.children is not None
        provides = self.sg.provides(type_name, f.name, step.graph)
        if provides:
            provided = _merge_provided(provided, _provided_tree(provides))
        child_path = (*path, f.key)
        touched = {step.id}
        types = self._types_in_graph(type_name, f, step.graph)
        if abstract and not types and self.sg.graph_has_type(step.graph, rtype.name):
            # the subgraph knows the abstract type but none of its object types: only what
            # is selected on the abstract type itself can be asked (it answers or fails)
            types = [rtype.name]
        for obj in types:
            child_sel = existing.children.setdefault(obj, {})
            kids = self.children(f, obj)
            elsewhere = self._value_fields_elsewhere(step.graph, obj, kids, provided)
            if elsewhere:
                kids = [k for k in kids if k not in elsewhere]
                touched |= self.split(step, type_name, f, obj, elsewhere, path, sel, siblings)
            touched |= self.plan_fields(step, obj, kids, child_path, child_sel, provided)
        if abstract and len(existing.children) > 1:
            self._alias_conflicts(step, existing.children)
        return touched

    def _alias_conflicts(self, step: FetchStep, branches: dict[str, Selection]) -> None:
        """Fields of one response name typed differently in sibling fragments (allowed on
        different object types) cannot be sent as they are: the subgraph would refuse the
        query. All but the first type get an alias; the step restores the names."""
        seen: dict[str, str] = {}
        for obj, branch in branches.items():
            for key in list(branch):
                sel = branch[key]
                typed = self._type_in_graph(obj, sel.name, step.graph)
                first = seen.setdefault(key, typed)
                if first != typed:
                    alias = f"{INTERNAL_PREFIX}{key}_{obj}"
                    branch[alias] = branch.pop(key)
                    step.renames[alias] = key

    def _type_in_graph(self, obj: str, field_name: str, graph: str) -> str:
        entry = self.sg.join_field(obj, field_name, graph)
        if entry is not None and entry.type:
            return entry.type
        fdef = getattr(self.sg.schema.get_type(obj), "fields", {}).get(field_name)
        return str(fdef.type) if fdef is not None else ""

    def _types_in_graph(self, type_name: str, f: NField, graph: str) -> list[str]:
        """Object types `f` can return when `graph` resolves it (its type in that subgraph)."""
        assert f.return_type is not None
        named = self.sg.field_type_in_graph(type_name, f.name, graph) or f.return_type.name
        if named != f.return_type.name and self.sg.schema.get_type(named) is None:
            named = f.return_type.name
        if is_abstract_type(self.sg.schema.get_type(named)):  # type: ignore[arg-type]
            return self.sg.possible_types_in_graph(named, graph)
        return [named]

    def _local(self, graph: str, type_name: str, f: NField, provided: dict | None) -> bool:
        if provided is not None and f.name in provided:
            return True
        return graph in self.sg.field_graphs(type_name, f.name) and not self.sg.requires(
            type_name, f.name, graph
        )

    def _value_fields_elsewhere(
        self, graph: str, obj: str, kids: list[NField], provided: dict | None
    ) -> list[NField]:
        """Fields of a type without a key that `graph` cannot resolve: no `_entities` call
        can reach them, so the field holding them must also be fetched from a subgraph that
        does (through the parent entity, or as a root field)."""
        if any(self.sg.keys(obj, g) for g in self.sg.type_graphs(obj)):
            return []
        if any(
            self.sg.is_interface_object(i, g)
            for i in self.sg.interfaces_of(obj)
            for g in self.sg.type_graphs(i)
        ):
            return []
        return [
            k for k in kids if k.name != "__typename" and not self._local(graph, obj, k, provided)
        ]

    def split(
        self,
        step: FetchStep,
        type_name: str,
        f: NField,
        obj: str,
        fields: list[NField],
        path: tuple[str, ...],
        sel: Selection,
        siblings: list[NField] | None,
    ) -> set[int]:
        """Fetch `f` again from other subgraphs, each with the `fields` below it that it
        resolves (the one resolving most of them first)."""
        candidates = [
            g
            for g in self.sg.field_graphs(type_name, f.name)
            if g != step.graph and obj in self._types_in_graph(type_name, f, g)
        ]
        resolved = {
            g: [k for k in fields if self._local(g, obj, k, self._provided_by(type_name, f, g))]
            for g in candidates
        }
        candidates.sort(key=lambda g: -len(resolved[g]))
        groups: dict[str, list[NField]] = {}
        for k in fields:
            graph = next((g for g in candidates if k in resolved[g]), None)
            if graph is None:
                raise PlanningError(
                    f"no subgraph that resolves {type_name}.{f.name} resolves {obj}.{k.name}, "
                    f"and {obj} has no key to fetch it by"
                )
            groups.setdefault(graph, []).append(k)
        at_root = not path and type_name == self.root_name
        if at_root and self.mutation:
            names = ", ".join(f"{obj}.{k.name}" for k in fields)
            raise PlanningError(f"{names} would need the mutation {type_name}.{f.name} run twice")
        touched: set[int] = set()
        for graph, ks in groups.items():
            restricted = NField(f.key, f.name, f.nodes, f.return_type, f.internal, f.mate)
            restricted._children[obj] = ks
            if at_root:
                other = self.root_step(graph)
                other_sel = other.selections.setdefault(type_name, {})
                touched |= self.add_local(other, type_name, restricted, path, other_sel, None)
            elif not self.sg.keys(type_name, graph):
                names = ", ".join(f"{obj}.{k.name}" for k in ks)
                raise PlanningError(
                    f"{names} under {type_name}.{f.name} can only come from {graph}, "
                    f"which {type_name} has no key to reach"
                )
            else:
                touched |= self.jump(
                    step, type_name, restricted, path, sel, siblings or [], None, [graph]
                )
        return touched

    def _provided_by(self, type_name: str, f: NField, graph: str) -> dict | None:
        provides = self.sg.provides(type_name, f.name, graph)
        return _provided_tree(provides) if provides else None

    def add_interface_object(
        self,
        step: FetchStep,
        f: NField,
        path: tuple[str, ...],
        sel: Selection,
        provided: dict | None,
    ) -> set[int]:
        """A field whose interface this subgraph only knows as an `@interfaceObject`.

        Its fields on the interface are planned as usual; the object's real `__typename` and
        the fields selected on its object types come from a subgraph that owns the
        interface, through `_entities` with the interface's name as `__typename`.
        """
        assert f.return_type is not None
        iface = f.return_type.name
        existing = sel.get(f.key)
        if existing is None:
            existing = sel[f.key] = SelField(f.name, f.args, False, {})
        assert existing.children is not None
        child_sel = existing.children.setdefault(iface, {})
        child_path = (*path, f.key)
        kids = self.children(f, iface)
        touched = self.plan_fields(step, iface, kids, child_path, child_sel, provided)
        on_interface = {k.key for k in kids}
        concrete = {
            obj: [k for k in self.children(f, obj) if k.key not in on_interface]
            for obj in self._object_types(iface)
        }
        if not any(concrete.values()) and not any(k.name == "__typename" for k in kids):
            # nothing depends on the object type: the interface's fields are the answer
            return touched
        owners = [
            g
            for g in self.sg.type_graphs(iface)
            if not self.sg.is_interface_object(iface, g) and self.sg.keys(iface, g)
        ]
        if not owners:
            raise PlanningError(f"no subgraph owns the interface {iface} with a key")
        planned = [g for g in owners if self._planned(step, child_path, g)]
        graph = (planned or owners)[0]
        keys = self.sg.keys(iface, graph)
        key = next((k for k in keys if self._resolvable(step.graph, iface, k)), keys[0])
        child_sel.setdefault("__typename", SelField("__typename"))
        key_fields = self.field_set(iface, key, kids)
        key_touched = self.plan_fields(step, iface, key_fields, child_path, child_sel, None, kids)
        owner = self.group(step, graph, child_path, iface, key_touched - {step.id})
        spec = owner.reps.setdefault(iface, RepSpec(iface))
        spec.add(self.projections(key_fields, iface), into_key=True)
        owner.deps |= key_touched - {owner.id}
        owner.selections.setdefault(iface, {})["__typename"] = SelField("__typename")
        for obj, fields in concrete.items():
            if fields:
                obj_sel = owner.selections.setdefault(obj, {})
                touched |= self.plan_fields(owner, obj, fields, child_path, obj_sel, None)
        return touched | key_touched | {owner.id}

    def jump(
        self,
        step: FetchStep,
        type_name: str,
        f: NField,
        path: tuple[str, ...],
        sel: Selection,
        siblings: list[NField],
        provided: dict | None,
        only: list[str] | None = None,
    ) -> set[int]:
        """Fetch `f` from another subgraph through `_entities`."""
        rep_type = type_name
        graphs = only or self.sg.field_graphs(type_name, f.name)
        if not graphs:
            for iface in self.sg.interfaces_of(type_name):
                candidates = [
                    g
                    for g in self.sg.field_graphs(iface, f.name)
                    if self.sg.is_interface_object(iface, g)
                ]
                if candidates:
                    graphs, rep_type = candidates, iface
                    break
        graphs = [g for g in graphs if self.sg.keys(rep_type, g)]
        if not graphs:
            raise PlanningError(f"no subgraph can resolve {type_name}.{f.name} as an entity")
        planned = [g for g in graphs if self._planned(step, path, g)]
        graph, key = None, None
        for g in planned + [g for g in graphs if g not in planned]:
            for candidate in self.sg.keys(rep_type, g):
                if self._resolvable(step.graph, type_name, candidate, provided):
                    graph, key = g, candidate
                    break
            if graph:
                break
        if graph is None or key is None:
            # no key the parent can give: fetch one elsewhere first
            graph = (planned or graphs)[0]
            key = self.sg.keys(rep_type, graph)[0]
            attempt = (step.id, path, type_name, f.name)
            if attempt in self._jumps:
                raise PlanningError(f"no subgraph can give a key to fetch {type_name}.{f.name}")
            self._jumps.add(attempt)
        sel.setdefault("__typename", SelField("__typename"))
        key_fields = self.field_set(type_name, key, siblings)
        touched = self.plan_fields(step, type_name, key_fields, path, sel, provided, siblings)
        required = self.sg.requires(rep_type, f.name, graph)
        req_fields = self.field_set(type_name, required, siblings) if required else []
        if req_fields:
            # the requirements are planned in the parent (possibly through other entity
            # steps, even on this same subgraph): the new step waits for all of them
            attempt = (step.id, path, type_name, f.name, "requires")
            if attempt in self._jumps:
                raise PlanningError(f"{type_name}.{f.name} requires itself")
            self._jumps.add(attempt)
            touched |= self.plan_fields(step, type_name, req_fields, path, sel, provided, siblings)
            self._jumps.discard(attempt)
        key_projections = self.projections(key_fields, type_name)
        req_projections = self.projections(req_fields, type_name)
        child = self.group(
            step, graph, path, type_name, touched - {step.id}, key_projections + req_projections
        )
        spec = child.reps.setdefault(type_name, RepSpec(rep_type))
        spec.add(key_projections, into_key=True)
        spec.add(req_projections, into_key=False)
        child.deps |= touched - {child.id}
        child_sel = child.selections.setdefault(rep_type, {})
        touched |= self.add_local(child, rep_type, f, path, child_sel, None)
        touched.add(child.id)
        return touched

    def _resolvable(
        self, graph: str, type_name: str, fields: str, provided: dict | None = None
    ) -> bool:
        """Whether `graph` can give these fields here (itself or through `@provides`)."""

        def check(type_name: str, selection_set: SelectionSetNode, provided: dict | None) -> bool:
            for sel in selection_set.selections:
                if isinstance(sel, InlineFragmentNode):
                    cond = sel.type_condition.name.value if sel.type_condition else type_name
                    if not check(cond, sel.selection_set, provided):
                        return False
                    continue
                if not isinstance(sel, FieldNode) or sel.name.value == "__typename":
                    continue
                name = sel.name.value
                sub = provided.get(name) if provided is not None else None
                if graph not in self.sg.field_graphs(type_name, name) and sub is None:
                    return False
                if sel.selection_set:
                    parent = self.sg.schema.get_type(type_name)
                    fdef = getattr(parent, "fields", {}).get(name)
                    if fdef is None:
                        return False
                    if not check(get_named_type(fdef.type).name, sel.selection_set, sub):
                        return False
            return True

        return check(type_name, parse_field_set(fields), provided)

    # --- output ----------------------------------------------------------------------------

    def compile(self, step: FetchStep, root: str) -> None:
        names: set[str] = set()
        for selection in step.selections.values():
            selection_variables(selection, names)
        definitions = {
            d.variable.name.value: print_ast(d) for d in self.operation.variable_definitions or ()
        }
        used = tuple(n for n in definitions if n in names)
        declared = [definitions[n] for n in used]
        if step.kind == "entities":
            if len(step.selections) > 1:
                self._alias_conflicts(step, step.selections)
            declared.insert(0, "$representations: [_Any!]!")
            inner = " ".join(
                f"... on {t} {{ {print_selection(s) or '__typename'} }}"
                for t, s in step.selections.items()
            )
            body = f"{{ _entities(representations: $representations) {{ {inner} }} }}"
            keyword = "query"
        else:
            body = "{ " + (print_selection(step.selections.get(root, {})) or "__typename") + " }"
            keyword = step.kind
        header = f"{keyword}({', '.join(declared)}) " if declared else f"{keyword} "
        step.document = header + body
        step.variables = used

    def _check_acyclic(self) -> None:
        by_id = {s.id: s for s in self.steps}
        state: dict[int, int] = {}

        def visit(step_id: int) -> None:
            if state.get(step_id) == 2:
                return
            if state.get(step_id) == 1:
                raise PlanningError("the fetches of this operation depend on each other")
            state[step_id] = 1
            for dep in by_id[step_id].deps:
                visit(dep)
            state[step_id] = 2

        for s in self.steps:
            visit(s.id)


def _argument_key(f: NField) -> str:
    """The data key of an internal field with arguments: one per set of arguments."""
    printed = ",".join(print_ast(a) for a in f.args)
    return f"{INTERNAL_PREFIX}{f.name}_{zlib.crc32(printed.encode()):08x}"


def _conflicting(spec: RepSpec, inputs: list[Projection]) -> bool:
    """Whether a representation already carries one of these fields with other arguments."""
    present = {p.name: p for p in (*spec.key, *spec.required)}
    return any(p.name in present and present[p.name] != p for p in inputs)


def _provided_tree(fields: str) -> dict:
    def tree(selection_set: SelectionSetNode) -> dict:
        out: dict = {}
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                sub = tree(sel.selection_set) if sel.selection_set else {}
                out[sel.name.value] = _merge_provided(out.get(sel.name.value), sub)
            elif isinstance(sel, InlineFragmentNode):
                out = _merge_provided(out, tree(sel.selection_set)) or {}
        return out

    return tree(parse_field_set(fields))


def _merge_provided(a: dict | None, b: dict | None) -> dict | None:
    if a is None:
        return b
    if b is None:
        return a
    merged = dict(a)
    for k, v in b.items():
        merged[k] = _merge_provided(merged.get(k), v) or {}
    return merged
