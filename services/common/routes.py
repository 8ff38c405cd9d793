"""A service's HTTP routes besides ``/graphql``, declared once.

Each subgraph lists its routes in ``services/<name>/routes.py`` (``ROUTES``). The service
mounts its handlers from that list (``mount``) and the gateway serves the same paths by
streaming them to the owning service (``gateway.files``), so a new endpoint is one line in
one place plus its handler.

    ROUTES = (
        HttpRoute("/cases/{case_id}/attachments", "upload", ("POST",),
                  body_limit="cases_attachment_max_bytes"),
    )
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import Route


@dataclass(frozen=True)
class HttpRoute:
    """One endpoint: its path (Starlette syntax), the handler's name, its methods, the
    ``Settings`` attribute holding its body limit in bytes (``None``: no body), and whether
    the URL itself is the caller's credential (a capability URL: no bearer token)."""

    path: str
    handler: str
    methods: tuple[str, ...] = ("GET",)
    body_limit: str | None = None
    capability: bool = False

    def max_body_bytes(self, settings: Any) -> int:
        return 0 if self.body_limit is None else int(getattr(settings, self.body_limit))


def mount(routes: Sequence[HttpRoute], handlers: Mapping[str, Callable[..., Any]]) -> list[Route]:
    """Starlette routes for ``routes``; every declared route has a handler and every
    handler a declared route."""
    declared = {r.handler for r in routes}
    if declared != set(handlers):
        raise ValueError(
            f"routes declared {sorted(declared)} but handlers given {sorted(handlers)}"
        )
    return [Route(r.path, handlers[r.handler], methods=list(r.methods)) for r in routes]


def routes_of(subgraph: str) -> tuple[HttpRoute, ...]:
    """The routes a subgraph publishes; none if it has no ``routes`` module."""
    try:
        module = importlib.import_module(f"services.{subgraph}.routes")
    except ModuleNotFoundError:
        return ()
    return tuple(module.ROUTES)
