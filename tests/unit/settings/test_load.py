"""Configuration: development defaults, every problem reported with file and key, production refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.cli import main
from gateway.errors import ConfigError
from gateway.settings.load import load_settings

ROOT = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, config: dict, name: str = "gateway.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return [(p.file, p.key) for p in caught.value.problems]


def test_no_file_gives_development_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EID_GATEWAY_CONFIG", raising=False)
    settings = load_settings(None, bind="127.0.0.1:9999")
    assert settings.development
    assert settings.issuer == "http://127.0.0.1:9999"
    assert settings.store_url == "memory://"
    assert settings.sandbox


def test_production_refuses_development_conveniences_all_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, {"environment": "production", "issuer": "http://gw.example", "sandbox": True,
                             "store": {"url": "memory://"}, "keys_dir": "keys"})  # fmt: skip
    problems = _problems(path)
    keys = {key for _, key in problems}
    assert {"issuer", "sandbox", "store.url", "secret_key", "providers", "keys_dir"} <= keys
    assert all(file == str(path) for file, _ in problems)


def test_memory_store_with_several_workers_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, {"workers": 2})
    assert (str(path), "store.url") in _problems(path)


def test_typos_and_wrong_types_name_file_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"isuer": "x", "workers": "many", "clients": [{"client_id": "a", "redirect_uris": "https://a.example/cb",
                                                        "token_endpoint_auth_method": "client_secret_basic"}]},
    )  # fmt: skip
    problems = _problems(path)
    assert (str(path), "isuer") in problems
    assert (str(path), "workers") in problems
    assert (str(path), "clients[0].client_secret") in problems


def test_env_tag_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("secret_key: !env TEST_GW_SECRET\n", encoding="utf-8")
    monkeypatch.setenv("TEST_GW_SECRET", "s" * 40)
    assert load_settings(path).secret_key == b"s" * 40
    monkeypatch.delenv("TEST_GW_SECRET")
    problems = _problems(path)
    assert problems == [(str(path), "")]


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("issuer: [unclosed\n", encoding="utf-8")
    assert _problems(path) == [(str(path), "")]


@pytest.mark.parametrize("federation", ["production", "qa"])
def test_shipped_provider_definitions_load(tmp_path: Path, federation: str) -> None:
    path = _write(
        tmp_path,
        {"providers_dir": str(ROOT / "idp_configs"), "federation": federation,
         "providers": ["freja", "bankid-example", "eidas-connector"]},
    )  # fmt: skip
    settings = load_settings(path)
    assert {p.id for p in settings.providers} == {"freja", "bankid-example", "eidas"}
    assert all(p.entity_id.startswith("https://") and p.loas for p in settings.providers)


def test_provider_problem_names_the_provider_file(tmp_path: Path) -> None:
    (tmp_path / "idp_configs").mkdir()
    _write(tmp_path / "idp_configs", {"id": "x", "entity_id": "https://x.example"}, "x.yaml")
    path = _write(tmp_path, {"providers": ["x", "missing"]})
    problems = _problems(path)
    assert (str(tmp_path / "idp_configs" / "x.yaml"), "loas") in problems
    assert (str(path), "providers") in problems


def test_config_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, {"environment": "development"}, "good.yaml")
    bad = _write(tmp_path, {"environment": "staging", "workers": 0}, "bad.yaml")
    assert main(["--config", str(good), "config", "check"]) == 0
    assert main(["--config", str(bad), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: environment" in err
    assert f"{bad}: workers" in err
