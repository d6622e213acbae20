"""`metrics` in gateway.yaml: a bearer token for scrapers, `public`, and closed by default in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.errors import ConfigError
from gateway.settings.load import load_settings

TOKEN = "Zm9vYmFyLWJhei1xdXV4LWNvcmdlLWdyYXVsdA-_~+/=="  # 45 characters of RFC 6750 b64token


def _production(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """The smallest configuration production accepts (key files only need to exist for the checks)."""
    (tmp_path / "keys").mkdir()
    for name in ("oidc-signing.pem", "saml-signing.pem", "saml-encryption.pem", "oidc-encryption.pem"):
        (tmp_path / "keys" / name).write_text("", encoding="utf-8")
    (tmp_path / "idp_configs").mkdir()
    provider = {"id": "idp", "entity_id": "https://idp.example/idp", "display_name": "IdP",
                "loas": ["http://id.elegnamnden.se/loa/1.0/loa3"]}  # fmt: skip
    (tmp_path / "idp_configs" / "idp.yaml").write_text(yaml.safe_dump(provider), encoding="utf-8")
    sp_metadata = {
        "service_type": "public-sector-sp",
        "display_name": {"sv": "Kommunen"},
        "logos": [{"url": "https://gw.example/logo.png", "width": 80, "height": 80}],
        "organization": {"name": {"sv": "Kommunen"}, "display_name": {"sv": "Kommunen"},
                         "url": {"sv": "https://gw.example"}, "number": "2120001234"},
    }  # fmt: skip
    return {
        "environment": "production",
        "issuer": "https://gw.example",
        "secret_key": "s" * 40,
        "keys_dir": "keys",
        "store": {"url": "redis://127.0.0.1:6379/0"},
        "providers": ["idp"],
        "saml": {"sp_metadata": sp_metadata},
        **extra,
    }


def _write(tmp_path: Path, config: dict[str, Any], tail: str = "") -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config) + tail, encoding="utf-8")
    return path


def _problems(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return [(p.file, p.key, p.message) for p in caught.value.problems]


def test_production_without_token_or_public_keeps_metrics_closed(tmp_path: Path) -> None:
    metrics = load_settings(_write(tmp_path, _production(tmp_path))).metrics
    assert metrics.token is None
    assert metrics.public is False


def test_development_keeps_metrics_open_by_default(tmp_path: Path) -> None:
    metrics = load_settings(_write(tmp_path, {})).metrics
    assert metrics.token is None
    assert metrics.public is True


@pytest.mark.parametrize("environment", ["development", "production"])
def test_public_is_what_the_operator_says(tmp_path: Path, environment: str) -> None:
    public = environment == "production"  # the opposite of each environment's default
    config = _production(tmp_path, metrics={"public": public}) if public else {"metrics": {"public": public}}
    assert load_settings(_write(tmp_path, config)).metrics.public is public


def test_a_plain_token_is_read_and_closes_metrics_even_in_development(tmp_path: Path) -> None:
    metrics = load_settings(_write(tmp_path, {"metrics": {"token": TOKEN}})).metrics
    assert metrics.token == TOKEN.encode()
    assert metrics.public is False


def test_a_token_is_read_from_the_file_an_envfile_tag_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "metrics-token"
    secret_file.write_text(TOKEN + "\n", encoding="utf-8")  # as `openssl rand -base64 32 > file` leaves it
    monkeypatch.setenv("TEST_GW_METRICS_TOKEN_FILE", str(secret_file))
    path = _write(tmp_path, _production(tmp_path), "metrics:\n  token: !envfile TEST_GW_METRICS_TOKEN_FILE\n")
    settings = load_settings(path)
    assert settings.metrics.token == TOKEN.encode()
    assert settings.metrics.public is False
    assert TOKEN not in repr(settings)


def test_a_short_token_names_file_and_key_and_not_the_token(tmp_path: Path) -> None:
    short = "x" * 31
    path = _write(tmp_path, _production(tmp_path, metrics={"token": short}))
    problems = _problems(path)
    assert [(file, key) for file, key, _ in problems] == [(str(path), "metrics.token")]
    assert "at least 32 characters" in problems[0][2]
    assert short not in problems[0][2]


@pytest.mark.parametrize("token", ["has a space " + "x" * 32, "x" * 32 + '"', "=" + "x" * 32, "ä" * 32, 1234])
def test_a_token_a_scraper_cannot_send_as_bearer_token_is_refused(tmp_path: Path, token: object) -> None:
    path = _write(tmp_path, {"metrics": {"token": token}})
    assert [(file, key) for file, key, _ in _problems(path)] == [(str(path), "metrics.token")]


def test_public_and_a_token_together_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _production(tmp_path, metrics={"public": True, "token": TOKEN}))
    assert [(file, key) for file, key, _ in _problems(path)] == [(str(path), "metrics.public")]


def test_public_false_with_a_token_is_accepted(tmp_path: Path) -> None:
    metrics = load_settings(_write(tmp_path, {"metrics": {"public": False, "token": TOKEN}})).metrics
    assert (metrics.token, metrics.public) == (TOKEN.encode(), False)


def test_unknown_metrics_keys_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, {"metrics": {"tokn": TOKEN, "public": "yes"}})
    keys = {key for _, key, _ in _problems(path)}
    assert keys == {"metrics.tokn", "metrics.public"}


def test_no_secret_of_the_settings_is_in_their_printed_form(tmp_path: Path) -> None:
    """Settings may reach a log or a traceback; the secret key and client secrets must not come with them."""
    client_secret = "c" * 43
    config = _production(tmp_path, metrics={"token": TOKEN})
    config["clients"] = [
        {"client_id": "rp", "redirect_uris": ["https://rp.example/cb"], "client_secret": client_secret,
         "token_endpoint_auth_method": "client_secret_basic", "scopes": ["openid"]}
    ]  # fmt: skip
    settings = load_settings(_write(tmp_path, config))
    assert settings.secret_key is not None
    assert settings.clients[0].client_secret == client_secret
    printed = repr(settings)
    for secret in (settings.secret_key.decode(), client_secret, TOKEN):
        assert secret not in printed
