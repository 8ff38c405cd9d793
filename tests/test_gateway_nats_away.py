"""NATS away does not take the gateway offline: real ``dief serve`` processes (contacts and
the gateway) on a nats-server of this module's own, which the test stops. Ready means able to
serve; NATS away is reported in ``/readyz``'s checks and ``dief_gateway_nats_connected``, and a
gateway started while NATS is down loads the participant registry from contacts all the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.dev.servers import ServerProcess, nats_server
from tests.serve_support import (
    base_env,
    delegate_token,
    ready,
    seed_sample_states,
    serve,
    subgraph_urls,
    until,
    url,
)

QUERY = "{ states(first: 50) { edges { node { code participant } } } }"


class Stack:
    def __init__(self, root: Path, mongodb: ServerProcess) -> None:
        self.root = root
        self.nats = nats_server(root / "nats", log_path=root / "nats.log").start()
        self.env = base_env(
            root / "home", mongodb.port, self.nats.port, DIEF_CONTACTS_DB="nats_away_contacts"
        )
        seed_sample_states(self.env)
        self.contacts = serve("contacts", root, self.env)
        self.env["DIEF_GATEWAY_SUBGRAPH_URLS"] = subgraph_urls({"contacts": url(self.contacts)})
        self.gateway = serve("gateway", root, self.env)
        self.delegate = delegate_token(root / "home")

    def restart_gateway(self) -> None:
        port = self.gateway.port
        self.gateway.stop()
        self.gateway = serve("gateway", self.root, self.env, port=port)

    def restart_nats(self) -> None:
        self.nats = nats_server(
            self.root / "nats", port=self.nats.port, log_path=self.root / "nats.log"
        ).start()

    def query(self) -> dict[str, Any]:
        answer = httpx.post(
            f"{url(self.gateway)}/graphql",
            json={"query": QUERY},
            headers={"authorization": f"Bearer {self.delegate}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def nats_metric(self) -> str:
        text = httpx.get(f"{url(self.gateway)}/metrics", timeout=10).text
        return next(line for line in text.splitlines() if line.startswith("dief_gateway_nats_"))

    def stop(self) -> None:
        for process in (self.gateway, self.contacts, self.nats):
            process.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mongodb: ServerProcess) -> Iterator[Stack]:
    made = Stack(tmp_path_factory.mktemp("nats-away"), mongodb)
    try:
        until(
            lambda: (
                ready(made.gateway)
                == (200, {"ready": True, "checks": {"registry": True, "nats": True}})
            ),
            60,
            "gateway ready",
        )
        yield made
    finally:
        made.stop()


def _served(result: dict[str, Any]) -> set[str]:
    assert "errors" not in result, result
    return {edge["node"]["code"] for edge in result["data"]["states"]["edges"]}


def test_the_gateway_stays_ready_and_serves_while_nats_is_down(stack: Stack) -> None:
    before = _served(stack.query())
    assert len(before) == 50  # a participant's delegate reads the directory
    assert stack.nats_metric() == "dief_gateway_nats_connected 1.0"
    stack.nats.stop()
    until(lambda: ready(stack.gateway)[1]["checks"]["nats"] is False, 60, "NATS seen away")
    status, body = ready(stack.gateway)
    assert status == 200
    assert body == {"ready": True, "checks": {"registry": True, "nats": False}}
    assert stack.nats_metric() == "dief_gateway_nats_connected 0.0"
    assert _served(stack.query()) == before
    # a gateway (re)started while NATS is down reads who takes part from contacts and serves
    stack.restart_gateway()
    until(lambda: ready(stack.gateway)[0] == 200, 60, "restarted gateway ready without NATS")
    assert ready(stack.gateway)[1] == {"ready": True, "checks": {"registry": True, "nats": False}}
    assert _served(stack.query()) == before
    # NATS back: followed again
    stack.restart_nats()
    until(lambda: ready(stack.gateway)[1]["checks"]["nats"] is True, 60, "NATS seen back")
    assert stack.nats_metric() == "dief_gateway_nats_connected 1.0"
    assert _served(stack.query()) == before
