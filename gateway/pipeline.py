"""One GraphQL operation through the gateway, HTTP aside.

Persisted query → parse (token limit) and validate against the API schema (cached by
document text) → choose the operation → limits → authorisation directives → plan and
execute (the executor's plan cache) → mask errors and answer refused fields as null.
Nothing reaches a subgraph before the limits and the authorisation have passed.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    OperationType,
    print_ast,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.validation import NoSchemaIntrospectionCustomRule

from gateway.access import scopes_of
from gateway.authorization import (
    Decision,
    DirectiveSource,
    RequestRefused,
    answer_removed,
    authorise,
)
from gateway.fairness import charge
from gateway.input_errors import input_field
from gateway.limits import (
    LimitExceeded,
    Limits,
    check_operation,
    parse_within_limits,
    select_operation,
)
from gateway.masking import internal_error, mask_errors
from gateway.persisted import PersistedQueries, PersistedQueryError
from gateway.planner import condition_variables
from services.common.principal import Principal

log = logging.getLogger("dief.gateway")


class Executes(Protocol):
    async def execute(
        self,
        document: DocumentNode | str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> dict[str, Any]: ...


class MutationOverGet(Exception):
    """GET must not change anything: mutations are POST only."""


@dataclass(frozen=True)
class Parsed:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]


@dataclass
class Outcome:
    """The GraphQL response and how to count it."""

    body: dict[str, Any]
    operation: str  # query, mutation, subscription, or unknown
    outcome: str  # ok, partial, refused, invalid, error


def _error(message: str, code: str = "VALIDATION", **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


def _graphql_error(
    error: GraphQLError, code: str = "VALIDATION", field: str | None = None
) -> dict[str, Any]:
    formatted: dict[str, Any] = {"message": error.message, "extensions": {"code": code}}
    if field is not None:
        formatted["extensions"]["field"] = field
    if error.locations:
        formatted["locations"] = [{"line": x.line, "column": x.column} for x in error.locations]
    return formatted


SUGGESTION = re.compile(r"\s*Did you mean\b.*$", re.DOTALL)
QUOTED_NAME = re.compile(r"(['\"])([_A-Za-z][_0-9A-Za-z]*)\1")
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


QUOTE_AT_MOST = 200  # characters of an error message; an input is never echoed whole


def quote_briefly(body: Any) -> None:
    """Refusals quote at most a short prefix of what was sent (a 250 kB variable does not
    come back inside the error): a longer message is cut, and says so."""
    errors = (body.get("errors") or ()) if isinstance(body, dict) else ()
    for error in errors:
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str) and len(message) > QUOTE_AT_MOST:
            error["message"] = message[:QUOTE_AT_MOST] + "… (cut)"


def without_schema_names(body: Any, said: set[str]) -> None:
    """With introspection off no answer may name a field, argument, type, enum value or
    input field of the schema the caller did not name itself: graphql-core's "Did you mean
    ...?" goes, and every other quoted name not in the caller's query or variables becomes
    '…'."""
    errors = (body.get("errors") or ()) if isinstance(body, dict) else ()
    for error in errors:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = SUGGESTION.sub("", error["message"])
            error["message"] = QUOTED_NAME.sub(
                lambda m: m.group(0) if m.group(2) in said else "'…'", message
            )


def _cost_key(text: str, operation: OperationDefinitionNode, values: Any) -> tuple | None:
    """What a cost depends on, when every variable is a scalar (or null); None otherwise
    (inputs and lists are walked each time)."""
    if not isinstance(values, Mapping):
        return None
    scalars = []
    for name, value in values.items():
        if value is not None and type(value) not in (str, int, float, bool):
            return None
        scalars.append((name, type(value).__name__, value))
    name = operation.name.value if operation.name else None
    return (text, name, tuple(sorted(scalars)))


class _Lru(OrderedDict[Any, Any]):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def lookup(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def keep(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class Pipeline:
    def __init__(
        self,
        schema: GraphQLSchema,
        directives: DirectiveSource,
        executor: Executes,
        *,
        limits: Limits,
        persisted: PersistedQueries,
        reject_unauthorised: bool = False,
        introspection: bool = False,
        cache_size: int = 1000,
        hide_suggestions: bool = False,
    ) -> None:
        self.schema = schema
        self.hide_suggestions = hide_suggestions
        self.directives = directives
        self.executor = executor
        self.limits = limits
        self.persisted = persisted
        self.reject_unauthorised = reject_unauthorised
        self.rules = list(specified_rules)
        if not introspection:
            self.rules.append(NoSchemaIntrospectionCustomRule)
        self._documents = _Lru(cache_size)
        self._decisions = _Lru(cache_size)
        self._costs = _Lru(cache_size)

    def cost(
        self, text: str, document: DocumentNode, operation: OperationDefinitionNode, coerced: Any
    ) -> int:
        """The operation's limits checked and its cost estimated (``LimitExceeded``
        otherwise), once per document, operation and scalar variable values: the same
        request shape is not walked again."""
        values = getattr(coerced, "coerced", coerced)
        key = _cost_key(text, operation, values)
        cost = self._costs.lookup(key) if key is not None else None
        if cost is None:
            cost = check_operation(self.schema, document, operation, coerced, self.limits)
            if key is not None:
                self._costs.keep(key, cost)
        return cost

    def parse(self, text: str) -> Parsed:
        """Parsed and validated once per distinct document text."""
        cached = self._documents.lookup(text)
        if cached is not None:
            return cached
        try:
            document = parse_within_limits(text, self.limits)
        except GraphQLSyntaxError as exc:
            parsed = Parsed(None, (_graphql_error(exc),))
        else:
            errors = validate(self.schema, document, self.rules)
            parsed = Parsed(
                document,
                tuple(_graphql_error(e, field=input_field(e, document)) for e in errors),
            )
        self._documents.keep(text, parsed)
        return parsed

    def authorised(
        self,
        text: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        principal: Principal | None,
        variables: Mapping[str, Any],
    ) -> tuple[Decision, str]:
        """Decisions depend on the document, what the caller holds and the values of the
        variables `@skip`/`@include` read: cached by all three.
        Returns the decision and the text of the document to run."""
        held = None if principal is None else scopes_of(principal)
        conditions: tuple[Any, ...] = ()
        if "@skip" in text or "@include" in text:
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            conditions = tuple(
                variables.get(name) for name in condition_variables(operation, fragments)
            )
        key = (text, operation.name.value if operation.name else None, held, conditions)
        cached = self._decisions.lookup(key)
        if cached is None:
            decision = authorise(
                self.schema,
                self.directives,
                document,
                operation,
                principal,
                reject=self.reject_unauthorised,
                variables=variables,
            )
            # The executor caches plans by document text: give it the same text each time.
            runnable = (
                text
                if decision.document is document or decision.document is None
                else print_ast(decision.document)
            )
            cached = (decision, runnable)
            self._decisions.keep(key, cached)
        return cached

    async def run(
        self,
        payload: Any,
        principal: Principal | None,
        request_id: str,
        *,
        method: str = "POST",
    ) -> Outcome:
        outcome = await self._run(payload, principal, request_id, method=method)
        quote_briefly(outcome.body)
        if self.hide_suggestions:
            said = ""
            if isinstance(payload, Mapping):
                said = repr(payload.get("query")) + repr(payload.get("variables"))
            without_schema_names(outcome.body, set(NAME.findall(said)))
        return outcome

    async def _run(
        self,
        payload: Any,
        principal: Principal | None,
        request_id: str,
        *,
        method: str = "POST",
    ) -> Outcome:
        if not isinstance(payload, Mapping):
            return Outcome(
                {"errors": [_error("A GraphQL request is a JSON object.")]}, "unknown", "invalid"
            )
        query = payload.get("query")
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName") or None
        extensions = payload.get("extensions") or {}
        if (
            (query is not None and not isinstance(query, str))
            or not isinstance(variables, Mapping)
            or (operation_name is not None and not isinstance(operation_name, str))
            or not isinstance(extensions, Mapping)
        ):
            return Outcome(
                {
                    "errors": [
                        _error(
                            "query and operationName are strings; variables and "
                            "extensions are objects."
                        )
                    ]
                },
                "unknown",
                "invalid",
            )
        try:
            text = self.persisted.resolve(query, extensions)
        except PersistedQueryError as exc:
            return Outcome({"errors": [exc.to_error()]}, "unknown", "invalid")
        try:
            parsed = self.parse(text)
        except LimitExceeded as exc:
            return Outcome({"errors": [exc.to_error()]}, "unknown", "invalid")
        if parsed.errors or parsed.document is None:
            return Outcome({"errors": list(parsed.errors)}, "unknown", "invalid")
        document = parsed.document
        try:
            operation = select_operation(document, operation_name)
        except GraphQLError as exc:
            return Outcome({"errors": [_graphql_error(exc)]}, "unknown", "invalid")
        kind = operation.operation.value
        if operation.operation is OperationType.SUBSCRIPTION:
            message = "Subscriptions are not served here; follow the events on NATS instead."
            return Outcome({"errors": [_error(message)]}, kind, "invalid")
        if method == "GET" and operation.operation is not OperationType.QUERY:
            raise MutationOverGet
        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), dict(variables)
        )
        if isinstance(coerced, list):
            errors = [_graphql_error(e, field=input_field(e)) for e in coerced]
            return Outcome({"errors": errors}, kind, "invalid")
        try:
            cost = self.cost(text, document, operation, coerced)
            charge(cost)  # the whole request's budget, batch included (gateway.fairness)
        except LimitExceeded as exc:
            return Outcome({"errors": [exc.to_error()]}, kind, "invalid")
        try:
            decision, runnable = self.authorised(
                text, document, operation, principal, coerced.coerced
            )
        except RequestRefused as refused:
            return Outcome({"errors": refused.errors, "data": None}, kind, "refused")
        return await self._execute(
            decision, runnable, dict(variables), operation_name, request_id, kind
        )

    async def _execute(
        self,
        decision: Decision,
        runnable: str,
        variables: dict[str, Any],
        operation_name: str | None,
        request_id: str,
        kind: str,
    ) -> Outcome:
        refusals = decision.errors
        if decision.document is None:
            data = answer_removed({}, decision.removed)
            return Outcome({"errors": refusals, "data": data}, kind, "refused")
        if decision.removed:
            (operation,) = decision.document.definitions
            assert isinstance(operation, OperationDefinitionNode) and operation.name
            operation_name = operation.name.value
        try:
            result = await self.executor.execute(runnable, variables, operation_name)
        except Exception:
            log.exception("the executor failed", extra={"request_id": request_id})
            return Outcome({"errors": [internal_error(request_id)], "data": None}, kind, "error")
        errors = refusals + mask_errors(result.get("errors"), request_id)
        data = answer_removed(result.get("data"), decision.removed)
        body: dict[str, Any] = {}
        if errors:
            body["errors"] = errors
        body["data"] = data
        outcome = "ok" if not errors else ("partial" if data is not None else "error")
        return Outcome(body, kind, outcome)
