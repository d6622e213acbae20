"""A stock pysaml2 SP verifying and decrypting with /usr/bin/xmlsec1: an independent counterpart for testing IdPs.

The tests' peer IdP and the gateway's sandbox IdP are each checked against it, so a response they make is
one another implementation accepts, not one the gateway's own backend agrees with itself about.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2 import saml
from saml2 import samlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.response import AuthnResponse
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.trust.certs import KeyPair
from tests.peers.saml_idp import PostedResponse


class Xmlsec1SP:
    """An SP entity ``entity_id`` with its ACS at ``acs_url``, trusting only ``idp_metadata``."""

    def __init__(
        self,
        workdir: Path,
        idp_metadata: str,
        *,
        entity_id: str,
        acs_url: str,
        signing: KeyPair,
        encryption: KeyPair,
    ) -> None:
        files = {}
        for name, pem in (
            ("sign.key", signing.key_pem),
            ("sign.crt", signing.cert_pem),
            ("enc.key", encryption.key_pem),
            ("enc.crt", encryption.cert_pem),
        ):
            files[name] = workdir / name
            files[name].write_bytes(pem)
        self.acs_url = acs_url
        self.encryption_key_file = files["enc.key"]
        self.config = SPConfig()
        self.config.load(
            {
                "entityid": entity_id,
                "key_file": str(files["sign.key"]),
                "cert_file": str(files["sign.crt"]),
                "encryption_keypairs": [{"key_file": str(files["enc.key"]), "cert_file": str(files["enc.crt"])}],
                "crypto_backend": "xmlsec1",
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {"inline": [idp_metadata]},
                "allow_unknown_attributes": True,
                "accepted_time_diff": 60,
                "service": {
                    "sp": {
                        "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
                        "authn_requests_signed": True,
                        "want_response_signed": True,
                        "want_assertions_signed": False,
                        "allow_unsolicited": False,
                        "signing_algorithm": SIG_RSA_SHA256,
                        "digest_algorithm": DIGEST_SHA256,
                    }
                },
            }
        )
        self.client = Saml2Client(self.config)

    def metadata_xml(self) -> str:
        """SP metadata with a signing and an encryption KeyDescriptor, as pysaml2 writes it."""
        return str(entity_descriptor(self.config))

    def login_url(
        self,
        idp_entity_id: str,
        *,
        loas: tuple[str, ...],
        relay_state: str,
        sign: bool = True,
        sigalg: str = SIG_RSA_SHA256,
        **kwargs: object,
    ) -> tuple[str, str]:
        """A (signed) HTTP-Redirect AuthnRequest with RequestedAuthnContext and ForceAuthn: (request ID, URL)."""
        requested = samlp.RequestedAuthnContext(
            authn_context_class_ref=[saml.AuthnContextClassRef(text=loa) for loa in loas], comparison="exact"
        )
        request_id, info = self.client.prepare_for_authenticate(
            entityid=idp_entity_id,
            relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT,
            sign=sign,
            sigalg=sigalg,
            digest_alg=DIGEST_SHA256,
            requested_authn_context=requested,
            force_authn="true",
            **kwargs,
        )
        return request_id, dict(info["headers"])["Location"]

    def parse(self, posted: str | PostedResponse, request_id: str) -> AuthnResponse:
        """What the SP's ACS does with a POSTed SAMLResponse (InResponseTo checked against ``request_id``)."""
        saml_response = posted.saml_response if isinstance(posted, PostedResponse) else posted
        return self.client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: self.acs_url}
        )

    def decrypted(self, posted: PostedResponse) -> etree._Element:
        """The Response with its assertion decrypted by xmlsec1, to look at what the IdP really wrote."""
        plain = self.client.sec.crypto.decrypt(posted.xml, str(self.encryption_key_file))
        return etree.fromstring(plain.encode("utf-8"))
