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


# --- Swedish e-ID additions: Sweden Connect mode, SP entities, client and provider metadata -------

_JWKS = {"keys": [{"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "k"}]}


def _pkjwt_client(**extra: object) -> dict[str, object]:
    return {"client_id": "c", "redirect_uris": ["https://c.example/cb"], "jwks": _JWKS,
            "token_endpoint_auth_method": "private_key_jwt", **extra}  # fmt: skip


def test_client_profile_metadata_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, {"clients": [_pkjwt_client(**{
        "client_name#sv": "Bygglov", "client_name#en": "Building permits", "contacts": ["a@c.example"],
        "client_uri": "https://c.example/", "logo_uri": "https://c.example/logo.svg",
        "default_acr_values": ["http://id.elegnamnden.se/loa/1.0/loa3"]})]})  # fmt: skip
    (client,) = load_settings(path).clients
    assert dict(client.display_name) == {"sv": "Bygglov", "en": "Building permits"}
    assert client.contacts == ("a@c.example",)
    assert client.client_uri == "https://c.example/"
    assert client.default_acr_values == ("http://id.elegnamnden.se/loa/1.0/loa3",)


def test_sweden_connect_mode_refuses_what_the_profile_forbids_or_requires(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "sweden_connect": True, "lifetimes": {"session_absolute": 7200},
        "clients": [
            {"client_id": "s", "redirect_uris": ["https://s.example/cb"], "client_secret": "x" * 32,
             "token_endpoint_auth_method": "client_secret_basic"},
            _pkjwt_client(),
        ],
    })  # fmt: skip
    keys = {key for _, key in _problems(path)}
    assert "clients[0].token_endpoint_auth_method" in keys  # SCOIDC 2.3.1
    assert "clients[1].token_endpoint_auth_method" not in keys
    for name in ("client_name#sv", "client_name#en", "contacts", "logo_uri", "client_uri"):  # SCOIDC 3.2
        assert f"clients[1].{name}" in keys
    assert "lifetimes.session_absolute" in keys  # SCOIDC 2.2.1


def test_sweden_connect_mode_accepts_a_complete_client(tmp_path: Path) -> None:
    path = _write(tmp_path, {"sweden_connect": True, "clients": [_pkjwt_client(**{
        "client_name": {"sv": "E-tjänst", "en": "E-service"}, "contacts": ["a@c.example"],
        "client_uri": "https://c.example/", "logo_uri": "https://c.example/logo.svg"})]})  # fmt: skip
    assert load_settings(path).sweden_connect


def test_service_providers_are_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "issuer": "http://127.0.0.1:8000",
        "saml": {"service_providers": [
            {"id": "orgid", "entity_id": "https://gw.example/saml/orgid", "attribute_set": "org-person-01"},
            {"id": "orgid", "entity_id": "https://gw.example/saml/orgid", "attribute_set": "no-such-set"},
            {"id": "default", "entity_id": "http://127.0.0.1:8000/saml/metadata"},
        ]},
        "clients": [_pkjwt_client(sp="orgid"), {**_pkjwt_client(sp="missing"), "client_id": "d"}],
    })  # fmt: skip
    keys = {key for _, key in _problems(path)}
    assert "saml.service_providers[1].id" in keys  # used twice
    assert "saml.service_providers[1].entity_id" in keys
    assert "saml.service_providers[1].attribute_set" in keys
    assert "saml.service_providers[2].id" in keys  # `default` is reserved
    assert "saml.service_providers[2].entity_id" in keys  # the default SP's entity ID
    assert "clients[0].sp" not in keys
    assert "clients[1].sp" in keys


def test_provider_capabilities_and_countries(tmp_path: Path) -> None:
    (tmp_path / "idp_configs").mkdir()
    base = {"entity_id": "https://x.example", "loas": ["http://id.elegnamnden.se/loa/1.0/loa3"], "display_name": "X"}
    _write(tmp_path / "idp_configs", {**base, "id": "auto"}, "auto.yaml")
    _write(tmp_path / "idp_configs", {**base, "id": "off", "principal_selection": False, "user_message": True,
                                      "countries": ["de", "NO"], "country_hint": True}, "off.yaml")  # fmt: skip
    _write(tmp_path / "idp_configs", {**base, "id": "bad", "countries": ["Germany"], "attribute_set": "x"}, "bad.yaml")
    problems = _problems(_write(tmp_path, {"providers": ["auto", "off", "bad"]}))
    assert (str(tmp_path / "idp_configs" / "bad.yaml"), "countries") in problems
    assert (str(tmp_path / "idp_configs" / "bad.yaml"), "attribute_set") in problems
    settings = load_settings(_write(tmp_path, {"providers": ["auto", "off"]}))
    auto, off = settings.providers
    assert (auto.principal_selection, auto.user_message, auto.countries) == (None, None, ())
    assert (off.principal_selection, off.user_message, off.countries, off.country_hint) == (
        False,
        True,
        ("DE", "NO"),
        True,
    )


def test_shipped_eidas_connector_takes_a_country_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, {"providers_dir": str(ROOT / "idp_configs"), "providers": ["eidas-connector"]})
    (eidas,) = load_settings(path).providers
    assert eidas.country_hint
    assert eidas.attribute_set == "eidas-natural-person-01"


def _client(client_id: str, redirect_uri: str) -> dict[str, object]:
    return {"client_id": client_id, "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "client_secret_basic", "client_secret": "s" * 32}  # fmt: skip


def test_clients_dir_clients_load_and_their_problems_name_their_own_file(tmp_path: Path) -> None:
    """An operator with one file per e-service must be sent to that file, not to gateway.yaml."""
    (tmp_path / "clients").mkdir()
    good = _write(tmp_path / "clients", _client("good-rp", "https://good.example/cb"), "good.yaml")
    assert load_settings(_write(tmp_path, {"clients_dir": "clients"})).clients[0].client_id == "good-rp"

    bad = _write(tmp_path / "clients", {**_client("bad-rp", "https://bad.example/cb#x"), "sp": "nope"}, "bad.yaml")
    main_file = _write(tmp_path, {"clients_dir": "clients", "clients": [_client("inline-rp", "https://i.example/#f")]})
    problems = _problems(main_file)
    assert (str(bad), "redirect_uris") in problems
    assert (str(bad), "sp") in problems
    assert (str(main_file), "clients[0].redirect_uris") in problems
    assert not any(file == str(good) for file, _ in problems)
