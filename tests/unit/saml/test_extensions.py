"""The Swedish AuthnRequest extensions (PSC, UMSG), eIDAS country scoping, and capabilities read from IdP metadata."""

from __future__ import annotations

import base64
from pathlib import Path

from lxml import etree
from saml2 import config
from saml2.attribute_converter import ac_factory
from saml2.mdstore import MetadataStore

from gateway.model import UserMessage
from gateway.saml import extensions
from gateway.saml.idp_metadata import idp_capabilities
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP

PSC = "{http://id.swedenconnect.se/authn/1.0/principal-selection/ns}"
UMSG = "{http://id.swedenconnect.se/authn/1.0/user-message/ns}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def test_principal_selection_and_user_message_elements() -> None:
    message = UserMessage(messages=(("sv", base64.b64encode(b"<b>&").decode()),), mime_type="text/markdown")
    root = etree.Element("holder")
    root.append(extensions.principal_selection([("urn:oid:1.2.752.29.4.13", "199203102380")]))
    root.append(extensions.user_message(message))
    root = etree.fromstring(etree.tostring(root))  # as the provider reads it: serialised and parsed again
    (match,) = root.iter(f"{PSC}MatchValue")
    assert match.getparent().tag == f"{PSC}PrincipalSelection"
    assert (match.get("Name"), match.text) == ("urn:oid:1.2.752.29.4.13", "199203102380")
    (user_message,) = root.iter(f"{UMSG}UserMessage")
    assert user_message.get("mimeType") == "text/markdown"
    (text,) = user_message.iter(f"{UMSG}Message")
    assert text.get(XML_LANG) == "sv"
    assert base64.b64decode(text.text or "").decode() == "<b>&"


def test_country_scoping_names_the_proxy_service() -> None:
    root = etree.fromstring(etree.tostring(extensions.country_scoping(["DE", "no"])))
    entries = [e.get("ProviderID") for e in root.iter("{urn:oasis:names:tc:SAML:2.0:protocol}IDPEntry")]
    assert entries == [
        "http://id.swedenconnect.se/eidas/1.0/proxy-service/de",
        "http://id.swedenconnect.se/eidas/1.0/proxy-service/no",
    ]


def _store(*peers: PeerIdP) -> MetadataStore:
    store = MetadataStore(ac_factory(), config.Config())
    for peer in peers:
        store.load("inline", peer.metadata_xml())
    return store


def test_capabilities_from_metadata(tmp_path: Path) -> None:
    declares = PeerIdP(tmp_path / "a", entity_id="https://a.example/idp", loas=(LOA3,),
                       supports_principal_selection=True, supports_user_message=True)  # fmt: skip
    silent = PeerIdP(tmp_path / "b", entity_id="https://b.example/idp", loas=(LOA3,))
    store = _store(declares, silent)
    found = idp_capabilities(store, declares.entity_id)
    assert found.known
    assert found.principal_selection == ("urn:oid:1.2.752.29.4.13",)
    assert found.user_message
    assert found.loas == (LOA3,)
    quiet = idp_capabilities(store, silent.entity_id)
    assert (quiet.known, quiet.principal_selection, quiet.user_message) == (True, (), False)
    assert not idp_capabilities(store, "https://unknown.example/idp").known
