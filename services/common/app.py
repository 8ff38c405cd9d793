"""The Starlette app every service is: ``/graphql``, ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.federation import Schema

from services.common.answer_view import InsertsWithTheAnswer
from services.common.body import BodyLimitMiddleware
from services.common.context import (
    RequestContext,
    bearer_token,
    build_context,
    remember_verified,
)
from services.common.draining import Drain, DrainMiddleware
from services.common.errors import Unauthenticated
from services.common.idempotent_view import IdempotentMutations
from services.common.logs import new_request_id
from services.common.metrics import MetricsMiddleware, ServiceMetrics
from services.common.runtime import ServiceRuntime
from services.common.tracing import TracingMiddleware

access_log = logging.getLogger("dief.access")
# Capability secrets in a path (personal calendar feed links) never reach the logs.
SECRET_IN_PATH = re.compile(r"dcf_[A-Za-z0-9_-]+")


def loggable_path(path: str) -> str:
    return SECRET_IN_PATH.sub("dcf_[redacted]", path)


class RequestIdMiddleware:
    """Gives each request an id (kept from ``X-Request-Id`` if sane), logs it, returns it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = new_request_id(given or None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": loggable_path(scope["path"]),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


class GatewayOnlyMiddleware:
    """In prod a subgraph answers ``/graphql`` (introspection and ``_service`` included)
    only with a principal token the gateway signed: without one, 401 and nothing else."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        try:
            token = bearer_token(Request(scope))
            if token is None:
                raise Unauthenticated("This service answers only requests from the gateway.")
            remember_verified(scope, token, self.runtime.verifier.claims_of(token))
        except Unauthenticated as refusal:
            response = JSONResponse(
                {"errors": [{"message": refusal.message, "extensions": {"code": refusal.code}}]},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ServiceGraphQL(IdempotentMutations, InsertsWithTheAnswer, GraphQL):
    def __init__(self, schema: Schema, runtime: ServiceRuntime) -> None:
        # Multipart requests (file uploads) come from the gateway, with a principal token.
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.is_dev else None,
            multipart_uploads_enabled=True,
        )
        self.runtime = runtime

    async def render_graphql_ide(self, request: Request) -> Response:
        """The gateway's offline GraphiQL (no asset from elsewhere), in dev only."""
        from gateway import graphiql

        return graphiql.page()

    async def get_context(self, request: Request, response: Any) -> RequestContext:  # type: ignore[override]
        return build_context(request, self.runtime)


def _graphiql_assets(runtime: ServiceRuntime) -> list[BaseRoute]:
    if not runtime.settings.is_dev:
        return []
    from gateway import graphiql

    return [graphiql.assets()]


def create_app(
    runtime: ServiceRuntime, schema: Schema, routes: Sequence[BaseRoute] = ()
) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "alive", "service": runtime.service})

    drain = Drain(runtime.settings.shutdown_drain_seconds)

    async def readyz(_: Request) -> JSONResponse:
        ok, checks = await runtime.readiness()
        body: dict[str, Any] = {"ready": ok and not drain.draining, "checks": checks}
        if drain.draining:  # SIGTERM: unready first, shutting down soon
            body["draining"] = True
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        drain.install()
        try:
            yield
        finally:
            drain.uninstall()
            await runtime.stop()

    graphql = ServiceGraphQL(schema, runtime)
    metrics = ServiceMetrics(runtime)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            *routes,
            *_graphiql_assets(runtime),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    if not runtime.settings.is_dev:
        app.add_middleware(GatewayOnlyMiddleware, runtime=runtime)
    app.add_middleware(BodyLimitMiddleware, max_bytes=body_limit(runtime), json_paths=("/graphql",))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(DrainMiddleware, drain=drain)
    app.add_middleware(RequestIdMiddleware)
    # outermost: the access log line is written inside the request's span
    app.add_middleware(TracingMiddleware, redact=loggable_path)
    return app


def body_limit(runtime: ServiceRuntime) -> int:
    """The largest request body a service reads: its largest file (base64 in JSON is 4/3
    of it) and a margin, unless DIEF_SERVICE_MAX_BODY_BYTES says otherwise."""
    settings = runtime.settings
    if settings.service_max_body_bytes:
        return settings.service_max_body_bytes
    largest = {
        "meetings": settings.meetings_document_max_bytes,
        "cases": settings.cases_attachment_max_bytes,
    }.get(runtime.service, 0)
    return largest * 4 // 3 + 1024 * 1024
