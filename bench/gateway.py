"""How much the gateway costs: ``python bench/gateway.py [REQUESTS] [CONCURRENCY]``
(defaults 2000 and 1: one request at a time, so latencies are not queueing).

Starts the whole stack (``dief run``: MongoDB-wire server, NATS, contacts, meetings, cases,
gateway) on free ports under a temporary home, then prints side by side:

1. a one-subgraph query (a page of States from contacts), through the gateway with a
   caller JWT and directly against contacts with a principal token: requests/s, p50, p99,
   and the gateway's p50 overhead (target: at most 1 ms with a cached plan);
2. a federated query listing 100 items with fields from two other subgraphs, through the
   gateway and, for scale, the listing subgraph alone; three small subgraphs (items,
   prices, stock) that this script serves in their own processes, composed into a
   supergraph for a second gateway process; and how many subgraph requests one such query
   caused (target: 3, one per subgraph, however many items);
3. the plan cache hit rate over the run (target: about 100%).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.dev.servers import free_port  # noqa: E402

ONE_SUBGRAPH = "{ states(first: 5) { edges { node { code name status } } } }"
FEDERATED = "{ items(first: 100) { id name price { amount currency } stock { available } } }"
LISTING_ONLY = "{ items(first: 100) { id name } }"


def serve_subgraph(name: str, port: int) -> None:
    import uvicorn

    from bench.federation_subgraphs import app

    uvicorn.run(app(name), host="127.0.0.1", port=port, log_level="warning")


# --- processes -------------------------------------------------------------------------------


def wait_for(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} was not ready in {timeout:.0f}s")


@contextmanager
def process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            try:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)


# --- measuring --------------------------------------------------------------------------------


async def measure(
    url: str, query: str, headers: dict[str, str], requests: int, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        body = {"query": query}
        for _ in range(20):  # warm up: connections, plan cache
            (await http.post(url, json=body, headers=headers)).raise_for_status()
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await http.post(url, json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                payload = response.json()
                if response.status_code != 200 or payload.get("errors"):
                    raise SystemExit(f"{url}: {response.status_code} {str(payload)[:300]}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "rps": requests / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


async def in_process_cost(requests: int) -> dict[str, float]:
    """The gateway's own work per request, without HTTP or subgraphs: caller JWT check,
    limits, authorisation, cached plan, shaping the answer, one principal token signed."""
    from gateway.auth import CallerPolicy, CallerVerifier, JwksSource
    from gateway.executor import Executor
    from gateway.limits import Limits
    from gateway.persisted import PersistedQueries
    from gateway.pipeline import Pipeline
    from gateway.principal_tokens import PrincipalSigner
    from gateway.supergraph import Supergraph
    from services.common.keys import ensure_dev_key
    from services.common.principal import Principal, Role, sign_principal

    supergraph = Supergraph.parse((ROOT / "gateway" / "supergraph.graphql").read_text())
    node = {"code": "FRA", "name": "France", "status": "STATE_PARTY"}
    canned = {"data": {"states": {"edges": [{"node": node}] * 5}}}

    async def fetch(subgraph: str, query: str, variables: dict[str, object]) -> dict:
        return canned

    executor = Executor(supergraph, fetch)
    pipeline = Pipeline(
        supergraph.api_schema,
        supergraph,
        executor,
        limits=Limits(),
        persisted=PersistedQueries("apq"),
    )
    keys = Path(tempfile.mkdtemp(prefix="dief-bench-keys-"))
    key = ensure_dev_key(keys)
    caller = Principal(subject="bench", roles=frozenset({Role.DELEGATE}), state="FRA")
    token = sign_principal(caller, key, issuer="idp", audience="dief", ttl_seconds=3600)
    verifier = CallerVerifier(
        JwksSource(str(keys / "jwks.json")), CallerPolicy.build("idp", "dief", ["EdDSA"])
    )
    signer = PrincipalSigner(key, issuer="dief-gateway", audience="dief-services", ttl_seconds=60)

    async def one() -> None:
        # participation as the registry would set it
        principal = dataclasses.replace(await verifier.verify(token), participant=True)
        outcome = await pipeline.run({"query": ONE_SUBGRAPH}, principal, "rid")
        assert "errors" not in outcome.body, outcome.body
        signer.sign(principal, "rid", "contacts")

    async def timed() -> list[float]:
        for _ in range(50):
            await one()
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            await one()
            samples.append((time.perf_counter() - started) * 1000)
        return sorted(samples)

    samples = await timed()
    shutil.rmtree(keys, ignore_errors=True)
    return {
        "p50": statistics.median(samples),
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
    }


def metric(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def row(label: str, m: dict[str, float]) -> str:
    return f"  {label:<34} {m['rps']:>8.0f} req/s   p50 {m['p50']:6.2f} ms   p99 {m['p99']:6.2f} ms"


# --- the run ----------------------------------------------------------------------------------


async def run(requests: int, concurrency: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="dief-bench-"))
    ports = {name: free_port() for name in ("mongo", "nats", "contacts", "meetings", "cases")}
    ports |= {name: free_port() for name in ("gateway", "gateway2", "items", "prices", "stock")}
    env = {
        **os.environ,
        "DIEF_HOME": str(home),
        "DIEF_LOG_LEVEL": "WARNING",
        "MONGODB_URI": f"mongodb://127.0.0.1:{ports['mongo']}/",
        "NATS_URL": f"nats://127.0.0.1:{ports['nats']}",
        "DIEF_CONTACTS_PORT": str(ports["contacts"]),
        "DIEF_MEETINGS_PORT": str(ports["meetings"]),
        "DIEF_CASES_PORT": str(ports["cases"]),
        "DIEF_GATEWAY_PORT": str(ports["gateway"]),
    }
    python = sys.executable
    print(f"starting the stack under {home} ...", flush=True)
    with process([python, "-m", "services.cli", "run"], env, home / "stack.log"):
        wait_for(f"http://127.0.0.1:{ports['gateway']}/readyz", timeout=120)
        from services.common.settings import Settings
        from services.dev.tokens import dev_token

        settings = Settings(home=home, mongodb_uri=env["MONGODB_URI"], nats_url=env["NATS_URL"])
        caller = dev_token(
            settings,
            sub="bench",
            state="FRA",
            roles=["delegate"],
            participant=None,
            ttl_seconds=3600,
        )
        principal = dev_token(
            settings,
            sub="bench",
            state="FRA",
            roles=["delegate"],
            participant=True,
            ttl_seconds=3600,
        )
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        contacts = f"http://127.0.0.1:{ports['contacts']}/graphql"
        through = await measure(
            f"{gateway}/graphql",
            ONE_SUBGRAPH,
            {"authorization": f"Bearer {caller}"},
            requests,
            concurrency,
        )
        direct = await measure(
            contacts,
            ONE_SUBGRAPH,
            {"authorization": f"Bearer {principal}"},
            requests,
            concurrency,
        )
        stack_metrics = httpx.get(f"{gateway}/metrics").text

        # The federated query: three small subgraphs and a second gateway over them.
        sub_env = {**env, "PYTHONPATH": str(ROOT)}
        with (
            process(
                [python, __file__, "--serve", "items", str(ports["items"])],
                sub_env,
                home / "items.log",
            ),
            process(
                [python, __file__, "--serve", "prices", str(ports["prices"])],
                sub_env,
                home / "prices.log",
            ),
            process(
                [python, __file__, "--serve", "stock", str(ports["stock"])],
                sub_env,
                home / "stock.log",
            ),
        ):
            from gateway.compose import compose

            sdls = {}
            for name in ("items", "prices", "stock"):
                url = f"http://127.0.0.1:{ports[name]}/graphql"
                deadline = time.monotonic() + 30
                while True:
                    try:
                        answer = httpx.post(url, json={"query": "{ _service { sdl } }"})
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)
                sdls[name] = (url, answer.json()["data"]["_service"]["sdl"])
            supergraph = home / "bench-supergraph.graphql"
            supergraph.write_text(compose(sdls))
            gateway2_env = {
                **env,
                "DIEF_GATEWAY_PORT": str(ports["gateway2"]),
                "DIEF_GATEWAY_SUPERGRAPH": str(supergraph),
            }
            argv = [
                python,
                "-m",
                "services.cli",
                "serve",
                "gateway",
                "--port",
                str(ports["gateway2"]),
            ]
            with process(argv, gateway2_env, home / "gateway2.log"):
                second = f"http://127.0.0.1:{ports['gateway2']}"
                wait_for(f"{second}/readyz", timeout=60)
                before = httpx.get(f"{second}/metrics").text
                answer = httpx.post(f"{second}/graphql", json={"query": FEDERATED}).json()
                after = httpx.get(f"{second}/metrics").text
                fetches = metric(after, "dief_gateway_subgraph_fetches_total") - metric(
                    before, "dief_gateway_subgraph_fetches_total"
                )
                assert len(answer["data"]["items"]) == 100, answer
                assert answer["data"]["items"][99]["stock"] is not None, answer
                federated = await measure(f"{second}/graphql", FEDERATED, {}, requests, concurrency)
                listing = await measure(
                    f"http://127.0.0.1:{ports['items']}/graphql",
                    LISTING_ONLY,
                    {},
                    requests,
                    concurrency,
                )
                fed_metrics = httpx.get(f"{second}/metrics").text

    hits = metric(stack_metrics, 'dief_gateway_plan_cache{result="hit"}') + metric(
        fed_metrics, 'dief_gateway_plan_cache{result="hit"}'
    )
    misses = metric(stack_metrics, 'dief_gateway_plan_cache{result="miss"}') + metric(
        fed_metrics, 'dief_gateway_plan_cache{result="miss"}'
    )
    shutil.rmtree(home, ignore_errors=True)
    print(f"\n{requests} requests per line, {concurrency} at a time, {os.cpu_count()} CPUs\n")
    print("One-subgraph query (States from contacts):")
    print(row("through the gateway (caller JWT)", through))
    print(row("directly against contacts", direct))
    print(
        f"  gateway p50 overhead: {through['p50'] - direct['p50']:.2f} ms"
        f" (target <= 1 ms); throughput ratio {through['rps'] / direct['rps']:.2f}"
    )
    own = await in_process_cost(requests)
    print(
        f"  the gateway's own work per request (in process, cached plan, no HTTP): "
        f"p50 {own['p50']:.3f} ms, p99 {own['p99']:.3f} ms"
    )
    print("\nFederated query (100 items, fields from two other subgraphs):")
    print(row("through the gateway", federated))
    print(row("the listing subgraph alone", listing))
    print(f"  subgraph requests for one query: {fetches:.0f} (target 3)")
    print(
        f"\nPlan cache: {hits:.0f} hits, {misses:.0f} misses, hit rate "
        f"{hits / max(hits + misses, 1):.1%} (target ~100%)"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve_subgraph(sys.argv[2], int(sys.argv[3]))
        return
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    asyncio.run(run(requests, concurrency))


if __name__ == "__main__":
    main()
