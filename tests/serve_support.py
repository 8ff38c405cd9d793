"""One part of the suite as a real ``dief serve`` process on a free loopback port, with the
environment a test gives it, and the waits a test needs around it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from services.common.keys import ensure_dev_key
from services.common.settings import Settings
from services.dev.servers import LOOPBACK, ServerProcess, free_port, mongodb_uri, nats_url
from services.dev.tokens import dev_token

REPO = Path(__file__).resolve().parent.parent
SUBGRAPHS = ("contacts", "meetings", "cases")


def base_env(home: Path, mongodb_port: int, nats_port: int, **more: str) -> dict[str, str]:
    ensure_dev_key(home / "keys")
    return {
        "DIEF_ENV": "dev",
        "DIEF_HOME": str(home),
        "MONGODB_URI": mongodb_uri(mongodb_port),
        "NATS_URL": nats_url(nats_port),
        "DIEF_OUTBOX_POLL_SECONDS": "0.1",
        "DIEF_GATEWAY_SUPERGRAPH": str(REPO / "gateway" / "supergraph.graphql"),
        "PYTHONUNBUFFERED": "1",
        **more,
    }


def seed_sample_states(env: dict[str, str]) -> None:
    """``dief seed-states --sample`` in ``env``'s database."""
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "seed-states", "--sample"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def delegate_token(home: Path) -> str:
    """An hour's dev token of marie, a delegate of France, signed with ``home``'s dev key."""
    return dev_token(
        Settings(env="dev", home=home),
        sub="marie",
        state="FRA",
        roles=["delegate"],
        participant=True,
        ttl_seconds=3600,
    )


def subgraph_urls(urls: dict[str, str]) -> str:
    """DIEF_GATEWAY_SUBGRAPH_URLS for ``urls`` (a subgraph not given: a port nobody serves)."""
    return json.dumps(
        {s: f"{urls.get(s, f'http://{LOOPBACK}:{free_port()}')}/graphql" for s in SUBGRAPHS}
    )


def serve(part: str, root: Path, env: dict[str, str], port: int | None = None) -> ServerProcess:
    """``dief serve part``, started (its port open); ``url(process)`` is where it answers."""
    port = port or free_port()
    process = ServerProcess(
        part,
        [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            part,
            "--host",
            LOOPBACK,
            "--port",
            str(port),
        ],
        port,
        log_path=root / f"{part}-{port}.log",
        env=env,
    )
    return process.start(timeout=60)


def url(process: ServerProcess) -> str:
    return f"http://{LOOPBACK}:{process.port}"


def log_tail(process: ServerProcess, lines: int = 40) -> str:
    if process.log_path is None or not process.log_path.exists():
        return ""
    return "\n".join(process.log_path.read_text(errors="replace").splitlines()[-lines:])


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def ready(process: ServerProcess) -> tuple[int, dict]:
    answer = httpx.get(f"{url(process)}/readyz", timeout=5)
    return answer.status_code, answer.json()
