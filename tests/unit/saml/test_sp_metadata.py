"""SP metadata for the federation operator: what DP 2.1 and TAR 3 ask for, signed, readable by pysaml2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from gateway.saml.sp import ServiceProvider
from gateway.settings.schema import Contact
from gateway.settings.schema import Logo
from gateway.settings.schema import Organization
from gateway.settings.schema import SpMetadataSettings
from gateway.trust.certs import cert_body
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.rollover import activate
from gateway.trust.rollover import rollover
from tests.peers.saml_idp import PeerIdP

NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "mdattr": "urn:oasis:names:tc:SAML:metadata:attribute",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "mdui": "urn:oasis:names:tc:SAML:metadata:ui",
    "mdorgext": "http://id.swedenconnect.se/authn/1.0/md-org-ext/ns",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
INFO = SpMetadataSettings(
    service_type="public-sector-sp",
    entity_categories=("http://id.elegnamnden.se/ec/1.0/loa3-pnr",),
    contract_categories=("http://id.swedenconnect.se/contract/sc/sweden-connect",),
    display_name={"sv": "Kommunens e-tjänster", "en": "The municipality's e-services"},
    description={"sv": "Logga in", "en": "Log in"},
    logos=(Logo(url="https://kommun.example/logo.svg", width=120, height=60),),
    organization=Organization(
        name={"sv": "Exempelkommun"},
        display_name={"sv": "Exempel kommun", "en": "Example municipality"},
        url={"sv": "https://kommun.example"},
        number="2120001234",
    ),
    contacts=(Contact(type="technical", given_name="Drift", email=("drift@kommun.example",)),),
)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys at every stage: saml-signing next+active+previous, saml-encryption next+active+previous."""
    folder = tmp_path_factory.mktemp("keys")
    generate_keys(folder)
    for role in ("saml-signing", "saml-encryption"):
        rollover(folder, role)
        activate(folder, role, wait=0)
        rollover(folder, role)
    return folder


@pytest.fixture(scope="module")
def sp(keys_dir: Path) -> ServiceProvider:
    return ServiceProvider(
        entity_id="https://gw.example/saml/metadata",
        base_url="https://gw.example",
        keys=load_keys(keys_dir, b"x"),
        metadata_xml=(),
        clock_skew=60,
        metadata_info=INFO,
    )


def _verify_with_xmlsec1(document: str, cert: Path, folder: Path) -> subprocess.CompletedProcess[bytes]:
    path = folder / "sp.xml"
    path.write_text(document, encoding="utf-8")
    return subprocess.run(
        [
            "/usr/bin/xmlsec1", "--verify", "--pubkey-cert-pem", str(cert),
            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", str(path),
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip


def test_signature_verifies_with_an_independent_implementation(
    sp: ServiceProvider, keys_dir: Path, tmp_path: Path
) -> None:
    document = sp.published_metadata
    assert _verify_with_xmlsec1(document, keys_dir / "saml-signing.crt", tmp_path).returncode == 0
    tampered = document.replace("Exempelkommun", "Exempelkommux")
    assert _verify_with_xmlsec1(tampered, keys_dir / "saml-signing.crt", tmp_path).returncode != 0


def test_entity_categories_ui_info_organization_and_contacts(sp: ServiceProvider) -> None:
    root = etree.fromstring(sp.published_metadata.encode())
    values = root.xpath(
        "md:Extensions/mdattr:EntityAttributes/saml:Attribute[@Name='http://macedir.org/entity-category']"
        "/saml:AttributeValue/text()",
        namespaces=NS,
    )
    assert values == [
        "http://id.elegnamnden.se/ec/1.0/loa3-pnr",
        "http://id.elegnamnden.se/st/1.0/public-sector-sp",
        "http://id.swedenconnect.se/contract/sc/sweden-connect",
    ]
    descriptor = root.find("md:SPSSODescriptor", NS)
    assert descriptor.get("AuthnRequestsSigned") == "true"
    ui = descriptor.find("md:Extensions/mdui:UIInfo", NS)
    assert {e.get(XML_LANG): e.text for e in ui.findall("mdui:DisplayName", NS)} == dict(INFO.display_name)
    assert {e.get(XML_LANG): e.text for e in ui.findall("mdui:Description", NS)} == dict(INFO.description)
    logo = ui.find("mdui:Logo", NS)
    assert (logo.text, logo.get("width"), logo.get("height")) == ("https://kommun.example/logo.svg", "120", "60")
    assert root.xpath("md:Organization/md:Extensions/mdorgext:OrganizationNumber/text()", namespaces=NS) == [
        "2120001234"
    ]
    assert root.xpath("md:Organization/md:OrganizationDisplayName[@xml:lang='en']/text()", namespaces=NS) == [
        "Example municipality"
    ]
    contact = root.find("md:ContactPerson", NS)
    assert contact.get("contactType") == "technical"
    assert contact.findtext("md:EmailAddress", namespaces=NS) == "mailto:drift@kommun.example"
    assert descriptor.xpath("md:AssertionConsumerService/@Location", namespaces=NS) == ["https://gw.example/saml/acs"]
    assert not descriptor.findall("md:SingleLogoutService", NS)


def test_keys_per_stage_and_encryption_methods(sp: ServiceProvider, keys_dir: Path) -> None:
    root = etree.fromstring(sp.published_metadata.encode())
    descriptor = root.find("md:SPSSODescriptor", NS)

    def certs(use: str) -> list[str]:
        path = f"md:KeyDescriptor[@use='{use}']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()"
        return descriptor.xpath(path, namespaces=NS)

    def body(name: str) -> str:
        return cert_body((keys_dir / name).read_bytes())

    assert certs("signing") == [
        body("saml-signing.crt"),
        body("saml-signing.next.crt"),
        body("saml-signing.previous.crt"),
    ]
    # Encryption: active and next only; the previous key still decrypts but is no longer offered (DP 2.1.1.2).
    assert certs("encryption") == [body("saml-encryption.crt"), body("saml-encryption.next.crt")]
    for key_descriptor in descriptor.findall("md:KeyDescriptor[@use='encryption']", NS):
        methods = [m.get("Algorithm") for m in key_descriptor.findall("md:EncryptionMethod", NS)]
        assert "http://www.w3.org/2009/xmlenc11#aes256-gcm" in methods
        assert "http://www.w3.org/2001/04/xmlenc#aes128-cbc" in methods
        assert "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" in methods
        assert "http://www.w3.org/2009/xmlenc11#rsa-oaep" in methods
        assert not any(m.endswith(("rsa-1_5", "tripledes-cbc")) for m in methods)


def test_an_independent_saml_idp_reads_it(sp: ServiceProvider, tmp_path: Path, keys_dir: Path) -> None:
    peer = PeerIdP(tmp_path / "peer")
    peer.trust_sp(sp.published_metadata)
    published = {cert_body((keys_dir / f"saml-encryption{s}.crt").read_bytes()) for s in ("", ".next")}
    assert {"".join(c.split()) for c in peer._sp_certs(sp.entity_id, "encryption")} == published
    assert peer._post_acs_urls(sp.entity_id) == [sp.acs_url]
