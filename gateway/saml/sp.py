"""The gateway's SAML Service Provider: a pysaml2 client built from settings.

Built once at start (pysaml2 parses metadata and keys here, never per
request). XML signatures and decryption run in-process through
`gateway.saml.xmlsec_backend`; pysaml2 keeps its own checks on top. pysaml2's
per-process caches of authenticated people are disabled: state lives in the
shared store, and personal data must not linger in a worker's memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.saml import NAMEID_FORMAT_TRANSIENT
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.saml.xmlsec_backend import use_python_xmlsec
from gateway.trust.keystore import KeySet

ACS_PATH = "/saml/acs"
METADATA_PATH = "/saml/metadata"


class _NoPopulation:
    """Replaces pysaml2's in-memory cache of every person who logged in (its `Population`)."""

    def add_information_about_person(self, session_info: Any) -> None:
        """Keep nothing: identities go to the sealed store, not to process memory."""


class ServiceProvider:
    """One SP entity: its pysaml2 client, its endpoints and the metadata it trusts."""

    def __init__(
        self,
        *,
        entity_id: str,
        base_url: str,
        keys: KeySet,
        metadata_xml: Sequence[str],
        clock_skew: int,
        display_name: str = "e-ID gateway",
    ) -> None:
        self.entity_id = entity_id
        self.acs_url = base_url + ACS_PATH
        self.clock_skew = clock_skew
        signing = keys.active("saml-signing")
        encryption = keys.published("saml-encryption")
        config: dict[str, Any] = {
            "entityid": entity_id,
            "name": display_name,
            # "XMLSecurity" only keeps pysaml2 from looking for the xmlsec1 binary;
            # use_python_xmlsec replaces that backend before any use.
            "crypto_backend": "XMLSecurity",
            "key_file": str(signing.key_path),
            "cert_file": str(signing.cert_path),
            "encryption_keypairs": [{"key_file": str(k.key_path), "cert_file": str(k.cert_path)} for k in encryption],
            "metadata": {"inline": list(metadata_xml)},
            "accepted_time_diff": clock_skew,
            "only_use_keys_in_metadata": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "allow_unknown_attributes": True,
            "http_client_timeout": 10,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(self.acs_url, BINDING_HTTP_POST)]},
                    "authn_requests_signed": True,
                    "want_response_signed": True,
                    "want_assertions_signed": False,
                    "want_assertions_or_response_signed": True,
                    "allow_unsolicited": False,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
                    "name_id_format_allow_create": False,
                }
            },
        }
        sp_config = SPConfig()
        sp_config.load(config)
        self.client = Saml2Client(config=sp_config)
        use_python_xmlsec(self.client)
        self.client.users = _NoPopulation()

    def sso_redirect_url(self, provider_entity_id: str) -> str:
        """The provider's HTTP-Redirect SSO endpoint, from its trusted metadata."""
        services = self.client.metadata.single_sign_on_service(provider_entity_id, BINDING_HTTP_REDIRECT)
        if not services:
            raise LookupError(f"no HTTP-Redirect SingleSignOnService for {provider_entity_id} in metadata")
        return str(services[0]["location"])

    def knows(self, provider_entity_id: str) -> bool:
        """True when trusted metadata describes ``provider_entity_id`` as an IdP."""
        try:
            return bool(self.client.metadata.single_sign_on_service(provider_entity_id, BINDING_HTTP_REDIRECT))
        except KeyError:
            return False
