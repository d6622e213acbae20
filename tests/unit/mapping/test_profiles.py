"""profiles.yaml against the spec tables, and the checks load_profiles makes on it."""

from __future__ import annotations

import copy
import dataclasses
import importlib.resources
from typing import Any

import pytest
import yaml

from gateway.errors import ConfigError
from gateway.mapping.attributes import load_profiles
from gateway.mapping.attributes import parse_profiles
from tests.unit.mapping.spec import ATTRIBUTE_SETS
from tests.unit.mapping.spec import ATTRIBUTE_TABLE
from tests.unit.mapping.spec import SCOPES


def raw() -> dict[str, Any]:
    text = importlib.resources.files("gateway.mapping").joinpath("profiles.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(("friendly", "row"), ATTRIBUTE_TABLE.items())
def test_attribute_table_row(friendly: str, row: tuple[str, bool]) -> None:
    name, multi = row
    definition = load_profiles().attributes[name]
    assert definition.friendly_name == friendly
    assert definition.multi_valued is multi


def test_attribute_table_has_nothing_else() -> None:
    assert {a.friendly_name for a in load_profiles().attributes.values()} == set(ATTRIBUTE_TABLE)


@pytest.mark.parametrize(("set_id", "row"), ATTRIBUTE_SETS.items())
def test_attribute_set(set_id: str, row: tuple[str, tuple[str, ...]]) -> None:
    uri, required = row
    parsed = load_profiles().attribute_sets[set_id]
    assert parsed.uri == uri
    assert set(parsed.required) == set(required)


def test_attribute_sets_have_nothing_else() -> None:
    assert set(load_profiles().attribute_sets) == set(ATTRIBUTE_SETS)


@pytest.mark.parametrize(("scope", "claims"), SCOPES.items())
def test_scope(scope: str, claims: dict[str, bool]) -> None:
    parsed = load_profiles().scopes[scope]
    assert set(parsed.claims) == set(claims)
    assert parsed.id_token == {claim for claim, in_id_token in claims.items() if in_id_token}


def test_scopes_have_nothing_else() -> None:
    assert set(load_profiles().scopes) == set(SCOPES)


def test_loaded_once_and_frozen() -> None:
    profiles = load_profiles()
    assert load_profiles() is profiles
    with pytest.raises(dataclasses.FrozenInstanceError):
        profiles.claim_rules = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        profiles.scopes["x"] = profiles.scopes["openid"]  # type: ignore[index]


def test_the_shipped_file_parses_without_problems() -> None:
    assert parse_profiles(raw()).scopes.keys() == load_profiles().scopes.keys()


def broken(edit: str) -> dict[str, Any]:
    data = copy.deepcopy(raw())
    if edit == "set names an unknown attribute":
        data["attribute_sets"]["pnr-01"]["required"].append("shoeSize")
    elif edit == "rule for an unknown attribute":
        data["claims"]["shoeSize"] = {"claim": "shoe_size"}
    elif edit == "rule with an unknown key":
        data["claims"]["sn"]["essential"] = True
    elif edit == "bad destination":
        data["scopes"]["profile"]["gender"] = "id_token"
    elif edit == "scope claim nothing produces":
        data["scopes"]["profile"]["middle_name"] = "userinfo"
    elif edit == "claims-only gated on an unknown scope":
        data["claims_parameter_only"]["txn"] = ["nosuchscope"]
    elif edit == "attribute without multi_valued":
        del data["attributes"]["sn"]["multi_valued"]
    elif edit == "two friendly names for one SAML name":
        data["attributes"]["surname"] = dict(data["attributes"]["sn"])
    elif edit == "unknown shape":
        data["claim_shapes"]["email"] = "concatenated"
    elif edit == "coordination claim on a non-number attribute":
        data["claims"]["sn"]["coordination_claim"] = "family_name"
    return data


BROKEN = [
    ("set names an unknown attribute", "attribute_sets.pnr-01"),
    ("rule for an unknown attribute", "claims.shoeSize"),
    ("rule with an unknown key", "claims.sn"),
    ("bad destination", "scopes.profile.gender"),
    ("scope claim nothing produces", "scopes.profile.middle_name"),
    ("claims-only gated on an unknown scope", "claims_parameter_only.txn"),
    ("attribute without multi_valued", "attributes.sn"),
    ("two friendly names for one SAML name", "attributes.surname"),
    ("unknown shape", "claim_shapes.email"),
    ("coordination claim on a non-number attribute", "claims.sn"),
]


@pytest.mark.parametrize(("edit", "key"), BROKEN)
def test_a_broken_file_names_file_and_key(edit: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_profiles(broken(edit))
    assert any(p.key == key and p.file.endswith("profiles.yaml") for p in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]


def test_every_problem_is_reported_at_once() -> None:
    data = broken("bad destination")
    data["claims"]["shoeSize"] = {"claim": "shoe_size"}
    with pytest.raises(ConfigError) as caught:
        parse_profiles(data)
    assert {"scopes.profile.gender", "claims.shoeSize"} <= {p.key for p in caught.value.problems}


def test_not_a_mapping_is_reported() -> None:
    with pytest.raises(ConfigError):
        parse_profiles(["not", "a", "mapping"])
