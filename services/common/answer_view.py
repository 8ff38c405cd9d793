"""The part of a service's GraphQL view that writes a request's deferred inserts (its
audit entries, ``services.common.deferred_inserts``) where the answer is made: once per
request, before the answer leaves; if they cannot be written the caller gets
``UNAVAILABLE`` (or ``INTERNAL``) instead of the content they would have recorded."""

from __future__ import annotations

import logging
from typing import Any

from graphql import ExecutionResult

from services.common import deferred_inserts, mongo
from services.common.errors import DATABASE_AWAY
from services.common.logs import current_request_id

log = logging.getLogger("dief.graphql")


def _refused(message: str, code: str) -> dict[str, Any]:
    request_id = current_request_id()
    extensions = {"code": code, "requestId": request_id}
    return {"data": None, "errors": [{"message": message, "extensions": extensions}]}


class InsertsWithTheAnswer:
    """Mixed into the strawberry view before ``GraphQL`` (and after
    ``IdempotentMutations``, so a remembered answer is one whose inserts were written)."""

    async def execute_operation(  # type: ignore[no-untyped-def]
        self, request, request_adapter, request_data, context, root_value, sub_response
    ):
        deferred_inserts.collect()
        try:
            return await super().execute_operation(  # type: ignore[misc]
                request, request_adapter, request_data, context, root_value, sub_response
            )
        except BaseException:
            deferred_inserts.taken()  # no answer: nothing it read goes out
            raise

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        response = await super().process_result(request, result)  # type: ignore[misc]
        collector = deferred_inserts.taken()
        if collector is None or not collector.pending:
            return response
        try:
            await mongo.run_sync(collector.write)
        except Exception as exc:
            if mongo.unavailable(exc):
                log.warning("database unavailable at the answer's inserts")
                return _refused(DATABASE_AWAY, "UNAVAILABLE")
            log.error("the answer's inserts failed", exc_info=exc)
            return _refused(
                f"Internal error. Quote request id {current_request_id()} to the operators.",
                "INTERNAL",
            )
        return response
