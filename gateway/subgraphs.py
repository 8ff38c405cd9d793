"""Our subgraphs and the supergraph file composed from them (``dief compose``).

A subgraph takes part once its service has a ``schema`` module and a port setting
(``<name>_port``); ``dief compose`` asks each running one for ``_service { sdl }`` and
writes ``gateway/supergraph.graphql``. The same SDL can be read in process from the
schema objects, which is how the drift test checks the committed file.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import httpx

from gateway.compose import compose
from services.common.principal import Principal, Role
from services.common.settings import Settings

CANDIDATES = ("contacts", "meetings", "cases")
SDL_QUERY = "{ _service { sdl } }"


def subgraph_names(settings: Settings) -> list[str]:
    return [
        name
        for name in CANDIDATES
        if hasattr(settings, f"{name}_port")
        and importlib.util.find_spec(f"services.{name}.schema") is not None
    ]


def routing_url(settings: Settings, name: str) -> str:
    return f"http://{settings.host}:{getattr(settings, f'{name}_port')}/graphql"


def sdl_in_process(name: str) -> str:
    """A subgraph's ``_service { sdl }``, from its schema object, no server needed."""
    schema = importlib.import_module(f"services.{name}.schema").schema
    result = schema.execute_sync(SDL_QUERY)
    if result.errors:
        raise RuntimeError(f"{name}: {result.errors[0].message}")
    return str(result.data["_service"]["sdl"])  # type: ignore[index]


def sdl_over_http(url: str, timeout: float = 5.0, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(url, json={"query": SDL_QUERY}, timeout=timeout, headers=headers)
    response.raise_for_status()
    return str(response.json()["data"]["_service"]["sdl"])


def supergraph_in_process(settings: Settings) -> str:
    return compose(
        {
            name: (routing_url(settings, name), sdl_in_process(name))
            for name in subgraph_names(settings)
        }
    )


def compose_token(settings: Settings) -> str:
    """A short system principal token signed with the gateway's key: production subgraphs
    answer ``_service`` only to the gateway."""
    from gateway.principal_tokens import PrincipalSigner, load_signing_key

    signer = PrincipalSigner(
        load_signing_key(settings),
        issuer=settings.principal_issuer,
        audience=settings.principal_audience,
        ttl_seconds=60,
    )
    system = Principal(subject="dief-compose", roles=frozenset({Role.SYSTEM}))
    return signer.sign(system, "dief-compose")


def supergraph_from_running(settings: Settings) -> str:
    token = compose_token(settings)
    return compose(
        {
            name: (
                routing_url(settings, name),
                sdl_over_http(routing_url(settings, name), token=token),
            )
            for name in subgraph_names(settings)
        }
    )


def write_supergraph(text: str, path: Path) -> None:
    path.write_text(text if text.endswith("\n") else text + "\n")
