"""The gateway over real HTTP, in front of the contacts subgraph and a throwaway one:
caller JWT attacks, directive enforcement before any subgraph call, the principal token the
subgraphs get, masking, limits, persisted queries, metrics, and the HTTP surface."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.keys import SigningKey
from services.common.settings import Settings
from services.contacts import handlers
from services.contacts.documents import Authority
from services.dev.servers import ServerProcess
from tests.conftest import error_codes
from tests.gateway_stack import Gateway, contacts_running, gateway_stack, stack_settings

STATES = "{ states(first: 3) { edges { node { code participant } } } }"


@pytest.fixture(scope="module")
def settings(
    mongodb: ServerProcess,
    nats: ServerProcess,
    keys_dir: Path,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    home = tmp_path_factory.mktemp("gateway-home")
    return stack_settings(mongodb.port, nats.port, keys_dir, home, "test_gateway_http")


@pytest.fixture(scope="module")
async def contacts(settings: Settings) -> AsyncIterator[Any]:
    async with contacts_running(settings) as app:
        yield app


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway")


@pytest.fixture(scope="module")
async def gw(settings: Settings, contacts: Any, workdir: Path) -> AsyncIterator[Gateway]:
    async with gateway_stack(settings, contacts, workdir) as gateway:
        yield gateway


def delegate(gw: Gateway, state: str = "FRA", **claims: Any) -> str:
    return gw.token(sub=f"{state.lower()}-delegate", state=state, roles=["delegate"], **claims)


def codes(result: dict[str, Any]) -> list[str]:
    return error_codes(result)


# --- authentication: the attacks, through the HTTP app ------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "idp-1"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(gw: Gateway, claims: dict[str, Any]) -> str:
    """HS/RS confusion: an HMAC token keyed with the provider's public key material."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "idp-1"}).encode())
    payload = b64(json.dumps(claims).encode())
    secret = json.dumps(gw.idp.jwk).encode()
    import hmac

    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


async def test_every_forged_or_stale_token_is_unauthenticated_and_reaches_no_subgraph(
    gw: Gateway,
) -> None:
    now = int(time.time())
    stranger = Ed25519PrivateKey.generate()
    attacks = {
        "alg none": unsigned(gw.idp.claims(state="FRA")),
        "HS/RS confusion": hs256_with_public_key(gw, gw.idp.claims(state="FRA")),
        "wrong issuer": gw.token(iss="https://evil.example"),
        "wrong audience": gw.token(aud="someone-else"),
        "expired": gw.token(iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid": gw.token(nbf=now + 3600),
        "unknown kid": jwt.encode(
            gw.idp.claims(), stranger, algorithm="EdDSA", headers={"kid": "idp-2"}
        ),
        "forged with the right kid": jwt.encode(
            gw.idp.claims(), stranger, algorithm="EdDSA", headers={"kid": "idp-1"}
        ),
        "not a JWT": "hello",
    }
    gw.notes.clear()
    for name, token in attacks.items():
        response = await gw.post({"query": "{ publicNote }"}, token)
        assert response.status_code == 401, name
        assert codes(response.json()) == ["UNAUTHENTICATED"], name
        assert response.headers["www-authenticate"] == "Bearer"
    malformed = await gw.post({"query": "{ publicNote }"}, authorization="Basic abc")
    assert malformed.status_code == 401
    assert gw.notes.requests == []


async def test_a_valid_token_from_the_identity_provider_is_accepted(gw: Gateway) -> None:
    result = await gw.query(STATES, delegate(gw))
    assert "errors" not in result, result
    assert result["data"]["states"]["edges"][0]["node"]["code"]


# --- participation from the registry, principal token to the subgraphs ---------------------


CALLER = "{ caller { subject state roles participant scopes requestId headerRequestId } }"


async def test_subgraphs_get_a_gateway_signed_principal_token_not_the_callers_jwt(
    gw: Gateway,
) -> None:
    caller_jwt = delegate(gw, participant=False)  # the claim is ignored: FRA is a party
    response = await gw.post({"query": CALLER}, caller_jwt, **{"x-request-id": "trace-42"})
    assert response.status_code == 200
    caller = response.json()["data"]["caller"]
    assert caller == {
        "subject": "fra-delegate",
        "state": "FRA",
        "roles": ["delegate"],
        "participant": True,
        "scopes": ["delegate", "participant", "state:FRA"],
        "requestId": "trace-42",
        "headerRequestId": "trace-42",
    }
    sent = gw.notes.requests[-1]["headers"]
    assert caller_jwt not in sent["authorization"]
    claims = jwt.decode(sent["authorization"].split()[1], options={"verify_signature": False})
    assert claims["iss"] == "dief-gateway" and claims["exp"] - claims["iat"] <= 60


async def test_participation_is_the_registrys_not_the_tokens(gw: Gateway) -> None:
    forged_claim = delegate(gw, state="USA", participant=True)  # USA is not a party
    gw.notes.clear()
    result = await gw.query("{ publicNote participantNote }", forged_claim)
    assert result["data"] == {"publicNote": "hello", "participantNote": None}
    assert codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["participantNote"]
    assert "participantNote" not in gw.notes.queries[-1]  # never asked of the subgraph


# --- directive enforcement -----------------------------------------------------------------


async def test_unauthorised_fields_are_removed_and_the_rest_answers(gw: Gateway) -> None:
    gw.notes.clear()
    result = await gw.query(
        "{ publicNote secretNote participantNote caller { subject } }", delegate(gw)
    )
    assert result["data"] == {
        "publicNote": "hello",
        "secretNote": None,
        "participantNote": "for participants",
        "caller": {"subject": "fra-delegate"},
    }
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["secretNote"], "FORBIDDEN")
    ]
    assert all("secretNote" not in q for q in gw.notes.queries)


async def test_a_refused_field_left_out_by_skip_is_not_reported_and_follows_the_variable(
    gw: Gateway,
) -> None:
    query = "query($hide: Boolean!) { publicNote secretNote @skip(if: $hide) }"
    hidden = await gw.query(query, delegate(gw), {"hide": True})
    assert hidden == {"data": {"publicNote": "hello"}}
    # The same text with the other value must not reuse the first decision.
    gw.notes.clear()
    shown = await gw.query(query, delegate(gw), {"hide": False})
    assert shown["data"] == {"publicNote": "hello", "secretNote": None}
    assert [(e["path"], e["extensions"]["code"]) for e in shown["errors"]] == [
        (["secretNote"], "FORBIDDEN")
    ]
    assert all("secretNote" not in q for q in gw.notes.queries)


async def test_anonymous_callers_are_asked_to_sign_in_for_authenticated_fields(
    gw: Gateway,
) -> None:
    result = await gw.query("{ publicNote caller { subject } }")
    assert result["data"] == {"publicNote": "hello", "caller": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["caller"], "UNAUTHENTICATED")
    ]
    # root fields are nullable: a refused one is null and the others are answered
    result = await gw.query("{ publicNote list: states { totalCount } }")
    assert result["data"] == {"publicNote": "hello", "list": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["list"], "UNAUTHENTICATED")
    ]


async def test_the_directory_policy_refuses_non_participants_before_contacts_is_called(
    gw: Gateway,
) -> None:
    before = await gw.metrics()
    result = await gw.query(STATES, delegate(gw, state="USA"))
    assert codes(result) == ["FORBIDDEN"] and result["data"] == {"states": None}
    assert _count(await gw.metrics(), "contacts") == _count(before, "contacts")


async def test_a_refused_mutation_field_is_not_run_and_the_allowed_one_is(gw: Gateway) -> None:
    mutation = """mutation {
      stateStatusChange(input: {code: "USA", status: SIGNATORY, signatureDate: "2013-09-25"}) {
        state { code status }
      }
      authorityCreate(input: {stateCode: "FRA", kind: LICENSING, name: "Direction X"}) {
        authority { stateCode name }
      }
    }"""
    result = await gw.query(mutation, delegate(gw))
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["stateStatusChange"], "FORBIDDEN")
    ]
    # the allowed field ran and is answered; the refused one is null and never reached
    # contacts
    assert result["data"] == {
        "stateStatusChange": None,
        "authorityCreate": {"authority": {"stateCode": "FRA", "name": "Direction X"}},
    }
    created = Authority.objects(state_code="FRA", name="Direction X").count()
    assert created == 1
    assert handlers.load_state("USA").status.value == "NON_PARTY"


async def test_reject_mode_fails_the_whole_request(
    settings: Settings, contacts: Any, tmp_path: Path
) -> None:
    async with gateway_stack(
        settings, contacts, tmp_path, gateway_authorization_mode="reject"
    ) as gw:
        gw.notes.clear()
        result = await gw.query("{ publicNote secretNote }", delegate(gw))
        assert result["data"] is None and codes(result) == ["FORBIDDEN"]
        assert gw.notes.requests == []


# --- error masking -------------------------------------------------------------------------


async def test_our_refusals_keep_code_and_message_and_the_rest_becomes_internal(
    gw: Gateway,
) -> None:
    response = await gw.post({"query": "{ publicNote missing boom odd }"}, delegate(gw))
    result = response.json()
    request_id = response.headers["x-request-id"]
    assert result["data"] == {"publicNote": "hello", "missing": None, "boom": None, "odd": None}
    by_path = {e["path"][0]: e for e in result["errors"]}
    assert by_path["missing"]["message"] == "No such note."
    assert by_path["missing"]["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    for masked in ("boom", "odd"):
        assert by_path[masked]["extensions"] == {"code": "INTERNAL", "requestId": request_id}
        assert request_id in by_path[masked]["message"]
    assert "hunter2" not in response.text and "internal detail" not in response.text


# --- limits --------------------------------------------------------------------------------


async def test_limits_over_http(settings: Settings, contacts: Any, tmp_path: Path) -> None:
    async with gateway_stack(
        settings,
        contacts,
        tmp_path,
        gateway_max_body_bytes=2048,
        gateway_max_batch=2,
        gateway_max_depth=4,
        gateway_max_cost=200,
    ) as gw:
        token = delegate(gw)
        big = await gw.post({"query": "{ publicNote }", "variables": {"x": "y" * 4000}}, token)
        assert big.status_code == 413
        assert big.json()["errors"][0]["extensions"]["limit"] == "bodySize"

        batch = await gw.post([{"query": "{ publicNote }"}] * 3, token)
        assert batch.status_code == 400
        assert batch.json()["errors"][0]["extensions"]["limit"] == "batchSize"

        ok = await gw.post([{"query": "{ publicNote }"}, {"query": "{ missing }"}], token)
        assert ok.status_code == 200
        first, second = ok.json()
        assert first["data"] == {"publicNote": "hello"} and codes(second) == ["NOT_FOUND"]

        gw.notes.clear()
        deep = await gw.query(
            "{ states { edges { node { authorities { contacts { id } } } } } }", token
        )
        assert deep["errors"][0]["extensions"]["limit"] == "depth"
        costly = await gw.query("{ states(first: 200) { edges { node { code } } } }", token)
        assert costly["errors"][0]["extensions"]["limit"] == "cost"
        assert "data" not in costly
        assert gw.notes.requests == []


# --- persisted queries ---------------------------------------------------------------------


def apq(query: str) -> dict[str, Any]:
    digest = hashlib.sha256(query.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_automatic_persisted_queries(gw: Gateway) -> None:
    query = "{ publicNote }"
    first = (await gw.post({"extensions": apq(query)})).json()
    assert codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    registered = (await gw.post({"query": query, "extensions": apq(query)})).json()
    assert registered["data"] == {"publicNote": "hello"}
    again = (await gw.post({"extensions": apq(query)})).json()
    assert again["data"] == {"publicNote": "hello"}
    by_get = await gw.http.get(f"{gw.base}/graphql", params={"extensions": json.dumps(apq(query))})
    assert by_get.json()["data"] == {"publicNote": "hello"}


async def test_trusted_documents_mode_runs_only_known_operations(
    settings: Settings, contacts: Any, tmp_path: Path
) -> None:
    known = "query Hello { publicNote }"
    manifest = tmp_path / "trusted.json"
    manifest.write_text(json.dumps({hashlib.sha256(known.encode()).hexdigest(): known}))
    async with gateway_stack(
        settings,
        contacts,
        tmp_path,
        gateway_persisted_queries="trusted",
        gateway_trusted_documents=str(manifest),
    ) as gw:
        by_hash = (await gw.post({"extensions": apq(known)})).json()
        assert by_hash["data"] == {"publicNote": "hello"}
        gw.notes.clear()
        unknown = (await gw.post({"query": "{ publicNote secretNote }"})).json()
        assert codes(unknown) == ["FORBIDDEN"] and gw.notes.requests == []


# --- HTTP surface, introspection, GraphiQL, metrics ----------------------------------------


async def test_get_runs_queries_but_not_mutations(gw: Gateway) -> None:
    ok = await gw.http.get(f"{gw.base}/graphql", params={"query": "{ publicNote }"})
    assert ok.json() == {"data": {"publicNote": "hello"}}
    refused = await gw.http.get(
        f"{gw.base}/graphql",
        params={"query": 'mutation { contactVerify(input: {id: "x"}) { contact { id } } }'},
    )
    assert refused.status_code == 405


async def test_introspection_and_graphiql_follow_the_settings(
    settings: Settings, contacts: Any, tmp_path: Path
) -> None:
    async with gateway_stack(settings, contacts, tmp_path) as dev:
        result = await dev.query("{ __schema { queryType { name } } }")
        assert result["data"]["__schema"]["queryType"]["name"] == "Query"
        page = await dev.http.get(f"{dev.base}/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    async with gateway_stack(
        settings,
        contacts,
        tmp_path,
        gateway_introspection=False,
        gateway_graphiql=False,
    ) as locked:
        result = await locked.query("{ __schema { queryType { name } } }")
        assert set(codes(result)) == {"VALIDATION"}
        assert "introspection" in result["errors"][0]["message"].lower()
        page = await locked.http.get(f"{locked.base}/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()


def _count(metrics: str, subgraph: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("dief_gateway_subgraph_fetches_total{") and (
            f'subgraph="{subgraph}"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _sample(metrics: str, prefix: str) -> float:
    """The value of the one sample line starting with ``prefix`` (0 if absent)."""
    for line in metrics.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_requests_subgraph_fetches_and_plan_cache_hits(gw: Gateway) -> None:
    token = delegate(gw)
    ok = 'dief_gateway_requests_total{operation="query",outcome="ok"}'
    fetched = 'dief_gateway_subgraph_fetches_total{outcome="ok",subgraph="notes"}'
    failed = 'dief_gateway_subgraph_fetches_total{outcome="errors",subgraph="notes"}'
    hits = 'dief_gateway_plan_cache{result="hit"}'
    before = await gw.metrics()
    for _ in range(3):
        assert "errors" not in await gw.query("{ publicNote motto: publicNote }", token)
    await gw.query("{ boom }", token)
    after = await gw.metrics()
    assert _sample(after, ok) - _sample(before, ok) == 3
    assert _sample(after, fetched) - _sample(before, fetched) == 3
    assert _sample(after, failed) - _sample(before, failed) == 1
    assert _sample(after, hits) - _sample(before, hits) >= 2  # planned once, then cached
    assert 'dief_gateway_request_seconds_bucket{le="0.005",operation="query"}' in after
    assert "dief_gateway_subgraph_seconds_bucket" in after


async def test_healthz_and_readyz(gw: Gateway) -> None:
    assert (await gw.http.get(f"{gw.base}/healthz")).json()["status"] == "alive"
    ready = await gw.http.get(f"{gw.base}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"registry": True, "nats": True}


async def test_not_ready_when_the_registry_cannot_be_read(
    settings: Settings, contacts: Any, tmp_path: Path
) -> None:
    from tests.gateway_support import free_port

    unreachable = f"http://127.0.0.1:{free_port()}/graphql"
    async with gateway_stack(
        settings, contacts, tmp_path, wait_ready=False, contacts_url=unreachable
    ) as gw:
        ready = await gw.http.get(f"{gw.base}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["registry"] is False
        # Without the registry participation is unknown: neither guessed nor refused (a
        # FORBIDDEN a client might act on) but UNAVAILABLE, to retry; no subgraph is asked.
        gw.notes.clear()
        answer = await gw.post({"query": "{ participantNote }"}, delegate(gw))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert codes(answer.json()) == ["UNAVAILABLE"]
        assert gw.notes.requests == []


async def test_a_refusal_quotes_only_a_short_prefix_of_the_input(gw: Gateway) -> None:
    huge = "x" * 100_000
    answer = await gw.post(
        {"query": "query($n: Int) { states(first: $n) { totalCount } }", "variables": {"n": huge}},
        delegate(gw),
    )
    errors = answer.json()["errors"]
    assert codes(answer.json()) == ["VALIDATION"]
    assert all(len(e["message"]) <= 210 for e in errors)
    assert "x" * 300 not in answer.text


async def test_first_from_variables_is_counted_not_an_internal_error(gw: Gateway) -> None:
    query = "query($n: Int) { states(first: $n) { totalCount } }"
    token = delegate(gw)
    answers = [
        await gw.query(query, token, variables)
        for variables in ({"n": 2}, {}, {"n": None}, {"n": -1})
    ]
    assert [codes(a) for a in answers[:3]] == [[], [], []]
    assert all(a["data"]["states"]["totalCount"] > 0 for a in answers[:3])
    assert "INTERNAL" not in codes(answers[3])
    defaulted = "query($n: Int = 3) { states(first: $n) { totalCount } }"
    assert codes(await gw.query(defaulted, token)) == []
