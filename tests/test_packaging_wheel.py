"""The suite as one wheel: built with ``pip wheel .``, installed into a fresh virtual
environment outside the checkout, and every service and the gateway started from it.

The wheel's own dependencies are not downloaded again: the fresh environment sees the test
environment's site-packages as a plain path (no ``.pth`` processing, so the checkout's
editable install is not on it), while the suite itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.dev.servers import ServerProcess, free_port, mongodb_uri, nats_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("contacts", "meetings", "cases", "gateway")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("dief_exchange-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel; returns its bin directory."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bin_dir = venv / "bin"
    site = Path(
        subprocess.run(
            [
                str(bin_dir / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # Dependencies from the test environment, appended after the venv's own site-packages.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(bin_dir / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return bin_dir


def test_the_wheel_carries_every_data_file_of_the_packages(wheel: Path) -> None:
    """Whatever git tracks under services/, gateway/ and console/ that is not Python source (the
    supergraph, CSV samples, static assets such as vendored GraphiQL) is in the wheel."""
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "services", "gateway", "console"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    data = {p for p in tracked if not p.endswith(".py")}
    assert "gateway/supergraph.graphql" in data
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not data - names, f"missing from the wheel: {sorted(data - names)}"
    assert not [n for n in names if n.startswith(("tests/", "bench/", "examples/"))]


def test_the_entry_point_is_the_cli(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        (ep,) = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = zf.read(ep).decode()
    assert "[console_scripts]" in text
    assert "dief = services.cli:main" in text


class Stack:
    def __init__(self, bin_dir: Path, work: Path, env: dict[str, str], ports: dict[str, int]):
        self.bin_dir, self.work, self.env, self.ports = bin_dir, work, env, ports
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def dief(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.bin_dir / "dief"), *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()


@pytest.fixture(scope="module")
def stack(
    installed: Path,
    mongodb: ServerProcess,
    nats: ServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Every service and the gateway, from the installed ``dief``, started at once from a
    directory that is not the checkout, each probed once it is up."""
    work = tmp_path_factory.mktemp("elsewhere")
    ports = {name: free_port() for name in SERVICES}
    urls = {n: f"http://127.0.0.1:{ports[n]}/graphql" for n in SERVICES[:3]}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIEF_", "PYTHON"))} | {
        "DIEF_ENV": "dev",
        "DIEF_HOME": str(work / "home"),
        "MONGODB_URI": mongodb_uri(mongodb.port),
        "NATS_URL": nats_url(nats.port),
        "DIEF_CONTACTS_DB": "wheel_contacts",
        "DIEF_MEETINGS_DB": "wheel_meetings",
        "DIEF_CASES_DB": "wheel_cases",
        "DIEF_MEETINGS_CONTACTS_URL": urls["contacts"],
        "DIEF_GATEWAY_SUBGRAPH_URLS": json.dumps(urls),
    }
    s = Stack(installed, work, env, ports)
    # The registry from the wheel's CSV sample; this also makes the dev key before the four
    # processes start, so they do not race to create it.
    s.dief("seed-states", "--sample")
    s.procs = {
        name: subprocess.Popen(
            [str(installed / "dief"), "serve", name, "--port", str(ports[name])],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in SERVICES
    }
    try:
        for name in SERVICES:
            _ready(ports[name], s.procs[name])
        yield s
    finally:
        for proc in s.procs.values():
            proc.terminate()
        for proc in s.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _ready(port: int, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            assert proc.stderr is not None
            raise AssertionError(f"exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"port {port} not ready within {timeout}s: {last}")


def test_the_installed_code_is_the_wheels_not_the_checkouts(stack: Stack) -> None:
    where = subprocess.run(
        [
            str(stack.bin_dir / "python"),
            "-c",
            "import services, gateway; print(services.__file__); print(gateway.__file__)",
        ],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(where) == 2
    assert all(p.startswith(str(stack.bin_dir.parent)) for p in where), where


def test_a_query_through_the_installed_gateway_reaches_each_subgraph(stack: Stack) -> None:
    token = stack.dief("token", "--sub", "sec-1", "--role", "secretariat", "--no-participant")
    query = """{ state(code: "FRA") { code name }
                 meetings(first: 1) { totalCount }
                 cases(first: 1) { totalCount } }"""
    response = httpx.post(
        f"http://127.0.0.1:{stack.ports['gateway']}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["state"]["code"] == "FRA", body
    assert body["data"]["meetings"]["totalCount"] == 0, body
