"""The spec tables the mapping tests check against, transcribed from swedish-eid.md.

Kept apart from ``gateway/mapping/profiles.yaml`` on purpose: the tests compare
the gateway's data with these transcriptions, so a typo in either one fails a
test instead of being copied into the expectation.
"""

from __future__ import annotations

# swedish-eid.md 3.2 (ATTR 3.1; REG 3.2): friendly name -> (SAML Name, multi-valued)
ATTRIBUTE_TABLE: dict[str, tuple[str, bool]] = {
    "sn": ("urn:oid:2.5.4.4", False),
    "givenName": ("urn:oid:2.5.4.42", False),
    "displayName": ("urn:oid:2.16.840.1.113730.3.1.241", False),
    "gender": ("urn:oid:1.3.6.1.5.5.7.9.3", False),
    "personalIdentityNumber": ("urn:oid:1.2.752.29.4.13", False),
    "previousPersonalIdentityNumber": ("urn:oid:1.2.752.201.3.15", False),
    "mappedPersonalIdentityNumber": ("urn:oid:1.2.752.201.3.16", False),
    "personalIdentityNumberBinding": ("urn:oid:1.2.752.201.3.6", False),
    "dateOfBirth": ("urn:oid:1.3.6.1.5.5.7.9.1", False),
    "birthName": ("urn:oid:1.2.752.201.3.8", False),
    "street": ("urn:oid:2.5.4.9", False),
    "postOfficeBox": ("urn:oid:2.5.4.18", False),
    "postalCode": ("urn:oid:2.5.4.17", False),
    "l": ("urn:oid:2.5.4.7", False),
    "c": ("urn:oid:2.5.4.6", False),
    "placeOfBirth": ("urn:oid:1.3.6.1.5.5.7.9.2", False),
    "countryOfCitizenship": ("urn:oid:1.3.6.1.5.5.7.9.4", True),
    "countryOfResidence": ("urn:oid:1.3.6.1.5.5.7.9.5", False),
    "telephoneNumber": ("urn:oid:2.5.4.20", True),
    "mobile": ("urn:oid:0.9.2342.19200300.100.1.41", True),
    "mail": ("urn:oid:0.9.2342.19200300.100.1.3", True),
    "o": ("urn:oid:2.5.4.10", False),
    "ou": ("urn:oid:2.5.4.11", True),
    "organizationIdentifier": ("urn:oid:2.5.4.97", False),
    "orgAffiliation": ("urn:oid:1.2.752.201.3.1", True),
    "transactionIdentifier": ("urn:oid:1.2.752.201.3.2", False),
    "authContextParams": ("urn:oid:1.2.752.201.3.3", False),
    "prid": ("urn:oid:1.2.752.201.3.4", False),
    "pridPersistence": ("urn:oid:1.2.752.201.3.5", False),
    "eidasPersonIdentifier": ("urn:oid:1.2.752.201.3.7", False),
    "eidasNaturalPersonAddress": ("urn:oid:1.2.752.201.3.9", False),
    "userCertificate": ("urn:oid:1.2.752.201.3.10", False),
    "userSignature": ("urn:oid:1.2.752.201.3.11", False),
    "sad": ("urn:oid:1.2.752.201.3.12", False),
    "authServerSignature": ("urn:oid:1.2.752.201.3.13", False),
    "signMessageDigest": ("urn:oid:1.2.752.201.3.14", False),
    "employeeHsaId": ("urn:oid:1.2.752.29.6.2.1", False),
}

# swedish-eid.md 3.3 (ATTR 2; REG 3.1.2): id -> (URI, required attributes)
ATTRIBUTE_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pseudonym-01": ("http://id.elegnamnden.se/ap/1.0/pseudonym-01", ()),
    "natural-person-01": (
        "http://id.elegnamnden.se/ap/1.0/natural-person-01",
        ("sn", "givenName", "displayName"),
    ),
    "pnr-01": (
        "http://id.elegnamnden.se/ap/1.0/pnr-01",
        ("sn", "givenName", "displayName", "personalIdentityNumber"),
    ),
    "org-person-01": (
        "http://id.elegnamnden.se/ap/1.0/org-person-01",
        ("displayName", "orgAffiliation", "o"),
    ),
    "eidas-natural-person-01": (
        "http://id.elegnamnden.se/ap/1.0/eidas-natural-person-01",
        (
            "prid",
            "pridPersistence",
            "eidasPersonIdentifier",
            "dateOfBirth",
            "sn",
            "givenName",
            "c",
            "transactionIdentifier",
        ),
    ),
    "hsaid-01": (
        "http://id.swedenconnect.se/ap/1.0/hsaid-01",
        ("sn", "givenName", "displayName", "employeeHsaId"),
    ),
}

OIDC = "https://id.oidc.se/claim/"
SC = "https://id.swedenconnect.se/claim/"

# swedish-eid.md 5.4 (OSCLM 3; SCCLM 3.1) and OIDC Core 5.4 for the standard scopes:
# scope -> {claim: True if also in the ID token}. middle_name is deliberately absent
# (no Swedish eID attribute carries it; see profiles.yaml).
SCOPES: dict[str, dict[str, bool]] = {
    "openid": {},
    "https://id.oidc.se/scope/naturalPersonInfo": {
        "family_name": False,
        "given_name": False,
        "name": False,
        "birthdate": False,
    },
    "https://id.oidc.se/scope/naturalPersonNumber": {
        OIDC + "personalIdentityNumber": True,
        OIDC + "coordinationNumber": True,
    },
    "https://id.oidc.se/scope/naturalPersonOrgId": {
        "name": False,
        OIDC + "orgName": False,
        OIDC + "orgNumber": False,
        OIDC + "orgAffiliation": True,
    },
    "https://id.swedenconnect.se/scope/eidasNaturalPersonIdentity": {
        SC + "prid": True,
        SC + "pridPersistence": True,
        SC + "eidasPersonIdentifier": False,
    },
    "https://id.swedenconnect.se/scope/eidasSwedishIdentity": {
        SC + "mappedPersonalIdentityNumber": False,
        SC + "mappedCoordinationNumber": False,
        SC + "identityBinding": False,
    },
    "profile": {
        "family_name": False,
        "given_name": False,
        "name": False,
        "birthdate": False,
        "gender": False,
    },
    "email": {"email": False},
    "phone": {"phone_number": False},
    "address": {"address": False},
}

# swedish-eid.md 6: the only numbers tests may use (Skatteverket test numbers).
PERSONAL_NUMBERS = ("199203102380", "199203102398", "200402012397", "201701012393", "189001019802")
COORDINATION_NUMBERS = ("191401682396", "195002612389")
# Also from section 6: coordination numbers with month 00 and with day 60.
COORDINATION_MONTH_00 = "191500722390"
COORDINATION_DAY_60 = "191711602399"


def luhn_check_digit(nine_digits: str) -> int:
    """SKV 704 as worded in swedish-eid.md 6, written independently of the gateway's code."""
    weights = [2, 1] * 5
    products = [int(d) * w for d, w in zip(nine_digits, weights, strict=False)]
    digit_sum = sum(sum(int(c) for c in str(p)) for p in products)
    return (10 - digit_sum % 10) % 10


def with_valid_check_digit(eleven: str) -> str:
    """Complete 11 digits (century + YYMMDDNNN) with the check digit SKV 704 gives."""
    return eleven + str(luhn_check_digit(eleven[2:]))


def with_wrong_check_digit(number: str, delta: int = 1) -> str:
    """A listed test number with its check digit changed: never anyone's number."""
    return number[:11] + str((int(number[11]) + delta) % 10)
