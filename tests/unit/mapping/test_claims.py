"""claims_for / supported_claims: names (swedish-eid.md 5.6), scopes and placement (5.4), release rules."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.mapping.claims import SUPPORTED_SCOPES
from gateway.mapping.claims import Destination
from gateway.mapping.claims import claims_for
from gateway.mapping.claims import identity_claims
from gateway.mapping.claims import supported_claims
from gateway.model import Identity
from tests.unit.mapping.spec import COORDINATION_NUMBERS
from tests.unit.mapping.spec import OIDC
from tests.unit.mapping.spec import PERSONAL_NUMBERS
from tests.unit.mapping.spec import SC
from tests.unit.mapping.spec import SCOPES

ISSUER = "https://idp.example.test/saml"
PNR = PERSONAL_NUMBERS[0]
SAMORDNING = COORDINATION_NUMBERS[0]
AUTHN_PROVIDER = OIDC + "authnProvider"
NATURAL_PERSON_INFO = "https://id.oidc.se/scope/naturalPersonInfo"
NATURAL_PERSON_NUMBER = "https://id.oidc.se/scope/naturalPersonNumber"
EIDAS_IDENTITY = "https://id.swedenconnect.se/scope/eidasNaturalPersonIdentity"
ATTR_EXAMPLE_ADDRESS = "LocatorDesignator=22;Thoroughfare=Arcacia%20Avenue;PostName=London;PostCode=SW1A%201AA"


def identity(
    attributes: dict[str, tuple[str, ...]],
    *,
    authenticating_authority: str | None = None,
    transaction_identifier: str | None = None,
) -> Identity:
    return Identity(
        provider_id="idp-1",
        issuer=ISSUER,
        subject_key="test",
        loa="http://id.elegnamnden.se/loa/1.0/loa3",
        authn_instant=1_700_000_000,
        attributes=attributes,
        authenticating_authority=authenticating_authority,
        transaction_identifier=transaction_identifier,
    )


def member(claims: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = claims
    for step in path:
        value = value[step]
    return value


# swedish-eid.md 5.6 (OSMAP; SCCLM Appendix A): attribute value -> claim (path) and claim value.
MAPPING: list[tuple[str, str, tuple[str, ...], Any]] = [
    ("sn", "Testsson", ("family_name",), "Testsson"),
    ("givenName", "Test", ("given_name",), "Test"),
    ("displayName", "Test Testsson", ("name",), "Test Testsson"),
    ("dateOfBirth", "1992-03-10", ("birthdate",), "1992-03-10"),
    ("gender", "M", ("gender",), "male"),
    ("gender", "f", ("gender",), "female"),
    ("personalIdentityNumber", PNR, (OIDC + "personalIdentityNumber",), PNR),
    ("previousPersonalIdentityNumber", SAMORDNING, (OIDC + "previousCoordinationNumber",), SAMORDNING),
    ("mappedPersonalIdentityNumber", PNR, (SC + "mappedPersonalIdentityNumber",), PNR),
    ("mappedPersonalIdentityNumber", SAMORDNING, (SC + "mappedCoordinationNumber",), SAMORDNING),
    ("personalIdentityNumberBinding", "urn:x-test:binding", (SC + "identityBinding",), "urn:x-test:binding"),
    ("birthName", "Test Andersson", ("birth_family_name",), "Test Andersson"),
    ("street", "Testgatan 1", ("address", "street_address"), "Testgatan 1"),
    ("postOfficeBox", "Box 1", ("address", "street_address"), "Box 1"),
    ("postalCode", "11122", ("address", "postal_code"), "11122"),
    ("l", "Stockholm", ("address", "locality"), "Stockholm"),
    ("c", "SE", ("address", "country"), "SE"),
    ("placeOfBirth", "Uppsala", ("place_of_birth", "locality"), "Uppsala"),
    ("countryOfCitizenship", "SE", ("nationalities",), ["SE"]),
    ("telephoneNumber", "+4680000000", ("phone_number",), "+4680000000"),
    ("mobile", "+46700000000", ("phone_number",), "+46700000000"),
    ("mail", "test@example.test", ("email",), "test@example.test"),
    ("o", "Testorg", (OIDC + "orgName",), "Testorg"),
    ("ou", "Unit", (OIDC + "orgUnit",), "Unit"),
    ("organizationIdentifier", "5590000000", (OIDC + "orgNumber",), "5590000000"),
    ("orgAffiliation", "tp1@5590000000", (OIDC + "orgAffiliation",), "tp1@5590000000"),
    ("transactionIdentifier", "txn-1", ("txn",), "txn-1"),
    ("prid", "NO:29078534891", (SC + "prid",), "NO:29078534891"),
    ("pridPersistence", "A", (SC + "pridPersistence",), "A"),
    ("eidasPersonIdentifier", "NO/SE/123", (SC + "eidasPersonIdentifier",), "NO/SE/123"),
    ("userCertificate", "TUlJQw==", (OIDC + "userCertificate",), "TUlJQw=="),
    ("userSignature", "U0lH", (OIDC + "userSignature",), "U0lH"),
    ("authServerSignature", "T0NTUA==", (OIDC + "authnEvidence",), "T0NTUA=="),
    ("eidasNaturalPersonAddress", ATTR_EXAMPLE_ADDRESS, ("address", "street_address"), "Arcacia Avenue 22"),
]


@pytest.mark.parametrize(("attribute", "value", "path", "expected"), MAPPING)
def test_attribute_becomes_its_claim(
    attribute: str,
    value: str,
    path: tuple[str, ...],
    expected: Any,
) -> None:
    claims = identity_claims(identity({attribute: (value,)}), accept_coordination_number=True)
    assert member(claims, path) == expected
    assert set(claims) == {path[0], AUTHN_PROVIDER}


# swedish-eid.md 5.6: no claim for these (and countryOfResidence: no mapping, OSMAP).
@pytest.mark.parametrize(
    "attribute", ["authContextParams", "sad", "signMessageDigest", "employeeHsaId", "countryOfResidence"]
)
def test_attribute_without_a_claim(attribute: str) -> None:
    assert set(identity_claims(identity({attribute: ("x",)}))) == {AUTHN_PROVIDER}


@pytest.mark.parametrize("value", ["U", "u", "X", ""])
def test_gender_unspecified_or_unknown_is_not_released(value: str) -> None:
    # Core 5.1 defines female/male; U means "unspecified" (ATTR) and is left out.
    assert "gender" not in identity_claims(identity({"gender": (value,)}))


def test_previous_personnummer_has_no_claim() -> None:
    # OSMAP: the OIDC profile only carries a previous *coordination* number.
    claims = identity_claims(identity({"previousPersonalIdentityNumber": (PNR,)}))
    assert set(claims) == {AUTHN_PROVIDER}


# A citizen with a personnummer and every attribute that has a claim.
FULL: dict[str, tuple[str, ...]] = {
    "sn": ("Testsson",),
    "givenName": ("Test",),
    "displayName": ("Test Testsson",),
    "dateOfBirth": ("1992-03-10",),
    "gender": ("F",),
    "personalIdentityNumber": (PNR,),
    "previousPersonalIdentityNumber": (SAMORDNING,),
    "mappedPersonalIdentityNumber": (PERSONAL_NUMBERS[1],),
    "personalIdentityNumberBinding": ("urn:x-test:binding",),
    "street": ("Testgatan 1",),
    "postalCode": ("11122",),
    "l": ("Stockholm",),
    "mobile": ("+46700000000",),
    "mail": ("test@example.test",),
    "o": ("Testorg",),
    "organizationIdentifier": ("5590000000",),
    "orgAffiliation": ("tp1@5590000000",),
    "prid": ("NO:29078534891",),
    "pridPersistence": ("A",),
    "eidasPersonIdentifier": ("NO/SE/123",),
}
NOT_IN_FULL = {OIDC + "coordinationNumber", SC + "mappedCoordinationNumber"}  # the other kind of number


@pytest.mark.parametrize("scope", SCOPES)
def test_scope_releases_its_claims_to_userinfo(scope: str) -> None:
    released = claims_for(identity(FULL), [scope], Destination.USERINFO)
    assert set(released) == set(SCOPES[scope]) - NOT_IN_FULL


@pytest.mark.parametrize("scope", SCOPES)
def test_scope_releases_only_its_id_token_claims_to_the_id_token(scope: str) -> None:
    released = claims_for(identity(FULL), [scope], Destination.ID_TOKEN)
    expected = {claim for claim, in_id_token in SCOPES[scope].items() if in_id_token}
    assert set(released) == expected - NOT_IN_FULL


def test_coordination_number_goes_to_the_coordination_claim_when_accepted() -> None:
    citizen = identity({"personalIdentityNumber": (SAMORDNING,)})
    for destination in Destination:
        released = claims_for(citizen, [NATURAL_PERSON_NUMBER], destination, accept_coordination_number=True)
        assert released == {OIDC + "coordinationNumber": SAMORDNING}


def test_coordination_number_is_never_released_without_opt_in() -> None:
    # EC 6.2, defence in depth: an SSO identity may carry one into another e-service's login.
    citizen = identity({"personalIdentityNumber": (SAMORDNING,)})
    for destination in Destination:
        assert claims_for(citizen, [NATURAL_PERSON_NUMBER], destination) == {}


def test_personnummer_never_goes_to_the_coordination_claim() -> None:
    citizen = identity({"personalIdentityNumber": (PNR,)})
    released = claims_for(citizen, [NATURAL_PERSON_NUMBER], Destination.ID_TOKEN, accept_coordination_number=True)
    assert released == {OIDC + "personalIdentityNumber": PNR}


def test_claims_parameter_moves_a_granted_claim_into_the_id_token() -> None:
    # OSPROF 4.2 / Core 5.5: the claims parameter decides the destination.
    released = claims_for(identity(FULL), [NATURAL_PERSON_INFO], Destination.ID_TOKEN, requested={"family_name": None})
    assert released == {"family_name": "Testsson"}
    # ...and UserInfo still has it, because its scope was granted (OSPROF 4.2).
    assert "family_name" in claims_for(identity(FULL), [NATURAL_PERSON_INFO], Destination.USERINFO)


def test_claims_parameter_cannot_reach_beyond_the_granted_scopes() -> None:
    requested = {"family_name": {"essential": True}, OIDC + "personalIdentityNumber": {"essential": True}}
    for destination in Destination:
        assert claims_for(identity(FULL), ["openid"], destination, requested=requested) == {}


def test_protocol_claims_in_the_request_are_not_this_modules_business() -> None:
    requested = {"acr": {"essential": True, "values": ["x"]}, "sub": None, "auth_time": None}
    assert claims_for(identity(FULL), ["openid"], Destination.ID_TOKEN, requested=requested) == {}


def test_txn_only_when_requested() -> None:
    citizen = identity({"transactionIdentifier": ("txn-1",)}, transaction_identifier="txn-1")
    assert "txn" not in claims_for(citizen, list(SCOPES), Destination.ID_TOKEN)
    assert claims_for(citizen, ["openid"], Destination.ID_TOKEN, requested={"txn": None}) == {"txn": "txn-1"}


def test_txn_falls_back_to_the_identity_field() -> None:
    citizen = identity({}, transaction_identifier="txn-2")
    assert claims_for(citizen, ["openid"], Destination.USERINFO, requested={"txn": None}) == {"txn": "txn-2"}


def test_authn_provider_is_the_authenticating_authority_when_requested() -> None:
    citizen = identity({}, authenticating_authority="https://connector.example.test/eidas")
    assert AUTHN_PROVIDER not in claims_for(citizen, list(SCOPES), Destination.ID_TOKEN)
    released = claims_for(citizen, ["openid"], Destination.ID_TOKEN, requested={AUTHN_PROVIDER: None})
    assert released == {AUTHN_PROVIDER: "https://connector.example.test/eidas"}


def test_authn_provider_falls_back_to_the_issuer() -> None:
    released = claims_for(identity({}), ["openid"], Destination.ID_TOKEN, requested={AUTHN_PROVIDER: None})
    assert released == {AUTHN_PROVIDER: ISSUER}


@pytest.mark.parametrize(
    ("claim", "attributes", "needed_scope"),
    [
        (
            OIDC + "previousCoordinationNumber",
            {"previousPersonalIdentityNumber": (SAMORDNING,)},
            NATURAL_PERSON_NUMBER,
        ),
        (SC + "eidasCountry", {"prid": ("NO:29078534891",), "c": ("NO",)}, EIDAS_IDENTITY),
        (OIDC + "userCertificate", {"userCertificate": ("TUlJQw==",)}, NATURAL_PERSON_NUMBER),
        ("birth_family_name", {"birthName": ("Test Andersson",)}, NATURAL_PERSON_INFO),
    ],
)
def test_claims_only_personal_data_needs_its_scope(
    claim: str, attributes: dict[str, tuple[str, ...]], needed_scope: str
) -> None:
    citizen = identity(attributes)
    requested = {claim: None}
    assert claims_for(citizen, ["openid"], Destination.ID_TOKEN, requested=requested) == {}
    assert claim not in claims_for(citizen, [needed_scope], Destination.USERINFO)  # not without a request
    released = claims_for(citizen, ["openid", needed_scope], Destination.ID_TOKEN, requested=requested)
    assert claim in released


def test_unknown_scopes_are_ignored() -> None:
    assert claims_for(identity(FULL), ["openid", "https://example.test/scope/all"], Destination.USERINFO) == {}


def test_street_and_post_office_box_are_two_lines() -> None:
    # Core 5.1.1: street_address may hold several lines.
    citizen = identity({"street": ("Testgatan 1",), "postOfficeBox": ("Box 1",), "c": ("SE",)})
    address = claims_for(citizen, ["address"], Destination.USERINFO)["address"]
    assert address == {"street_address": "Testgatan 1\nBox 1", "country": "SE"}


def test_eidas_address_example_of_the_attribute_specification() -> None:
    citizen = identity({"eidasNaturalPersonAddress": (ATTR_EXAMPLE_ADDRESS,)})
    address = claims_for(citizen, ["address"], Destination.USERINFO)["address"]
    assert address == {"street_address": "Arcacia Avenue 22", "locality": "London", "postal_code": "SW1A 1AA"}


def test_eidas_address_accepts_plus_for_space_and_ignores_junk() -> None:
    citizen = identity({"eidasNaturalPersonAddress": ("Thoroughfare=Main+Street;junk;=x;PoBox=B%2B1",)})
    address = claims_for(citizen, ["address"], Destination.USERINFO)["address"]
    assert address == {"street_address": "Main Street\nB+1"}


def test_generic_address_attributes_win_and_street_is_never_mixed() -> None:
    citizen = identity(
        {
            "street": ("Testgatan 1",),
            "l": ("Stockholm",),
            "eidasNaturalPersonAddress": (ATTR_EXAMPLE_ADDRESS,),
        }
    )
    address = claims_for(citizen, ["address"], Destination.USERINFO)["address"]
    assert address == {"street_address": "Testgatan 1", "locality": "Stockholm", "postal_code": "SW1A 1AA"}


def test_c_is_the_eidas_country_for_an_eidas_identity() -> None:
    # SCCLM 2.1.7; ATTR 2.5: from the connector, c names the country whose eID was used.
    citizen = identity({"prid": ("NO:29078534891",), "c": ("NO",)})
    assert "address" not in claims_for(citizen, ["address"], Destination.USERINFO)
    released = claims_for(citizen, [EIDAS_IDENTITY], Destination.ID_TOKEN, requested={SC + "eidasCountry": None})
    assert released[SC + "eidasCountry"] == "NO"


def test_phone_number_prefers_mobile_then_telephone() -> None:
    both = identity({"telephoneNumber": ("+4681", "+4682"), "mobile": ("+46701", "+46702")})
    assert claims_for(both, ["phone"], Destination.USERINFO) == {"phone_number": "+46701"}
    fixed = identity({"telephoneNumber": ("+4681", "+4682")})
    assert claims_for(fixed, ["phone"], Destination.USERINFO) == {"phone_number": "+4681"}


def test_email_is_the_first_mail_value() -> None:
    citizen = identity({"mail": ("a@example.test", "b@example.test")})
    assert claims_for(citizen, ["email"], Destination.USERINFO) == {"email": "a@example.test"}


def test_nationalities_is_a_list_of_every_value() -> None:
    citizen = identity({"countryOfCitizenship": ("SE", "NO")})
    released = claims_for(citizen, [NATURAL_PERSON_INFO], Destination.USERINFO, requested={"nationalities": None})
    assert released == {"nationalities": ["SE", "NO"]}


def test_supported_scopes_are_the_spec_scopes_with_openid_first() -> None:
    assert SUPPORTED_SCOPES[0] == "openid"
    assert set(SUPPORTED_SCOPES) == set(SCOPES)


def test_supported_claims_cover_every_scope_claim() -> None:
    supported = supported_claims(SUPPORTED_SCOPES)
    for claims in SCOPES.values():
        assert set(claims) <= set(supported)
    assert {"txn", AUTHN_PROVIDER} <= set(supported)
    assert len(supported) == len(set(supported))


def test_supported_claims_for_openid_alone_are_event_claims_only() -> None:
    assert set(supported_claims(["openid"])) == {"txn", AUTHN_PROVIDER}


def test_supported_claims_never_announce_middle_name() -> None:
    # No Swedish eID attribute carries it, so the gateway can never supply it.
    assert "middle_name" not in supported_claims(SUPPORTED_SCOPES)
