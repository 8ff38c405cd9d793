"""The whole suite as real processes, for the end-to-end flow tests.

Each service (contacts, meetings, cases) and the gateway runs as its own ``dief serve``
process on a free loopback port, in front of the session's MongoDB-wire server (databases of
their own) and a nats-server of the stack's own: the services' durable consumers keep their
position in the stream, so a stack sharing the session's stream would be handed events other
tests left behind. The State registry is seeded with ``dief seed-states --sample``.

Callers hold dev tokens (``services/dev/tokens.py``): the gateway accepts them as callers'
JWTs in dev, and a service accepts them as principal tokens, as if the gateway had signed
them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from pymongo import MongoClient

from services.common.keys import ensure_dev_key
from services.common.settings import Settings
from services.dev.servers import (
    LOOPBACK,
    ServerProcess,
    die_with_parent,
    free_port,
    mongodb_uri,
    nats_server,
    nats_url,
)
from services.dev.tokens import dev_token
from tests.events_support import connect

REPO = Path(__file__).resolve().parent.parent
SUBGRAPHS = ("contacts", "meetings", "cases")
READY_SECONDS = 90.0


@dataclass
class FlowStack:
    """A running stack: where each part answers, and the callers' tokens."""

    root: Path
    env: dict[str, str]
    settings: Settings
    nats: ServerProcess
    urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ServerProcess] = field(default_factory=dict)

    def token(
        self,
        sub: str,
        state: str | None = None,
        roles: tuple[str, ...] = ("delegate",),
        participant: bool | None = None,
    ) -> str:
        """A dev token; ``participant`` None asks the registry, as ``dief token`` does."""
        return dev_token(
            self.settings,
            sub=sub,
            state=state,
            roles=list(roles),
            participant=participant,
            ttl_seconds=900,
        )

    async def call(
        self,
        part: str,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """One GraphQL request to ``part`` (the gateway or a subgraph) over HTTP."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=20) as http:
            response = await http.post(
                f"{self.urls[part]}/graphql",
                json={"query": query, "variables": variables or {}},
                headers=headers,
            )
        assert response.status_code == 200, f"{part}: {response.status_code} {response.text}"
        return response.json()

    async def gateway(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return await self.call("gateway", query, variables, token)

    async def metric(self, name: str) -> float:
        """A gauge or counter without labels from the gateway's ``/metrics``."""
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(f"{self.urls['gateway']}/metrics")).text
        for line in text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in the gateway's metrics")

    async def jetstream(self) -> tuple[NATS, JetStreamContext]:
        nc = await connect(self.settings.nats_url)
        return nc, nc.jetstream()

    def log_tail(self, part: str, lines: int = 40) -> str:
        path = self.root / f"{part}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for name in ("gateway", *reversed(SUBGRAPHS)):
            if name in self.processes:
                self.processes[name].stop()
        self.nats.stop()


def _dief(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"dief {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _serve(stack: FlowStack, name: str, extra_env: dict[str, str] | None = None) -> ServerProcess:
    port = int(stack.urls[name].rsplit(":", 1)[1])
    return ServerProcess(
        name,
        [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            name,
            "--host",
            LOOPBACK,
            "--port",
            str(port),
        ],
        port,
        log_path=stack.root / f"{name}.log",
        env={**stack.env, **(extra_env or {})},
    )


def _launch(server: ServerProcess) -> None:
    """Start the process without waiting for its port (``_wait_ready`` waits for it).

    From this thread: the child is told to stop when the thread that started it ends."""
    assert server.log_path is not None
    log = open(server.log_path, "ab")  # noqa: SIM115 - closed by ServerProcess.stop()
    server._log = log
    server.process = subprocess.Popen(
        server.argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(server.env or {})},
        cwd=REPO,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


def _wait_ready(stack: FlowStack, name: str) -> None:
    url = f"{stack.urls[name]}/readyz"
    deadline = time.monotonic() + READY_SECONDS
    last = ""
    while time.monotonic() < deadline:
        process = stack.processes[name].process
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{name} exited:\n{stack.log_tail(name)}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise AssertionError(f"{name} not ready ({last}):\n{stack.log_tail(name)}")


def start_stack(root: Path, mongodb_port: int, settings: dict[str, str] | None = None) -> FlowStack:
    """Start NATS, seed the registry, then the three services and the gateway.

    ``settings``: more ``DIEF_*`` variables for every process.
    """
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    ensure_dev_key(home / "keys")
    nats = nats_server(root / "nats", log_path=root / "nats.log").start()
    ports = {name: free_port() for name in (*SUBGRAPHS, "gateway")}
    urls = {name: f"http://{LOOPBACK}:{port}" for name, port in ports.items()}
    dbs = {f"DIEF_{s.upper()}_DB": f"flows_{s}" for s in SUBGRAPHS}
    env = {
        **os.environ,
        "DIEF_ENV": "dev",
        "DIEF_HOME": str(home),
        "MONGODB_URI": mongodb_uri(mongodb_port),
        "NATS_URL": nats_url(nats.port),
        "DIEF_OUTBOX_POLL_SECONDS": "0.1",
        "DIEF_MEETINGS_CONTACTS_URL": f"{urls['contacts']}/graphql",
        "DIEF_CASES_MEETINGS_URL": f"{urls['meetings']}/graphql",
        "DIEF_GATEWAY_SUPERGRAPH": str(REPO / "gateway" / "supergraph.graphql"),
        "DIEF_GATEWAY_SUBGRAPH_URLS": json.dumps({s: f"{urls[s]}/graphql" for s in SUBGRAPHS}),
        "PYTHONUNBUFFERED": "1",
        **dbs,
        **(settings or {}),
    }
    client: MongoClient[dict[str, Any]] = MongoClient(env["MONGODB_URI"])
    for db in dbs.values():
        client.drop_database(db)
    client.close()
    stack = FlowStack(
        root=root,
        env=env,
        settings=Settings(
            env="dev",
            home=home,
            mongodb_uri=env["MONGODB_URI"],
            nats_url=env["NATS_URL"],
            contacts_db=dbs["DIEF_CONTACTS_DB"],
        ),
        nats=nats,
        urls=urls,
    )
    try:
        _dief("seed-states", "--sample", env=env)
        for name in (*SUBGRAPHS, "gateway"):
            stack.processes[name] = _serve(stack, name)
        for name in SUBGRAPHS:  # all three start at once
            _launch(stack.processes[name])
        for name in SUBGRAPHS:
            _wait_ready(stack, name)
        _launch(stack.processes["gateway"])  # it reads the registry from contacts
        _wait_ready(stack, "gateway")
    except BaseException:
        stack.stop()
        raise
    return stack


def data_of(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    return result["data"]


def refusal(result: dict[str, Any]) -> dict[str, Any]:
    """The first error: its message and extensions."""
    assert result.get("errors"), result
    error = result["errors"][0]
    return {"message": error["message"], **error.get("extensions", {})}


async def pull(
    sub: JetStreamContext.PullSubscription, timeout: float = 0.5
) -> list[dict[str, Any]]:
    """Whatever the consumer has now (acked), as CloudEvents envelopes (``type`` is the
    NATS subject)."""
    try:
        msgs = await sub.fetch(100, timeout=timeout)
    except (TimeoutError, nats.errors.TimeoutError):
        return []
    found = []
    for msg in msgs:
        await msg.ack()
        found.append(json.loads(msg.data))
    return found
