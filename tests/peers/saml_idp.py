"""An independent SAML IdP that plays a Swedish e-ID provider in the gateway's tests.

The gateway verifies signatures in-process with python-xmlsec. If its tests also produced the IdP's
messages with python-xmlsec (or with the gateway's own helpers), a shared misreading of the specs would
pass unnoticed on both sides. So this peer is built from other parts: pysaml2's ``saml2.server.Server``
with the *xmlsec1 binary* crypto backend signs and encrypts, ``cryptography`` verifies the HTTP-Redirect
query signature, and the attribute table below is typed in from the Swedish eID Framework attribute
specification, not imported from ``gateway.mapping``.

It sends what a Swedish eID Framework IdP sends (swedish-eid.md 1.5-1.7, 2, 3): a signed ``Response``
holding an ``EncryptedAssertion`` (AES + RSA-OAEP-MGF1P, never RSA 1.5), the LoA URI as
``AuthnContextClassRef``, attributes with ``NameFormat`` uri and ``urn:oid`` names, and status codes such as
``http://id.elegnamnden.se/status/1.0/cancel``. Every field a relying party must check can be overridden or
mutated, so the gateway's security tests can forge the bad responses a real attacker would.

It serves no HTTP: the test plays the browser, hands :meth:`PeerIdP.receive` the URL the gateway redirected
to, and POSTs :meth:`PostedResponse.form` to the gateway's ACS.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import warnings
import zlib
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import EllipsisType
from urllib.parse import unquote_plus
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2 import saml
from saml2 import samlp
from saml2.config import IdPConfig
from saml2.sigver import ASSERT_XPATH
from saml2.sigver import RSA_OAEP_MGF1P
from saml2.sigver import CryptoBackendXmlSec1
from saml2.sigver import pre_encryption_part
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.trust.certs import KeyPair
from gateway.trust.certs import cert_body
from gateway.trust.certs import generate_key_pair

with warnings.catch_warnings():
    # pysaml2 7.5.5's saml2.cryptography.symmetric (imported by saml2.server) reaches CFB through
    # cryptography's old module path at import time. Not ours to fix, and pytest turns it into an
    # error during collection, where a pytestmark filter does not apply yet.
    warnings.filterwarnings("ignore", message="CFB has been moved", category=CryptographyDeprecationWarning)
    from saml2.server import Server

XMLSEC1 = "/usr/bin/xmlsec1"

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_MDATTR = "urn:oasis:names:tc:SAML:metadata:attribute"
NS_PSC = "http://id.swedenconnect.se/authn/1.0/principal-selection/ns"
NS_UMSG = "http://id.swedenconnect.se/authn/1.0/user-message/ns"
NSMAP = {"saml": NS_SAML, "samlp": NS_SAMLP, "md": NS_MD, "ds": NS_DS, "mdattr": NS_MDATTR, "psc": NS_PSC}

ATTRNAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

ASSURANCE_CERTIFICATION = "urn:oasis:names:tc:SAML:attribute:assurance-certification"
ENTITY_CATEGORY = "http://macedir.org/entity-category"
EC_SUPPORTS_USER_MESSAGE = "http://id.swedenconnect.se/general-ec/1.0/supports-user-message"

LOA2 = "http://id.elegnamnden.se/loa/1.0/loa2"
LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"
LOA4 = "http://id.elegnamnden.se/loa/1.0/loa4"

STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
STATUS_NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
STATUS_UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
STATUS_CANCEL = "http://id.elegnamnden.se/status/1.0/cancel"
STATUS_FRAUD = "http://id.elegnamnden.se/status/1.0/fraud"
STATUS_POSSIBLE_FRAUD = "http://id.elegnamnden.se/status/1.0/possibleFraud"

AES128_CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
# xmlsec1 generates the session key from "--session-key <klass>-<bits>"; the template names the algorithm.
_SESSION_KEY = {AES128_CBC: "aes-128", AES256_CBC: "aes-256", AES128_GCM: "aes-128", AES256_GCM: "aes-256"}

_REDIRECT_MAX_INFLATED = 512 * 1024

# Swedish eID Framework attribute specification (ELN-0604) section 3.1, typed in here on purpose: the
# gateway has its own table, and a test that borrowed it could not catch a wrong OID in it.
ATTRIBUTE_OIDS: Mapping[str, str] = {
    "sn": "urn:oid:2.5.4.4",
    "givenName": "urn:oid:2.5.4.42",
    "displayName": "urn:oid:2.16.840.1.113730.3.1.241",
    "gender": "urn:oid:1.3.6.1.5.5.7.9.3",
    "personalIdentityNumber": "urn:oid:1.2.752.29.4.13",
    "previousPersonalIdentityNumber": "urn:oid:1.2.752.201.3.15",
    "mappedPersonalIdentityNumber": "urn:oid:1.2.752.201.3.16",
    "personalIdentityNumberBinding": "urn:oid:1.2.752.201.3.6",
    "dateOfBirth": "urn:oid:1.3.6.1.5.5.7.9.1",
    "birthName": "urn:oid:1.2.752.201.3.8",
    "street": "urn:oid:2.5.4.9",
    "postOfficeBox": "urn:oid:2.5.4.18",
    "postalCode": "urn:oid:2.5.4.17",
    "l": "urn:oid:2.5.4.7",
    "c": "urn:oid:2.5.4.6",
    "placeOfBirth": "urn:oid:1.3.6.1.5.5.7.9.2",
    "countryOfCitizenship": "urn:oid:1.3.6.1.5.5.7.9.4",
    "countryOfResidence": "urn:oid:1.3.6.1.5.5.7.9.5",
    "telephoneNumber": "urn:oid:2.5.4.20",
    "mobile": "urn:oid:0.9.2342.19200300.100.1.41",
    "mail": "urn:oid:0.9.2342.19200300.100.1.3",
    "o": "urn:oid:2.5.4.10",
    "ou": "urn:oid:2.5.4.11",
    "organizationIdentifier": "urn:oid:2.5.4.97",
    "orgAffiliation": "urn:oid:1.2.752.201.3.1",
    "transactionIdentifier": "urn:oid:1.2.752.201.3.2",
    "authContextParams": "urn:oid:1.2.752.201.3.3",
    "prid": "urn:oid:1.2.752.201.3.4",
    "pridPersistence": "urn:oid:1.2.752.201.3.5",
    "eidasPersonIdentifier": "urn:oid:1.2.752.201.3.7",
    "eidasNaturalPersonAddress": "urn:oid:1.2.752.201.3.9",
    "userCertificate": "urn:oid:1.2.752.201.3.10",
    "userSignature": "urn:oid:1.2.752.201.3.11",
    "sad": "urn:oid:1.2.752.201.3.12",
    "authServerSignature": "urn:oid:1.2.752.201.3.13",
    "signMessageDigest": "urn:oid:1.2.752.201.3.14",
    "employeeHsaId": "urn:oid:1.2.752.29.6.2.1",
}
_FRIENDLY_NAMES = {oid: friendly for friendly, oid in ATTRIBUTE_OIDS.items()}

# A Skatteverket test personal identity number (1992-03-10, valid check digit): never a real person.
DEFAULT_ATTRIBUTES: Mapping[str, Sequence[str]] = {
    "personalIdentityNumber": ("199203102380",),
    "givenName": ("Testa",),
    "sn": ("Testsson",),
    "displayName": ("Testa Testsson",),
    "dateOfBirth": ("1992-03-10",),
}

# Service entity categories per Swedish LoA (Entity Categories spec section 2); a pnr IdP must also
# declare the matching name category (Tillitsramverk 3.4.1).
_LOA_CATEGORIES = {
    LOA2: ("http://id.elegnamnden.se/ec/1.0/loa2-pnr", "http://id.swedenconnect.se/ec/1.0/loa2-name"),
    LOA3: ("http://id.elegnamnden.se/ec/1.0/loa3-pnr", "http://id.swedenconnect.se/ec/1.0/loa3-name"),
    LOA4: ("http://id.elegnamnden.se/ec/1.0/loa4-pnr", "http://id.swedenconnect.se/ec/1.0/loa4-name"),
}


class PeerRejected(Exception):
    """The peer IdP refuses a request, as a real e-ID provider would (DP 5.2-5.4)."""


@dataclass(frozen=True)
class ReceivedRequest:
    """An AuthnRequest as the peer IdP saw it arrive over the HTTP-Redirect binding."""

    id: str
    issuer: str
    acs_url: str
    relay_state: str | None
    requested_loas: tuple[str, ...]
    comparison: str | None
    force_authn: bool | None
    is_passive: bool | None
    destination: str
    raw_xml: str
    signature_verified: bool
    extensions_xml: str | None
    sig_alg: str | None = None
    issue_instant: str | None = None
    acs_url_in_request: bool = True
    principal_selection: tuple[tuple[str, str], ...] = ()
    user_message: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PostedResponse:
    """What the peer IdP's auto-submitting form would POST to the SP's ACS (HTTP-POST binding)."""

    acs_url: str
    saml_response: str
    relay_state: str | None
    response_id: str = ""
    assertion_id: str | None = None
    assertion_xml: str | None = None

    def form(self) -> dict[str, str]:
        """The form fields, ready for ``requests.post(acs_url, data=...)`` or a Flask test client."""
        fields = {"SAMLResponse": self.saml_response}
        if self.relay_state is not None:
            fields["RelayState"] = self.relay_state
        return fields

    @property
    def xml(self) -> str:
        """The Response document exactly as signed (the assertion inside is still encrypted)."""
        return base64.b64decode(self.saml_response).decode("utf-8")


def attribute_name(name: str) -> str:
    """The SAML ``Name`` for a friendly name from ELN-0604 3.1, or ``name`` itself if already a URI."""
    if name in ATTRIBUTE_OIDS:
        return ATTRIBUTE_OIDS[name]
    if name.startswith("urn:") or "://" in name:
        return name
    raise KeyError(f"unknown attribute friendly name {name!r}; pass the full urn:oid name instead")


def new_id() -> str:
    """A fresh SAML ID: 160 random bits, prefixed so it is a valid xs:ID (an NCName)."""
    return "_" + secrets.token_hex(20)


def saml_time(moment: datetime.datetime) -> str:
    """xs:dateTime in UTC with milliseconds, the form Swedish IdPs send; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    moment = moment.astimezone(datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _safe_parser() -> etree.XMLParser:
    """No entities, no network, no DTD: the peer must not be the weak link in an XXE test."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)


def _parse(xml: bytes | str) -> etree._Element:
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    tree = etree.fromstring(data, _safe_parser()).getroottree()
    if tree.docinfo.doctype:
        raise PeerRejected("DTD in a SAML message (DP 5.4: no DTD)")
    return tree.getroot()


def _splice(root: etree._Element, parent: etree._Element, child_xml: str) -> etree._Element:
    """``root`` with ``child_xml`` as the last child of ``parent``, joined as text and parsed again.

    Moving a signed element between lxml trees is not neutral: lxml rewrites its namespace prefixes to
    the new parent's declarations, which changes the exc-c14n octets and breaks the signature. Splicing
    text keeps the signed bytes as xmlsec1 wrote them.
    """
    marker = "peer-idp-splice-" + secrets.token_hex(8)
    parent.append(etree.Comment(marker))
    if child_xml.startswith("<?xml"):
        child_xml = child_xml[child_xml.index("?>") + 2 :].lstrip()
    text = etree.tostring(root, encoding="unicode").replace(f"<!--{marker}-->", child_xml)
    return _parse(text)


def _bool_attr(value: str | None) -> bool | None:
    if value is None:
        return None
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise PeerRejected(f"not an xs:boolean: {value!r}")


def _qn(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


class PeerIdP:
    """A Swedish e-ID provider made of pysaml2 + the xmlsec1 binary, driven step by step by a test.

    ``workdir`` holds its key files (the xmlsec1 binary reads keys from files). Call :meth:`trust_sp`
    with the gateway's SP metadata before :meth:`receive`, and give the gateway :meth:`metadata_xml`.
    """

    def __init__(
        self,
        workdir: Path,
        entity_id: str = "https://idp.test.example/idp",
        sso_url: str = "https://idp.test.example/sso",
        loas: Sequence[str] = (LOA3,),
        key_pair: KeyPair | None = None,
        encryption_key_pair: KeyPair | None = None,
        supports_principal_selection: bool = False,
        supports_user_message: bool = False,
        entity_categories: Sequence[str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.entity_id = entity_id
        self.sso_url = sso_url
        self.loas = tuple(loas)
        self.key_pair = key_pair or generate_key_pair(f"peer idp {entity_id}")
        self.encryption_key_pair = encryption_key_pair
        self.supports_principal_selection = supports_principal_selection
        self.supports_user_message = supports_user_message
        if entity_categories is None:
            categories: list[str] = []
            for loa in self.loas:
                categories.extend(_LOA_CATEGORIES.get(loa, ()))
            if supports_user_message:
                categories.append(EC_SUPPORTS_USER_MESSAGE)
            entity_categories = categories
        self.entity_categories = tuple(dict.fromkeys(entity_categories))
        self.sp_entity_ids: list[str] = []

        key_file = self._key_file(self.key_pair)
        config = IdPConfig()
        config.load(
            {
                "entityid": entity_id,
                "key_file": str(key_file),
                "cert_file": str(self._cert_file(self.key_pair.cert_pem)),
                "crypto_backend": "xmlsec1",
                "xmlsec_binary": XMLSEC1,
                "metadata": {},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (sso_url, BINDING_HTTP_REDIRECT),
                                (sso_url, BINDING_HTTP_POST),
                            ],
                        },
                        "want_authn_requests_signed": True,
                        "name_id_format": [NAMEID_PERSISTENT, NAMEID_TRANSIENT],
                    },
                },
            }
        )
        self.server = Server(config=config)
        # The whole point of this peer: signatures come from the xmlsec1 binary, not python-xmlsec.
        if not isinstance(self.server.sec.crypto, CryptoBackendXmlSec1):
            raise RuntimeError("the peer IdP must sign with the xmlsec1 binary backend")

    # -- files for the xmlsec1 binary -------------------------------------------------------------

    def _file(self, kind: str, pem: bytes) -> Path:
        path = self.workdir / f"{kind}-{hashlib.sha256(pem).hexdigest()[:16]}.pem"
        if not path.exists():
            path.write_bytes(pem)
            if kind == "key":
                path.chmod(0o600)
        return path

    def _key_file(self, pair: KeyPair) -> Path:
        return self._file("key", pair.key_pem)

    def _cert_file(self, cert_pem: bytes) -> Path:
        return self._file("cert", cert_pem)

    # -- metadata ---------------------------------------------------------------------------------

    def metadata_xml(self) -> str:
        """The IdP's EntityDescriptor as a federation would publish it (DP 2.1.3, EC, PSC, UMSG)."""
        md = etree.Element(_qn(NS_MD, "EntityDescriptor"), nsmap=NSMAP, entityID=self.entity_id)
        extensions = etree.SubElement(md, _qn(NS_MD, "Extensions"))
        entity_attributes = etree.SubElement(extensions, _qn(NS_MDATTR, "EntityAttributes"))
        for name, values in (
            (ASSURANCE_CERTIFICATION, self.loas),
            (ENTITY_CATEGORY, self.entity_categories),
        ):
            if not values:
                continue
            attribute = etree.SubElement(
                entity_attributes, _qn(NS_SAML, "Attribute"), Name=name, NameFormat=ATTRNAME_FORMAT_URI
            )
            for value in values:
                etree.SubElement(attribute, _qn(NS_SAML, "AttributeValue")).text = value

        idp = etree.SubElement(
            md,
            _qn(NS_MD, "IDPSSODescriptor"),
            WantAuthnRequestsSigned="true",
            protocolSupportEnumeration=NS_SAMLP,
        )
        if self.supports_principal_selection:
            idp_extensions = etree.SubElement(idp, _qn(NS_MD, "Extensions"))
            requested = etree.SubElement(idp_extensions, _qn(NS_PSC, "RequestedPrincipalSelection"))
            etree.SubElement(requested, _qn(NS_PSC, "MatchValue"), Name=ATTRIBUTE_OIDS["personalIdentityNumber"])
        keys = [("signing", self.key_pair)]
        if self.encryption_key_pair is not None:
            keys.append(("encryption", self.encryption_key_pair))
        for use, pair in keys:
            descriptor = etree.SubElement(idp, _qn(NS_MD, "KeyDescriptor"), use=use)
            key_info = etree.SubElement(descriptor, _qn(NS_DS, "KeyInfo"))
            x509_data = etree.SubElement(key_info, _qn(NS_DS, "X509Data"))
            etree.SubElement(x509_data, _qn(NS_DS, "X509Certificate")).text = cert_body(pair.cert_pem)
        for name_id_format in (NAMEID_PERSISTENT, NAMEID_TRANSIENT):
            etree.SubElement(idp, _qn(NS_MD, "NameIDFormat")).text = name_id_format
        for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            etree.SubElement(idp, _qn(NS_MD, "SingleSignOnService"), Binding=binding, Location=self.sso_url)
        return etree.tostring(md, encoding="unicode")

    def trust_sp(self, sp_metadata_xml: str) -> None:
        """Load an SP's metadata (or an aggregate), as an IdP would from the federation feed; loads add up."""
        root = _parse(sp_metadata_xml)
        entities = [root] if root.tag == _qn(NS_MD, "EntityDescriptor") else root.iter(_qn(NS_MD, "EntityDescriptor"))
        self.server.metadata.load("inline", sp_metadata_xml)
        for entity in entities:
            entity_id = entity.get("entityID", "")
            if entity_id and entity_id not in self.sp_entity_ids:
                self.sp_entity_ids.append(entity_id)

    def _sp_certs(self, sp_entity_id: str, use: str) -> list[str]:
        try:
            return [cert for _name, cert in self.server.metadata.certs(sp_entity_id, "spsso", use)]
        except KeyError:
            return []

    # -- receiving an AuthnRequest ----------------------------------------------------------------

    def receive(self, redirect_url: str, *, verify: bool = True) -> ReceivedRequest:
        """Parse an HTTP-Redirect AuthnRequest URL and, unless ``verify=False``, check it like a real IdP.

        The query signature is verified over the raw URL-encoded octets as received (SAML bindings
        3.4.4.1), with RSA-SHA256 only, against the SP's signing certificates from metadata (any of them,
        DP 2.1.1.2). The redirect target and ``Destination`` must be this IdP's SSO URL (DP 5.4.1), and
        an explicit ``AssertionConsumerServiceURL`` must be one of the SP's POST ACS URLs, compared
        exactly (DP 5.4.2).
        """
        parts = urlsplit(redirect_url)
        raw: dict[str, str] = {}
        for pair in parts.query.split("&"):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            if key in raw:
                raise PeerRejected(f"query parameter {key} twice")
            raw[key] = value
        if "SAMLRequest" not in raw:
            raise PeerRejected("no SAMLRequest in the redirect URL")
        values = {key: unquote_plus(value) for key, value in raw.items()}

        inflater = zlib.decompressobj(-15)
        xml_bytes = inflater.decompress(base64.b64decode(values["SAMLRequest"]), _REDIRECT_MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise PeerRejected("SAMLRequest inflates beyond the peer's limit")
        raw_xml = xml_bytes.decode("utf-8")
        root = _parse(xml_bytes)
        if root.tag != _qn(NS_SAMLP, "AuthnRequest"):
            raise PeerRejected(f"not an AuthnRequest: {root.tag}")

        issuer_el = root.find("saml:Issuer", NSMAP)
        issuer = (issuer_el.text or "").strip() if issuer_el is not None else ""
        destination = root.get("Destination", "")
        sig_alg = values.get("SigAlg")

        verified = False
        if verify:
            if issuer not in self.sp_entity_ids:
                raise PeerRejected(f"AuthnRequest from an SP not in metadata: {issuer!r}")
            if "Signature" not in raw or sig_alg is None:
                raise PeerRejected("unsigned AuthnRequest; this IdP has WantAuthnRequestsSigned (DP 5.2)")
            if sig_alg != SIG_RSA_SHA256:
                raise PeerRejected(f"SigAlg {sig_alg!r} is not rsa-sha256")
            signed = "&".join(f"{key}={raw[key]}" for key in ("SAMLRequest", "RelayState", "SigAlg") if key in raw)
            self._verify_query_signature(issuer, signed.encode("ascii"), base64.b64decode(values["Signature"]))
            verified = True
            target = f"{parts.scheme}://{parts.netloc}{parts.path}"
            if target != self.sso_url:
                raise PeerRejected(f"request sent to {target!r}, not this IdP's SSO URL")
            if destination != self.sso_url:
                raise PeerRejected(f"Destination {destination!r} is not this IdP's SSO URL (DP 5.4.1)")

        acs_url = root.get("AssertionConsumerServiceURL")
        acs_in_request = acs_url is not None
        if acs_url is None:
            acs_url = self._default_acs(issuer) if issuer in self.sp_entity_ids else ""
        elif verify and acs_url not in self._post_acs_urls(issuer):
            raise PeerRejected(f"AssertionConsumerServiceURL {acs_url!r} not in the SP's metadata (DP 5.4.2)")

        requested = root.find("samlp:RequestedAuthnContext", NSMAP)
        loas: tuple[str, ...] = ()
        comparison = None
        if requested is not None:
            loas = tuple((el.text or "").strip() for el in requested.findall("saml:AuthnContextClassRef", NSMAP))
            comparison = requested.get("Comparison")

        extensions = root.find("samlp:Extensions", NSMAP)
        extensions_xml = None
        principal_selection: tuple[tuple[str, str], ...] = ()
        user_message: dict[str, str] = {}
        if extensions is not None:
            extensions_xml = "".join(etree.tostring(child, encoding="unicode") for child in extensions)
            principal_selection = tuple(
                (el.get("Name", ""), (el.text or "").strip())
                for el in extensions.findall("psc:PrincipalSelection/psc:MatchValue", NSMAP)
            )
            for message in extensions.iterfind(f"{{{NS_UMSG}}}UserMessage/{{{NS_UMSG}}}Message"):
                lang = message.get("{http://www.w3.org/XML/1998/namespace}lang", "")
                user_message[lang] = base64.b64decode(message.text or "").decode("utf-8")

        return ReceivedRequest(
            id=root.get("ID", ""),
            issuer=issuer,
            acs_url=acs_url,
            relay_state=values.get("RelayState"),
            requested_loas=loas,
            comparison=comparison,
            force_authn=_bool_attr(root.get("ForceAuthn")),
            is_passive=_bool_attr(root.get("IsPassive")),
            destination=destination,
            raw_xml=raw_xml,
            signature_verified=verified,
            extensions_xml=extensions_xml,
            sig_alg=sig_alg,
            issue_instant=root.get("IssueInstant"),
            acs_url_in_request=acs_in_request,
            principal_selection=principal_selection,
            user_message=user_message,
        )

    def _verify_query_signature(self, sp_entity_id: str, signed: bytes, signature: bytes) -> None:
        certs = self._sp_certs(sp_entity_id, "signing")
        if not certs:
            raise PeerRejected(f"no signing certificate for {sp_entity_id!r} in metadata")
        for body in certs:
            pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode("ascii")
            public_key = x509.load_pem_x509_certificate(pem).public_key()
            if not isinstance(public_key, rsa.RSAPublicKey):
                continue
            try:
                public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                continue
            return
        raise PeerRejected("AuthnRequest query signature does not verify with any SP signing certificate")

    def _post_acs_urls(self, sp_entity_id: str) -> list[str]:
        try:
            services = self.server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)
        except KeyError:
            return []
        return [service["location"] for service in services]

    def _default_acs(self, sp_entity_id: str) -> str:
        """The isDefault, else lowest-index, POST ACS (DP 5.4.2)."""
        try:
            services = self.server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)
        except KeyError:
            return ""
        if not services:
            return ""
        defaults = [s for s in services if str(s.get("is_default", "")).lower() in ("true", "1")]
        if defaults:
            return str(defaults[0]["location"])
        return str(min(services, key=lambda s: int(s.get("index", 0) or 0))["location"])

    # -- responding -------------------------------------------------------------------------------

    def choose_loa(self, request: ReceivedRequest) -> str:
        """The first requested LoA this IdP is certified for, else its first LoA (the IdP default)."""
        for loa in request.requested_loas:
            if loa in self.loas:
                return loa
        return self.loas[0]

    def respond(
        self,
        request: ReceivedRequest,
        *,
        attributes: Mapping[str, Sequence[str]] | None = None,
        loa: str | None = None,
        name_id: str | None = None,
        name_id_format: str = NAMEID_PERSISTENT,
        status: str | None = None,
        sub_status: str | None = None,
        status_message: str | None = None,
        sign_response: bool = True,
        sign_assertion: bool = False,
        encrypt: bool = True,
        mutate_assertion: Callable[[etree._Element], None] | None = None,
        mutate_response: Callable[[etree._Element], None] | None = None,
        signing_key: KeyPair | None = None,
        audience: str | None = None,
        recipient: str | None = None,
        destination: str | None = None,
        in_response_to: str | EllipsisType | None = ...,
        issuer: str | None = None,
        assertion_issuer: str | None = None,
        not_on_or_after: datetime.datetime | None = None,
        confirmation_not_on_or_after: datetime.datetime | None = None,
        not_before: datetime.datetime | None = None,
        issue_instant: datetime.datetime | None = None,
        authn_instant: datetime.datetime | None = None,
        address: str | None = None,
        authenticating_authority: str | None = None,
        sign_alg: str = SIG_RSA_SHA256,
        digest_alg: str = DIGEST_SHA256,
        encryption_cert_pem: bytes | None = None,
        block_alg: str = AES256_CBC,
        key_transport: str = RSA_OAEP_MGF1P,
        acs_url: str | None = None,
    ) -> PostedResponse:
        """Answer ``request`` the way a Swedish eID Framework IdP does (DP 6.1-6.4).

        Defaults give a valid response: ``Issuer`` this IdP, ``Destination``/``Recipient`` the request's
        ACS URL, ``InResponseTo`` the request ID (``None`` omits it: an unsolicited response), ``Audience``
        the requesting SP, 5 minutes of validity, the LoA from :meth:`choose_loa`, the
        :data:`DEFAULT_ATTRIBUTES` person. Order: build the Assertion, ``mutate_assertion``, sign it if
        asked, encrypt it to the SP's encryption certificate, ``mutate_response``, sign the Response. So a
        mutation made before a signature is covered by it, and one made after it breaks it. To *omit* an
        element or attribute the defaults always write, delete it in a mutate hook.

        With ``status`` other than Success the Response carries that status (``sub_status`` as the nested
        second-level code) and no assertion, as DP 6.4 requires, and is still signed.
        """
        now = datetime.datetime.now(datetime.UTC)
        issue_instant = issue_instant or now
        issuer = issuer or self.entity_id
        sp_entity_id = request.issuer
        acs_url = acs_url or request.acs_url
        irt = request.id if isinstance(in_response_to, EllipsisType) else in_response_to

        response = samlp.Response(
            id=new_id(),
            version="2.0",
            issue_instant=saml_time(issue_instant),
            destination=destination or acs_url,
            in_response_to=irt,
            issuer=saml.Issuer(text=issuer, format=NAMEID_ENTITY),
        )
        if status is not None and status != STATUS_SUCCESS:
            inner = samlp.StatusCode(value=sub_status) if sub_status else None
            response.status = samlp.Status(
                status_code=samlp.StatusCode(value=status, status_code=inner),
                status_message=samlp.StatusMessage(text=status_message) if status_message else None,
            )
            response_el = _parse(str(response))
            return self._finish(
                response_el,
                request,
                acs_url,
                None,
                mutate_response,
                sign_response,
                signing_key,
                sign_alg,
                digest_alg,
            )

        response.status = samlp.Status(status_code=samlp.StatusCode(value=STATUS_SUCCESS))
        not_on_or_after = not_on_or_after or now + datetime.timedelta(minutes=5)
        assertion = self._assertion(
            sp_entity_id=sp_entity_id,
            issuer=assertion_issuer or issuer,
            issue_instant=issue_instant,
            authn_instant=authn_instant or now,
            loa=loa or self.choose_loa(request),
            attributes=DEFAULT_ATTRIBUTES if attributes is None else attributes,
            name_id=name_id or new_id(),
            name_id_format=name_id_format,
            in_response_to=irt,
            recipient=recipient or acs_url,
            audience=audience or sp_entity_id,
            not_before=not_before or now,
            not_on_or_after=not_on_or_after,
            confirmation_not_on_or_after=confirmation_not_on_or_after or not_on_or_after,
            address=address,
            authenticating_authority=authenticating_authority,
        )
        assertion_el = _parse(str(assertion))
        if mutate_assertion is not None:
            mutate_assertion(assertion_el)
        if sign_assertion:
            assertion_xml = self._sign(assertion_el, "Assertion", signing_key, sign_alg, digest_alg)
            assertion_el = _parse(assertion_xml)
        else:
            assertion_xml = etree.tostring(assertion_el, encoding="unicode")

        response_el = _parse(str(response))
        parent = etree.SubElement(response_el, _qn(NS_SAML, "EncryptedAssertion")) if encrypt else response_el
        response_el = _splice(response_el, parent, assertion_xml)
        if encrypt:
            cert_pem = encryption_cert_pem or self._sp_encryption_cert(sp_entity_id)
            response_el = self._encrypt(response_el, cert_pem, block_alg, key_transport)
        return self._finish(
            response_el,
            request,
            acs_url,
            (assertion_el.get("ID"), assertion_xml),
            mutate_response,
            sign_response,
            signing_key,
            sign_alg,
            digest_alg,
        )

    def _assertion(
        self,
        *,
        sp_entity_id: str,
        issuer: str,
        issue_instant: datetime.datetime,
        authn_instant: datetime.datetime,
        loa: str,
        attributes: Mapping[str, Sequence[str]],
        name_id: str,
        name_id_format: str,
        in_response_to: str | None,
        recipient: str,
        audience: str,
        not_before: datetime.datetime,
        not_on_or_after: datetime.datetime,
        confirmation_not_on_or_after: datetime.datetime,
        address: str | None,
        authenticating_authority: str | None,
    ) -> saml.Assertion:
        """The Assertion content DP 6.2 lists, built with pysaml2's own SAML classes."""
        saml_attributes = []
        for key, values in attributes.items():
            name = attribute_name(key)
            saml_attributes.append(
                saml.Attribute(
                    name=name,
                    name_format=ATTRNAME_FORMAT_URI,
                    friendly_name=_FRIENDLY_NAMES.get(name),
                    attribute_value=[saml.AttributeValue(text=str(value)) for value in values],
                )
            )
        authn_context = saml.AuthnContext(authn_context_class_ref=saml.AuthnContextClassRef(text=loa))
        if authenticating_authority:
            authn_context.authenticating_authority = [saml.AuthenticatingAuthority(text=authenticating_authority)]
        return saml.Assertion(
            id=new_id(),
            version="2.0",
            issue_instant=saml_time(issue_instant),
            issuer=saml.Issuer(text=issuer, format=NAMEID_ENTITY),
            subject=saml.Subject(
                name_id=saml.NameID(
                    text=name_id,
                    format=name_id_format,
                    name_qualifier=self.entity_id,
                    sp_name_qualifier=sp_entity_id,
                ),
                subject_confirmation=[
                    saml.SubjectConfirmation(
                        method=CM_BEARER,
                        subject_confirmation_data=saml.SubjectConfirmationData(
                            in_response_to=in_response_to,
                            recipient=recipient,
                            not_on_or_after=saml_time(confirmation_not_on_or_after),
                            address=address,
                        ),
                    )
                ],
            ),
            conditions=saml.Conditions(
                not_before=saml_time(not_before),
                not_on_or_after=saml_time(not_on_or_after),
                audience_restriction=[saml.AudienceRestriction(audience=[saml.Audience(text=audience)])],
            ),
            authn_statement=[
                saml.AuthnStatement(
                    authn_instant=saml_time(authn_instant),
                    session_index=new_id(),
                    authn_context=authn_context,
                )
            ],
            attribute_statement=[saml.AttributeStatement(attribute=saml_attributes)] if saml_attributes else [],
        )

    def _sp_encryption_cert(self, sp_entity_id: str) -> bytes:
        certs = self._sp_certs(sp_entity_id, "encryption")
        if not certs:
            raise PeerRejected(f"no encryption certificate for {sp_entity_id!r} in metadata")
        # Encryption-key rollover publishes only the new key (DP 2.1.1.2): use the last one listed.
        return f"-----BEGIN CERTIFICATE-----\n{certs[-1]}\n-----END CERTIFICATE-----\n".encode("ascii")

    def _encrypt(
        self, response_el: etree._Element, cert_pem: bytes, block_alg: str, key_transport: str = RSA_OAEP_MGF1P
    ) -> etree._Element:
        """Replace the Assertion under EncryptedAssertion by EncryptedData, with the xmlsec1 binary.

        The template is pysaml2's, with the key transport it defaults to (rsa-oaep-mgf1p, SHA-1 OAEP
        digest: the framework's mandatory one) and an AES block cipher instead of its 3DES default.
        """
        if block_alg not in _SESSION_KEY:
            raise ValueError(f"unsupported block encryption algorithm {block_alg}")
        template = pre_encryption_part(msg_enc=block_alg, key_enc=key_transport, encrypt_cert=cert_body(cert_pem))
        encrypted = self.server.sec.crypto.encrypt_assertion(
            etree.tostring(response_el, encoding="unicode"),
            str(self._cert_file(cert_pem)),
            str(template),
            key_type=_SESSION_KEY[block_alg],
            node_xpath=ASSERT_XPATH,
        )
        return _parse(encrypted)

    def _sign(
        self,
        element: etree._Element,
        kind: str,
        signing_key: KeyPair | None,
        sign_alg: str,
        digest_alg: str,
    ) -> str:
        """Enveloped signature (exc-c14n, ``sign_alg``/``digest_alg``) by the xmlsec1 binary.

        The template goes right after ``Issuer``, where the schema puts ``ds:Signature`` in both
        Response and Assertion, and carries the signer's certificate in KeyInfo as real IdPs do: a
        relying party must ignore it and use metadata only, and the wrong-key tests rely on it being there.
        """
        pair = signing_key or self.key_pair
        element_id = element.get("ID", "")
        template = pre_signature_part(
            ident=element_id, public_key=cert_body(pair.cert_pem), sign_alg=sign_alg, digest_alg=digest_alg
        )
        signature_el = _parse(str(template))
        issuer_el = element.find("saml:Issuer", NSMAP)
        position = element.index(issuer_el) + 1 if issuer_el is not None else 0
        element.insert(position, signature_el)
        node_name = f"{NS_SAMLP}:Response" if kind == "Response" else f"{NS_SAML}:Assertion"
        return self.server.sec.sign_statement(
            etree.tostring(element, encoding="unicode"),
            node_name,
            key_file=str(self._key_file(pair)),
            node_id=element_id,
        )

    def _finish(
        self,
        response_el: etree._Element,
        request: ReceivedRequest,
        acs_url: str,
        assertion: tuple[str | None, str] | None,
        mutate_response: Callable[[etree._Element], None] | None,
        sign_response: bool,
        signing_key: KeyPair | None,
        sign_alg: str,
        digest_alg: str,
    ) -> PostedResponse:
        if mutate_response is not None:
            mutate_response(response_el)
        response_id = response_el.get("ID", "")
        if sign_response:
            xml = self._sign(response_el, "Response", signing_key, sign_alg, digest_alg)
        else:
            xml = etree.tostring(response_el, encoding="unicode")
        return PostedResponse(
            acs_url=acs_url,
            saml_response=base64.b64encode(xml.encode("utf-8")).decode("ascii"),
            relay_state=request.relay_state,
            response_id=response_id,
            assertion_id=assertion[0] if assertion else None,
            assertion_xml=assertion[1] if assertion else None,
        )
