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

Each pair is measured interleaved (one request to each in turn, after a warm-up), with the
same client and concurrency, from this process while the servers run in their own; the
gateway's own work is also timed in process, and a bare round trip to it (``/healthz``)
shows what one more HTTP hop costs on the machine, next to the same round trip to an ASGI app
that does nothing (uvicorn, uvloop, httptools, in its own process): both within the
interleaved run, where every process has slept while the slower queries ran, and back to
back, where none sleeps. A process that has slept for a few milliseconds answers its next
request later than one kept busy (the CPU it wakes on has gone idle), so on a quiet machine
the back-to-back figure is the smaller one, and the interleaved one is what each hop adds
to a query. A raw one-byte TCP round trip to an echo process, back to back and after 25 ms
idle, shows how much of that the kernel and the machine charge, and so how much is the
Python servers' own code run cold.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.dev.servers import free_port  # noqa: E402

ONE_SUBGRAPH = "{ states(first: 5) { edges { node { code name status } } } }"
FEDERATED = "{ items(first: 100) { id name price { amount currency } stock { available } } }"
LISTING_ONLY = "{ items(first: 100) { id name } }"


async def bare_app(
    scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
) -> None:
    """An ASGI app that does nothing: the floor for one HTTP round trip."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"status":"alive"}'})


def raw_round_trips(rounds: int = 300) -> dict[str, float]:
    """p50 of a one-byte TCP round trip to an echo process (no HTTP, no Python web stack),
    back to back and after 25 ms idle: what the kernel and the machine charge for a hop."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    child = os.fork()
    if child == 0:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while conn.recv(16):
            conn.send(b"y")
        os._exit(0)
    client = socket.create_connection(server.getsockname())
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    result = {}
    try:
        for label, gap in (("busy", 0.0), ("idle", 0.025)):
            times = []
            for _ in range(rounds):
                time.sleep(gap)
                started = time.perf_counter()
                client.send(b"x")
                client.recv(16)
                times.append((time.perf_counter() - started) * 1000)
            result[label] = statistics.median(times)
    finally:
        client.close()
        server.close()
        os.waitpid(child, 0)
    return result


def serve_subgraph(name: str, port: int) -> None:
    import uvicorn

    if name == "bare":  # served as the services are (services/cli.py cmd_serve)
        uvicorn.run(
            bare_app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            loop="uvloop",
            http="httptools",
        )
        return

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


Target = tuple[str, str | None, dict[str, str]]  # url, query (None: a GET), headers


async def measure(targets: list[Target], requests: int, concurrency: int) -> list[dict[str, float]]:
    """Latency of each target, measured interleaved: every worker sends one request to each
    target in turn (the order rotating), so a target never gets a quieter or busier stretch
    of the machine than the others. ``rps`` is requests per second of time spent on that
    target by ``concurrency`` workers."""
    latencies: list[list[float]] = [[] for _ in targets]
    connector = aiohttp.TCPConnector(limit=concurrency * len(targets))
    async with aiohttp.ClientSession(connector=connector) as http:

        async def send(i: int) -> float:
            url, query, headers = targets[i]
            started = time.perf_counter()
            if query is None:
                request = http.get(url, headers=headers)
            else:
                request = http.post(url, json={"query": query}, headers=headers)
            async with request as response:
                raw = await response.read()
            took = time.perf_counter() - started
            payload = json.loads(raw)
            if response.status != 200 or payload.get("errors"):
                raise SystemExit(f"{url}: {response.status} {str(payload)[:300]}")
            return took

        for _ in range(50):  # warm up: connections, caches, the plan cache
            for i in range(len(targets)):
                await send(i)
        queue = iter(range(requests))

        async def worker() -> None:
            for n in queue:
                for k in range(len(targets)):
                    i = (n + k) % len(targets)
                    latencies[i].append(await send(i))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    results = []
    for samples in latencies:
        ordered = sorted(samples)
        results.append(
            {
                "rps": len(ordered) * concurrency / sum(ordered),
                "p50": statistics.median(ordered) * 1000,
                "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            }
        )
    return results


async def in_process_cost(requests: int) -> dict[str, float]:
    """The gateway's own work per request, without HTTP or subgraphs: the caller's JWT (its
    verification cached as the app caches it), scopes, limits, authorisation, cached plan,
    shaping the answer, one principal token signed."""
    from gateway.access import scopes_of
    from gateway.app import VerifiedTokens
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
    verified = VerifiedTokens(
        CallerVerifier(
            JwksSource(str(keys / "jwks.json")), CallerPolicy.build("idp", "dief", ["EdDSA"])
        )
    )
    signer = PrincipalSigner(key, issuer="dief-gateway", audience="dief-services", ttl_seconds=60)

    async def one() -> None:
        # participation as the registry would set it, scopes as the gateway maps them
        principal = dataclasses.replace(await verified.caller(token), participant=True)
        principal = dataclasses.replace(principal, scopes=scopes_of(principal))
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
    ports["bare"] = free_port()
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
    sub_env = {**env, "PYTHONPATH": str(ROOT)}
    bare_argv = [python, __file__, "--serve", "bare", str(ports["bare"])]
    print(f"starting the stack under {home} ...", flush=True)
    with (
        process([python, "-m", "services.cli", "run"], env, home / "stack.log"),
        process(bare_argv, sub_env, home / "bare.log"),
    ):
        wait_for(f"http://127.0.0.1:{ports['gateway']}/readyz", timeout=120)
        bare = f"http://127.0.0.1:{ports['bare']}/"
        wait_for(bare)
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
        through, direct, hop, bare_hop = await measure(
            [
                (f"{gateway}/graphql", ONE_SUBGRAPH, {"authorization": f"Bearer {caller}"}),
                (contacts, ONE_SUBGRAPH, {"authorization": f"Bearer {principal}"}),
                (f"{gateway}/healthz", None, {}),
                (bare, None, {}),
            ],
            requests,
            concurrency,
        )
        hop_busy, bare_busy = await measure(
            [(f"{gateway}/healthz", None, {}), (bare, None, {})], requests, concurrency
        )
        stack_metrics = httpx.get(f"{gateway}/metrics").text

        # The federated query: three small subgraphs and a second gateway over them.
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
                # a supergraph without contacts: participation still read from the stack's
                "DIEF_GATEWAY_PARTICIPANT_REGISTRY": f"http://127.0.0.1:{ports['contacts']}/graphql",
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
                federated, listing = await measure(
                    [
                        (f"{second}/graphql", FEDERATED, {}),
                        (f"http://127.0.0.1:{ports['items']}/graphql", LISTING_ONLY, {}),
                    ],
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
    print("  one HTTP round trip doing nothing (the extra hop's floor), p50 / p99:")
    print(
        f"    GET /healthz on the gateway    interleaved with the queries "
        f"{hop['p50']:5.2f} / {hop['p99']:5.2f} ms, back to back "
        f"{hop_busy['p50']:5.2f} / {hop_busy['p99']:5.2f} ms"
    )
    print(
        f"    a bare ASGI app (uvicorn)      interleaved with the queries "
        f"{bare_hop['p50']:5.2f} / {bare_hop['p99']:5.2f} ms, back to back "
        f"{bare_busy['p50']:5.2f} / {bare_busy['p99']:5.2f} ms"
    )
    raw = raw_round_trips()
    print(
        f"    a raw TCP round trip (one byte)    back to back {raw['busy']:5.2f} ms, "
        f"after 25 ms idle {raw['idle']:5.2f} ms"
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
