"""A client's logout settings: post_logout_redirect_uris, backchannel_logout_uri and its session flag."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.errors import ConfigError
from gateway.settings.load import load_settings

_JWKS = {"keys": [{"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "k"}]}


def _config(tmp_path: Path, environment: str = "development", **client: object) -> Path:
    entry = {"client_id": "c", "redirect_uris": ["https://c.example/cb"], "jwks": _JWKS,
             "token_endpoint_auth_method": "private_key_jwt", **client}  # fmt: skip
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({"environment": environment, "clients": [entry]}), encoding="utf-8")
    return path


def _problems(path: Path) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert all(p.file == str(path) for p in caught.value.problems)
    return {p.key: p.message for p in caught.value.problems}


def test_logout_settings_are_read_and_default_to_none(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        post_logout_redirect_uris=["http://c.example/bye"],
        backchannel_logout_uri="http://localhost:9000/bcl",
        backchannel_logout_session_required=True,
    )
    (client,) = load_settings(path).clients  # development: http is fine
    assert client.post_logout_redirect_uris == ("http://c.example/bye",)
    assert client.backchannel_logout_uri == "http://localhost:9000/bcl"
    assert client.backchannel_logout_session_required is True
    (plain,) = load_settings(_config(tmp_path)).clients
    assert (plain.backchannel_logout_uri, plain.backchannel_logout_session_required) == (None, False)


def test_production_needs_https_logout_uris(tmp_path: Path) -> None:
    path = _config(
        tmp_path, "production", post_logout_redirect_uris=["http://c.example/bye"],
        backchannel_logout_uri="http://c.example/bcl",
    )  # fmt: skip
    problems = _problems(path)
    assert "must use https" in problems["clients[0].post_logout_redirect_uris"]
    assert "must use https" in problems["clients[0].backchannel_logout_uri"]


def test_logout_uris_are_checked_in_development_too(tmp_path: Path) -> None:
    path = _config(
        tmp_path, post_logout_redirect_uris=["https://c.example/bye#top"], backchannel_logout_uri="ftp://c.example/x",
        backchannel_logout_session_required="yes",
    )  # fmt: skip
    problems = _problems(path)
    assert "fragment" in problems["clients[0].post_logout_redirect_uris"]
    assert "http(s)" in problems["clients[0].backchannel_logout_uri"]
    assert "true or false" in problems["clients[0].backchannel_logout_session_required"]
