"""``dief keys generate`` / ``dief keys rotate``: the gateway's signing key and the JWKS the
services read; during a rotation the services accept tokens of the old and the new key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gateway.principal_tokens import load_signing_key
from services.cli import main
from services.common.errors import Unauthenticated
from services.common.keys import SIGNING_KEY_FILE, SigningKey
from services.common.principal import Principal, PrincipalVerifier, Role, sign_principal
from services.common.settings import Settings

CALLER = Principal(subject="u-1", roles=frozenset({Role.DELEGATE}), state="FRA")


def _kids(directory: Path) -> list[str]:
    return [k["kid"] for k in json.loads((directory / "jwks.json").read_text())["keys"]]


def _gateway_key(directory: Path) -> SigningKey:
    settings = Settings(
        env="dev",
        gateway_signing_key=str(directory / SIGNING_KEY_FILE),
        principal_jwks=str(directory / "jwks.json"),
    )
    return load_signing_key(settings)


def _token(key: SigningKey) -> str:
    return sign_principal(CALLER, key, issuer="dief-gateway", audience="dief-services")


def _verifier(directory: Path) -> PrincipalVerifier:
    return PrincipalVerifier(
        directory / "jwks.json",
        issuer="dief-gateway",
        audience="dief-services",
        algorithms=["EdDSA"],
    )


def test_generate_writes_a_private_key_for_the_gateway_and_a_jwks(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert main(["keys", "generate", "--dir", str(keys)]) == 0
    mode = stat.S_IMODE((keys / SIGNING_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    key = _gateway_key(keys)
    assert _kids(keys) == [key.kid]
    public = json.loads((keys / "jwks.json").read_text())["keys"][0]
    assert "d" not in public  # no private part in the JWKS
    assert public["alg"] == "EdDSA" and public["use"] == "sig"
    assert _verifier(keys).verify(_token(key)).subject == "u-1"


def test_generate_never_overwrites_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "generate", "--dir", str(tmp_path)]) == 0
    before = (tmp_path / SIGNING_KEY_FILE).read_bytes()
    assert main(["keys", "generate", "--dir", str(tmp_path)]) == 1
    assert "use 'dief keys rotate'" in capsys.readouterr().err
    assert (tmp_path / SIGNING_KEY_FILE).read_bytes() == before


def test_during_a_rotation_services_accept_the_old_and_the_new_key(tmp_path: Path) -> None:
    assert main(["keys", "generate", "--dir", str(tmp_path)]) == 0
    old = _gateway_key(tmp_path)
    verifier = _verifier(tmp_path)  # a running subgraph, started before the rotation
    old_token = _token(old)
    assert verifier.verify(old_token).subject == "u-1"

    assert main(["keys", "rotate", "--dir", str(tmp_path)]) == 0
    new = _gateway_key(tmp_path)
    assert new.kid != old.kid
    assert _kids(tmp_path) == [new.kid, old.kid]
    # The running service picks the new kid up from the file, and still takes the old one
    # (principal tokens signed just before the gateway switched keys).
    assert verifier.verify(_token(new)).subject == "u-1"
    assert verifier.verify(old_token).subject == "u-1"

    # The next rotation retires the oldest key: its tokens are refused from then on.
    assert main(["keys", "rotate", "--dir", str(tmp_path)]) == 0
    newest = _gateway_key(tmp_path)
    assert _kids(tmp_path) == [newest.kid, new.kid]
    with pytest.raises(Unauthenticated):
        _verifier(tmp_path).verify(old_token)
    assert _verifier(tmp_path).verify(_token(new)).subject == "u-1"


def test_rotate_keeps_as_many_keys_as_asked_and_refuses_fewer_than_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "rotate", "--dir", str(tmp_path)]) == 1
    assert "run 'dief keys generate' first" in capsys.readouterr().err
    assert main(["keys", "generate", "--dir", str(tmp_path)]) == 0
    for _ in range(3):
        assert main(["keys", "rotate", "--dir", str(tmp_path), "--keep", "3"]) == 0
    assert len(_kids(tmp_path)) == 3
    assert main(["keys", "rotate", "--dir", str(tmp_path), "--keep", "1"]) == 1
    assert "keep at least 2" in capsys.readouterr().err
    assert len(_kids(tmp_path)) == 3


def test_rotate_refuses_a_jwks_with_a_symmetric_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered JWKS (an HMAC key slipped in) is not carried into the rotated one."""
    assert main(["keys", "generate", "--dir", str(tmp_path)]) == 0
    jwks = json.loads((tmp_path / "jwks.json").read_text())
    jwks["keys"].append({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    assert main(["keys", "rotate", "--dir", str(tmp_path)]) == 1
    assert "symmetric" in capsys.readouterr().err
