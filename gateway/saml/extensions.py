"""The Swedish eID Framework's AuthnRequest extensions and scoping, as pysaml2 elements.

- `psc:PrincipalSelection` (PSC 2): the attribute values that name the
  expected citizen, e.g. the personal identity number;
- `umsg:UserMessage` (UMSG 2): a message the provider shows before
  authentication, one `umsg:Message` (base64 of UTF-8) per language;
- `samlp:Scoping/IDPList` (DP 5.3.2; REG 3.1.9.1): for the eIDAS connector,
  one eIDAS proxy-service alias per preselected country.

Values are escaped by the XML serialiser, never spliced into markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from saml2 import ExtensionElement
from saml2 import samlp

from gateway.model import UserMessage
from gateway.saml.namespaces import NS_PSC
from gateway.saml.namespaces import NS_UMSG

XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
ATTRNAME_FORMAT_URI: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
EIDAS_PROXY_SERVICE: Final = "http://id.swedenconnect.se/eidas/1.0/proxy-service/"


def principal_selection(values: Sequence[tuple[str, str]]) -> ExtensionElement:
    """`psc:PrincipalSelection` with one `psc:MatchValue` per (attribute name, value) (PSC 2.1)."""
    matches = [
        ExtensionElement("MatchValue", namespace=NS_PSC, attributes={"Name": name}, text=value)
        for name, value in values
    ]
    return ExtensionElement("PrincipalSelection", namespace=NS_PSC, children=matches)


def user_message(message: UserMessage) -> ExtensionElement:
    """`umsg:UserMessage` with its MIME type and one `umsg:Message` per language (UMSG 2.1)."""
    messages = [
        ExtensionElement("Message", namespace=NS_UMSG, attributes={XML_LANG: lang}, text=encoded)
        for lang, encoded in message.messages
    ]
    return ExtensionElement(
        "UserMessage", namespace=NS_UMSG, attributes={"mimeType": message.mime_type}, children=messages
    )


def country_scoping(countries: Sequence[str]) -> samlp.Scoping:
    """Scoping whose IDPList names each country's eIDAS proxy service: the connector skips its country choice."""
    entries = [samlp.IDPEntry(provider_id=EIDAS_PROXY_SERVICE + country.lower()) for country in countries]
    return samlp.Scoping(idp_list=samlp.IDPList(idp_entry=entries))
