"""The SP's metadata document for the federation operator (SAML metadata; Swedish eID Framework DP 2.1).

What is published is what the SP enforces (`gateway.saml.sp`): signed AuthnRequests, one HTTP-POST
ACS, persistent and transient NameIDs. On top of that the framework asks for (swedish-eid.md 1.2):

* ``mdattr:EntityAttributes`` with one ``http://macedir.org/entity-category`` attribute holding the
  service entity categories, the service type (TAR 3.5.2) and the contract categories (TAR 3.6);
* ``mdui:UIInfo`` with DisplayName (sv required, en recommended), Description and Logo (DP 2.1.1.1, TAR 3.2);
* a ``KeyDescriptor use="signing"`` per published signing key (next, active, previous: peers accept a
  signature by any key in metadata, DP 2.1.1.2) and ``use="encryption"`` for the active and next
  encryption keys, each listing the algorithms the SP decrypts (DP 8.3, 8.4), AES-GCM first;
* ``md:Organization`` with ``mdorgext:OrganizationNumber`` (TAR 3.1) and the ``md:ContactPerson``s.

There is no SingleLogoutService: the framework specifies no SAML logout (swedish-eid.md 1.9). The
document is signed (enveloped, exclusive c14n, SHA-256) with the active SAML signing key, through the
same python-xmlsec backend that signs everything else.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2 import md as saml2_md
from saml2.sigver import pre_signature_part
from saml2.validate import valid_instance
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_ECDSA_SHA256
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_MD
from gateway.saml.namespaces import NS_MDATTR
from gateway.saml.namespaces import NS_MDORGEXT
from gateway.saml.namespaces import NS_MDUI
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_XML
from gateway.saml.xmlsec_backend import PythonXmlsecBackend
from gateway.settings.schema import Organization
from gateway.settings.schema import SpMetadataSettings
from gateway.trust.certs import cert_body
from gateway.trust.keystore import KeySet
from gateway.trust.keystore import StoredKey

if TYPE_CHECKING:
    from gateway.saml.sp import ServiceProvider

_NSMAP: Final = {"md": NS_MD, "ds": NS_DS, "saml": NS_SAML, "mdattr": NS_MDATTR, "mdui": NS_MDUI}

ENTITY_CATEGORY: Final = "http://macedir.org/entity-category"
ATTRNAME_FORMAT_URI: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
SERVICE_TYPES: Final = {
    "public-sector-sp": "http://id.elegnamnden.se/st/1.0/public-sector-sp",
    "private-sector-sp": "http://id.elegnamnden.se/st/1.0/private-sector-sp",
}
# DP 8.3 (block encryption; GCM declared because the SP supports it) and 8.4 (key transport), in
# order of preference, as the reference SP (Test my eID) declares them.
ENCRYPTION_METHODS: Final = (
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes192-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
)
NAME_ID_FORMATS: Final = (
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
)
_LANGUAGE_ORDER: Final = ("sv", "en")
_BACKEND: Final = PythonXmlsecBackend()


def sp_metadata_xml(sp: ServiceProvider) -> str:
    """The SP's signed EntityDescriptor for its current keys, as an XML string."""
    return sp.published_metadata


def render_sp_metadata(*, entity_id: str, acs_url: str, keys: KeySet, info: SpMetadataSettings) -> str:
    """Build and sign the EntityDescriptor; pysaml2's schema classes must accept the result."""
    descriptor_id = f"_{secrets.token_hex(16)}"
    root = etree.Element(_md("EntityDescriptor"), nsmap=_NSMAP, entityID=entity_id, ID=descriptor_id)
    categories = _categories(info)
    if categories:
        attributes = _sub(_sub(root, _md("Extensions")), f"{{{NS_MDATTR}}}EntityAttributes")
        attribute = _sub(attributes, f"{{{NS_SAML}}}Attribute", Name=ENTITY_CATEGORY, NameFormat=ATTRNAME_FORMAT_URI)
        for category in categories:
            _sub(attribute, f"{{{NS_SAML}}}AttributeValue").text = category
    sp = _sub(
        root,
        _md("SPSSODescriptor"),
        AuthnRequestsSigned="true",
        WantAssertionsSigned="false",
        protocolSupportEnumeration=NS_SAMLP,
    )
    _ui_info(_sub(sp, _md("Extensions")), entity_id, info)
    for stored in _ordered(keys, "saml-signing", ("active", "next", "previous")):
        _key_descriptor(sp, "signing", stored)
    for stored in _ordered(keys, "saml-encryption", ("active", "next")):
        methods = _key_descriptor(sp, "encryption", stored)
        for algorithm in ENCRYPTION_METHODS:
            _sub(methods, _md("EncryptionMethod"), Algorithm=algorithm)
    for name_id_format in NAME_ID_FORMATS:
        _sub(sp, _md("NameIDFormat")).text = name_id_format
    _sub(sp, _md("AssertionConsumerService"), Binding=BINDING_HTTP_POST, Location=acs_url, index="0", isDefault="true")
    if info.organization is not None:
        _organization(root, info.organization)
    for contact in info.contacts:
        person = _sub(root, _md("ContactPerson"), contactType=contact.type)
        for tag, value in (
            ("Company", contact.company),
            ("GivenName", contact.given_name),
            ("SurName", contact.surname),
        ):
            if value:
                _sub(person, _md(tag)).text = value
        for email in contact.email:
            _sub(person, _md("EmailAddress")).text = email if email.startswith("mailto:") else f"mailto:{email}"
        for phone in contact.phone:
            _sub(person, _md("TelephoneNumber")).text = phone
    text = _sign(root, descriptor_id, keys.active("saml-signing"))
    parsed = saml2_md.entity_descriptor_from_string(text)
    valid_instance(parsed)
    return text


def _md(local: str) -> str:
    return f"{{{NS_MD}}}{local}"


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, tag, attributes)


def _categories(info: SpMetadataSettings) -> list[str]:
    values = list(info.entity_categories)
    if info.service_type:
        values.append(SERVICE_TYPES.get(info.service_type, info.service_type))
    values.extend(info.contract_categories)
    return list(dict.fromkeys(values))


def _localized(parent: etree._Element, tag: str, texts: Mapping[str, str]) -> None:
    for language in sorted(texts, key=lambda lang: (*_LANGUAGE_ORDER, lang).index(lang)):
        element = _sub(parent, tag)
        element.set(f"{{{NS_XML}}}lang", language)
        element.text = texts[language]


def _ui_info(extensions: etree._Element, entity_id: str, info: SpMetadataSettings) -> None:
    ui = _sub(extensions, f"{{{NS_MDUI}}}UIInfo")
    _localized(ui, f"{{{NS_MDUI}}}DisplayName", info.display_name or {"sv": entity_id, "en": entity_id})
    _localized(ui, f"{{{NS_MDUI}}}Description", info.description)
    for logo in info.logos:
        _sub(ui, f"{{{NS_MDUI}}}Logo", height=str(logo.height), width=str(logo.width)).text = logo.url


def _ordered(keys: KeySet, role: str, stages: tuple[str, ...]) -> list[StoredKey]:
    published = {k.stage: k for k in keys.published(role)}
    return [published[stage] for stage in stages if stage in published]


def _key_descriptor(sp: etree._Element, use: str, stored: StoredKey) -> etree._Element:
    descriptor = _sub(sp, _md("KeyDescriptor"), use=use)
    key_info = _sub(descriptor, f"{{{NS_DS}}}KeyInfo")
    _sub(key_info, f"{{{NS_DS}}}KeyName").text = stored.kid
    x509_data = _sub(key_info, f"{{{NS_DS}}}X509Data")
    _sub(x509_data, f"{{{NS_DS}}}X509Certificate").text = cert_body(stored.cert_pem)
    return descriptor


def _organization(root: etree._Element, organization: Organization) -> None:
    element = _sub(root, _md("Organization"))
    if organization.number:
        extensions = _sub(element, _md("Extensions"))
        number = etree.SubElement(extensions, f"{{{NS_MDORGEXT}}}OrganizationNumber", nsmap={"mdorgext": NS_MDORGEXT})
        number.text = organization.number
    _localized(element, _md("OrganizationName"), organization.name)
    _localized(element, _md("OrganizationDisplayName"), organization.display_name)
    _localized(element, _md("OrganizationURL"), organization.url)


def _sign(root: etree._Element, descriptor_id: str, signing: StoredKey) -> str:
    """Put a signature template first in the EntityDescriptor (its schema position) and fill it in."""
    public_key = x509.load_pem_x509_certificate(signing.cert_pem).public_key()
    algorithm = SIG_ECDSA_SHA256 if isinstance(public_key, ec.EllipticCurvePublicKey) else SIG_RSA_SHA256
    template = pre_signature_part(
        ident=descriptor_id, public_key=cert_body(signing.cert_pem), sign_alg=algorithm, digest_alg=DIGEST_SHA256
    )
    root.insert(0, etree.fromstring(str(template).encode()))
    unsigned = etree.tostring(root, encoding="unicode")
    return _BACKEND.sign_statement(unsigned, f"{NS_MD}:EntityDescriptor", str(signing.key_path), descriptor_id)
