"""Settings for metadata sources, refresh, SP metadata and key rollover: each problem names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.errors import ConfigError
from gateway.settings.load import load_settings
from gateway.trust.certs import generate_key_pair

SP_METADATA = {
    "service_type": "public-sector-sp",
    "entity_categories": ["http://id.elegnamnden.se/ec/1.0/loa3-pnr"],
    "contract_categories": ["http://id.swedenconnect.se/contract/sc/sweden-connect"],
    "display_name": {"sv": "Kommunen", "en": "The municipality"},
    "logos": [{"url": "https://kommun.example/logo.svg", "width": 100, "height": 40}],
    "organization": {
        "name": {"sv": "Exempelkommun"},
        "display_name": {"sv": "Exempelkommun"},
        "url": {"sv": "https://kommun.example"},
        "number": "2120001234",
    },
    "contacts": [{"type": "technical", "email": ["drift@kommun.example"]}],
}


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _problems(path: Path) -> set[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert all(p.file == str(path) for p in caught.value.problems)
    return {p.key for p in caught.value.problems}


def test_a_full_trust_configuration_loads(tmp_path: Path) -> None:
    (tmp_path / "signer.crt").write_bytes(generate_key_pair("signer").cert_pem)
    config = {
        "saml": {
            "metadata": [{"url": "https://md.example/idp.xml", "signing_cert": "signer.crt", "name": "federation"}],
            "metadata_refresh": {"min_interval": 60, "max_interval": 7200, "cache_dir": "cache"},
            "sp_metadata": SP_METADATA,
        },
        "key_rollover": {"publish_before_activate": 600, "grace_period": 1200},
    }
    settings = load_settings(_write(tmp_path, config))
    [source] = settings.saml.metadata
    assert (source.url, source.signing_cert, source.name) == (
        "https://md.example/idp.xml",
        tmp_path / "signer.crt",
        "federation",
    )
    assert settings.saml.metadata_refresh.cache_dir == tmp_path / "cache"
    assert settings.saml.metadata_refresh.max_interval == 7200
    assert settings.saml.sp_metadata.organization is not None
    assert settings.saml.sp_metadata.organization.number == "2120001234"
    assert settings.saml.sp_metadata.logos[0].width == 100
    assert settings.key_rollover.grace_period == 1200


def test_production_trusts_only_signed_metadata_and_needs_complete_sp_metadata(tmp_path: Path) -> None:
    (tmp_path / "md.xml").write_text("<x/>", encoding="utf-8")
    config = {
        "environment": "production",
        "saml": {"metadata": [{"file": "md.xml"}, {"url": "http://md.example/x.xml", "signing_cert": "md.xml"}]},
    }
    problems = _problems(_write(tmp_path, config))
    assert {
        "saml.metadata[0].signing_cert",
        "saml.metadata[1].url",
        "saml.metadata[1].signing_cert",  # not a certificate
        "saml.sp_metadata.service_type",
        "saml.sp_metadata.display_name",
        "saml.sp_metadata.logos",
        "saml.sp_metadata.organization",
    } <= problems


def test_each_bad_value_is_named(tmp_path: Path) -> None:
    sp_metadata = {
        **SP_METADATA,
        "service_type": "government",
        "entity_categories": ["loa3-pnr"],
        "organization": {**SP_METADATA["organization"], "number": "212000-1234"},  # type: ignore[dict-item]
        "contacts": [{"type": "boss", "email": ["nobody"]}],
    }
    config = {
        "saml": {
            "metadata": [{"url": "https://md.example/x.xml", "signing_cert": "missing.crt", "name": "bad name"}],
            "metadata_refresh": {"min_interval": 9000, "max_interval": 60, "timeout": 0, "typo": 1},
            "sp_metadata": sp_metadata,
        },
        "key_rollover": {"grace_period": -1},
    }
    assert {
        "saml.metadata[0].signing_cert",
        "saml.metadata[0].name",
        "saml.metadata_refresh.min_interval",
        "saml.metadata_refresh.timeout",
        "saml.metadata_refresh.typo",
        "saml.sp_metadata.service_type",
        "saml.sp_metadata.entity_categories",
        "saml.sp_metadata.organization.number",
        "saml.sp_metadata.contacts[0].type",
        "saml.sp_metadata.contacts[0].email",
        "key_rollover.grace_period",
    } <= _problems(_write(tmp_path, config))
