"""The gateway as an ASGI app: ``/graphql`` (POST, GET for queries), ``/healthz``,
``/readyz``, ``/metrics``, GraphiQL on ``GET /graphql`` from a browser when enabled (its assets
from this package, ``gateway.graphiql``), the subgraphs' file routes (``gateway.files``) and
multipart uploads (``gateway.uploads``).

A request: body size and batch size checked, the caller's JWT verified (a bad token is
``401 UNAUTHENTICATED``, no token is an anonymous caller), participation set from the
registry, then each operation goes through ``gateway.pipeline``. Subgraph calls carry a
principal token the gateway signs and the request id, never the caller's JWT.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt
import orjson
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route

from gateway import graphiql
from gateway.access import scopes_of
from gateway.auth import CallerPolicy, CallerVerifier, JwksSource
from gateway.breaker import BreakerFetch, Breakers
from gateway.claims import ClaimMapping
from gateway.cors import cors_options
from gateway.executor import Executor
from gateway.fairness import CallerLimiter, RequestBudget, TooBusy, current_budget
from gateway.fetcher import HttpFetcher
from gateway.files import FileProxy
from gateway.inflight import InflightMerge
from gateway.limits import LimitExceeded, Limits, check_batch_size, check_body_size
from gateway.masking import internal_error
from gateway.metrics import GatewayMetrics
from gateway.participants import ParticipantRegistry, RegistryOff, registry_url
from gateway.persisted import PersistedQueries, load_manifest
from gateway.pipeline import MutationOverGet, Outcome, Pipeline
from gateway.principal_tokens import Call, PrincipalSigner, current_call, load_signing_key
from gateway.supergraph import Supergraph
from gateway.uploads import is_multipart, read_multipart, upload_limit
from services.common.app import RequestIdMiddleware, loggable_path
from services.common.context import bearer_token
from services.common.draining import Drain, DrainMiddleware
from services.common.errors import Unauthenticated
from services.common.idempotency import valid_key
from services.common.logs import current_request_id
from services.common.principal import Principal
from services.common.settings import Settings, get_settings
from services.common.tracing import TracingMiddleware

log = logging.getLogger("dief.gateway")

Fetch = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_body_bytes=settings.gateway_max_body_bytes,
        max_batch=settings.gateway_max_batch,
        max_tokens=settings.gateway_max_tokens,
        max_depth=settings.gateway_max_depth,
        max_aliases=settings.gateway_max_aliases,
        max_root_fields=settings.gateway_max_root_fields,
        max_cost=settings.gateway_max_cost,
        default_list_size=settings.gateway_default_list_size,
    )


def caller_verifier(settings: Settings) -> CallerVerifier:
    """Dev defaults accept the tokens ``dief token`` mints; prod must name its provider."""
    if not settings.is_dev and not (
        settings.gateway_jwks and settings.gateway_issuer and settings.gateway_audience
    ):
        raise ValueError(
            "DIEF_GATEWAY_JWKS, DIEF_GATEWAY_ISSUER and DIEF_GATEWAY_AUDIENCE must be set "
            "when DIEF_ENV=prod"
        )
    jwks = settings.gateway_jwks or str(settings.keys_dir / "jwks.json")
    if not settings.is_dev and jwks.lower().startswith("http://"):
        raise ValueError("DIEF_GATEWAY_JWKS must be an https:// URL or a file when DIEF_ENV=prod")
    policy = CallerPolicy.build(
        settings.gateway_issuer or settings.principal_issuer,
        settings.gateway_audience or settings.principal_audience,
        settings.gateway_algorithms,
        settings.gateway_leeway_seconds,
        ClaimMapping(
            settings.gateway_roles_claim, settings.gateway_state_claim, settings.gateway_role_prefix
        ),
        settings.gateway_max_token_lifetime_seconds,
    )
    return CallerVerifier(JwksSource(jwks, ca_file=settings.gateway_jwks_ca_file), policy)


def persisted_queries(settings: Settings) -> PersistedQueries:
    trusted = None
    if settings.gateway_trusted_documents:
        trusted = load_manifest(Path(settings.gateway_trusted_documents))
    return PersistedQueries(settings.gateway_persisted_queries, trusted)


def _on(flag: bool | None, settings: Settings) -> bool:
    return settings.is_dev if flag is None else flag


class MeteredFetch:
    """Counts each subgraph request by subgraph and outcome (ok, errors, failed)."""

    def __init__(self, fetch: Fetch, metrics: GatewayMetrics) -> None:
        self.fetch = fetch
        self.metrics = metrics

    async def __call__(
        self, subgraph: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await self.fetch(subgraph, query, variables)
            outcome = "errors" if result.get("errors") else "ok"
            return result
        finally:
            self.metrics.subgraph_fetches.labels(subgraph, outcome).inc()
            self.metrics.subgraph_latency.labels(subgraph).observe(time.perf_counter() - started)


class NotYetKnown(Exception):
    """The participant registry has not been loaded yet (start-up, contacts away)."""


class JSONResponse(StarletteJSONResponse):
    """A JSON answer encoded with orjson."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # e.g. an integer beyond 64 bits: the standard encoder takes it
            return super().render(content)


def caller_key(request: Request, principal: Principal | None) -> str:
    """Whose share a request counts against: the token's subject, else the client address."""
    if principal is not None:
        return f"sub:{principal.subject}"
    return f"ip:{request.client.host if request.client else '-'}"


def _json_error(status: int, message: str, code: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers or None,
    )


class VerifiedTokens:
    """Callers' tokens already verified, kept until they expire (at most ``keep_seconds``),
    so a client's every request does not pay for a signature check. Participation is never
    cached: it is read from the registry on each request."""

    def __init__(self, verifier: CallerVerifier, capacity: int = 10_000, keep_seconds: int = 60):
        self.verifier = verifier
        self.capacity = capacity
        self.keep_seconds = keep_seconds
        self._tokens: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def caller(self, token: str) -> Principal:
        now = time.time()
        known = self._tokens.get(token)
        if known is not None and known[1] > now:
            self._tokens.move_to_end(token)
            return known[0]
        principal = await self.verifier.verify(token)
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp", now)
        self._tokens[token] = (principal, min(float(expires), now + self.keep_seconds))
        while len(self._tokens) > self.capacity:
            self._tokens.popitem(last=False)
        return principal


class Gateway:
    """The parts of a running gateway, and its request handling."""

    def __init__(
        self,
        settings: Settings,
        supergraph: Supergraph,
        *,
        fetch: Fetch | None = None,
        contacts_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.supergraph = supergraph
        for name, url in settings.gateway_subgraph_urls.items():
            if name in supergraph.subgraphs:
                supergraph.subgraphs[name] = url
        self.metrics = GatewayMetrics()
        self.verifier = caller_verifier(settings)
        self.verified = VerifiedTokens(self.verifier)
        self.signer = PrincipalSigner(
            load_signing_key(settings),
            issuer=settings.principal_issuer,
            audience=settings.principal_audience,
            ttl_seconds=settings.gateway_principal_ttl_seconds,
        )
        self.fetcher: HttpFetcher | None = None
        if fetch is None:
            self.fetcher = HttpFetcher(
                supergraph.subgraphs,
                settings.gateway_subgraph_timeout_seconds,
                self.signer.headers,
                mutation_timeout_s=settings.gateway_subgraph_mutation_timeout_seconds,
                idle_s=settings.gateway_subgraph_idle_seconds,
            )
            fetch = self.fetcher
        self.breakers = Breakers(
            supergraph.subgraphs,
            failures=settings.gateway_breaker_failures,
            cooldown_s=settings.gateway_breaker_cooldown_seconds,
        )
        # the breaker under the merging: a merged fetch counts once
        fetch = BreakerFetch(MeteredFetch(fetch, self.metrics), self.breakers)
        self.inflight: InflightMerge | None = None
        if settings.gateway_merge_inflight:
            merged = self.metrics.merged_fetches
            self.inflight = InflightMerge(fetch, lambda name: merged.labels(name).inc())
            fetch = self.inflight
        self.executor = Executor(
            supergraph, fetch, plan_cache_size=settings.gateway_plan_cache_size
        )
        self.limits = limits_from(settings)
        self.fairness = CallerLimiter(
            max_concurrent=settings.gateway_max_concurrent_per_caller,
            rate=settings.gateway_rate_per_caller,
            burst=settings.gateway_burst_per_caller,
        )
        self.introspection = _on(settings.gateway_introspection, settings)
        self.graphiql = _on(settings.gateway_graphiql, settings)
        self.pipeline = Pipeline(
            supergraph.api_schema,
            supergraph,
            self.executor,
            limits=self.limits,
            persisted=persisted_queries(settings),
            reject_unauthorised=settings.gateway_authorization_mode == "reject",
            introspection=self.introspection,
            cache_size=settings.gateway_plan_cache_size,
            hide_suggestions=not self.introspection,
        )
        contacts = contacts_url or registry_url(
            settings.gateway_participant_registry, supergraph.subgraphs
        )
        self.registry: ParticipantRegistry | RegistryOff = (
            RegistryOff()
            if contacts is None
            else ParticipantRegistry(
                contacts,
                settings.nats_url,
                lambda principal: self.signer.sign(principal, current_request_id()),
                stream=settings.stream_name,
            )
        )
        self.files = FileProxy(self)
        self.drain = Drain(settings.shutdown_drain_seconds)

    # --- the caller -----------------------------------------------------------------------

    async def caller(self, request: Request) -> Principal | None:
        """The verified caller with participation from the registry; None if anonymous."""
        token = bearer_token(request)
        if token is None:
            return None
        claimed = await self.verified.caller(token)
        if claimed.represents_state and not self.registry.loaded.is_set():
            # not knowing yet who takes part is no reason to refuse: the caller retries
            raise NotYetKnown()
        participant = claimed.represents_state and self.registry.is_participant(claimed.state)
        caller = dataclasses.replace(claimed, participant=participant)
        # Scopes are the gateway's own mapping (gateway.access), not the token's.
        return dataclasses.replace(caller, scopes=scopes_of(caller))

    # --- endpoints ------------------------------------------------------------------------

    async def graphql(self, request: Request) -> Response:
        if (
            request.method == "GET"
            and self.graphiql
            and "text/html" in request.headers.get("accept", "")
        ):
            return graphiql.page()
        started = time.perf_counter()
        if request.method == "POST" and not is_multipart(request.headers):
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                # text/plain and form bodies are what a page on another site may send
                # without a preflight: they never run (CSRF-safe by construction).
                return _json_error(
                    415, "GraphQL requests are sent as application/json.", "VALIDATION"
                )
        try:
            payload = await self._payload(request)
        except LimitExceeded as exc:
            status = 413 if exc.limit == "bodySize" else 400
            return JSONResponse({"errors": [exc.to_error()]}, status_code=status)
        except ValueError as exc:
            return _json_error(400, str(exc), "VALIDATION")
        try:
            principal = await self.caller(request)
        except Unauthenticated as exc:
            self.metrics.requests.labels("unknown", "unauthenticated").inc()
            return _json_error(
                401, exc.message, "UNAUTHENTICATED", **{"WWW-Authenticate": "Bearer"}
            )
        except NotYetKnown:
            self.metrics.requests.labels("unknown", "unavailable").inc()
            return _json_error(
                503,
                "The gateway does not yet know which States take part; retry shortly.",
                "UNAVAILABLE",
                **{"Retry-After": "1"},
            )
        request_id = current_request_id()
        key = request.headers.get("idempotency-key")
        if key is not None and not valid_key(key):
            return _json_error(
                400, "An Idempotency-Key is 1 to 200 printable ASCII characters.", "VALIDATION"
            )
        try:
            slot = self.fairness.slot(caller_key(request, principal))
            slot.__enter__()
        except TooBusy as exc:
            self.metrics.requests.labels("unknown", "refused").inc()
            return _json_error(
                429, exc.message, "RATE_LIMITED", **{"Retry-After": str(exc.retry_after)}
            )
        token = current_call.set(Call(principal, request_id, key))
        budget = current_budget.set(RequestBudget(self.limits.max_cost))
        try:
            if isinstance(payload, list):
                check_batch_size(len(payload), self.limits)
                outcomes = [
                    await self._one(p, principal, request_id, request.method) for p in payload
                ]
                body: Any = [o.body for o in outcomes]
            else:
                outcome = await self._one(payload, principal, request_id, request.method)
                outcomes, body = [outcome], outcome.body
        except LimitExceeded as exc:
            return JSONResponse({"errors": [exc.to_error()]}, status_code=400)
        except MutationOverGet:
            return _json_error(405, "Mutations are sent with POST.", "VALIDATION", Allow="POST")
        finally:
            current_budget.reset(budget)
            current_call.reset(token)
            slot.__exit__(None, None, None)
        elapsed = time.perf_counter() - started
        for o in outcomes:
            self.metrics.requests.labels(o.operation, o.outcome).inc()
            self.metrics.latency.labels(o.operation).observe(elapsed / len(outcomes))
        return JSONResponse(body)

    async def _one(
        self, payload: Any, principal: Principal | None, request_id: str, method: str
    ) -> Outcome:
        try:
            outcome = await self.pipeline.run(payload, principal, request_id, method=method)
        except MutationOverGet:
            raise
        except Exception:
            log.exception("the gateway failed on an operation", extra={"request_id": request_id})
            body = {"errors": [internal_error(request_id)], "data": None}
            return Outcome(body, "unknown", "error")
        if outcome.outcome in ("refused", "error"):
            log.info(
                "operation refused or failed",
                extra={"outcome": outcome.outcome, "operation": outcome.operation},
            )
        return outcome

    async def _payload(self, request: Request) -> Any:
        if request.method == "GET":
            params = request.query_params
            payload: dict[str, Any] = {"query": params.get("query")}
            if params.get("operationName"):
                payload["operationName"] = params["operationName"]
            for name in ("variables", "extensions"):
                if params.get(name):
                    try:
                        payload[name] = json.loads(params[name])
                    except ValueError as exc:
                        raise ValueError(f"'{name}' is not valid JSON.") from exc
            return payload
        if is_multipart(request.headers):
            return await read_multipart(request, upload_limit(self.settings))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit():
            check_body_size(int(declared), self.limits)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            check_body_size(len(body), self.limits)
        try:
            return orjson.loads(body)
        except ValueError as exc:
            raise ValueError("The request body is not valid JSON.") from exc

    async def healthz(self, _: Request) -> JSONResponse:
        return JSONResponse({"status": "alive", "service": "gateway"})

    async def readyz(self, _: Request) -> JSONResponse:
        checks = self.registry.checks()
        # Ready means able to serve: the registry loaded. NATS away is only reported (here
        # and in dief_gateway_nats_connected): the registry is then read from contacts.
        ok = self.registry.ready and not self.drain.draining
        body: dict[str, Any] = {"ready": ok, "checks": checks}
        if self.drain.draining:  # SIGTERM: unready first, shutting down soon
            body["draining"] = True
        if not ok:  # the reason (internal URLs, other services' errors) only in the log
            log.warning("not ready", extra={"checks": checks, "reason": self.registry.last_error})
        # A subgraph that is down does not make the gateway unready (it answers the rest):
        # it is named, without its address.
        unhealthy = self.breakers.unhealthy()
        if unhealthy:
            body["unhealthySubgraphs"] = unhealthy
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_endpoint(self, request: Request) -> Response:
        secret = self.settings.gateway_metrics_token
        if secret is None and not self.settings.is_dev:
            return Response(status_code=404)
        if secret is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), secret.encode()):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        self.metrics.observe_plan_cache(
            self.executor.plan_cache_hits, self.executor.plan_cache_misses
        )
        self.metrics.participants.set(self.registry.participant_count)
        self.metrics.registry_ready.set(1 if self.registry.loaded.is_set() else 0)
        self.metrics.nats_connected.set(1 if self.registry.nats_connected else 0)
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    # --- lifecycle ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self.registry.start()
        self.drain.install()
        try:
            yield
        finally:
            self.drain.uninstall()
            await self.registry.stop()
            await self.files.aclose()
            if self.fetcher is not None:
                await self.fetcher.aclose()


def supergraph_path(settings: Settings) -> Path:
    """The configured file; a relative path not found here means the one beside this module."""
    path = settings.gateway_supergraph
    if not path.is_absolute() and not path.exists():
        return Path(__file__).parent / path.name
    return path


def build(
    settings: Settings | None = None,
    *,
    supergraph_sdl: str | None = None,
    fetch: Fetch | None = None,
    contacts_url: str | None = None,
) -> Starlette:
    settings = settings or get_settings()
    sdl = supergraph_sdl if supergraph_sdl is not None else supergraph_path(settings).read_text()
    gateway = Gateway(settings, Supergraph.parse(sdl), fetch=fetch, contacts_url=contacts_url)
    app = Starlette(
        routes=[
            Route("/graphql", gateway.graphql, methods=["GET", "POST"]),
            Route("/healthz", gateway.healthz),
            Route("/readyz", gateway.readyz),
            Route("/metrics", gateway.metrics_endpoint),
            *gateway.files.routes(),
            *([graphiql.assets()] if gateway.graphiql else []),
        ],
        lifespan=gateway.lifespan,
    )
    app.state.gateway = gateway
    app.add_middleware(CORSMiddleware, **cors_options(settings))
    app.add_middleware(DrainMiddleware, drain=gateway.drain)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TracingMiddleware, redact=loggable_path)  # outermost: see services' app
    return app


def app() -> Starlette:  # uvicorn --factory gateway.app:app
    # One line per subgraph request would drown the access log; metrics count them.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return build()
