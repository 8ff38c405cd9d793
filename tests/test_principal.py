"""Principal tokens (services/common/principal.py) with keys made in tmp_path, and the
other things a caller sends that must be checked on the way in: global ids and cursors.

No servers are started: only ``tmp_path`` is used from pytest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from bson import ObjectId
from cryptography.hazmat.primitives import serialization

from services.common.errors import Forbidden, Unauthenticated, ValidationFailed
from services.common.ids import from_global_id, to_global_id
from services.common.keys import (
    JWKS_FILE,
    PRIVATE_KEY_FILE,
    SigningKey,
    ensure_dev_key,
    load_jwks,
    public_jwk,
)
from services.common.pagination import (
    DEFAULT_PAGE,
    MAX_PAGE,
    decode_cursor,
    encode_cursor,
    page_bounds,
)
from services.common.principal import (
    Principal,
    PrincipalVerifier,
    Role,
    acts_for_state,
    require_authenticated,
    require_participant,
    require_role,
    sign_principal,
)
from tests.principal_claims import AUDIENCE, ISSUER, b64url, principal_claims

ALGORITHMS = ["EdDSA", "ES256", "RS256"]

DELEGATE = Principal(
    subject="alice",
    roles=frozenset({Role.DELEGATE}),
    state="FRA",
    participant=True,
    scopes=frozenset({"contacts:read", "contacts:write"}),
)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return ensure_dev_key(tmp_path / "keys")


@pytest.fixture
def other_key(tmp_path: Path) -> SigningKey:
    return ensure_dev_key(tmp_path / "other-keys")


@pytest.fixture
def verifier(tmp_path: Path, key: SigningKey) -> PrincipalVerifier:
    return PrincipalVerifier(
        tmp_path / "keys" / JWKS_FILE, issuer=ISSUER, audience=AUDIENCE, algorithms=ALGORITHMS
    )


def b64json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    return principal_claims(**{"state": "FRA", "participant": True, "scope": "", **overrides})


def signed(key: SigningKey, body: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(body, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, **headers})


def refused(verifier: PrincipalVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(token)
    assert info.value.code == "UNAUTHENTICATED"
    return info.value


# --- keys ----------------------------------------------------------------------------------


def test_dev_key_is_created_once_private_and_published_as_jwks(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    first = ensure_dev_key(keys_dir)
    again = ensure_dev_key(keys_dir)
    assert first.kid == again.kid
    assert (keys_dir / PRIVATE_KEY_FILE).stat().st_mode & 0o077 == 0
    jwks = json.loads((keys_dir / JWKS_FILE).read_text())
    assert jwks == {"keys": [public_jwk(first)]}
    assert "d" not in jwks["keys"][0]  # never the private part
    assert set(load_jwks(keys_dir / JWKS_FILE)) == {first.kid}


def test_jwks_with_a_symmetric_or_kid_less_key_is_refused(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}))
    with pytest.raises(ValueError, match="symmetric"):
        load_jwks(path)
    jwk = {k: v for k, v in public_jwk(key).items() if k != "kid"}
    path.write_text(json.dumps({"keys": [jwk]}))
    with pytest.raises(ValueError, match="kid"):
        load_jwks(path)
    path.write_text(json.dumps({"keys": []}))
    with pytest.raises(ValueError, match="no keys"):
        load_jwks(path)


# --- verification --------------------------------------------------------------------------


def test_valid_token_round_trips(verifier: PrincipalVerifier, key: SigningKey) -> None:
    token = sign_principal(DELEGATE, key, issuer=ISSUER, audience=AUDIENCE)
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}
    assert verifier.verify(token) == DELEGATE


def test_secretariat_token_without_state_round_trips(
    verifier: PrincipalVerifier, key: SigningKey
) -> None:
    sec = Principal(subject="sec1", roles=frozenset({Role.SECRETARIAT, Role.CHAIR}))
    assert verifier.verify(sign_principal(sec, key, issuer=ISSUER, audience=AUDIENCE)) == sec


def test_lower_case_state_is_upper_cased(verifier: PrincipalVerifier, key: SigningKey) -> None:
    assert verifier.verify(signed(key, claims(state="fra"))).state == "FRA"


def test_hs_algorithms_are_never_accepted_even_if_configured(
    tmp_path: Path, key: SigningKey
) -> None:
    v = PrincipalVerifier(
        tmp_path / "keys" / JWKS_FILE,
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=["EdDSA", "HS256", "hs512"],
    )
    assert v.algorithms == ["EdDSA"]


def test_expired_token_is_refused(verifier: PrincipalVerifier, key: SigningKey) -> None:
    token = sign_principal(
        DELEGATE, key, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=-(verifier.leeway + 5)
    )
    assert "expired" in refused(verifier, token).message


def test_token_just_expired_within_leeway_is_accepted(
    verifier: PrincipalVerifier, key: SigningKey
) -> None:
    token = sign_principal(
        DELEGATE, key, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=-(verifier.leeway - 10)
    )
    assert verifier.verify(token) == DELEGATE


def test_token_not_yet_valid_is_refused(verifier: PrincipalVerifier, key: SigningKey) -> None:
    later = int(time.time()) + 3600
    refused(verifier, signed(key, claims(nbf=later, iat=later, exp=later + 300)))


def test_wrong_issuer_is_refused(verifier: PrincipalVerifier, key: SigningKey) -> None:
    token = sign_principal(DELEGATE, key, issuer="someone-else", audience=AUDIENCE)
    refused(verifier, token)


def test_wrong_audience_is_refused(verifier: PrincipalVerifier, key: SigningKey) -> None:
    token = sign_principal(DELEGATE, key, issuer=ISSUER, audience="another-service")
    refused(verifier, token)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "aud"])
def test_token_missing_a_required_claim_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, missing: str
) -> None:
    refused(verifier, signed(key, claims(**{missing: ...})))


def test_token_signed_by_an_unknown_key_is_refused(
    verifier: PrincipalVerifier, other_key: SigningKey
) -> None:
    token = sign_principal(DELEGATE, other_key, issuer=ISSUER, audience=AUDIENCE)
    assert "key" in refused(verifier, token).message


def test_token_signed_by_another_key_under_our_kid_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, other_key: SigningKey
) -> None:
    token = jwt.encode(claims(), other_key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
    refused(verifier, token)


def test_token_without_kid_is_refused(verifier: PrincipalVerifier, key: SigningKey) -> None:
    token = jwt.encode(claims(), key.private_key, algorithm="EdDSA")
    refused(verifier, token)


def test_token_with_a_tampered_payload_is_refused(
    verifier: PrincipalVerifier, key: SigningKey
) -> None:
    header, _, signature = signed(key, claims()).split(".")
    forged = b64json(claims(roles=["secretariat"]))
    refused(verifier, f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("kid_of_ours", [True, False])
@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_alg_none_token_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, alg: str, kid_of_ours: bool
) -> None:
    header = {"alg": alg, "typ": "JWT", **({"kid": key.kid} if kid_of_ours else {})}
    body = b64json(claims(roles=["secretariat"]))
    refused(verifier, f"{b64json(header)}.{body}.")
    refused(verifier, f"{b64json(header)}.{body}")


def _public_key_secrets(key: SigningKey) -> list[bytes]:
    public = key.private_key.public_key()
    return [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
        json.dumps(public_jwk(key)).encode(),
        public_jwk(key)["x"].encode(),
    ]


@pytest.mark.parametrize(
    "secret_index", range(5), ids=["pem", "raw", "openssh", "jwk-json", "jwk-x"]
)
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_token_keyed_with_the_public_key_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, alg: str, secret_index: int
) -> None:
    """Algorithm confusion: the public key is public, so an HMAC made with it proves
    nothing."""
    secret = _public_key_secrets(key)[secret_index]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = (
        f"{b64json({'alg': alg, 'typ': 'JWT', 'kid': key.kid})}."
        f"{b64json(claims(roles=['secretariat']))}"
    )
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    refused(verifier, f"{signing_input}.{b64url(mac)}")


def test_token_whose_alg_does_not_match_the_key_is_refused(
    verifier: PrincipalVerifier, key: SigningKey
) -> None:
    """An accepted algorithm name (ES256) over an Ed25519 key is still refused."""
    signing_input = f"{b64json({'alg': 'ES256', 'kid': key.kid})}.{b64json(claims())}"
    signature = key.private_key.sign(signing_input.encode())
    refused(verifier, f"{signing_input}.{b64url(signature)}")


@pytest.mark.parametrize("roles", [..., [], None, "delegate", {"delegate": True}])
def test_token_without_a_list_of_roles_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, roles: Any
) -> None:
    assert "roles" in refused(verifier, signed(key, claims(roles=roles))).message


@pytest.mark.parametrize(
    "roles", [["admin"], ["delegate", "root"], ["Delegate"], [1], [["x"]], [None]]
)
def test_token_naming_an_unknown_role_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, roles: list[Any]
) -> None:
    assert "unknown role" in refused(verifier, signed(key, claims(roles=roles))).message


@pytest.mark.parametrize("state", ["", "FR", "FRANCE", 250, ["FRA"], {"code": "FRA"}, True])
def test_token_with_a_malformed_state_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, state: Any
) -> None:
    assert "state" in refused(verifier, signed(key, claims(state=state))).message


@pytest.mark.parametrize("state", ["F1!", "123", "   "])
def test_token_with_a_non_alphabetic_state_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, state: str
) -> None:
    refused(verifier, signed(key, claims(state=state)))


@pytest.mark.parametrize("participant", ["true", 1, None])
def test_token_with_a_non_boolean_participant_flag_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, participant: Any
) -> None:
    refused(verifier, signed(key, claims(participant=participant)))


def test_token_with_a_non_string_scope_is_refused(
    verifier: PrincipalVerifier, key: SigningKey
) -> None:
    refused(verifier, signed(key, claims(scope=["contacts:read"])))


def test_token_with_a_non_string_subject_is_refused(
    verifier: PrincipalVerifier, key: SigningKey
) -> None:
    refused(verifier, signed(key, claims(sub=42)))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "a.b",
        "....",
        "Bearer x.y.z",
        "eyJhbGciOiJFZERTQSJ9",
        "\x00\xff",
        b64json(["not", "an", "object"]) + ".e30.sig",
    ],
)
def test_garbage_token_is_refused(verifier: PrincipalVerifier, token: str) -> None:
    refused(verifier, token)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "EdDSA", "kid": ["x"]},
        {"alg": "EdDSA", "kid": {"a": 1}},
        {"alg": "EdDSA", "kid": 7},
        {"alg": ["EdDSA"]},
        {"alg": None},
        {"kid": "x"},
    ],
)
def test_token_with_a_malformed_header_is_refused(
    verifier: PrincipalVerifier, key: SigningKey, header: dict[str, Any]
) -> None:
    _, body, signature = signed(key, claims()).split(".")
    refused(verifier, f"{b64json(header)}.{body}.{signature}")


def test_rotated_key_is_picked_up_from_the_jwks(
    tmp_path: Path, verifier: PrincipalVerifier, key: SigningKey
) -> None:
    assert verifier.verify(sign_principal(DELEGATE, key, issuer=ISSUER, audience=AUDIENCE))
    (tmp_path / "keys" / PRIVATE_KEY_FILE).unlink()
    rotated = ensure_dev_key(tmp_path / "keys")  # rewrites jwks.json with the new key only
    assert rotated.kid != key.kid
    token = sign_principal(DELEGATE, rotated, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(token) == DELEGATE


# --- checks used by handlers ---------------------------------------------------------------


def test_no_principal_is_unauthenticated_for_every_check() -> None:
    for check in (
        require_authenticated,
        require_participant,
        lambda p: require_role(p, Role.SECRETARIAT),
        lambda p: acts_for_state(p, "FRA"),
    ):
        with pytest.raises(Unauthenticated):
            check(None)


def test_require_role_accepts_any_of_the_roles_and_refuses_others() -> None:
    assert require_role(DELEGATE, Role.SECRETARIAT, Role.DELEGATE) is DELEGATE
    with pytest.raises(Forbidden) as info:
        require_role(DELEGATE, Role.SECRETARIAT, Role.CHAIR)
    assert info.value.code == "FORBIDDEN"
    assert "chair" in info.value.message and "secretariat" in info.value.message


def test_require_participant_refuses_non_participants() -> None:
    """Rules 1 and 6: only States Parties and signatory States take part."""
    assert require_participant(DELEGATE) is DELEGATE
    outsider = Principal(subject="bob", roles=frozenset({Role.DELEGATE}), state="USA")
    with pytest.raises(Forbidden):
        require_participant(outsider)


def test_acts_for_state_only_for_own_state_representatives() -> None:
    officer = Principal(subject="o", roles=frozenset({Role.ENFORCEMENT_OFFICER}), state="FRA")
    assert acts_for_state(DELEGATE, "FRA") is DELEGATE
    assert acts_for_state(DELEGATE, "fra") is DELEGATE
    assert acts_for_state(officer, "FRA") is officer
    for principal, state in [
        (DELEGATE, "DEU"),
        (Principal(subject="s", roles=frozenset({Role.SECRETARIAT})), "FRA"),
        (Principal(subject="c", roles=frozenset({Role.CHAIR}), state="FRA"), "FRA"),
        (Principal(subject="e", roles=frozenset({Role.EXPERT}), state="FRA"), "FRA"),
        (Principal(subject="y", roles=frozenset({Role.SYSTEM})), "FRA"),
        (Principal(subject="d", roles=frozenset({Role.DELEGATE})), "FRA"),
    ]:
        with pytest.raises(Forbidden):
            acts_for_state(principal, state)


# --- global ids ----------------------------------------------------------------------------


def test_global_id_round_trips() -> None:
    oid = ObjectId()
    assert from_global_id(to_global_id("Contact", oid), "Contact") == oid


@pytest.mark.parametrize(
    "global_id",
    [
        "",
        "garbage",
        "€",
        "!!!!",
        "Q29udGFjdA",
        b64url(b"Contact"),
        b64url(b"Contact:"),
        b64url(b"Contact:xyz"),
        b64url(b"Contact:" + b"0" * 23),
        b64url(b"\xff\xfe:1"),
        # named: a fresh ObjectId each run, the test's name the same on every worker
        pytest.param(to_global_id("contact", ObjectId()), id="contact:<new ObjectId>"),
        pytest.param(to_global_id("Authority", ObjectId()), id="Authority:<new ObjectId>"),
        to_global_id("Contact", "abcdefghijkl"),
    ],
)
def test_malformed_or_wrong_type_global_id_is_a_validation_error(global_id: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        from_global_id(global_id, "Contact")
    assert info.value.field == "id"
    assert info.value.extensions == {"code": "VALIDATION", "field": "id"}


def test_global_id_refusal_names_the_given_field() -> None:
    with pytest.raises(ValidationFailed) as info:
        from_global_id(to_global_id("Contact", ObjectId()), "Authority", field="authorityId")
    assert info.value.field == "authorityId"
    assert "Authority" in info.value.message


# --- pagination cursors --------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, 49, 10_000])
def test_cursor_round_trips(offset: int) -> None:
    assert decode_cursor(encode_cursor(offset)) == offset


def test_page_bounds_default_and_continuation() -> None:
    assert page_bounds(None, None) == (0, DEFAULT_PAGE)
    assert page_bounds(0, None) == (0, 0)
    assert page_bounds(MAX_PAGE, None) == (0, MAX_PAGE)
    assert page_bounds(10, encode_cursor(9)) == (10, 10)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "o:5",
        "@@@@",
        "=",
        b64url(b"o:-1"),
        b64url(b"x:5"),
        b64url(b"o:abc"),
        b64url(b"o:"),
        b64url(b"o"),
        b64url(b"5"),
        b64url(b"\xff\xfe"),
        b64url(b"o:1.5"),
        b64url(b"o:" + b"9" * 5000),
    ],
)
def test_garbage_cursor_is_a_validation_error_naming_after(cursor: str) -> None:
    for call in (decode_cursor, lambda c: page_bounds(10, c)):
        with pytest.raises(ValidationFailed) as info:
            call(cursor)
        assert info.value.field == "after"
        assert info.value.extensions == {"code": "VALIDATION", "field": "after"}


def test_cursor_beyond_a_64_bit_offset_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(encode_cursor(2**63))


@pytest.mark.parametrize("first", [-1, MAX_PAGE + 1, 10**9])
def test_page_size_out_of_range_is_a_validation_error_naming_first(first: int) -> None:
    with pytest.raises(ValidationFailed) as info:
        page_bounds(first, None)
    assert info.value.field == "first"
