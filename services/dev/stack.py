"""``dief run``: the whole suite on one machine, each part its own process.

Starts the embedded MongoDB-wire server and nats-server (data under ``DIEF_HOME``), seeds
the State registry, then every service; streams their logs prefixed by process; Ctrl-C
(or SIGTERM) stops every child, services first, and waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx

from console.settings import ConsoleSettings
from services.common.keys import ensure_dev_key
from services.common.settings import Settings
from services.dev import nats_users
from services.dev.servers import (
    die_with_parent,
    free_port,
    mongodb_server,
    nats_server,
    nats_url,
    port_open,
)

SERVICES = ("contacts", "meetings", "cases")
COLOURS = {"mongodb": 33, "nats": 32, "contacts": 36, "meetings": 31, "cases": 34, "dief": 35}
COLOURS["console"] = 92


@dataclass
class Child:
    name: str
    argv: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None


def say(name: str, line: str) -> None:
    colour = COLOURS.get(name, 37) if sys.stdout.isatty() else None
    prefix = f"{name:>8} |"
    if colour:
        prefix = f"\033[{colour}m{prefix}\033[0m"
    print(f"{prefix} {line}", flush=True)


def readable(line: str) -> str:
    """A JSON log line as one readable line; anything else unchanged."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    skip = {
        "time",
        "level",
        "name",
        "message",
        "service",
        "request_id",
        "exc_info",
        "color_message",
    }
    extras = " ".join(f"{k}={v}" for k, v in record.items() if k not in skip)
    rid = record.get("request_id")
    rid_part = f" [{rid[:8]}]" if rid and rid != "-" else ""
    text = f"{record.get('level', '')} {record.get('name', '')}{rid_part}: {record['message']}"
    if extras:
        text += f" {extras}"
    if record.get("exc_info"):
        text += "\n" + str(record["exc_info"])
    return text


async def pump_output(child: Child) -> None:
    assert child.process is not None and child.process.stdout is not None
    async for raw in child.process.stdout:
        say(child.name, readable(raw.decode(errors="replace").rstrip()))


async def start(child: Child) -> None:
    if port_open(child.port):
        raise RuntimeError(f"port {child.port} for {child.name} is already in use")
    child.process = await asyncio.create_subprocess_exec(
        *child.argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **child.env},
        start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children
        preexec_fn=die_with_parent,
    )
    child.pump = asyncio.create_task(pump_output(child))


async def wait_ready(child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if child.process is not None and child.process.returncode is not None:
                raise RuntimeError(f"{child.name} exited with {child.process.returncode}")
            if child.ready_url is None:
                if port_open(child.port):
                    return
            else:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(child.ready_url)).status_code == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{child.name} was not ready within {timeout:.0f}s")


async def stop(child: Child, timeout: float = 10.0) -> None:
    proc = child.process
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        say("dief", f"{child.name} did not stop in {timeout:.0f}s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    if child.pump is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(child.pump, 2)


def _port(url: str, default: int) -> int:
    return urlparse(url).port or default


def plan(settings: Settings, replicas: int = 1, nats_cluster: int = 1) -> list[Child]:
    """The processes of the stack: MongoDB, NATS (one server, or a loopback cluster of
    ``nats_cluster`` with the stream at as many replicas), then each service and the gateway,
    each with ``replicas`` worker processes sharing its socket."""
    home = settings.home.resolve()
    mongo = mongodb_server(home / "mongodb", port=_port(settings.mongodb_uri, 27017))
    # The shipped nats.conf: every service under its own user, as in production.
    passwords = nats_users.dev_passwords(settings.keys_dir.resolve())
    nats_env = nats_users.server_env(passwords)
    client_ports = [_port(settings.nats_url, 4222)]
    client_ports += [free_port() for _ in range(nats_cluster - 1)]
    route_ports = [free_port() for _ in range(nats_cluster)] if nats_cluster > 1 else []
    brokers = [
        nats_server(
            home / "nats" / (f"node-{i}" if nats_cluster > 1 else ""),
            port=port,
            config=nats_users.CONFIG,
            env=nats_env,
            cluster_port=route_ports[i] if route_ports else None,
            routes=route_ports,
            name="nats" if nats_cluster == 1 else f"nats-{i}",
        )
        for i, port in enumerate(client_ports)
    ]
    nats_urls = [settings.nats_url] if nats_cluster == 1 else [nats_url(b.port) for b in brokers]
    env = {
        "DIEF_HOME": str(home),
        "MONGODB_URI": settings.mongodb_uri,
        "DIEF_MEETINGS_CONTACTS_URL": f"http://{settings.host}:{settings.contacts_port}/graphql",
        "DIEF_CASES_MEETINGS_URL": f"http://{settings.host}:{settings.meetings_port}/graphql",
        "PYTHONUNBUFFERED": "1",
    }

    if nats_cluster > 1:
        env["DIEF_STREAM_REPLICAS"] = str(nats_cluster)

    def as_user(user: str) -> dict[str, str]:
        urls = [nats_users.url_for(url, user, passwords[user]) for url in nats_urls]
        return {**env, "NATS_URL": ",".join(urls)}  # the client fails over between them

    workers = ["--workers", str(replicas)] if replicas > 1 else []
    children = [Child("mongodb", mongo.argv, mongo.port)]
    children += [Child(b.name, b.argv, b.port, nats_env) for b in brokers]
    for service in SERVICES:
        port = getattr(settings, f"{service}_port")
        children.append(
            Child(
                service,
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "serve",
                    service,
                    "--host",
                    settings.host,
                    "--port",
                    str(port),
                    *workers,
                ],
                port,
                as_user(service),
                ready_url=f"http://{settings.host}:{port}/readyz",
            )
        )
    # The gateway last: it is ready once it has read the State registry from contacts.
    gateway_argv = [sys.executable, "-m", "services.cli", "serve", "gateway"]
    routes = {
        s: f"http://{settings.host}:{getattr(settings, f'{s}_port')}/graphql" for s in SERVICES
    }
    children.append(
        Child(
            "gateway",
            [
                *gateway_argv,
                *("--host", settings.host, "--port", str(settings.gateway_port)),
                *workers,
            ],
            settings.gateway_port,
            {**as_user("gateway"), "DIEF_GATEWAY_SUBGRAPH_URLS": json.dumps(routes)},
            ready_url=f"http://{settings.host}:{settings.gateway_port}/readyz",
        )
    )
    # The web console, a client of the gateway only.
    console_port = ConsoleSettings().port
    children.append(
        Child(
            "console",
            [*gateway_argv[:-1], "console", "--host", settings.host, "--port", str(console_port)],
            console_port,
            {**env, "DIEF_CONSOLE_GATEWAY_URL": f"http://{settings.host}:{settings.gateway_port}"},
            ready_url=f"http://{settings.host}:{console_port}/readyz",
        )
    )
    return children


def seed_registry(settings: Settings) -> int:
    from services.common import mongo
    from services.contacts import handlers, seed

    mongo.connect("contacts", settings.mongodb_uri, settings.contacts_db)
    handlers.ensure_indexes()
    return handlers.seed_states(seed.read_statuses(seed.SAMPLE))


def banner(settings: Settings) -> list[str]:
    lines = ["DIEF Exchange is running."]
    gateway = f"http://{settings.host}:{settings.gateway_port}"
    lines.append(f"  gateway   {gateway}/graphql  (the one endpoint for clients; {gateway}/readyz)")
    console_port = ConsoleSettings().port
    lines.append(f"  console   http://{settings.host}:{console_port}/  (the web console)")
    for service in SERVICES:
        base = f"http://{settings.host}:{getattr(settings, f'{service}_port')}"
        lines.append(f"  {service:<9} {base}/graphql  (GraphiQL in a browser; {base}/readyz)")
    lines += [
        f"  MongoDB   {settings.mongodb_uri}   NATS {settings.nats_url}",
        f"  data      {settings.home.resolve()}",
        "A dev token:  .venv/bin/dief token --sub alice --state FRA --role delegate",
        "Ctrl-C stops everything.",
    ]
    return lines


async def watch(started: list[Child], stopping: asyncio.Event, *, restartable: bool) -> int:
    """Until Ctrl-C: a NATS cluster member that dies is started again (the others carry the
    stream meanwhile, as a StatefulSet would restart its pod); any other child's death
    stops the stack. Returns the exit status."""
    while True:
        exits = {asyncio.create_task(c.process.wait()): c for c in started if c.process is not None}
        stop_wait = asyncio.create_task(stopping.wait())
        await asyncio.wait([stop_wait, *exits], return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        for task in exits:
            task.cancel()
        if stopping.is_set():
            return 0
        dead = [c for c in started if c.process and c.process.returncode is not None]
        if restartable and all(c.name.startswith("nats-") for c in dead):
            for child in dead:
                say("dief", f"{child.name} exited with {child.process.returncode}; restarting it")
                await asyncio.sleep(1.0)
                await start(child)
            continue
        say("dief", f"{', '.join(c.name for c in dead)} stopped unexpectedly; stopping the rest")
        return 1


async def supervise(settings: Settings, replicas: int = 1, nats_cluster: int = 1) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)

    ensure_dev_key(settings.keys_dir)
    children = plan(settings, replicas, nats_cluster)
    last_broker = [c.name for c in children if c.name.startswith("nats")][-1]
    started: list[Child] = []
    code = 0
    try:
        for child in children:
            if stopping.is_set():
                break
            await start(child)
            started.append(child)
            await wait_ready(child, timeout=60)
            if child.name == last_broker:
                added = await asyncio.to_thread(seed_registry, settings)
                if added:
                    say("dief", f"State registry seeded with {added} States")
        if not stopping.is_set():
            for line in banner(settings):
                say("dief", line)
            code = await watch(started, stopping, restartable=nats_cluster > 1)
    except Exception as exc:
        say("dief", f"could not start: {exc}")
        code = 1
    finally:
        say("dief", "stopping")
        for child in reversed(started):
            await stop(child)
        say("dief", "stopped")
    return code


def run_stack(settings: Settings, replicas: int = 1, nats_cluster: int = 1) -> int:
    return asyncio.run(supervise(settings, replicas, nats_cluster))
