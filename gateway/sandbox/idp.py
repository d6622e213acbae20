"""The sandbox e-ID provider: a built-in SAML IdP that answers like a Swedish eID Framework IdP.

In ``environment: development`` a developer needs a provider to log in with, without a federation,
a test BankID or network access. This IdP runs inside the gateway process on pysaml2's ``Server``,
with every XML signature and the assertion encryption done in-process by
`gateway.saml.xmlsec_backend` (no xmlsec1 binary). It is strict where a real provider is, so the
gateway's SP is exercised the way production exercises it:

* AuthnRequests must arrive over HTTP-Redirect with a query signature (saml-bindings 3.4.4.1) that
  verifies with a signing key from the SP's metadata, by RSA with SHA-256 or stronger (DP 5.2,
  section 8); ``Destination`` must be this IdP's SSO URL (DP 5.4.1) and an explicit
  ``AssertionConsumerServiceURL`` one of the SP's POST endpoints in metadata (DP 5.4.2);
* Responses are signed (RSA-SHA256, SHA-256 digests) and carry one ``EncryptedAssertion``
  (AES-256-GCM, RSA-OAEP) to the SP's encryption certificate from metadata (DP 6.1, 6.2): a
  persistent NameID, bearer confirmation with ``InResponseTo``/``Recipient``/``NotOnOrAfter``,
  ``Conditions`` with the audience, the LoA as ``AuthnContextClassRef`` and the pnr-01 attributes
  with ``NameFormat`` uri (ATTR 2, 3.1);
* failures are answered with the framework's status codes (DP 6.4), such as
  ``http://id.elegnamnden.se/status/1.0/cancel``.

The assertion is built here from pysaml2's SAML classes rather than through
``Server.create_authn_response``, whose attribute policy and converters know nothing of the Swedish
``urn:oid`` names and would drop or rename them. Everything expensive (configuration, keys, metadata)
is loaded once; a response costs one RSA signature and one RSA encryption.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import secrets
import warnings
import zlib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Final
from xml.etree.ElementTree import ParseError

from cryptography.utils import CryptographyDeprecationWarning
from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2 import SAMLError
from saml2 import class_name
from saml2 import saml
from saml2 import samlp
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.metadata import metadata_tostring_fix
from saml2.s_utils import OtherError
from saml2.s_utils import SamlException
from saml2.s_utils import UnravelError
from saml2.s_utils import VersionMismatch
from saml2.saml import NAME_FORMAT_URI
from saml2.saml import NAMEID_FORMAT_ENTITY
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.saml import SCM_BEARER
from saml2.samlp import STATUS_SUCCESS
from saml2.sigver import ASSERT_XPATH
from saml2.sigver import get_pem_wrapped_unwrapped
from saml2.sigver import make_temp
from saml2.sigver import pre_encrypt_assertion
from saml2.sigver import pre_signature_part
from saml2.validate import NotValid
from saml2.validate import valid_instance
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA256
from saml2.xmldsig import SIG_RSA_SHA384
from saml2.xmldsig import SIG_RSA_SHA512

from gateway.mapping.loa import LOA3
from gateway.saml.xmlsec_backend import use_python_xmlsec
from gateway.sandbox.identities import IDENTITIES
from gateway.sandbox.identities import TestIdentity

with warnings.catch_warnings():
    # pysaml2's saml2.server imports a cipher mode from the module path cryptography deprecated.
    warnings.filterwarnings("ignore", message="CFB has been moved", category=CryptographyDeprecationWarning)
    from saml2.server import Server

IDP_PATH: Final = "/sandbox/idp"
SSO_PATH: Final = IDP_PATH + "/sso"

ASSURANCE_CERTIFICATION: Final = "urn:oasis:names:tc:SAML:attribute:assurance-certification"

STATUS_REQUESTER: Final = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_NO_AUTHN_CONTEXT: Final = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
STATUS_CANCEL: Final = "http://id.elegnamnden.se/status/1.0/cancel"

QUERY_SIGNATURE_ALGORITHMS: Final = frozenset({SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512})
"""DP section 8: RSA with SHA-256 or stronger; pysaml2 alone would also accept RSA-SHA1."""

RESPONSE_LIFETIME: Final = datetime.timedelta(minutes=5)
"""How long the assertion and its bearer confirmation are valid: long enough to click a button."""

MAX_SAML_REQUEST_CHARS: Final = 16 * 1024
MAX_INFLATED_BYTES: Final = 128 * 1024
"""pysaml2 inflates Redirect messages without a bound; an AuthnRequest is a few kB."""

FRIENDLY_NAMES: Final[Mapping[str, str]] = {
    "urn:oid:2.5.4.42": "givenName",
    "urn:oid:2.5.4.4": "sn",
    "urn:oid:2.16.840.1.113730.3.1.241": "displayName",
    "urn:oid:1.2.752.29.4.13": "personalIdentityNumber",
    "urn:oid:1.3.6.1.5.5.7.9.1": "dateOfBirth",
}
"""FriendlyName for the pnr-01 attributes the test identities carry (ATTR 3.1); informative only."""

_PARSE_ERRORS: Final = (
    SAMLError,
    SamlException,
    VersionMismatch,
    OtherError,
    NotValid,
    UnravelError,
    ParseError,
    etree.LxmlError,
    zlib.error,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
)
"""What pysaml2 raises on a malformed, unsigned or wrongly signed request (many are bare Exceptions)."""


class SandboxRequestError(Exception):
    """The sandbox refuses an AuthnRequest; the text is a fixed reason, safe to log."""


@dataclass(frozen=True, slots=True)
class SandboxRequest:
    """A verified AuthnRequest: what the sandbox needs to answer it."""

    id: str
    issuer: str
    acs_url: str
    relay_state: str | None
    requested_loas: tuple[str, ...]
    force_authn: bool
    loa: str | None
    """The LoA the sandbox will assert: the first requested one it offers, or None if it offers none."""


@dataclass(frozen=True, slots=True)
class SandboxResponse:
    """A Response ready for the HTTP-POST binding (saml-bindings 3.5): where to post, and the fields."""

    acs_url: str
    saml_response: str
    relay_state: str | None


@dataclass(frozen=True, slots=True)
class SandboxLogin:
    """One test identity and the pre-made response that logs it in."""

    identity: TestIdentity
    response: SandboxResponse


@dataclass(frozen=True, slots=True)
class SandboxOffer:
    """Everything the sandbox page shows for one request: a login per identity, and a way back.

    ``decline`` is the cancel response, or, when the sandbox offers none of the requested LoAs (and
    ``logins`` is empty), the NoAuthnContext error the framework prescribes (DP 6.4).
    """

    request: SandboxRequest
    logins: tuple[SandboxLogin, ...]
    decline: SandboxResponse


def _saml_time(moment: datetime.datetime) -> str:
    """xs:dateTime in UTC with milliseconds, as Swedish IdPs write it."""
    moment = moment.astimezone(datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _new_id() -> str:
    """A fresh SAML ID: 160 random bits, prefixed so it is an NCName (saml-core 1.3.4)."""
    return "_" + secrets.token_hex(20)


def _check_inflated_size(saml_request: str) -> None:
    """Refuse a SAMLRequest that is too long or inflates beyond a few kB of XML."""
    if len(saml_request) > MAX_SAML_REQUEST_CHARS:
        raise SandboxRequestError("SAMLRequest too long")
    try:
        deflated = base64.b64decode(saml_request, validate=False)
        inflater = zlib.decompressobj(-15)
        inflater.decompress(deflated, MAX_INFLATED_BYTES)
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise SandboxRequestError("SAMLRequest is not deflated base64") from exc
    if inflater.unconsumed_tail:
        raise SandboxRequestError("SAMLRequest inflates beyond the limit")


class SandboxIdP:
    """The sandbox SAML IdP; build it once at start, then :meth:`trust_sp` with the gateway SP's metadata."""

    def __init__(
        self,
        *,
        base_url: str,
        key_path: Path,
        cert_path: Path,
        loas: Sequence[str] = (LOA3,),
    ) -> None:
        if not loas:
            raise ValueError("the sandbox IdP must offer at least one LoA")
        self.entity_id = base_url + IDP_PATH
        self.sso_url = base_url + SSO_PATH
        self.loas = tuple(loas)
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "name": "Sandbox e-ID",
                # As for the gateway's SP: "XMLSecurity" keeps pysaml2 from looking for the xmlsec1
                # binary, and use_python_xmlsec replaces that backend before any use.
                "crypto_backend": "XMLSecurity",
                "key_file": str(key_path),
                "cert_file": str(cert_path),
                "metadata": {},
                "only_use_keys_in_metadata": True,
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
                "accepted_time_diff": 60,
                "entity_attributes": [
                    {"name": ASSURANCE_CERTIFICATION, "format": NAME_FORMAT_URI, "values": list(self.loas)}
                ],
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]},
                        "want_authn_requests_signed": True,
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    }
                },
            }
        )
        self._server = Server(config=config)
        self._sp_metadata_key: int | None = None
        use_python_xmlsec(self._server)
        self._metadata_xml = self._build_metadata()

    # -- metadata ---------------------------------------------------------------------------------

    def _build_metadata(self) -> str:
        descriptor = entity_descriptor(self._server.config)
        valid_instance(descriptor)
        text = metadata_tostring_fix(descriptor, {}, str(descriptor))
        return text if isinstance(text, str) else text.decode("utf-8")

    def metadata_xml(self) -> str:
        """The IdP's EntityDescriptor, which the gateway's SP trusts as it would a federation entry."""
        return self._metadata_xml

    def trust_sp(self, sp_metadata_xml: str) -> None:
        """Trust the SP (the gateway) described by ``sp_metadata_xml``: its keys and its ACS endpoints.

        Called after construction because the SP's metadata exists only once the SP is built, and the
        SP in turn needs this IdP's metadata.

        Calling it again (after the SP rolled its keys over) replaces what it trusted before, as a
        real IdP replaces an entity on a metadata refresh.
        """
        metadata = self._server.metadata
        previous = self._sp_metadata_key
        metadata.load("inline", sp_metadata_xml)
        self._sp_metadata_key = metadata.ii  # pysaml2 numbers inline sources
        if previous is not None:
            metadata.metadata.pop(previous, None)

    # -- requests ---------------------------------------------------------------------------------

    def receive(self, args: Mapping[str, str]) -> SandboxRequest:
        """Parse and verify an HTTP-Redirect AuthnRequest from its query parameters.

        Raises :class:`SandboxRequestError` unless the query signature verifies against the SP's
        metadata (covering SAMLRequest, RelayState and SigAlg, saml-bindings 3.4.4.1), the request is
        addressed to this IdP and its ACS URL is one the SP publishes.
        """
        saml_request = args.get("SAMLRequest")
        sig_alg = args.get("SigAlg")
        signature = args.get("Signature")
        relay_state = args.get("RelayState")
        if not saml_request:
            raise SandboxRequestError("no SAMLRequest")
        if not sig_alg or not signature:
            raise SandboxRequestError("unsigned AuthnRequest; this IdP wants them signed (DP 5.2)")
        if sig_alg not in QUERY_SIGNATURE_ALGORITHMS:
            raise SandboxRequestError("SigAlg not allowed (DP section 8)")
        _check_inflated_size(saml_request)
        try:
            parsed = self._server.parse_authn_request(
                saml_request,
                BINDING_HTTP_REDIRECT,
                relay_state=relay_state,
                sigalg=sig_alg,
                signature=signature,
            )
        except _PARSE_ERRORS as exc:
            raise SandboxRequestError(f"AuthnRequest refused by pysaml2: {type(exc).__name__}") from None
        if parsed is None or parsed.message is None:
            raise SandboxRequestError("AuthnRequest refused by pysaml2")
        message: samlp.AuthnRequest = parsed.message
        if message.destination != self.sso_url:
            raise SandboxRequestError("Destination is not this IdP's SSO URL (DP 5.4.1)")
        issuer = (message.issuer.text or "").strip() if message.issuer is not None else ""
        requested = message.requested_authn_context
        requested_loas = (
            tuple((ref.text or "").strip() for ref in requested.authn_context_class_ref) if requested else ()
        )
        return SandboxRequest(
            id=message.id,
            issuer=issuer,
            acs_url=self._acs_url(issuer, message.assertion_consumer_service_url),
            relay_state=relay_state,
            requested_loas=requested_loas,
            force_authn=str(message.force_authn).lower() in ("true", "1"),
            loa=self._choose_loa(requested_loas),
        )

    def _acs_url(self, sp_entity_id: str, requested: str | None) -> str:
        """The SP's POST ACS: the one requested if the metadata lists it, else its default (DP 5.4.2)."""
        try:
            services = self._server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)
        except KeyError:
            services = []
        locations = [str(service["location"]) for service in services]
        if requested is not None:
            if requested not in locations:
                raise SandboxRequestError("AssertionConsumerServiceURL is not in the SP's metadata (DP 5.4.2)")
            return requested
        if not services:
            raise SandboxRequestError("the SP's metadata has no HTTP-POST AssertionConsumerService")
        defaults = [s for s in services if str(s.get("is_default", "")).lower() in ("true", "1")]
        chosen = defaults[0] if defaults else min(services, key=lambda s: int(s.get("index") or 0))
        return str(chosen["location"])

    def _choose_loa(self, requested_loas: tuple[str, ...]) -> str | None:
        """The first requested LoA this IdP offers (DP 5.3.1 exact matching); its first without a request."""
        if not requested_loas:
            return self.loas[0]
        return next((loa for loa in requested_loas if loa in self.loas), None)

    # -- responses --------------------------------------------------------------------------------

    def offer(self, args: Mapping[str, str]) -> SandboxOffer:
        """Verify a request and pre-make the answers the sandbox page offers: one per test identity."""
        request = self.receive(args)
        if request.loa is None:
            return SandboxOffer(request, (), self.error(request, STATUS_NO_AUTHN_CONTEXT))
        logins = tuple(SandboxLogin(identity, self.respond(request, identity)) for identity in IDENTITIES)
        return SandboxOffer(request, logins, self.cancel(request))

    def respond(self, request: SandboxRequest, identity: TestIdentity) -> SandboxResponse:
        """A signed Response with an encrypted assertion that ``identity`` logged in at ``request.loa``."""
        if request.loa is None:
            raise ValueError("the sandbox offers none of the requested LoAs: answer with error() instead")
        now = datetime.datetime.now(datetime.UTC)
        response = self._response(request, now, samlp.StatusCode(value=STATUS_SUCCESS))
        response.assertion = self._assertion(request, identity, now)
        response = pre_encrypt_assertion(response)
        return self._finish(request, response, encrypt=True)

    def cancel(self, request: SandboxRequest) -> SandboxResponse:
        """A signed error Response saying the citizen cancelled (DP 6.4: Requester / cancel)."""
        return self.error(request, STATUS_CANCEL)

    def error(self, request: SandboxRequest, sub_status: str) -> SandboxResponse:
        """A signed error Response with top-level Requester and ``sub_status`` (DP 6.4), no assertion."""
        now = datetime.datetime.now(datetime.UTC)
        status = samlp.StatusCode(value=STATUS_REQUESTER, status_code=samlp.StatusCode(value=sub_status))
        return self._finish(request, self._response(request, now, status), encrypt=False)

    def _response(
        self, request: SandboxRequest, now: datetime.datetime, status_code: samlp.StatusCode
    ) -> samlp.Response:
        response = samlp.Response(
            id=_new_id(),
            version="2.0",
            issue_instant=_saml_time(now),
            destination=request.acs_url,
            in_response_to=request.id,
            issuer=saml.Issuer(text=self.entity_id, format=NAMEID_FORMAT_ENTITY),
            status=samlp.Status(status_code=status_code),
        )
        response.signature = pre_signature_part(
            ident=response.id,
            public_key=self._server.sec.my_cert,
            identifier=1,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        return response

    def _assertion(self, request: SandboxRequest, identity: TestIdentity, now: datetime.datetime) -> saml.Assertion:
        """The assertion DP 6.2 describes, with the identity's pnr-01 attributes."""
        until = _saml_time(now + RESPONSE_LIFETIME)
        attributes = [
            saml.Attribute(
                name=name,
                name_format=NAME_FORMAT_URI,
                friendly_name=FRIENDLY_NAMES.get(name),
                attribute_value=[saml.AttributeValue(text=value) for value in values],
            )
            for name, values in identity.attributes().items()
        ]
        return saml.Assertion(
            id=_new_id(),
            version="2.0",
            issue_instant=_saml_time(now),
            issuer=saml.Issuer(text=self.entity_id, format=NAMEID_FORMAT_ENTITY),
            subject=saml.Subject(
                name_id=saml.NameID(
                    text=self._persistent_id(request.issuer, identity),
                    format=NAMEID_FORMAT_PERSISTENT,
                    name_qualifier=self.entity_id,
                    sp_name_qualifier=request.issuer,
                ),
                subject_confirmation=[
                    saml.SubjectConfirmation(
                        method=SCM_BEARER,
                        subject_confirmation_data=saml.SubjectConfirmationData(
                            in_response_to=request.id,
                            recipient=request.acs_url,
                            not_on_or_after=until,
                        ),
                    )
                ],
            ),
            conditions=saml.Conditions(
                not_before=_saml_time(now),
                not_on_or_after=until,
                audience_restriction=[saml.AudienceRestriction(audience=[saml.Audience(text=request.issuer)])],
            ),
            authn_statement=[
                saml.AuthnStatement(
                    authn_instant=_saml_time(now),
                    session_index=_new_id(),
                    authn_context=saml.AuthnContext(
                        authn_context_class_ref=saml.AuthnContextClassRef(text=request.loa)
                    ),
                )
            ],
            attribute_statement=[saml.AttributeStatement(attribute=attributes)],
        )

    def _persistent_id(self, sp_entity_id: str, identity: TestIdentity) -> str:
        """A persistent NameID, stable per identity and SP and opaque (saml-core 8.3.7).

        A plain hash is enough here: the identities are public test data, so there is nothing to hide.
        """
        seed = f"{self.entity_id}\n{sp_entity_id}\n{identity.personal_identity_number}"
        return hashlib.sha256(seed.encode("utf-8")).hexdigest()

    def _finish(self, request: SandboxRequest, response: samlp.Response, *, encrypt: bool) -> SandboxResponse:
        """Encrypt the assertion (if any) to the SP, then sign the Response over the result."""
        sec = self._server.sec
        xml: Any = response
        if encrypt:
            cert_file = self._sp_encryption_cert_file(request.issuer)
            try:
                # The backend picks the algorithms itself (AES-256-GCM, RSA-OAEP), so no template.
                xml = sec.encrypt_assertion(str(response), cert_file.name, None, node_xpath=ASSERT_XPATH)
            finally:
                cert_file.close()
        signed = sec.sign_statement(str(xml), node_name=class_name(response), node_id=response.id)
        return SandboxResponse(
            acs_url=request.acs_url,
            saml_response=base64.b64encode(signed.encode("utf-8")).decode("ascii"),
            relay_state=request.relay_state,
        )

    def _sp_encryption_cert_file(self, sp_entity_id: str) -> Any:
        """A temp file with the SP's first encryption certificate from metadata (the backend reads files)."""
        try:
            certs = self._server.metadata.certs(sp_entity_id, "spsso", "encryption")
        except KeyError:
            certs = []
        if not certs:
            raise SandboxRequestError("the SP's metadata has no encryption certificate (DP 2.1.2)")
        wrapped, _ = get_pem_wrapped_unwrapped(certs[0][1])
        return make_temp(wrapped.encode("ascii"), suffix=".pem", decode=False, delete_tmpfiles=True)
