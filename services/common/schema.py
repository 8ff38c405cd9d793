"""The strawberry federation schema every subgraph uses."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.federation.schema import FederationAny
from strawberry.types import ExecutionContext, Info
from strawberry.types.graphql import OperationType

from services.common.entities import resolve_batches
from services.common.errors import DiefError, DiefErrors

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
        """Types with ``resolve_references`` are resolved in one call per type
        (``services.common.entities``); the others one by one, as strawberry does."""
        return resolve_batches(
            info,
            representations,  # type: ignore[arg-type]
            lambda name: self.schema_converter.type_map[name].definition.origin,  # type: ignore[union-attr]
            lambda reps: super(SubgraphSchema, self).entities_resolver(info, reps),  # type: ignore[arg-type]
        )

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
