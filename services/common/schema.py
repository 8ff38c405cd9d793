"""The strawberry federation schema every subgraph uses."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.federation.schema import FederationAny
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType
from strawberry.types.info import Info

from services.common.entities import resolve_batches
from services.common.errors import DiefError, DiefErrors, ValidationFailed

FEDERATION_VERSION = "2.9"  # accepted by Apollo's and The Guild's composition tools
DOCUMENT_CACHE_SIZE = 512  # parsed and validated documents kept: a gateway sends few shapes

log = logging.getLogger("dief.graphql")


class WakeRelayAfterMutation(SchemaExtension):
    """After a mutation, ask the outbox relay to publish now what the mutation recorded.

    Queries write no events, so they leave the relay to its own pace instead of making it
    read the outbox once per request."""

    def on_execute(self):  # type: ignore[no-untyped-def]
        yield
        ctx = self.execution_context
        if ctx.operation_type is OperationType.MUTATION:
            runtime = getattr(ctx.context, "runtime", None)
            if runtime is not None:
                runtime.wake_relay()


class SubgraphSchema(strawberry.federation.Schema):
    """A Federation v2 subgraph schema that reports refusals and masks surprises, and
    parses and validates each distinct document once."""

    def __init__(self, **kwargs: Any) -> None:
        extensions = [
            *kwargs.pop("extensions", ()),
            ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
            ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
            WakeRelayAfterMutation,
            DiefErrors,
        ]
        super().__init__(extensions=extensions, federation_version=FEDERATION_VERSION, **kwargs)

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """``_entities``, with every representation checked first: a key the type does not
        take, a key value of the wrong shape or an operator-shaped one (``{"$gt": ""}``)
        answers VALIDATION for that entity and never reaches a resolver or a query. Types
        with ``resolve_references`` are then resolved in one call per type
        (``services.common.entities``); the others one by one, as strawberry does."""
        results: list[Any] = [None] * len(representations)
        valid: list[tuple[int, Any]] = []
        for index, representation in enumerate(representations):
            problem = self._representation_problem(representation)
            if problem is None:
                valid.append((index, representation))
            else:
                results[index] = ValidationFailed(problem, field="representations")
        resolved = (
            resolve_batches(
                info,
                [r for _, r in valid],
                lambda name: self.schema_converter.type_map[name].definition.origin,  # type: ignore[union-attr]
                lambda reps: super(SubgraphSchema, self).entities_resolver(info, reps),  # type: ignore[arg-type]
            )
            if valid
            else []
        )
        for (index, _), result in zip(valid, resolved, strict=True):
            results[index] = result
        return results  # type: ignore[return-value]

    def _representation_problem(self, representation: Any) -> str | None:
        if not isinstance(representation, dict):
            return "An entity representation is an object."
        type_name = representation.get("__typename")
        type_ = (
            self.schema_converter.type_map.get(type_name) if isinstance(type_name, str) else None
        )
        if type_ is None:
            return "An entity representation names a type of this subgraph."
        if _operator_shaped(representation):
            return "Entity keys are plain values."
        origin = getattr(type_.definition, "origin", None)
        resolve = getattr(origin, "resolve_reference", None)
        if resolve is None:
            return None
        parameters = inspect.signature(resolve).parameters
        for name, value in representation.items():
            if name == "__typename":
                continue
            parameter = parameters.get(name)
            if parameter is None and not any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
            ):
                return f"{type_name} is not resolved by {name}."
            plain = isinstance(value, str | int) and not isinstance(value, bool)
            if parameter is not None and _scalar_annotation(parameter.annotation) and not plain:
                return f"{type_name}'s key {name} is a plain value."
        return None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Refusals and malformed queries are the caller's business: one line each, no
        # stack trace. Unexpected failures are logged, with their trace, by DiefErrors.
        for error in errors:
            original = error.original_error
            if isinstance(original, DiefError):
                log.info(
                    "refused",
                    extra={"code": original.code, "reason": original.message, "path": error.path},
                )
            elif original is None:
                log.info("invalid request", extra={"reason": error.message})


SCALAR_ANNOTATIONS = {"strawberry.ID", "ID", "str", "int", "str | None", "strawberry.ID | None"}


def _scalar_annotation(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation in SCALAR_ANNOTATIONS
    return annotation in (str, int, strawberry.ID)


def _operator_shaped(value: Any) -> bool:
    """Whether a MongoDB operator (a key starting with ``$``) hides anywhere in ``value``."""
    if isinstance(value, dict):
        return any(
            (isinstance(k, str) and k.startswith("$")) or _operator_shaped(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_operator_shaped(v) for v in value)
    return False
