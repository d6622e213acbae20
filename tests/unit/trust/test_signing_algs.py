"""Token signing keys per algorithm: RS256 from `oidc-signing`, ES256 from `oidc-signing-ec`, and the
settings check that every algorithm an e-service registered has its key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from gateway.errors import ConfigError
from gateway.settings.load import load_settings
from gateway.trust.keystore import ROLES
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.signing_keys import SigningKeys

WITHOUT_EC = tuple(role for role in ROLES if role != "oidc-signing-ec")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every role, as `keys generate` makes them (RSA 3072 is slow: made once, copied per test)."""
    folder = tmp_path_factory.mktemp("keys")
    generate_keys(folder)
    return folder


def _copy(generated: Path, tmp_path: Path, *, without_ec: bool = False) -> Path:
    keys = tmp_path / "keys"
    shutil.copytree(generated, keys)
    if without_ec:  # a directory made before oidc-signing-ec existed
        for path in keys.glob("oidc-signing-ec.*"):
            path.unlink()
    return keys


def test_each_algorithm_signs_with_its_own_key(generated: Path, tmp_path: Path) -> None:
    keys = SigningKeys(load_keys(_copy(generated, tmp_path), None))
    assert keys.algs == ("RS256", "ES256")
    assert isinstance(keys.current().key, RSAKey)
    assert keys.current("RS256") == keys.current()
    assert isinstance(keys.current("ES256").key, ECKey)
    assert keys.current("ES256").kid != keys.current().kid
    with pytest.raises(LookupError, match="PS256"):
        keys.current("PS256")


def test_a_directory_without_the_ec_key_still_loads_and_signs_rs256_only(generated: Path, tmp_path: Path) -> None:
    keys = SigningKeys(load_keys(_copy(generated, tmp_path, without_ec=True), None))
    assert keys.algs == ("RS256",)
    assert [key["alg"] for key in keys.jwks()["keys"] if key["use"] == "sig"] == ["RS256"]


def test_an_ec_oidc_signing_key_signs_es256_itself(tmp_path: Path) -> None:
    generate_keys(tmp_path, kind="ec", roles=WITHOUT_EC)
    assert SigningKeys(load_keys(tmp_path, None)).algs == ("ES256",)


def _config(tmp_path: Path, keys: Path, alg: str) -> Path:
    client = {"client_id": "es-rp", "redirect_uris": ["https://es.example/cb"],
              "token_endpoint_auth_method": "client_secret_basic", "client_secret": "s" * 32,
              "id_token_signed_response_alg": alg}  # fmt: skip
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({"keys_dir": str(keys), "clients": [client]}), encoding="utf-8")
    return path


def test_an_e_service_asking_for_es256_without_its_key_is_a_settings_problem(generated: Path, tmp_path: Path) -> None:
    path = _config(tmp_path, _copy(generated, tmp_path, without_ec=True), "ES256")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    [problem] = [p for p in refused.value.problems if "ES256" in p.message]
    assert (problem.file, problem.key) == (str(path), "clients[0].id_token_signed_response_alg")
    assert "keys generate" in problem.message
    assert load_settings(_config(tmp_path, generated, "ES256")).clients[0].id_token_signed_response_alg == "ES256"
    assert load_settings(_config(tmp_path, tmp_path / "not-yet-made", "ES256")).clients  # first start makes them


def test_keys_generate_adds_the_missing_ec_key_and_changes_no_other(generated: Path, tmp_path: Path) -> None:
    keys = _copy(generated, tmp_path, without_ec=True)
    before = {path.name: path.read_bytes() for path in keys.iterdir()}
    generate_keys(keys)
    after = {path.name: path.read_bytes() for path in keys.iterdir()}
    assert {name: after[name] for name in before} == before
    assert set(after) - set(before) == {"oidc-signing-ec.pem", "oidc-signing-ec.crt"}
