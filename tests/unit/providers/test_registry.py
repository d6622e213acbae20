"""Which providers serve a request, the authnProvider hint, and what each takes (PSC, UMSG) from config or metadata."""

from __future__ import annotations

import pytest

from gateway.providers.registry import PERSONAL_IDENTITY_NUMBER
from gateway.providers.registry import ProviderRegistry
from gateway.saml.idp_metadata import IdpCapabilities
from gateway.settings.schema import ProviderSettings

LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"
LOA4 = "http://id.elegnamnden.se/loa/1.0/loa4"
NF_SUB = "http://id.elegnamnden.se/loa/1.0/eidas-nf-sub"
PRID = "urn:oid:1.2.752.201.3.4"


def _provider(pid: str, loas: tuple[str, ...], **kwargs: object) -> ProviderSettings:
    return ProviderSettings(id=pid, entity_id=f"https://{pid}.example/idp", display_name={"sv": pid}, loas=loas,
                            attribute_set="pnr-01", **kwargs)  # type: ignore[arg-type]  # fmt: skip


DECLARED = {
    "https://declares.example/idp": IdpCapabilities(known=True, principal_selection=(PRID,), user_message=True),
}


def _registry(*providers: ProviderSettings) -> ProviderRegistry:
    return ProviderRegistry(providers, lambda entity_id: DECLARED.get(entity_id, IdpCapabilities()))


def test_serving_keeps_providers_offering_an_acceptable_loa() -> None:
    registry = _registry(_provider("a", (LOA3,)), _provider("b", (LOA3, LOA4)))
    assert [(p.id, loas) for p, loas in registry.serving((LOA3, LOA4))] == [("a", (LOA3,)), ("b", (LOA3, LOA4))]
    assert [p.id for p, _ in registry.serving((LOA4,))] == ["b"]
    assert [(p.id, loas) for p, loas in registry.serving(())] == [("a", (LOA3,)), ("b", (LOA3, LOA4))]


def test_hint_by_entity_id() -> None:
    registry = _registry(_provider("a", (LOA3,)), _provider("b", (LOA3,)))
    narrowed, country = registry.hinted(registry.serving(()), "https://b.example/idp")
    assert [p.id for p, _ in narrowed] == ["b"]
    assert country is None


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("http://id.swedenconnect.se/eidas/1.0/proxy-service/de", (["eidas"], "DE")),
        ("http://id.swedenconnect.se/eidas/1.0/proxy-service/NO", (["eidas"], "NO")),
        ("http://id.swedenconnect.se/eidas/1.0/proxy-service/deu", ([], None)),
        ("http://id.swedenconnect.se/eidas/1.0/proxy-service/", ([], None)),
    ],
)
def test_country_hint_picks_providers_that_take_one(hint: str, expected: tuple[list[str], str | None]) -> None:
    registry = _registry(_provider("freja", (LOA3,)), _provider("eidas", (NF_SUB,), country_hint=True))
    narrowed, country = registry.hinted(registry.serving(()), hint)
    assert ([p.id for p, _ in narrowed], country) == expected


@pytest.mark.parametrize(
    ("configured", "entity", "expected"),
    [
        (None, "nothing", ()),
        (None, "declares", (PRID,)),
        (True, "nothing", (PERSONAL_IDENTITY_NUMBER,)),
        (True, "declares", (PRID,)),
        (False, "declares", ()),
    ],
)
def test_principal_selection_from_config_else_metadata(
    configured: bool | None, entity: str, expected: tuple[str, ...]
) -> None:
    provider = _provider(entity, (LOA3,), principal_selection=configured)
    assert _registry(provider).principal_selection(provider) == expected


@pytest.mark.parametrize(
    ("configured", "entity", "expected"),
    [(None, "nothing", False), (None, "declares", True), (True, "nothing", True), (False, "declares", False)],
)
def test_user_message_from_config_else_metadata(configured: bool | None, entity: str, expected: bool) -> None:
    provider = _provider(entity, (LOA3,), user_message=configured)
    registry = _registry(provider)
    assert registry.user_message(provider) is expected
    assert registry.any_user_message() is expected


def test_acr_values_supported_follow_the_relay_policy() -> None:
    registry = _registry(_provider("a", (LOA3, LOA4)), _provider("e", (NF_SUB,)))
    assert registry.acr_values_supported() == [LOA3, LOA4, NF_SUB]
    assert registry.acr_values_supported("uncertified") == [
        "http://id.swedenconnect.se/loa/1.0/uncertified-loa3",
        LOA4,
        "http://id.swedenconnect.se/loa/1.0/uncertified-eidas-sub",
    ]


def test_offered_loas_are_limited_to_what_metadata_certifies() -> None:
    uncertified = "http://id.swedenconnect.se/loa/1.0/uncertified-loa3"
    certified = {"https://bankid.example/idp": IdpCapabilities(known=True, loas=(uncertified,))}
    bankid = _provider("bankid", (uncertified, LOA3))
    silent = _provider("silent", (LOA3, LOA4))
    registry = ProviderRegistry((bankid, silent), lambda entity_id: certified.get(entity_id, IdpCapabilities()))
    assert registry.offered(bankid) == (uncertified,)
    assert registry.offered(silent) == (LOA3, LOA4)  # no assurance-certification: the definition stands
    assert [p.id for p, _ in registry.serving((LOA3,))] == ["silent"]
