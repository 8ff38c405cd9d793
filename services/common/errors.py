"""Refusals with a stable code, and the GraphQL extension that reports them.

A handler raises one of these; the caller sees ``extensions.code`` (and ``field`` or
``rule`` where they apply). The database being unreachable (or not answering in time) is
``UNAVAILABLE``: the caller may retry (a change with the same ``Idempotency-Key``). Anything
else is unexpected: it is logged with the request id and the caller sees only ``INTERNAL``
and that id.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from services.common import mongo
from services.common.logs import current_request_id

log = logging.getLogger("dief.errors")


class DiefError(Exception):
    """A refusal the caller is meant to read."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, *, field: str | None = None, rule: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule

    @property
    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            ext["field"] = self.field
        if self.rule is not None:
            ext["rule"] = self.rule
        return ext


class Unauthenticated(DiefError):
    code = "UNAUTHENTICATED"


class Forbidden(DiefError):
    code = "FORBIDDEN"


class NotFound(DiefError):
    code = "NOT_FOUND"


class ValidationFailed(DiefError):
    code = "VALIDATION"


class Conflict(DiefError):
    code = "CONFLICT"


class DeadlinePassed(DiefError):
    code = "DEADLINE_PASSED"


class Unavailable(DiefError):
    code = "UNAVAILABLE"


DATABASE_AWAY = "The database cannot be reached just now; retry shortly."


class DiefErrors(MaskErrors):
    """Keep our refusals as they are; hide everything unexpected behind ``INTERNAL``."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._is_unexpected)

    @staticmethod
    def _is_unexpected(error: GraphQLError) -> bool:
        original = error.original_error
        if original is None or isinstance(original, DiefError):
            return False  # our own refusal, or a GraphQL syntax/validation error
        return not isinstance(original, GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = current_request_id()
        if error.original_error is not None and mongo.unavailable(error.original_error):
            log.warning(
                "database unavailable",
                extra={"error": type(error.original_error).__name__, "request_id": request_id},
            )
            return GraphQLError(
                message=DATABASE_AWAY,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": "UNAVAILABLE", "requestId": request_id},
            )
        log.error(
            "unexpected error in resolver",
            exc_info=error.original_error,
            extra={"path": error.path, "request_id": request_id},
        )
        return GraphQLError(
            message=f"Internal error. Quote request id {request_id} to the operators.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )
