"""Test identities for the sandbox provider.

Every personal identity number here is from Skatteverket's published list of
test numbers (never assigned to a real person; see ../shared/swedish-eid.md
section 6). Names are invented.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TestIdentity:
    """One citizen the sandbox can log in as."""

    key: str
    given_name: str
    surname: str
    personal_identity_number: str
    date_of_birth: str

    @property
    def display_name(self) -> str:
        """Given name and surname."""
        return f"{self.given_name} {self.surname}"

    def attributes(self) -> dict[str, list[str]]:
        """The attributes a Swedish eID Framework provider releases (attribute set pnr-01)."""
        return {
            "urn:oid:2.5.4.42": [self.given_name],
            "urn:oid:2.5.4.4": [self.surname],
            "urn:oid:2.16.840.1.113730.3.1.241": [self.display_name],
            "urn:oid:1.2.752.29.4.13": [self.personal_identity_number],
            "urn:oid:1.3.6.1.5.5.7.9.1": [self.date_of_birth],
        }


IDENTITIES: tuple[TestIdentity, ...] = (
    TestIdentity("anna", "Anna", "Testsson", "199203102380", "1992-03-10"),
    TestIdentity("erik", "Erik", "Testsson", "199203102398", "1992-03-10"),
    TestIdentity("sara", "Sara", "Provsson", "200402012397", "2004-02-01"),
    TestIdentity("olle", "Olle", "Exempelsson", "201701012393", "2017-01-01"),
)
