"""A nats-server of a test module's own, for tests whose events must not reach the
session's stream (a State withdrawn here would be withdrawn for every later test whose
durable consumers read that stream), nor be handed events other tests left in it.
``nats_running`` starts one (and the session's, ``conftest.nats``).

    from tests.private_nats import private_nats  # noqa: F401 - the fixture
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.dev.servers import ServerProcess, nats_server, nats_url


@contextlib.contextmanager
def nats_running(root: Path) -> Iterator[ServerProcess]:
    """A nats-server storing under ``root``, its log beside, stopped on leaving."""
    server = nats_server(root / "store", log_path=root / "server.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def private_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nats_running(tmp_path_factory.mktemp("private-nats")) as server:
        yield nats_url(server.port)
