"""`dief run` (what `make run` starts): the whole stack as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.common.settings import Settings
from services.dev.servers import free_port, port_open

pytestmark = pytest.mark.slow


def _env(home: Path, mongo: int, nats: int, contacts: int) -> dict[str, str]:
    """Every port a setting names is a free one, so the test passes while `make run` is up."""
    ports = {
        f"DIEF_{name.upper()}": str(free_port())
        for name in Settings.model_fields
        if name.endswith("_port")
    }
    return {
        **os.environ,
        **ports,
        "DIEF_HOME": str(home),
        "MONGODB_URI": f"mongodb://127.0.0.1:{mongo}/",
        "NATS_URL": f"nats://127.0.0.1:{nats}",
        "DIEF_CONTACTS_PORT": str(contacts),
        "DIEF_CONSOLE_PORT": str(free_port()),
        "DIEF_ENV": "dev",
    }


def _dief(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, f"dief {' '.join(args)} failed: {out.stderr}"
    return out.stdout.strip()


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops everything." in line:
            return proc, lines
    proc.kill()
    raise AssertionError("the stack did not start:\n" + "".join(lines))


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    rest, _ = proc.communicate(timeout=60)
    return rest


def _graphql(port: int | str, token: str, query: str) -> dict[str, object]:
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.json()


def _states(port: int, token: str) -> dict[str, object]:
    return _graphql(
        port,
        token,
        "{ states(filter: {participant: true}) { totalCount edges { node { code } } } }",
    )


def _nats_requires_credentials(port: int) -> bool:
    """What the server's INFO line says to every client before it may send anything."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        line = conn.makefile("rb").readline()
    assert line.startswith(b"INFO "), line
    return json.loads(line[5:]).get("auth_required") is True


def test_make_run_starts_serves_and_stops_cleanly(tmp_path: Path) -> None:
    mongo, nats, contacts = free_port(), free_port(), free_port()
    env = _env(tmp_path / "dief", mongo, nats, contacts)
    proc, lines = _start(env)
    try:
        banner = "".join(lines)
        assert f"http://127.0.0.1:{contacts}/graphql" in banner
        assert "dief token" in banner

        delegate = _dief("token", "--sub", "alice", "--state", "FRA", "--role", "delegate", env=env)
        answer = _states(contacts, delegate)
        assert "errors" not in answer, answer
        assert answer["data"]["states"]["totalCount"] > 0  # type: ignore[index]

        outsider = _dief("token", "--sub", "bob", "--state", "USA", "--role", "delegate", env=env)
        refused = _states(contacts, outsider)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]

        ready = httpx.get(f"http://127.0.0.1:{contacts}/readyz", timeout=5)
        assert ready.status_code == 200 and json.loads(ready.text)["ready"] is True
        # The dev NATS has production's users: an anonymous process on the machine cannot
        # publish a status change (nor anything else).
        assert _nats_requires_credentials(nats)

        console = f"http://127.0.0.1:{env['DIEF_CONSOLE_PORT']}"
        assert console in banner
        signin = httpx.get(f"{console}/", timeout=5, follow_redirects=True)
        assert signin.status_code == 200 and 'name="csrf_token"' in signin.text
    finally:
        output = _stop(proc)
    assert proc.returncode == 0, output
    assert "stopped" in output
    for port in (mongo, nats, contacts):
        assert not port_open(port), f"port {port} still bound after Ctrl-C"
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "processes left behind after Ctrl-C"


def test_data_outlives_a_restart(tmp_path: Path) -> None:
    env = _env(tmp_path / "dief", free_port(), free_port(), free_port())
    proc, _ = _start(env)
    try:
        secretariat = _dief("token", "--sub", "sec", "--role", "secretariat", env=env)
        change = _graphql(
            env["DIEF_CONTACTS_PORT"],
            secretariat,
            'mutation { stateStatusChange(input: {code: "NOR", status: SIGNATORY, '
            'signatureDate: "2013-06-03"}) { state { status } } }',
        )
        assert change["data"]["stateStatusChange"]["state"]["status"] == "SIGNATORY", change
    finally:
        _stop(proc)
    proc, _ = _start(env)
    try:
        norway = _dief("token", "--sub", "kari", "--state", "NOR", env=env)
        answer = _states(int(env["DIEF_CONTACTS_PORT"]), norway)
        assert "errors" not in answer, answer
        codes = [e["node"]["code"] for e in answer["data"]["states"]["edges"]]  # type: ignore[index]
        assert "NOR" in codes
    finally:
        _stop(proc)
    assert proc.returncode == 0
