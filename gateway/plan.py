"""Query plans: the subgraph fetches one client operation needs, and how they depend.

A `QueryPlan` is a set of `FetchStep`s. A root step sends a query or mutation to one
subgraph; an entity step sends one `_entities(representations:)` query for every object
found at its `path` in the data merged so far, after the steps it `deps`ends on. Steps
carry their compiled subgraph document (`document`) and the client variables it uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import ArgumentNode, print_ast


@dataclass
class SelField:
    """One field of a subgraph selection; `children` maps a type condition to a selection."""

    name: str
    args: tuple[ArgumentNode, ...] = ()
    abstract: bool = False
    children: dict[str, dict[str, SelField]] | None = None


Selection = dict[str, SelField]


@dataclass(frozen=True)
class Projection:
    """A field to copy from merged data into a representation: `name` read at `key`."""

    name: str
    key: str
    children: tuple[Projection, ...] = ()


@dataclass
class RepSpec:
    """How an object of one concrete type becomes a representation for an entity step."""

    typename: str
    key: list[Projection] = field(default_factory=list)
    required: list[Projection] = field(default_factory=list)

    def add(self, projections: list[Projection], into_key: bool) -> None:
        target = self.key if into_key else self.required
        for projection in projections:
            if projection not in self.key and projection not in self.required:
                target.append(projection)


@dataclass
class FetchStep:
    id: int
    graph: str
    path: tuple[str, ...]
    kind: str  # "query", "mutation" or "entities"
    parent: int | None = None
    root: int = 0
    deps: set[int] = field(default_factory=set)
    selections: dict[str, Selection] = field(default_factory=dict)
    reps: dict[str, RepSpec] = field(default_factory=dict)
    document: str = ""
    variables: tuple[str, ...] = ()
    renames: dict[str, str] = field(default_factory=dict)  # alias sent -> response name


def restore_names(value: object, renames: dict[str, str]) -> object:
    """A subgraph's data with the aliases a step sent put back to the response names."""
    if isinstance(value, list):
        return [restore_names(v, renames) for v in value]
    if isinstance(value, dict):
        return {renames.get(k, k): restore_names(v, renames) for k, v in value.items()}
    return value


@dataclass
class QueryPlan:
    operation: str  # "query" or "mutation"
    steps: list[FetchStep]
    roots: list[int]

    def subtree(self, root: int) -> list[FetchStep]:
        return [s for s in self.steps if s.root == root]

    def describe(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(subgraph, kind, path) of every step, for tests and logs."""
        return [(s.graph, s.kind, s.path) for s in self.steps]


def print_selection(selection: Selection) -> str:
    parts = []
    for key, sel in selection.items():
        text = sel.name if key == sel.name else f"{key}: {sel.name}"
        if sel.args:
            text += "(" + ", ".join(print_ast(a) for a in sel.args) + ")"
        if sel.children is not None:
            if sel.abstract:
                inner = ["__typename"] + [
                    f"... on {t} {{ {print_selection(c)} }}" for t, c in sel.children.items() if c
                ]
                text += " { " + " ".join(inner) + " }"
            else:
                child = next(iter(sel.children.values()), {})
                text += " { " + (print_selection(child) or "__typename") + " }"
        parts.append(text)
    return " ".join(parts)


def selection_variables(selection: Selection, into: set[str]) -> None:
    from graphql import VariableNode, visit
    from graphql.language import Visitor

    class _Collect(Visitor):
        def enter_variable(self, node: VariableNode, *_: object) -> None:
            into.add(node.name.value)

    for sel in selection.values():
        for arg in sel.args:
            visit(arg, _Collect())
        for child in (sel.children or {}).values():
            selection_variables(child, into)
