"""The Swedish eID Framework's AuthnRequest extensions and scoping, as lxml elements.

- `psc:PrincipalSelection` (PSC 2): the attribute values that name the
  expected citizen, e.g. the personal identity number;
- `umsg:UserMessage` (UMSG 2): a message the provider shows before
  authentication, one `umsg:Message` (base64 of UTF-8) per language;
- `samlp:Scoping/IDPList` (DP 5.3.2; REG 3.1.9.1): for the eIDAS connector,
  one eIDAS proxy-service alias per preselected country.

Values are set as text and attributes and escaped by libxml2's serialiser, never spliced into
markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from lxml import etree

from gateway.model import UserMessage
from gateway.saml.namespaces import NS_PSC
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_UMSG
from gateway.saml.namespaces import NS_XML

XML_LANG: Final = f"{{{NS_XML}}}lang"
EIDAS_PROXY_SERVICE: Final = "http://id.swedenconnect.se/eidas/1.0/proxy-service/"


def principal_selection(values: Sequence[tuple[str, str]]) -> etree._Element:
    """`psc:PrincipalSelection` with one `psc:MatchValue` per (attribute name, value) (PSC 2.1)."""
    selection = etree.Element(f"{{{NS_PSC}}}PrincipalSelection", nsmap={"psc": NS_PSC})
    for name, value in values:
        etree.SubElement(selection, f"{{{NS_PSC}}}MatchValue", Name=name).text = value
    return selection


def user_message(message: UserMessage) -> etree._Element:
    """`umsg:UserMessage` with its MIME type and one `umsg:Message` per language (UMSG 2.1)."""
    element = etree.Element(f"{{{NS_UMSG}}}UserMessage", mimeType=message.mime_type, nsmap={"umsg": NS_UMSG})
    for lang, encoded in message.messages:
        etree.SubElement(element, f"{{{NS_UMSG}}}Message", {XML_LANG: lang}).text = encoded
    return element


def country_scoping(countries: Sequence[str]) -> etree._Element:
    """Scoping whose IDPList names each country's eIDAS proxy service: the connector skips its country choice."""
    scoping = etree.Element(f"{{{NS_SAMLP}}}Scoping", nsmap={"samlp": NS_SAMLP})
    idp_list = etree.SubElement(scoping, f"{{{NS_SAMLP}}}IDPList")
    for country in countries:
        etree.SubElement(idp_list, f"{{{NS_SAMLP}}}IDPEntry", ProviderID=EIDAS_PROXY_SERVICE + country.lower())
    return scoping
