"""Runs client operations over the subgraphs of a supergraph.

    executor = Executor(supergraph, fetch, plan_cache_size=1000)
    result = await executor.execute(document, variables, operation_name)

`fetch(subgraph_name, query, variables) -> Awaitable[dict]` sends one GraphQL request to a
subgraph and returns its JSON response (`{"data": ..., "errors": [...]}`); it is where the
caller adds headers, timeouts and pooling (`gateway.fetcher.HttpFetcher` is the default).
A fetch that gets no answer (`gateway.fetcher.SubgraphUnavailable`, a connection error or a
timeout) becomes an error with `extensions.code` "SUBGRAPH_UNAVAILABLE" and
`extensions.subgraph` (the name, never the address); any other exception from `fetch` one
with "INTERNAL". Either way the error is at the paths of the fields that fetch was for,
those fields are null, and the data of the other fetches is kept.

`execute` returns `{"data": ..., "errors": [...]}` ("errors" only when there are some):
- syntax errors: `extensions.code` "GRAPHQL_PARSE_FAILED"; operations invalid against
  `supergraph.api_schema`: "GRAPHQL_VALIDATION_FAILED"; bad variables: "BAD_USER_INPUT";
  an operation no plan over the subgraphs can answer: "QUERY_PLAN_FAILED", saying why;
  none of these calls a subgraph;
- subgraph errors keep their message and extensions, at the client's path;
- fields a failed fetch could not give are null (null propagating to the nearest nullable
  parent, as in any GraphQL response).

Independent fetches run concurrently; every entity step sends one `_entities` request with
its representations deduplicated; mutation root fields run strictly in order. Plans are
cached by (document text, operation name) in an LRU of `plan_cache_size` entries
(`plan_cache_hits`, `plan_cache_misses`); a `DocumentNode` is keyed by its printed form, so
passing the request's text is the fastest. `executor.plan(document, variables,
operation_name)` returns the plan without running it.

Fetches run in tasks started inside `execute`, so context variables set by the caller
(request id, principal) are visible to `fetch` and to `HttpFetcher`'s `headers_factory`.
The response is shaped by `gateway.shaper.Shaper`, built once per plan; operations reading
`__schema`/`__type` are answered by graphql-core's execution over the API schema.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    OperationDefinitionNode,
    execute,
    parse,
    print_ast,
    validate,
)
from graphql.execution.values import get_variable_values

from gateway.fetcher import SubgraphError, SubgraphOpen, SubgraphUnavailable
from gateway.plan import FetchStep, Projection, QueryPlan, restore_names
from gateway.planner import Planner, PlanningError, condition_variables
from gateway.shaper import Shaper
from gateway.supergraph import Supergraph

Fetch = Callable[[str, str, dict], Awaitable[dict]]
NULL_FIELD = "Cannot return null for non-nullable field"
INTROSPECTION = {"__schema", "__type"}


def _error(message: str, code: str, **extensions: Any) -> dict:
    return {"message": message, "extensions": {"code": code, **extensions}}


@dataclass
class _Prepared:
    """A parsed, validated operation and its plans by `@skip`/`@include` values."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    conditions: list[str]
    plans: dict[tuple, tuple[QueryPlan, Shaper | None]] = field(default_factory=dict)


@dataclass
class _Run:
    data: dict = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    failed: list[tuple] = field(default_factory=list)


class Executor:
    def __init__(self, supergraph: Supergraph, fetch: Fetch, plan_cache_size: int = 1000) -> None:
        self.supergraph = supergraph
        self.fetch = fetch
        self.planner = Planner(supergraph)
        self.plan_cache_size = plan_cache_size
        self.plan_cache_hits = 0
        self.plan_cache_misses = 0
        self._cache: OrderedDict[tuple[str, str | None], _Prepared | list[dict]] = OrderedDict()

    # --- preparing -------------------------------------------------------------------------

    def _prepare(
        self, document: DocumentNode | str, operation_name: str | None
    ) -> _Prepared | list[dict]:
        # a document may have been rewritten after parsing: its printed form is its identity
        text = document if isinstance(document, str) else print_ast(document)
        key = (text, operation_name)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        prepared = self._parse_and_validate(document, operation_name)
        self._cache[key] = prepared
        if len(self._cache) > self.plan_cache_size:
            self._cache.popitem(last=False)
        return prepared

    def _parse_and_validate(
        self, document: DocumentNode | str, operation_name: str | None
    ) -> _Prepared | list[dict]:
        if isinstance(document, str):
            try:
                document = parse(document)
            except GraphQLError as exc:
                return [{**exc.formatted, "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]
        errors = validate(self.supergraph.api_schema, document)
        if errors:
            return [
                {**e.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}} for e in errors
            ]
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            operations = [o for o in operations if o.name and o.name.value == operation_name]
        if len(operations) != 1:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            return [_error(message, "GRAPHQL_VALIDATION_FAILED")]
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        operation = operations[0]
        return _Prepared(document, operation, fragments, condition_variables(operation, fragments))

    # --- executing -------------------------------------------------------------------------

    async def execute(
        self,
        document: DocumentNode | str,
        variables: dict | None = None,
        operation_name: str | None = None,
    ) -> dict:
        prepared = self._prepare(document, operation_name)
        if isinstance(prepared, list):
            return {"errors": prepared}
        raw_variables = variables or {}
        coerced = _coerce(self.supergraph, prepared.operation, raw_variables)
        if isinstance(coerced, list):
            return {
                "errors": [
                    {**e.formatted, "extensions": {"code": "BAD_USER_INPUT"}} for e in coerced
                ]
            }
        condition = tuple(bool(coerced.get(n)) for n in prepared.conditions)
        cached = prepared.plans.get(condition)
        if cached is None:
            self.plan_cache_misses += 1
            try:
                plan = self.planner.plan(prepared.operation, prepared.fragments, coerced)
            except PlanningError as exc:
                message = f"The query cannot be planned over the subgraphs: {exc}."
                return {"errors": [_error(message, "QUERY_PLAN_FAILED")], "data": None}
            shaper = Shaper(
                self.supergraph.api_schema, prepared.operation, prepared.fragments, coerced
            )
            if any(f.name in INTROSPECTION for f in shaper.fields):
                shaper = None
            cached = prepared.plans[condition] = (plan, shaper)
        else:
            self.plan_cache_hits += 1
        plan, shaper = cached
        run = _Run()
        await self._run_plan(plan, raw_variables, run)
        if shaper is None:
            return self._shape_introspection(prepared, run, raw_variables)
        data, shape_errors = shaper.shape(run.data, run.failed)
        errors = run.errors + shape_errors
        return {"data": data, "errors": errors} if errors else {"data": data}

    def plan(
        self,
        document: DocumentNode | str,
        variables: dict | None = None,
        operation_name: str | None = None,
    ) -> QueryPlan:
        """The plan `execute` would follow (for tests and diagnostics)."""
        prepared = self._prepare(document, operation_name)
        if isinstance(prepared, list):
            raise ValueError(prepared[0]["message"])
        coerced = _coerce(self.supergraph, prepared.operation, variables or {})
        if isinstance(coerced, list):
            raise ValueError(coerced[0].message)
        return self.planner.plan(prepared.operation, prepared.fragments, coerced)

    async def _run_plan(self, plan: QueryPlan, variables: dict, run: _Run) -> None:
        if plan.operation == "mutation":
            for root in plan.roots:
                await self._run_steps(plan.subtree(root), variables, run)
        else:
            await self._run_steps(plan.steps, variables, run)

    async def _run_steps(self, steps: list[FetchStep], variables: dict, run: _Run) -> None:
        if len(steps) == 1:
            await self._run_step(steps[0], variables, run)
            return
        tasks: dict[int, asyncio.Future] = {}

        async def run_after_deps(step: FetchStep) -> None:
            for dep in step.deps:
                if dep in tasks:
                    await tasks[dep]
            await self._run_step(step, variables, run)

        for step in steps:
            tasks[step.id] = asyncio.ensure_future(run_after_deps(step))
        await asyncio.gather(*tasks.values())

    async def _run_step(self, step: FetchStep, variables: dict, run: _Run) -> None:
        step_variables = {n: variables[n] for n in step.variables if n in variables}
        if step.kind != "entities":
            roots = [(k,) for k in _root_keys(step)]
            response = await self._fetch(step, step_variables, run, roots)
            if response is None:
                return
            if step.renames:
                response = {**response, "data": restore_names(response.get("data"), step.renames)}
            _merge(run.data, response.get("data") or {}, self.supergraph)
            for err in response.get("errors") or ():
                path = err.get("path")
                run.errors.append(_subgraph_error(err, path))
                # an error without a path (a refused request) explains all of this fetch
                run.failed.extend([tuple(path)] if path else roots)
            return
        reps: list[dict] = []
        targets: list[list[tuple[list, dict]]] = []
        index: dict[bytes, int] = {}
        for item_path, item in _walk(run.data, step.path, []):
            spec = step.reps.get(item.get("__typename"))  # type: ignore[arg-type]
            if spec is None:
                continue
            rep = _representation(item, spec.typename, spec.key, spec.required)
            if rep is None:
                continue
            rep_key = orjson.dumps(rep, option=orjson.OPT_SORT_KEYS, default=str)
            i = index.get(rep_key)
            if i is None:
                i = index[rep_key] = len(reps)
                reps.append(rep)
                targets.append([])
            targets[i].append((item_path, item))
        if not reps:
            return
        affected = [tuple(p) for group in targets for p, _ in group]
        response = await self._fetch(
            step, {"representations": reps, **step_variables}, run, affected
        )
        if response is None:
            return
        if step.renames:
            response = {**response, "data": restore_names(response.get("data"), step.renames)}
        entities = (response.get("data") or {}).get("_entities") or []
        for i, entity in enumerate(entities[: len(targets)]):
            if isinstance(entity, dict):
                for _, item in targets[i]:
                    _merge(item, entity, self.supergraph)
        for err in response.get("errors") or ():
            path = err.get("path") or []
            if (
                len(path) >= 2
                and path[0] == "_entities"
                and isinstance(path[1], int)
                and path[1] < len(targets)
            ):
                for item_path, _ in targets[path[1]]:
                    full = [*item_path, *path[2:]]
                    run.errors.append(_subgraph_error(err, full))
                    run.failed.append(tuple(full))
            else:
                run.errors.append(_subgraph_error(err, None))
                run.failed.extend(affected)

    async def _fetch(
        self, step: FetchStep, variables: dict, run: _Run, affected: list[tuple]
    ) -> dict | None:
        try:
            response = await self.fetch(step.graph, step.document, variables)
        except (SubgraphUnavailable, ConnectionError, TimeoutError) as exc:
            _fail(run, unavailable(step.graph, exc), affected)
            return None
        except Exception as exc:
            message = f"The {step.graph} subgraph could not be reached ({type(exc).__name__})."
            _fail(run, _error(message, "INTERNAL", subgraph=step.graph), affected)
            return None
        if not isinstance(response, dict):
            _fail(run, unavailable(step.graph, SubgraphError()), affected)
            return None
        return response

    # --- shaping ---------------------------------------------------------------------------

    def _shape_introspection(self, prepared: _Prepared, run: _Run, variables: dict) -> dict:
        """graphql-core's execution answers operations that read the schema itself."""
        result = execute(
            self.supergraph.api_schema,
            prepared.document,
            root_value=run.data,
            variable_values=variables,
            operation_name=prepared.operation.name.value if prepared.operation.name else None,
            field_resolver=_resolve,
        )
        errors = list(run.errors)
        for err in result.errors or ():  # type: ignore[union-attr]
            path = tuple(err.path or ())
            if err.message.startswith(NULL_FIELD) and any(path[: len(f)] == f for f in run.failed):
                continue
            errors.append(err.formatted)
        response: dict[str, Any] = {"data": result.data}  # type: ignore[union-attr]
        if errors:
            response["errors"] = errors
        return response


_WHY = (
    (SubgraphOpen, "is not asked for a while after failing repeatedly"),
    (TimeoutError, "did not answer in time"),
    (ConnectionError, "could not be reached"),
    (SubgraphError, "did not answer with GraphQL"),
)


def _fail(run: _Run, error: dict, affected: list[tuple]) -> None:
    """A fetch that failed as a whole: its fields are null, its error at their path.

    A root fetch gets one error per root field it was for; an entity fetch one error, at
    the first entity it was for (one per entity could be thousands)."""
    run.failed.extend(affected)
    if affected and all(len(p) == 1 for p in affected):
        run.errors.extend({**error, "path": list(p)} for p in affected)
    elif affected:
        run.errors.append({**error, "path": list(affected[0])})
    else:
        run.errors.append(error)


def unavailable(graph: str, exc: BaseException) -> dict:
    """The error of a fetch that got no answer: it names the subgraph, never its address."""
    why = next((w for kind, w in _WHY if isinstance(exc, kind)), "is unavailable")
    return _error(
        f"The {graph} service {why}; retry later.", "SUBGRAPH_UNAVAILABLE", subgraph=graph
    )


def _coerce(
    supergraph: Supergraph, operation: OperationDefinitionNode, variables: dict
) -> dict | list[GraphQLError]:
    result = get_variable_values(
        supergraph.api_schema, operation.variable_definitions or (), variables
    )
    if isinstance(result, list):
        return result
    return getattr(result, "coerced", result)


def _resolve(source: Any, info: Any, **_: Any) -> Any:
    if isinstance(source, dict):
        return source.get(info.path.key)
    return None


def _root_keys(step: FetchStep) -> list[str]:
    return [k for selection in step.selections.values() for k in selection]


def _walk(value: Any, path: tuple[str, ...], at: list) -> Any:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, path, [*at, i])
        return
    if not isinstance(value, dict):
        return
    if not path:
        yield at, value
        return
    yield from _walk(value.get(path[0]), path[1:], [*at, path[0]])


_MISSING = object()


def _project(value: Any, children: tuple[Projection, ...]) -> Any:
    if isinstance(value, list):
        return [_project(v, children) for v in value]
    if not children or not isinstance(value, dict):
        return value
    out = {}
    if "__typename" in value:
        out["__typename"] = value["__typename"]
    for p in children:
        if p.key in value:
            out[p.name] = _project(value[p.key], p.children)
    return out


def _representation(
    item: dict, typename: str, key: list[Projection], required: list[Projection]
) -> dict | None:
    rep: dict[str, Any] = {"__typename": typename}
    for p in key:
        value = item.get(p.key, _MISSING)
        if value is _MISSING or value is None:
            return None
        rep[p.name] = _project(value, p.children)
    for p in required:
        value = item.get(p.key, _MISSING)
        if value is _MISSING:
            return None
        rep[p.name] = _project(value, p.children)
    return rep


def _merge(target: dict, source: dict, supergraph: Supergraph) -> None:
    for key, value in source.items():
        # keep an object type name; replace an interface object's interface name
        if (
            key == "__typename"
            and isinstance(target.get(key), str)
            and isinstance(supergraph.schema.get_type(target[key]), GraphQLObjectType)
        ):
            continue
        existing = target.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            _merge(existing, value, supergraph)
        elif isinstance(existing, list) and isinstance(value, list) and len(existing) == len(value):
            for i, (a, b) in enumerate(zip(existing, value, strict=True)):
                if isinstance(a, dict) and isinstance(b, dict):
                    _merge(a, b, supergraph)
                else:
                    existing[i] = b
        else:
            target[key] = value


def _subgraph_error(err: dict, path: list | None) -> dict:
    out: dict[str, Any] = {"message": err.get("message", "Subgraph error")}
    if path:
        out["path"] = list(path)
    if err.get("extensions"):
        out["extensions"] = err["extensions"]
    return out
