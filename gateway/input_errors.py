"""Which input field a validation error is about, for its ``extensions.field``.

A literal the schema refuses (``startDate: "2029-13-01"``) is named by the argument or input
field it is the value of; a variable's value refused while coercing
(``Variable "$i" got invalid value … at "i.startDate"``) by the last name on that path, or
the variable itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    Node,
    ObjectFieldNode,
    ValueNode,
    VariableDefinitionNode,
)

# graphql-core 3.3: Variable '$i' has invalid value at .input.startDate: …
# graphql-core 3.2: Variable "$i" got invalid value … at "i.input.startDate"; …
_VARIABLE = (
    re.compile(r"^Variable '\$(\w+)' has invalid value at ([^:\s]+):", re.S),
    re.compile(r'^Variable "\$(\w+)" got invalid value .*? at "\w+([^"]*)"', re.S),
)
_VARIABLE_ITSELF = re.compile(r"""^Variable ['"]\$(\w+)['"]""")


def input_field(error: GraphQLError, document: DocumentNode | None = None) -> str | None:
    nodes = error.nodes or []
    if nodes and isinstance(nodes[0], VariableDefinitionNode):
        found = _VARIABLE[0].match(error.message) or _VARIABLE[1].match(error.message)
        if found:
            names = [p for p in re.split(r"[.\[\]]", found.group(2)) if p and not p.isdigit()]
            return names[-1] if names else found.group(1)
        itself = _VARIABLE_ITSELF.match(error.message)
        return itself.group(1) if itself else None
    if nodes and isinstance(nodes[0], ValueNode) and document is not None:
        return _holder_of(nodes[0], document)
    return None


def _holder_of(value: Node, document: DocumentNode) -> str | None:
    for holder in _holders(document):
        if holder.value is value:
            return holder.name.value
    return None


def _holders(node: Any) -> Iterator[ArgumentNode | ObjectFieldNode]:
    if isinstance(node, ArgumentNode | ObjectFieldNode):
        yield node
    for key in getattr(node, "keys", ()):
        if key == "loc":
            continue
        child = getattr(node, key, None)
        if isinstance(child, Node):
            yield from _holders(child)
        elif isinstance(child, tuple | list):
            for item in child:
                if isinstance(item, Node):
                    yield from _holders(item)
