"""A cheap SAML IdP for the benchmark: real signatures and encryption, in-process, no pysaml2 objects.

The benchmark's IdP shares the 2 cores with the gateway, so every millisecond it spends is a
millisecond the gateway does not get. It therefore does only what a Swedish eID Framework IdP must
do, directly: verify the HTTP-Redirect query signature of the AuthnRequest with the SP's signing key
from its metadata (saml-bindings 3.4.4.1, one RSA public operation), then answer with a Response that
is signed (RSA-SHA256, exclusive c14n, by python-xmlsec with a key loaded once) and carries one
``EncryptedAssertion`` (AES-256-GCM, key transported with RSA-OAEP-MGF1P to the SP's encryption
certificate from metadata; DP 6.1, 8.3, 8.4). The XML is filled into a string template instead of
being built from pysaml2's classes, which would cost several times the crypto. The gateway cannot
tell the difference: it verifies and decrypts exactly what the test suite's pysaml2 peer sends.

`federation_metadata` writes the IdP's entry alone or inside an aggregate of ``n`` IdP entities
(each with its own certificate), for the "cost must not grow with the aggregate" scenario.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import secrets
import zlib
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_plus
from urllib.parse import urlsplit
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_MD
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.trust.certs import KeyPair
from gateway.trust.certs import cert_body
from gateway.trust.certs import generate_key_pair
from gateway.trust.certs import self_signed

LOA3: Final = "http://id.elegnamnden.se/loa/1.0/loa3"
SIG_RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
REDIRECT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
ASSURANCE_CERTIFICATION: Final = "urn:oasis:names:tc:SAML:attribute:assurance-certification"
MAX_INFLATED: Final = 64 * 1024

# pnr-01 (ATTR 3.1) for one of Skatteverket's published test personal identity numbers.
ATTRIBUTES: Final = (
    ("urn:oid:2.5.4.42", "givenName", "Anna"),
    ("urn:oid:2.5.4.4", "sn", "Testsson"),
    ("urn:oid:2.16.840.1.113730.3.1.241", "displayName", "Anna Testsson"),
    ("urn:oid:1.2.752.29.4.13", "personalIdentityNumber", "199203102380"),
    ("urn:oid:1.3.6.1.5.5.7.9.1", "dateOfBirth", "1992-03-10"),
)

_ATTRIBUTE_XML: Final = "".join(
    f'<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" '
    f'FriendlyName="{friendly}"><saml:AttributeValue xsi:type="xs:string">{escape(value)}</saml:AttributeValue>'
    "</saml:Attribute>"
    for name, friendly, value in ATTRIBUTES
)

_ASSERTION: Final = (
    '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'ID="{aid}" IssueInstant="{now}" Version="2.0">'
    '<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{idp}</saml:Issuer>'
    "<saml:Subject>"
    '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" NameQualifier={idp_attr} '
    "SPNameQualifier={sp_attr}>{name_id}</saml:NameID>"
    '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
    '<saml:SubjectConfirmationData InResponseTo="{rid}" NotOnOrAfter="{until}" Recipient={acs_attr}/>'
    "</saml:SubjectConfirmation></saml:Subject>"
    '<saml:Conditions NotBefore="{now}" NotOnOrAfter="{until}">'
    "<saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
    '<saml:AuthnStatement AuthnInstant="{now}" SessionIndex="{session}"><saml:AuthnContext>'
    "<saml:AuthnContextClassRef>{loa}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
    "<saml:AttributeStatement>" + _ATTRIBUTE_XML + "</saml:AttributeStatement>"
    "</saml:Assertion>"
)

# An enveloped signature template (saml-core 5.4): exclusive c14n, RSA-SHA256, SHA-256 (DP 8).
_SIGNATURE: Final = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
    "</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}"
    "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
)

_RESPONSE: Final = (
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" '
    'Destination={acs_attr} InResponseTo="{rid}">'
    '<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{idp}</saml:Issuer>'
    "{signature}"
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
    "<saml:EncryptedAssertion>"
    '<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="{data_id}" '
    'Type="http://www.w3.org/2001/04/xmlenc#Element">'
    '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>'
    '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey Id="{key_id}">'
    '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p">'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>'
    "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{sp_cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
    "<xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>"
    "</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{ciphertext}</xenc:CipherValue></xenc:CipherData>"
    "</xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>"
)

# RSA-OAEP-MGF1P with its default SHA-1 digest: the framework's mandatory key transport (DP 8.4).
OAEP: Final = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303


class IdpRefused(Exception):
    """The IdP refuses an AuthnRequest (bad signature, wrong Destination): counted as an error."""


@dataclass(frozen=True, slots=True)
class AuthnRequest:
    """What the IdP needs from a verified AuthnRequest."""

    id: str
    sp_entity_id: str
    acs_url: str
    relay_state: str


def new_id() -> str:
    """A fresh xs:ID (an NCName: it must not start with a digit)."""
    return "_" + secrets.token_hex(16)


def saml_time(moment: datetime.datetime) -> str:
    """xs:dateTime in UTC with milliseconds."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _certs_in(sp_metadata: bytes, use: str) -> list[bytes]:
    root = etree.fromstring(sp_metadata, etree.XMLParser(resolve_entities=False, no_network=True))
    found = []
    for descriptor in root.iter(f"{{{NS_MD}}}KeyDescriptor"):
        if descriptor.get("use") in (use, None):
            for cert in descriptor.iter(f"{{{NS_DS}}}X509Certificate"):
                found.append("".join((cert.text or "").split()).encode("ascii"))
    return found


class BenchIdP:
    """One IdP entity; its keys are loaded once, every response costs one RSA signature."""

    def __init__(self, key_pair: KeyPair, *, entity_id: str, sso_url: str, sp_metadata: bytes) -> None:
        self.entity_id = entity_id
        self.sso_url = sso_url
        self._key = xmlsec.Key.from_memory(key_pair.key_pem, xmlsec.constants.KeyDataFormatPem)
        self._signature = _SIGNATURE.replace("{cert}", cert_body(key_pair.cert_pem))
        signing = _certs_in(sp_metadata, "signing")
        encryption = _certs_in(sp_metadata, "encryption")
        if not signing or not encryption:
            raise ValueError("the SP metadata lacks a signing or an encryption certificate")
        self._sp_verify_keys = [_public_key(body) for body in signing]
        # Encryption-key rollover publishes only the new key (DP 2.1.1.2): use the last one listed.
        self._sp_encryption_cert = encryption[-1].decode("ascii")
        self._sp_encryption_key = _public_key(encryption[-1])

    def receive(self, redirect_url: str) -> AuthnRequest:
        """Verify an HTTP-Redirect AuthnRequest's query signature and read what the response needs."""
        parts = urlsplit(redirect_url)
        if f"{parts.scheme}://{parts.netloc}{parts.path}" != self.sso_url:
            raise IdpRefused("redirect is not to this IdP's SSO URL")
        raw = dict(pair.partition("=")[::2] for pair in parts.query.split("&") if pair)
        if unquote_plus(raw.get("SigAlg", "")) != SIG_RSA_SHA256 or "Signature" not in raw:
            raise IdpRefused("AuthnRequest is not signed with RSA-SHA256")
        signed = "&".join(f"{name}={raw[name]}" for name in ("SAMLRequest", "RelayState", "SigAlg") if name in raw)
        signature = base64.b64decode(unquote_plus(raw["Signature"]))
        if not any(_verifies(key, signature, signed.encode("ascii")) for key in self._sp_verify_keys):
            raise IdpRefused("AuthnRequest signature does not verify with the SP's metadata keys")
        inflater = zlib.decompressobj(-15)
        xml = inflater.decompress(base64.b64decode(unquote_plus(raw["SAMLRequest"])), MAX_INFLATED)
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
        if root.get("Destination") != self.sso_url:
            raise IdpRefused("Destination is not this IdP's SSO URL")
        issuer = root.findtext(f"{{{NS_SAML}}}Issuer") or ""
        acs_url = root.get("AssertionConsumerServiceURL")
        if not acs_url:
            raise IdpRefused("AuthnRequest names no AssertionConsumerServiceURL")
        return AuthnRequest(
            id=root.get("ID", ""),
            sp_entity_id=issuer.strip(),
            acs_url=acs_url,
            relay_state=unquote_plus(raw.get("RelayState", "")),
        )

    def respond(self, request: AuthnRequest) -> str:
        """The base64 SAMLResponse for the HTTP-POST binding: signed Response, encrypted assertion."""
        now = datetime.datetime.now(datetime.UTC)
        stamp, until = saml_time(now), saml_time(now + datetime.timedelta(minutes=5))
        name_id = hashlib.sha256(f"{self.entity_id}\n{request.sp_entity_id}\nanna".encode()).hexdigest()
        assertion = _ASSERTION.format(
            aid=new_id(), now=stamp, until=until, idp=escape(self.entity_id), idp_attr=quoteattr(self.entity_id),
            sp=escape(request.sp_entity_id), sp_attr=quoteattr(request.sp_entity_id), name_id=name_id,
            rid=request.id, acs_attr=quoteattr(request.acs_url), session=new_id(), loa=LOA3,
        )  # fmt: skip
        session_key = AESGCM.generate_key(256)
        nonce = os.urandom(12)
        ciphertext = nonce + AESGCM(session_key).encrypt(nonce, assertion.encode("utf-8"), None)
        wrapped = self._sp_encryption_key.encrypt(session_key, OAEP)
        response_id = new_id()
        document = _RESPONSE.format(
            id=response_id, now=stamp, acs_attr=quoteattr(request.acs_url), rid=request.id,
            idp=escape(self.entity_id), signature=self._signature.replace("{id}", response_id),
            data_id=new_id(), key_id=new_id(),
            sp_cert=self._sp_encryption_cert, wrapped=base64.b64encode(wrapped).decode("ascii"),
            ciphertext=base64.b64encode(ciphertext).decode("ascii"),
        )  # fmt: skip
        root = etree.fromstring(document.encode("utf-8"))
        xmlsec.tree.add_ids(root, ["ID"])
        context = xmlsec.SignatureContext()
        context.key = self._key
        context.sign(root.find(f"{{{NS_DS}}}Signature"))
        return base64.b64encode(etree.tostring(root)).decode("ascii")


def _public_key(body: bytes) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(base64.b64decode(body)).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the benchmark IdP supports RSA keys only")
    return key


def _verifies(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001 - cryptography's InvalidSignature and malformed input both mean "no"
        return False
    return True


def entity_descriptor(entity_id: str, sso_url: str, cert_pem: bytes) -> str:
    """An IdP EntityDescriptor as a Swedish federation publishes it (DP 2.1.3): LoA, key, SSO endpoint."""
    return (
        f"<md:EntityDescriptor entityID={quoteattr(entity_id)}><md:Extensions><mdattr:EntityAttributes>"
        f'<saml:Attribute Name="{ASSURANCE_CERTIFICATION}" '
        'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
        f"<saml:AttributeValue>{LOA3}</saml:AttributeValue></saml:Attribute></mdattr:EntityAttributes>"
        '</md:Extensions><md:IDPSSODescriptor WantAuthnRequestsSigned="true" '
        f'protocolSupportEnumeration="{NS_SAMLP}"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>{cert_body(cert_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
        f'</md:NameIDFormat><md:SingleSignOnService Binding="{REDIRECT}" Location={quoteattr(sso_url)}/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def federation_metadata(entity_id: str, sso_url: str, key_pair: KeyPair, entities: int, signer: KeyPair) -> str:
    """A signed EntitiesDescriptor with the benchmark IdP and ``entities - 1`` other IdPs, each with its own cert.

    Signed by ``signer``, the federation operator (DP 2: the gateway trusts only metadata that verifies
    against the pinned signer certificate), valid for a week. The other entities' certificates come
    from a few RSA keys (generating 999 keys would take minutes) but are distinct certificates, as in a
    real aggregate.
    """
    entries = [entity_descriptor(entity_id, sso_url, key_pair.cert_pem)]
    others = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(min(4, entities))]
    for index in range(1, entities):
        other_id = f"https://idp{index:04d}.federation.bench.invalid/idp"
        cert = self_signed(others[index % len(others)], other_id)
        entries.append(entity_descriptor(other_id, other_id + "/sso", cert.public_bytes(serialization.Encoding.PEM)))
    aggregate_id = new_id()
    valid_until = saml_time(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=7))
    document = (
        f'<md:EntitiesDescriptor xmlns:md="{NS_MD}" xmlns:ds="{NS_DS}" xmlns:saml="{NS_SAML}" '
        'xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" Name="https://bench.invalid/federation" '
        f'ID="{aggregate_id}" validUntil="{valid_until}" cacheDuration="PT6H">'
        + _SIGNATURE.format(id=aggregate_id, cert=cert_body(signer.cert_pem))
        + "".join(entries)
        + "</md:EntitiesDescriptor>"
    )
    root = etree.fromstring(document.encode("utf-8"))
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(signer.key_pem, xmlsec.constants.KeyDataFormatPem)
    context.sign(root.find(f"{{{NS_DS}}}Signature"))
    signed: str = etree.tostring(root, encoding="unicode")
    return signed


def new_key_pair(name: str) -> KeyPair:
    """The IdP's key pair: RSA 3072, as the gateway's own keys."""
    return generate_key_pair(name)
