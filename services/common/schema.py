"""The strawberry federation schema every subgraph uses."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from services.common.errors import DiefError, DiefErrors

FEDERATION_VERSION = "2.9"  # accepted by Apollo's and The Guild's composition tools

log = logging.getLogger("dief.graphql")


class SubgraphSchema(strawberry.federation.Schema):
    """A Federation v2 subgraph schema that reports refusals and masks surprises."""

    def __init__(self, **kwargs: Any) -> None:
        extensions = [*kwargs.pop("extensions", ()), DiefErrors]
        super().__init__(extensions=extensions, federation_version=FEDERATION_VERSION, **kwargs)

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
