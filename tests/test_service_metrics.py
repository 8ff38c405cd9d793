"""Prometheus metrics on every service (``/metrics``), and the alert rules of deploy/k8s
naming only metrics that exist."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import mongoengine
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.common.settings import Settings
from services.contacts import handlers
from services.dev.servers import free_port
from tests.conftest import TokenFactory

ROOT = Path(__file__).resolve().parents[1]
CHANGE_STATUS = """mutation($input: StateStatusChangeInput!) {
  stateStatusChange(input: $input) { state { code status } }
}"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
async def cut_off(settings: Settings, clean_databases: None) -> AsyncIterator[httpx.AsyncClient]:
    """The contacts service with NATS out of reach: events stay in the outbox."""
    from services.contacts.app import build

    app = build(settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{free_port()}"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as http:
            yield http
    mongoengine.disconnect_all()


async def test_requests_outbox_backlog_and_nats_state_are_exposed(
    cut_off: httpx.AsyncClient, token: TokenFactory
) -> None:
    handlers.seed_states({})
    for _ in range(3):
        assert (await cut_off.get("/healthz")).status_code == 200
    assert (await cut_off.get("/nowhere")).status_code == 404
    secretariat = token(sub="sec1", roles=("secretariat",), participant=False)
    for code in ("USA", "CAN"):
        done = await cut_off.post(
            "/graphql",
            json={
                "query": CHANGE_STATUS,
                "variables": {
                    "input": {"code": code, "status": "SIGNATORY", "signatureDate": "2013-09-25"}
                },
            },
            headers={"Authorization": f"Bearer {secretariat}"},
        )
        assert "errors" not in done.json(), done.json()
    response = await cut_off.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    svc = ("service", "contacts")
    assert got[("dief_service_requests_total", (("method", "GET"), svc, ("status", "200")))] == 3
    assert got[("dief_service_requests_total", (("method", "GET"), svc, ("status", "404")))] == 1
    assert got[("dief_service_requests_total", (("method", "POST"), svc, ("status", "200")))] == 2
    assert got[("dief_service_request_seconds_count", (svc,))] == 6
    # Two status changes, two events that could not be published.
    assert got[("dief_outbox_pending", (svc,))] == 2
    assert got[("dief_service_nats_connected", (svc,))] == 0


def _rule_metrics() -> set[str]:
    rules = yaml.safe_load((ROOT / "deploy/k8s/base/monitoring/rules.yaml").read_text())
    names = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= set(rule)
            assert rule["labels"]["severity"] in ("warning", "critical")
            names |= set(re.findall(r"\b(dief_[a-z_]+)", rule["expr"]))
    return names


async def test_alert_rules_name_only_metrics_the_services_and_gateway_expose(
    cut_off: httpx.AsyncClient,
) -> None:
    from gateway.metrics import GatewayMetrics

    exposed = {f.name for f in text_string_to_metric_families((await cut_off.get("/metrics")).text)}
    exposed |= {f.name for f in text_string_to_metric_families(GatewayMetrics().render().decode())}
    wanted = _rule_metrics()
    assert {"dief_outbox_pending", "dief_gateway_participant_registry_ready"} <= wanted
    for name in wanted:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exposed, f"{name} is in an alert rule but no service exposes it"


def test_every_workload_the_rules_watch_is_scraped() -> None:
    for name in ("gateway", "contacts", "meetings", "cases"):
        doc: dict[str, Any] = next(
            d
            for d in yaml.safe_load_all((ROOT / f"deploy/k8s/base/{name}.yaml").read_text())
            if d["kind"] == "Deployment"
        )
        annotations = doc["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] == "/metrics"
