"""SAML schema validation on libxml2 agrees with pysaml2's own (xmlschema) validator, and loads nothing.

`gateway.saml.schema` checks every received Response where pysaml2 used ``saml2.xml.schema.validate``;
it must accept and refuse the same documents. Each case below is given to both validators.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import saml2.sigver
import saml2.xml.schema
from lxml import etree
from saml2.xml.schema import XMLSchemaError

from gateway.saml import schema

NS = (
    'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
    'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
SIGNATURE = (
    "<ds:Signature><ds:SignedInfo>"
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#_r1"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    "<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    "<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
)
ISSUER = '<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">https://idp.example/</saml:Issuer>'
STATUS = '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
ENCRYPTED = (
    '<saml:EncryptedAssertion><xenc:EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element">'
    '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>'
    "<ds:KeyInfo><xenc:EncryptedKey>"
    '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>'
    "<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
    "<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>"
    "</xenc:EncryptedData></saml:EncryptedAssertion>"
)
ASSERTION = (
    '<saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z">' + ISSUER + "<saml:Subject>"
    '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">abc</saml:NameID>'
    '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
    '<saml:SubjectConfirmationData NotOnOrAfter="2026-11-23T10:05:00Z" Recipient="https://gw.example/saml/acs" '
    'InResponseTo="_q1"/></saml:SubjectConfirmation></saml:Subject>'
    '<saml:Conditions NotBefore="2026-11-23T10:00:00Z" NotOnOrAfter="2026-11-23T10:05:00Z">'
    "<saml:AudienceRestriction><saml:Audience>https://gw.example/saml/metadata</saml:Audience>"
    "</saml:AudienceRestriction></saml:Conditions>"
    '<saml:AuthnStatement AuthnInstant="2026-11-23T10:00:00Z"><saml:AuthnContext><saml:AuthnContextClassRef>'
    "http://id.elegnamnden.se/loa/1.0/loa3</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
    '<saml:AttributeStatement><saml:Attribute Name="urn:oid:1.2.752.29.4.13" '
    'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
    '<saml:AttributeValue xsi:type="xs:string">197309069289</saml:AttributeValue></saml:Attribute>'
    "</saml:AttributeStatement></saml:Assertion>"
)


def response(inner: str = ISSUER + SIGNATURE + STATUS + ENCRYPTED, attributes: str | None = None) -> str:
    """A samlp:Response with ``inner`` as its content."""
    attributes = (
        'ID="_r1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z" Destination="https://gw.example/saml/acs" '
        'InResponseTo="_q1"'
        if attributes is None
        else attributes
    )
    return f"<samlp:Response {NS} {attributes}>{inner}</samlp:Response>"


CONFORMING = {
    "encrypted assertion": response(),
    "plaintext assertion": response(ISSUER + SIGNATURE + STATUS + ASSERTION),
    "error status, no assertion": response(
        ISSUER + SIGNATURE + '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Requester">'
        '<samlp:StatusCode Value="http://id.elegnamnden.se/status/1.0/cancel"/></samlp:StatusCode></samlp:Status>'
    ),
    "foreign extension (lax)": response(
        ISSUER + SIGNATURE + '<samlp:Extensions><x:Any xmlns:x="urn:x-test">1</x:Any></samlp:Extensions>' + STATUS
    ),
    "no optional attributes": response(attributes='ID="_r1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z"'),
}
NOT_CONFORMING = {
    "no ID": response(attributes='Version="2.0" IssueInstant="2026-11-23T10:00:00Z"'),
    "no Version": response(attributes='ID="_r1" IssueInstant="2026-11-23T10:00:00Z"'),
    "IssueInstant not a dateTime": response(attributes='ID="_r1" Version="2.0" IssueInstant="yesterday"'),
    "ID not an NCName": response(attributes='ID="1r" Version="2.0" IssueInstant="2026-11-23T10:00:00Z"'),
    "Status before Issuer": response(STATUS + ISSUER + SIGNATURE + ENCRYPTED),
    "two Signatures": response(ISSUER + SIGNATURE + SIGNATURE + STATUS + ENCRYPTED),
    "no Status": response(ISSUER + SIGNATURE + ENCRYPTED),
    "unknown protocol element": response(ISSUER + SIGNATURE + STATUS + "<samlp:Bogus/>" + ENCRYPTED),
    "foreign element outside Extensions": response(ISSUER + SIGNATURE + STATUS + '<x:Any xmlns:x="urn:x-test"/>'),
    "Signature without SignedInfo": response(
        ISSUER + "<ds:Signature><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>" + STATUS + ENCRYPTED
    ),
    "assertion without Issuer": response(ISSUER + SIGNATURE + STATUS + ASSERTION.replace(ISSUER, "")),
    "Audience with child elements": response(
        ISSUER + SIGNATURE + STATUS + ASSERTION.replace("<saml:Audience>", "<saml:Audience><saml:Issuer/>")
    ),
    "not SAML at all": '<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
}


@pytest.mark.parametrize("document", CONFORMING.values(), ids=CONFORMING.keys())
def test_conforming_documents_pass_both_validators(document: str) -> None:
    saml2.xml.schema.validate(document)
    schema.validate(document)


@pytest.mark.parametrize("document", NOT_CONFORMING.values(), ids=NOT_CONFORMING.keys())
def test_documents_pysaml2_refuses_are_refused(document: str) -> None:
    with pytest.raises(XMLSchemaError):
        saml2.xml.schema.validate(document)
    with pytest.raises(XMLSchemaError, match="does not conform"):
        schema.validate(document)


def test_bytes_are_validated_like_text() -> None:
    schema.validate(CONFORMING["encrypted assertion"].encode("utf-8"))
    with pytest.raises(XMLSchemaError):
        schema.validate(NOT_CONFORMING["no ID"].encode("utf-8"))


@pytest.mark.parametrize(
    "document",
    [
        '<!DOCTYPE r [<!ENTITY e "x">]>' + response(),
        '<!DOCTYPE r SYSTEM "/etc/passwd">' + response(),
        response()[:-5],
    ],
    ids=["internal subset", "external DTD", "not well-formed"],
)
def test_dtds_and_broken_xml_are_refused_before_validation(document: str) -> None:
    with pytest.raises(XMLSchemaError):
        schema.validate(document)


def test_the_error_names_the_rule_not_the_content() -> None:
    secret = "197309069289"
    document = response(ISSUER + SIGNATURE + STATUS + ASSERTION.replace("<saml:Subject>", "<saml:Subject><bogus/>"))
    assert secret in document
    with pytest.raises(XMLSchemaError) as refused:
        schema.validate(document)
    assert secret not in str(refused.value)


def test_schema_imports_resolve_only_to_local_files(tmp_path: Path) -> None:
    """An import with no packaged file is an error, never a fetch."""
    driver = tmp_path / "driver.xsd"
    driver.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x">'
        '<xs:import namespace="urn:y" schemaLocation="http://127.0.0.1:9/evil.xsd"/></xs:schema>',
        encoding="utf-8",
    )
    parser = etree.XMLParser(no_network=True, load_dtd=False)
    parser.resolvers.add(schema._LocalSchemaFiles())
    with pytest.raises((etree.XMLSchemaParseError, ValueError)):
        etree.XMLSchema(etree.parse(str(driver), parser))


def test_every_thread_gets_its_own_compiled_schema() -> None:
    import threading

    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(schema.saml_schema()))
    thread.start()
    thread.join()
    assert seen[0] is not schema.saml_schema()
    assert schema.saml_schema() is schema.saml_schema()
