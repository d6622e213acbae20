"""to_identity: attribute table, single values, attribute sets, identity numbers, subject key."""

from __future__ import annotations

import pytest

from gateway.errors import CitizenError
from gateway.errors import UpstreamError
from gateway.mapping.attributes import to_identity
from gateway.model import AuthnResult
from gateway.model import Identity
from tests.unit.mapping.spec import ATTRIBUTE_SETS
from tests.unit.mapping.spec import ATTRIBUTE_TABLE
from tests.unit.mapping.spec import COORDINATION_NUMBERS
from tests.unit.mapping.spec import PERSONAL_NUMBERS
from tests.unit.mapping.spec import with_wrong_check_digit

ISSUER = "https://idp.example.test/saml"
PNR = PERSONAL_NUMBERS[0]
SAMORDNING = COORDINATION_NUMBERS[0]

# One plausible value per attribute (fiction, except the listed test numbers).
SAMPLE: dict[str, tuple[str, ...]] = {
    "sn": ("Testsson",),
    "givenName": ("Test Person",),
    "displayName": ("Test Person Testsson",),
    "gender": ("F",),
    "personalIdentityNumber": (PNR,),
    "previousPersonalIdentityNumber": (SAMORDNING,),
    "mappedPersonalIdentityNumber": (PERSONAL_NUMBERS[1],),
    "personalIdentityNumberBinding": ("http://id.swedenconnect.se/id-binding/process/populationregister",),
    "dateOfBirth": ("1992-03-10",),
    "birthName": ("Test Person Andersson",),
    "street": ("Testgatan 1",),
    "postOfficeBox": ("Box 1",),
    "postalCode": ("11122",),
    "l": ("Stockholm",),
    "c": ("SE",),
    "placeOfBirth": ("Uppsala",),
    "countryOfCitizenship": ("SE", "NO"),
    "countryOfResidence": ("SE",),
    "telephoneNumber": ("+4680000000", "+4680000001"),
    "mobile": ("+46700000000",),
    "mail": ("test@example.test", "other@example.test"),
    "o": ("Testorganisationen",),
    "ou": ("Avdelning A", "Avdelning B"),
    "organizationIdentifier": ("5590000000",),
    "orgAffiliation": ("tp1@5590000000",),
    "transactionIdentifier": ("txn-0001",),
    "authContextParams": ("bankidIssueDate=2024-01-01",),
    "prid": ("NO:29078534891",),
    "pridPersistence": ("A",),
    "eidasPersonIdentifier": ("NO/SE/29078534891",),
    "eidasNaturalPersonAddress": ("Thoroughfare=Testveien;LocatorDesignator=1;PostName=Oslo",),
    "userCertificate": ("TUlJQw==",),
    "userSignature": ("U0lH",),
    "sad": ("c2Fk",),
    "authServerSignature": ("T0NTUA==",),
    "signMessageDigest": ("http://www.w3.org/2001/04/xmlenc#sha256;ZGln",),
    "employeeHsaId": ("SE5560000000-1234",),
}


def saml(**by_friendly: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Attributes keyed by SAML Name, as an AuthnResult carries them (names from the spec table)."""
    return {ATTRIBUTE_TABLE[friendly][0]: values for friendly, values in by_friendly.items()}


def result(attributes: dict[str, tuple[str, ...]], **overrides: object) -> AuthnResult:
    fields: dict[str, object] = {
        "issuer": ISSUER,
        "name_id": "nid-123",
        "name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "loa": "http://id.elegnamnden.se/loa/1.0/loa3",
        "authn_instant": 1_700_000_000,
        "assertion_id": "_a1",
        "attributes": attributes,
    }
    fields.update(overrides)
    return AuthnResult(**fields)  # type: ignore[arg-type]


def identity_of(attributes: dict[str, tuple[str, ...]], attribute_set: str = "pseudonym-01", **kw: object) -> Identity:
    accept = bool(kw.pop("accept_coordination_number", False))
    return to_identity(
        result(attributes, **kw),
        provider_id="idp-1",
        attribute_set=attribute_set,
        accept_coordination_number=accept,
    )


def test_sample_covers_the_whole_table() -> None:
    assert set(SAMPLE) == set(ATTRIBUTE_TABLE)


@pytest.mark.parametrize("friendly", ATTRIBUTE_TABLE)
def test_every_table_attribute_is_kept_under_its_friendly_name(friendly: str) -> None:
    identity = identity_of(saml(**{friendly: SAMPLE[friendly]}))
    assert dict(identity.attributes) == {friendly: SAMPLE[friendly]}


def test_unknown_attributes_are_dropped() -> None:
    attributes = saml(sn=("Testsson",))
    attributes["urn:oid:1.2.3.4.5"] = ("secret",)
    attributes["sn"] = ("friendly names are not SAML names",)
    assert dict(identity_of(attributes).attributes) == {"sn": ("Testsson",)}


@pytest.mark.parametrize("friendly", [f for f, (_, multi) in ATTRIBUTE_TABLE.items() if not multi])
def test_single_valued_attribute_with_two_values_is_refused(friendly: str) -> None:
    # ATTR 3.1: single-valued attributes MUST NOT repeat.
    # Distinctive values, so the "no values in the detail" check cannot pass or fail by accident.
    values = ("first-value-marker", "second-value-marker")
    with pytest.raises(UpstreamError) as caught:
        identity_of(saml(**{friendly: values}))
    assert caught.value.code == "attribute_not_single_valued"
    assert friendly in caught.value.detail
    assert "value-marker" not in caught.value.detail


@pytest.mark.parametrize("friendly", [f for f, (_, multi) in ATTRIBUTE_TABLE.items() if multi])
def test_multi_valued_attribute_keeps_every_value(friendly: str) -> None:
    values = (*SAMPLE[friendly], "extra")
    assert identity_of(saml(**{friendly: values})).attributes[friendly] == values


def complete(set_id: str) -> dict[str, tuple[str, ...]]:
    return saml(**{name: SAMPLE[name] for name in ATTRIBUTE_SETS[set_id][1]})


@pytest.mark.parametrize("set_id", ATTRIBUTE_SETS)
def test_a_complete_attribute_set_is_accepted(set_id: str) -> None:
    identity = identity_of(complete(set_id), set_id)
    assert set(identity.attributes) == set(ATTRIBUTE_SETS[set_id][1])


REQUIRED = [(set_id, name) for set_id, (_, required) in ATTRIBUTE_SETS.items() for name in required]


@pytest.mark.parametrize(("set_id", "missing"), REQUIRED)
def test_each_required_attribute_is_enforced(set_id: str, missing: str) -> None:
    attributes = complete(set_id)
    del attributes[ATTRIBUTE_TABLE[missing][0]]
    with pytest.raises(UpstreamError) as caught:
        identity_of(attributes, set_id)
    assert caught.value.code == "attributes_missing"
    assert missing in caught.value.detail
    for values in attributes.values():  # names only, never values
        assert values[0] not in caught.value.detail


def test_an_empty_value_counts_as_missing() -> None:
    attributes = complete("natural-person-01")
    attributes[ATTRIBUTE_TABLE["sn"][0]] = ("",)
    with pytest.raises(UpstreamError, match="attributes_missing"):
        identity_of(attributes, "natural-person-01")


def test_upstream_error_is_a_citizen_error() -> None:
    # The citizen sees a page; the e-service gets access_denied (errors.py).
    with pytest.raises(CitizenError):
        identity_of({}, "pnr-01")


def test_unknown_attribute_set_is_a_configuration_error() -> None:
    with pytest.raises(KeyError):
        identity_of(complete("pnr-01"), "pnr-02")


@pytest.mark.parametrize(
    "friendly", ["personalIdentityNumber", "previousPersonalIdentityNumber", "mappedPersonalIdentityNumber"]
)
@pytest.mark.parametrize("bad", [with_wrong_check_digit(PNR), PNR[2:], PNR[:8] + "-" + PNR[8:]])
def test_malformed_identity_number_is_refused(friendly: str, bad: str) -> None:
    with pytest.raises(UpstreamError) as caught:
        identity_of(saml(**{friendly: (bad,)}), accept_coordination_number=True)
    assert caught.value.code == "invalid_identity_number"
    assert friendly in caught.value.detail
    assert bad not in caught.value.detail
    assert bad[2:11] not in caught.value.detail


@pytest.mark.parametrize("number", COORDINATION_NUMBERS)
def test_coordination_number_refused_without_opt_in(number: str) -> None:
    # EC 6.2: accepts-coordination-number is an opt-in.
    with pytest.raises(UpstreamError) as caught:
        identity_of(saml(personalIdentityNumber=(number,)))
    assert caught.value.code == "coordination_number_not_accepted"
    assert number not in caught.value.detail


@pytest.mark.parametrize("number", COORDINATION_NUMBERS)
def test_coordination_number_accepted_with_opt_in(number: str) -> None:
    identity = identity_of(saml(personalIdentityNumber=(number,)), accept_coordination_number=True)
    assert identity.subject_key == "pnr:" + number


@pytest.mark.parametrize("friendly", ["mappedPersonalIdentityNumber", "previousPersonalIdentityNumber"])
def test_opt_in_does_not_apply_to_mapped_or_previous_numbers(friendly: str) -> None:
    # EC 6.2: the rule covers personalIdentityNumber, not mappedPersonalIdentityNumber.
    identity = identity_of(saml(**{friendly: (SAMORDNING,)}))
    assert identity.attributes[friendly] == (SAMORDNING,)


@pytest.mark.parametrize("number", PERSONAL_NUMBERS)
def test_personnummer_is_the_subject_key(number: str) -> None:
    attributes = saml(personalIdentityNumber=(number,), prid=SAMPLE["prid"])
    assert identity_of(attributes).subject_key == "pnr:" + number


def test_prid_is_the_subject_key_without_a_personnummer() -> None:
    attributes = saml(prid=SAMPLE["prid"], mappedPersonalIdentityNumber=(PNR,))
    assert identity_of(attributes).subject_key == "prid:" + SAMPLE["prid"][0]


def test_nameid_qualified_by_issuer_is_the_last_resort() -> None:
    identity = identity_of(saml(sn=("Testsson",)), name_id="nid-9")
    assert identity.subject_key == "nameid:" + ISSUER + "!" + "nid-9"


def test_assertion_facts_pass_through() -> None:
    identity = identity_of(
        saml(transactionIdentifier=("txn-42",)),
        authenticating_authority="https://connector.example.test/eidas",
        loa="http://id.elegnamnden.se/loa/1.0/eidas-nf-sub",
        authn_instant=1_650_000_000,
    )
    assert identity.provider_id == "idp-1"
    assert identity.issuer == ISSUER
    assert identity.loa == "http://id.elegnamnden.se/loa/1.0/eidas-nf-sub"
    assert identity.authn_instant == 1_650_000_000
    assert identity.authenticating_authority == "https://connector.example.test/eidas"
    assert identity.transaction_identifier == "txn-42"


def test_no_transaction_identifier_gives_none() -> None:
    assert identity_of(saml(sn=("Testsson",))).transaction_identifier is None
