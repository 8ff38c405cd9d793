"""The part of a service's GraphQL view that makes mutations with an ``Idempotency-Key``
idempotent (the rules are in ``services.common.idempotency``), and bounds the transactions
of every request below the caller's timeout (``mongo.serving_caller``)."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError, OperationType, get_operation_ast, parse
from strawberry.http import GraphQLRequestData

from services.common import idempotency, mongo
from services.common.errors import DATABASE_AWAY, DiefError
from services.common.logs import current_request_id

log = logging.getLogger("dief.idempotency")


@dataclass
class _Pending:
    answer: dict[str, Any] | None = None
    rid: str = ""
    request: str = ""
    hold: idempotency.Held | None = None


_pending: ContextVar[_Pending | None] = ContextVar("dief_idempotent_request", default=None)


def _refusal(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": code, **extensions}}],
    }


def _unavailable() -> dict[str, Any]:
    return _refusal(DATABASE_AWAY, "UNAVAILABLE", requestId=current_request_id())


def _is_mutation(data: GraphQLRequestData) -> bool:
    if not data.query:
        return False
    try:
        operation = get_operation_ast(parse(data.query), data.operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation == OperationType.MUTATION


class IdempotentMutations:
    """Mixed into the strawberry view before ``GraphQL``; needs ``self.runtime``."""

    runtime: Any

    async def execute_operation(  # type: ignore[no-untyped-def]
        self, request, request_adapter, request_data, context, root_value, sub_response
    ):
        mongo.serving_caller.set(True)  # transactions end before the caller gives up
        key = request.headers.get("idempotency-key")
        run = super().execute_operation  # type: ignore[misc]
        args = (request, request_adapter, request_data, context, root_value, sub_response)
        if key is None or not isinstance(request_data, GraphQLRequestData):
            return await run(*args)
        if not _is_mutation(request_data):
            return await run(*args)
        pending = _Pending()
        try:
            subject = context.principal.subject if context.principal else None
        except DiefError:
            return await run(*args)  # unauthenticated: refused as usual
        alias = self.runtime.alias
        if not idempotency.valid_key(key):
            pending.answer = _refusal(
                f"An Idempotency-Key is 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII "
                "characters.",
                "VALIDATION",
                field="Idempotency-Key",
            )
        else:
            pending.rid = idempotency.record_id(self.runtime.service, subject, key)
            pending.request = idempotency.request_hash(
                request_data.query or "", request_data.variables, request_data.operation_name
            )
            try:
                pending.answer = await mongo.run_sync(
                    idempotency.replay, alias, pending.rid, pending.request
                )
            except Exception as exc:
                if not mongo.unavailable(exc):
                    raise
                pending.answer = _unavailable()
        _pending.set(pending)
        if pending.answer is not None:
            return ExecutionResult(data=None)
        pending.hold = idempotency.Held()
        token = idempotency.held.set(pending.hold)
        try:
            return await run(*args)
        finally:
            idempotency.held.reset(token)

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        response = await super().process_result(request, result)  # type: ignore[misc]
        pending = _pending.get()
        if pending is None:
            return response
        _pending.set(None)
        if pending.answer is not None:
            return pending.answer
        if pending.hold is None or not pending.hold.writes:
            return response  # nothing changed: nothing to remember
        try:
            answer = await mongo.run_sync(
                idempotency.commit,
                self.runtime.alias,
                pending.hold.writes,
                pending.rid,
                pending.request,
                response,
            )
        except DiefError as exc:  # e.g. a CONFLICT of an optimistic version check
            return {
                "data": None,
                "errors": [{"message": exc.message, "extensions": exc.extensions}],
            }
        except Exception as exc:
            if mongo.unavailable(exc):
                log.warning("database unavailable at commit", extra={"error": type(exc).__name__})
                return _unavailable()
            raise
        self.runtime.wake_relay()
        return answer
