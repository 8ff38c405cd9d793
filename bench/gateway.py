"""How much the gateway costs, beside Hive Gateway: ``python bench/gateway.py [REQUESTS]``
(default 300 requests per cell).

Starts the whole stack (``dief run``: MongoDB-wire server, NATS, contacts, meetings, cases,
gateway) on free ports under a temporary home, installs Hive Gateway 2.15 from npm into a
scratch folder (``~/.cache/dief-bench-hive``, with Node 24 from npm when the machine's node
is older; skipped, and said so, when npm cannot install it) and starts it on the same
supergraph, forwarding the client's Authorization header (it is sent a principal token, as
the subgraphs expect), once with its in-flight request merging on (its default) and once
off. Then prints, at 1, 10 and 50 concurrent clients, each table measured interleaved (one
request to each column in turn, same client):

1. a one-subgraph query (a page of States from contacts): ours, Hive on and off, and the
   subgraph directly;
2. the README's federated query (contacts, meetings, cases): ours and Hive on and off;
3. 200 distinct callers with varying variables (merging cannot help): ours and Hive;
4. ``contactCreate`` p50 directly against contacts at an authority of 10 and of 5,000
   contacts;
5. a federated list of 100 items over the three toy subgraphs of
   ``bench/federation_subgraphs.py`` (which count what they are sent): ours, Hive on and
   off, the listing subgraph alone, and the subgraph requests per gateway request for each;
6. our gateway's resident memory before and after 60 s of load, and Hive's;
7. how many of our stack's subgraph fetches were merged, the plan cache hit rate, and the
   gateway's own work per request in process.
"""

from __future__ import annotations

import asyncio
import contextlib
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

ONE_SUBGRAPH = "{ states(first: 3) { edges { node { code name status } } } }"
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

    from bench.federation_subgraphs import counted

    # a keep-alive longer than any gateway's idle pool: no gateway reuses a connection that
    # the subgraph is closing at that moment (a reset, not a measurement)
    uvicorn.run(
        counted(name), host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=75
    )


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


# url, query (None: a GET) or a function of the request's number giving (body, headers),
# headers
Target = tuple[str, "str | Callable[[int], tuple[dict, dict[str, str]]] | None", dict[str, str]]


async def measure(
    targets: list[Target], requests: int, concurrency: int, warm: int = 50
) -> list[dict[str, float]]:
    """Latency of each target, measured interleaved: every worker sends one request to each
    target in turn (the order rotating), so a target never gets a quieter or busier stretch
    of the machine than the others. ``rps`` is requests per second of time spent on that
    target by ``concurrency`` workers."""
    latencies: list[list[float]] = [[] for _ in targets]
    failed = [0 for _ in targets]
    connector = aiohttp.TCPConnector(limit=concurrency * len(targets))
    async with aiohttp.ClientSession(connector=connector) as http:

        async def send(i: int, n: int) -> float | None:
            url, query, headers = targets[i]
            started = time.perf_counter()
            if query is None:
                request = http.get(url, headers=headers)
            elif callable(query):
                body, more = query(n)
                request = http.post(url, json=body, headers={**headers, **more})
            else:
                request = http.post(url, json={"query": query}, headers=headers)
            async with request as response:
                raw = await response.read()
            took = time.perf_counter() - started
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"errors": [raw[:200]]}
            if response.status != 200 or payload.get("errors"):
                if failed[i] == 0:  # the first failure of a target is shown, all are counted
                    print(f"  ! {url}: {response.status} {str(payload)[:300]}", flush=True)
                failed[i] += 1
                return None
            return took

        for n in range(warm):  # warm up: connections, caches, the plan cache
            for i in range(len(targets)):
                await send(i, n)
        queue = iter(range(requests))

        async def worker() -> None:
            for n in queue:
                for k in range(len(targets)):
                    i = (n + k) % len(targets)
                    took = await send(i, n)
                    if took is not None:
                        latencies[i].append(took)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    results = []
    for samples in latencies:
        ordered = sorted(samples) or [float("nan")]  # nothing answered: no figures
        results.append(
            {
                "rps": len(ordered) * concurrency / sum(ordered),
                "p50": statistics.median(ordered) * 1000,
                "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
                "failed": failed[len(results)],
            }
        )
    return results


async def in_process_cost(requests: int) -> dict[str, float]:
    """The gateway's own work per request, without HTTP or subgraphs: the caller's JWT (its
    verification cached as the app caches it), scopes, limits, authorisation, cached plan,
    the in-flight merge's key, shaping the answer, one principal token signed."""
    from gateway.access import scopes_of
    from gateway.app import VerifiedTokens
    from gateway.auth import CallerPolicy, CallerVerifier, JwksSource
    from gateway.executor import Executor
    from gateway.inflight import InflightMerge
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

    executor = Executor(supergraph, InflightMerge(fetch))  # as the gateway runs it
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

LEVELS = (1, 10, 50)
README_FEDERATED = (
    "{ states(first: 2, filter: {participant: true}) { edges { node { code name participant "
    "presentations(first: 3) { totalCount edges { node { title case { id } } } } } } } "
    "meetings(first: 2) { totalCount } }"
)
DISTINCT = "query($first: Int) { states(first: $first) { edges { node { code name } } } }"
CREATE_CONTACT = (
    "mutation($input: ContactCreateInput!) { contactCreate(input: $input) { contact { id } } }"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def table(title: str, labels: list[str], by_level: dict[int, list[dict[str, float]]]) -> None:
    print(f"\n{title}")
    print(f"  {'':<40}" + "".join(f"{f'c={c} req/s':>12}{'p50 ms':>9}" for c in by_level))
    for i, label in enumerate(labels):
        cells = "".join(
            f"{by_level[c][i]['rps']:>12.0f}{by_level[c][i]['p50']:>9.2f}" for c in by_level
        )
        failures = sum(by_level[c][i]["failed"] for c in by_level)
        print(f"  {label:<40}{cells}" + (f"  ({failures:.0f} failed answers)" if failures else ""))
    if len(labels) > 1 and "Hive" in labels[1]:
        ratios = " ".join(
            f"c={c}: {by_level[c][0]['rps'] / by_level[c][1]['rps']:.2f}x" for c in by_level
        )
        print(f"  ours / Hive's defaults, requests/s: {ratios} (target >= 1.5x)")


def counts(ports: dict[str, int], names: tuple[str, ...]) -> int:
    return sum(int(httpx.get(f"http://127.0.0.1:{ports[n]}/requests").text) for n in names)


async def per_request(
    url: str,
    query: str,
    headers: dict[str, str],
    ports: dict[str, int],
    names: tuple[str, ...],
    at_once: int,
) -> float:
    """Subgraph requests per gateway request over 100 identical requests, ``at_once`` at a
    time."""
    before = counts(ports, names)
    async with aiohttp.ClientSession() as http:

        async def one() -> None:
            async with http.post(url, json={"query": query}, headers=headers) as response:
                await response.read()

        for _ in range(100 // at_once):
            await asyncio.gather(*(one() for _ in range(at_once)))
    return (counts(ports, names) - before) / (100 // at_once * at_once)


def contact_create_p50(contacts: str, token: str, mongo_uri: str, sizes: tuple[int, ...]) -> dict:
    """``contactCreate`` p50 directly against contacts at an authority of ``size`` contacts
    (bulk-inserted as stored)."""
    from bson import ObjectId
    from pymongo import MongoClient

    from services.common.ids import from_global_id

    headers = {"authorization": f"Bearer {token}"}
    client: MongoClient = MongoClient(mongo_uri)
    db = client["dief_contacts"]
    out = {}
    with httpx.Client(timeout=30) as http:
        for size in sizes:
            made = http.post(
                contacts,
                headers=headers,
                json={
                    "query": "mutation($input: AuthorityCreateInput!) { authorityCreate("
                    "input: $input) { authority { id } } }",
                    "variables": {
                        "input": {"stateCode": "FRA", "kind": "CUSTOMS", "name": f"Douane {size}"}
                    },
                },
            ).json()
            gid = made["data"]["authorityCreate"]["authority"]["id"]
            oid = from_global_id(gid, "Authority")
            docs = [
                {
                    "_id": ObjectId(),
                    "authority_id": oid,
                    "state_code": "FRA",
                    "authority_kind": "CUSTOMS",
                    "name": f"Agent {i:05d}",
                    "functional_email": f"agent{i}@d{size}.example",
                    "languages": [],
                    "roles": [],
                    "source": "MANUAL",
                    "version": 0,
                }
                for i in range(size)
            ]
            for start in range(0, len(docs), 1000):
                db["contacts"].insert_many(docs[start : start + 1000])
            samples = []
            for n in range(120):
                started = time.perf_counter()
                answer = http.post(
                    contacts,
                    headers=headers,
                    json={
                        "query": CREATE_CONTACT,
                        "variables": {
                            "input": {
                                "authorityId": gid,
                                "name": f"New {n}",
                                "functionalEmail": f"new{n}@d{size}.example",
                            }
                        },
                    },
                ).json()
                took = (time.perf_counter() - started) * 1000
                assert "errors" not in answer, answer
                if n >= 20:
                    samples.append(took)
            out[size] = statistics.median(samples)
    client.close()
    return out


async def run(requests: int) -> None:
    from bench.hive import HiveGateway

    home = Path(tempfile.mkdtemp(prefix="dief-bench-"))
    names = ("mongo", "nats", "contacts", "meetings", "cases", "gateway", "console", "gateway2")
    names += ("items",)
    ports = {name: free_port() for name in names}
    extra = ("prices", "stock", "bare", "hive", "hive_off", "hive2", "hive2_off")
    ports |= {name: free_port() for name in extra}
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
        "DIEF_CONSOLE_PORT": str(ports["console"]),
        # one bench client is one caller: the per-caller fairness limits would refuse it
        "DIEF_GATEWAY_MAX_CONCURRENT_PER_CALLER": "100000",
        "DIEF_GATEWAY_RATE_PER_CALLER": "1000000",
        "DIEF_GATEWAY_BURST_PER_CALLER": "1000000",
    }
    python = sys.executable
    sub_env = {**env, "PYTHONPATH": str(ROOT)}
    print(f"{os.cpu_count()} CPUs; {requests} requests per cell; levels {LEVELS}", flush=True)
    hive = HiveGateway.install()
    if hive is not None:
        print(f"  {hive.version()}, started on the same supergraph, forwarding Authorization")
    print(f"starting the stack under {home} ...", flush=True)
    from services.common.settings import Settings
    from services.dev.tokens import dev_token

    settings = Settings(home=home, mongodb_uri=env["MONGODB_URI"], nats_url=env["NATS_URL"])
    with process([python, "-m", "services.cli", "run"], env, home / "stack.log"):
        wait_for(f"http://127.0.0.1:{ports['gateway']}/readyz", timeout=180)

        def tokens(sub: str, state: str) -> tuple[str, str]:
            common = {"sub": sub, "state": state, "roles": ["delegate"], "ttl_seconds": 7200}
            return (
                dev_token(settings, participant=None, **common),  # a caller's JWT
                dev_token(settings, participant=True, **common),  # a principal token
            )

        caller, principal = tokens("bench", "FRA")
        gateway = f"http://127.0.0.1:{ports['gateway']}/graphql"
        contacts = f"http://127.0.0.1:{ports['contacts']}/graphql"
        ours_h = {"authorization": f"Bearer {caller}"}
        direct_h = {"authorization": f"Bearer {principal}"}
        ours_sdl = ROOT / "gateway" / "supergraph.graphql"
        stack_sdl = home / "stack-supergraph.graphql"
        text = ours_sdl.read_text()
        for name in ("contacts", "meetings", "cases"):
            port = {"contacts": 8101, "meetings": 8102, "cases": 8103}[name]
            text = text.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{ports[name]}/")
        stack_sdl.write_text(text)

        with contextlib.ExitStack() as hives:
            labels = ["our gateway (caller JWT)"]
            targets: list[Target] = [(gateway, ONE_SUBGRAPH, ours_h)]
            fed_targets: list[Target] = [(gateway, README_FEDERATED, ours_h)]
            if hive is not None:
                for key, dedupe in (("hive", True), ("hive_off", False)):
                    hives.enter_context(
                        hive.serve(stack_sdl, ports[key], dedupe=dedupe, log=home / f"{key}.log")
                    )
                    wait_for(f"http://127.0.0.1:{ports[key]}/healthcheck", timeout=120)
                    url = f"http://127.0.0.1:{ports[key]}/graphql"
                    targets.append((url, ONE_SUBGRAPH, direct_h))
                    fed_targets.append((url, README_FEDERATED, direct_h))
                labels += ["Hive Gateway, merging on (default)", "Hive Gateway, merging off"]
            one = {
                c: await measure([*targets, (contacts, ONE_SUBGRAPH, direct_h)], requests, c)
                for c in LEVELS
            }
            table(
                "One-subgraph query (a page of States from contacts):",
                [*labels, "directly against contacts"],
                one,
            )
            fed = {c: await measure(fed_targets, requests, c) for c in LEVELS}
            table("The README's federated query (contacts, meetings, cases):", labels, fed)

            # many distinct callers: every request another subject and variables
            callers = [tokens(f"bench-{i}", "FRA") for i in range(200)]

            def ours_distinct(n: int) -> tuple[dict, dict[str, str]]:
                body = {"query": DISTINCT, "variables": {"first": 1 + n % 7}}
                return body, {"authorization": f"Bearer {callers[n % 200][0]}"}

            def hive_distinct(n: int) -> tuple[dict, dict[str, str]]:
                body = {"query": DISTINCT, "variables": {"first": 1 + n % 7}}
                return body, {"authorization": f"Bearer {callers[n % 200][1]}"}

            distinct_targets: list[Target] = [(gateway, ours_distinct, {})]
            if hive is not None:
                distinct_targets.append(
                    (f"http://127.0.0.1:{ports['hive']}/graphql", hive_distinct, {})
                )
            distinct = {c: await measure(distinct_targets, requests, c) for c in LEVELS}
            table(
                "200 distinct callers, variables varying (merging cannot help):",
                labels[:2],
                distinct,
            )
        stack_metrics = httpx.get(f"http://127.0.0.1:{ports['gateway']}/metrics").text
        creates = contact_create_p50(contacts, principal, env["MONGODB_URI"], (10, 5000))
        print("\ncontactCreate directly against contacts, p50 (one at a time):")
        for size, p50 in creates.items():
            print(f"  at an authority of {size:>5} contacts: {p50:6.2f} ms")

    # The toy subgraphs of bench/federation_subgraphs.py, our second gateway and Hive.
    toys = ("items", "prices", "stock")
    with contextlib.ExitStack() as stack:
        for name in toys:
            stack.enter_context(
                process(
                    [python, __file__, "--serve", name, str(ports[name])],
                    sub_env,
                    home / f"{name}.log",
                )
            )
        from gateway.compose import compose

        sdls = {}
        for name in toys:
            url = f"http://127.0.0.1:{ports[name]}/graphql"
            deadline = time.monotonic() + 60
            while True:
                try:
                    answer = httpx.post(url, json={"query": "{ _service { sdl } }"})
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            sdls[name] = (url, answer.json()["data"]["_service"]["sdl"])
        toy_sdl = home / "toy-supergraph.graphql"
        toy_sdl.write_text(compose(sdls))
        gateway2_env = {
            **env,
            "DIEF_GATEWAY_PORT": str(ports["gateway2"]),
            "DIEF_GATEWAY_SUPERGRAPH": str(toy_sdl),
            # an outside supergraph, and the stack has stopped by now: no registry
            "DIEF_GATEWAY_PARTICIPANT_REGISTRY": "off",
        }
        argv = [python, "-m", "services.cli", "serve", "gateway", "--port", str(ports["gateway2"])]
        second_proc = stack.enter_context(process(argv, gateway2_env, home / "gateway2.log"))
        second = f"http://127.0.0.1:{ports['gateway2']}"
        wait_for(f"{second}/readyz", timeout=90)
        labels = ["our gateway"]
        targets = [(f"{second}/graphql", FEDERATED, {})]
        hive_procs = []
        if hive is not None:
            for key, dedupe in (("hive2", True), ("hive2_off", False)):
                hive_procs.append(
                    stack.enter_context(
                        hive.serve(toy_sdl, ports[key], dedupe=dedupe, log=home / f"{key}.log")
                    )
                )
                wait_for(f"http://127.0.0.1:{ports[key]}/healthcheck", timeout=120)
                targets.append((f"http://127.0.0.1:{ports[key]}/graphql", FEDERATED, {}))
            labels += ["Hive Gateway, merging on (default)", "Hive Gateway, merging off"]
        items = f"http://127.0.0.1:{ports['items']}/graphql"
        toy = {c: await measure([*targets, (items, LISTING_ONLY, {})], requests, c) for c in LEVELS}
        table(
            "Federated list, 100 items over 3 toy subgraphs:",
            [*labels, "the listing subgraph alone"],
            toy,
        )
        print(
            "  subgraph requests per gateway request (100 identical requests, 1 / 10 / 50 "
            "at a time):"
        )
        for label, (url, query, headers) in zip(labels, targets, strict=True):
            ratios = [
                await per_request(url, query, headers, ports, toys, n)  # type: ignore[arg-type]
                for n in LEVELS
            ]
            print(f"    {label:<38} " + " / ".join(f"{r:.2f}" for r in ratios))

        before = rss_mb(second_proc.pid)
        hive_before = rss_mb(hive_procs[0].pid) if hive_procs else 0.0
        load_targets = [targets[0], *([targets[1]] if hive_procs else [])]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await measure(load_targets, 200, 10, warm=0)
        after = rss_mb(second_proc.pid)
        print(
            f"\nRSS before / after 60 s of load at 10 clients: our gateway {before:.0f} / "
            f"{after:.0f} MB",
            end="",
        )
        if hive_procs:
            print(
                f", Hive Gateway {hive_before:.0f} / {rss_mb(hive_procs[0].pid):.0f} MB "
                "(its main process)"
            )
        else:
            print()

    hits = metric(stack_metrics, 'dief_gateway_plan_cache{result="hit"}')
    misses = metric(stack_metrics, 'dief_gateway_plan_cache{result="miss"}')
    merged = metric(stack_metrics, "dief_gateway_subgraph_fetches_merged_total")
    sent = metric(stack_metrics, "dief_gateway_subgraph_fetches_total")
    print(
        f"\nOur stack: {sent:.0f} subgraph requests sent, {merged:.0f} merged into one in "
        f"flight; plan cache hit rate {hits / max(hits + misses, 1):.1%}"
    )
    own = await in_process_cost(1000)
    print(
        f"The gateway's own work per request (in process, cached plan, no HTTP): p50 "
        f"{own['p50']:.3f} ms, p99 {own['p99']:.3f} ms"
    )
    shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve_subgraph(sys.argv[2], int(sys.argv[3]))
        return
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    asyncio.run(run(requests))


if __name__ == "__main__":
    main()
