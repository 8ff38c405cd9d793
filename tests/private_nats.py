"""A nats-server of a test module's own, for tests whose events must not reach the
session's stream (a State withdrawn here would be withdrawn for every later test whose
durable consumers read that stream), nor be handed events other tests left in it.

    from tests.private_nats import private_nats  # noqa: F401 - the fixture
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.dev.servers import ServerProcess, nats_server, nats_url


@pytest.fixture(scope="module")
def private_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("private-nats")
    server: ServerProcess = nats_server(root / "store", log_path=root / "server.log").start()
    yield nats_url(server.port)
    server.stop()
