"""Who may read /metrics: the bearer-token decision on its own, then the endpoint through Flask's test client."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.observability.metrics import Scrape
from gateway.observability.metrics import scrape_access
from gateway.settings.load import load_settings
from gateway.settings.schema import MetricsSettings
from gateway.trust.keystore import generate_keys

TOKEN = "c2NyYXBlci10b2tlbi1mb3ItdGhlLXVuaXQtdGVzdHM"  # 43 characters
METRIC = "eid_gateway_key_created_timestamp_seconds"
"""A family every gateway reports (its own keys), whatever metadata it trusts."""

PROTECTED = MetricsSettings(token=TOKEN.encode())


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (f"Bearer {TOKEN}", Scrape.SERVE),
        (f"bearer {TOKEN}", Scrape.SERVE),  # RFC 9110 11.1: the auth-scheme is case-insensitive
        (f"Bearer  {TOKEN} ", Scrape.SERVE),
        (None, Scrape.NO_CREDENTIALS),
        ("", Scrape.NO_CREDENTIALS),
        ("Bearer", Scrape.NO_CREDENTIALS),
        ("Bearer ", Scrape.NO_CREDENTIALS),
        (TOKEN, Scrape.NO_CREDENTIALS),
        (f"Basic {TOKEN}", Scrape.NO_CREDENTIALS),
        (f"Bearer {TOKEN[:-1]}", Scrape.WRONG_CREDENTIALS),
        (f"Bearer {TOKEN}x", Scrape.WRONG_CREDENTIALS),
        (f"Bearer {TOKEN.lower()}", Scrape.WRONG_CREDENTIALS),
        (f"Bearer {TOKEN[:-1]}\u00e4", Scrape.WRONG_CREDENTIALS),
        ("Bearer \udcff", Scrape.WRONG_CREDENTIALS),  # not encodable as UTF-8: refused, not an exception
    ],
)
def test_a_configured_token_must_be_sent_exactly(authorization: str | None, expected: Scrape) -> None:
    assert scrape_access(PROTECTED, authorization) is expected


@pytest.mark.parametrize("authorization", [None, f"Bearer {TOKEN}"])
def test_without_a_token_public_decides(authorization: str | None) -> None:
    assert scrape_access(MetricsSettings(public=True), authorization) is Scrape.SERVE
    assert scrape_access(MetricsSettings(public=False), authorization) is Scrape.HIDDEN


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """`==` on bytes stops at the first difference, so timing would reveal a guess's right prefix."""
    calls: list[tuple[bytes, bytes]] = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr("gateway.observability.metrics.hmac.compare_digest", compare_digest)
    assert scrape_access(PROTECTED, f"Bearer {TOKEN}") is Scrape.SERVE
    assert scrape_access(PROTECTED, "Bearer guess") is Scrape.WRONG_CREDENTIALS
    assert calls == [(TOKEN.encode(), TOKEN.encode()), (b"guess", TOKEN.encode())]


# --- the endpoint -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One set of gateway keys for every app here (RSA 3072 is slow to make)."""
    folder = tmp_path_factory.mktemp("keys")
    generate_keys(folder)
    return folder


def _client(tmp_path: Path, keys: Path, metrics: dict[str, Any] | None) -> FlaskClient:
    """A development gateway without sandbox or providers, with ``metrics`` as configured."""
    shutil.copytree(keys, tmp_path / "keys")
    config: dict[str, Any] = {"sandbox": False, "keys_dir": "keys"}
    if metrics is not None:
        config["metrics"] = metrics
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return create_app(load_settings(path)).test_client()


def test_with_a_token_only_the_scraper_that_sends_it_gets_the_metrics(
    tmp_path: Path, keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(tmp_path, keys, {"token": TOKEN})
    caplog.set_level(logging.INFO)
    for headers in ({}, {"Authorization": f"Bearer {TOKEN[:-1]}A"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "eid_gateway_" not in refused.text
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200
    assert scraped.mimetype == "text/plain"
    assert f"# TYPE {METRIC} gauge" in scraped.text
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.observability.health"] == [
        "metrics request refused"
    ] * 3
    assert [getattr(r, "reason", None) for r in caplog.records if r.name == "gateway.observability.health"] == [
        "no bearer token",
        "wrong bearer token",
        "no bearer token",
    ]
    assert TOKEN[:-1] not in caplog.text


def test_probes_stay_open_when_metrics_need_a_token(tmp_path: Path, keys: Path) -> None:
    client = _client(tmp_path, keys, {"token": TOKEN})
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_closed_metrics_are_not_there(tmp_path: Path, keys: Path) -> None:
    """``public: false`` without a token, as production without either: 404, whatever the request sends."""
    client = _client(tmp_path, keys, {"public": False})
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 404
        assert "WWW-Authenticate" not in response.headers
        assert "eid_gateway_" not in response.text


def test_development_default_serves_metrics_to_anyone(tmp_path: Path, keys: Path) -> None:
    response = _client(tmp_path, keys, None).get("/metrics")
    assert response.status_code == 200
    assert f"# TYPE {METRIC} gauge" in response.text
