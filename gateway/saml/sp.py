"""The gateway's SAML Service Provider: a pysaml2 client built from settings, trusted metadata and keys.

Built at start and rebuilt, off the request path, when verified metadata or the gateway's keys
change (`gateway.trust.runtime` calls `install_metadata` and `install_keys`); requests only read
the current snapshot, which is replaced whole by one assignment, so a request never sees half of a
change and metadata is never parsed per request. pysaml2 holds the trusted metadata (endpoints and
keys by entity); responses are verified, decrypted and read by `gateway.saml.response_document`
with the keys this snapshot hands out. pysaml2's per-process cache of authenticated people is
disabled: state lives in the shared store, and personal data must not linger in a worker's memory.

Decryption tries the encryption key of every rollover stage by file name (active, next, previous),
read when a response arrives, so a key that moved between stages decrypts at once (DP 2.1.1.2:
keep decrypting with the old key until every peer has the new one).
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xmlsec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.mdstore import MetadataStore
from saml2.s_utils import UnknownSystemEntity
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.saml import NAMEID_FORMAT_TRANSIENT
from saml2.sigver import pem_format
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.saml.schema import saml_schema
from gateway.saml.xmlsec_backend import public_key
from gateway.saml.xmlsec_backend import use_python_xmlsec
from gateway.settings.schema import SpMetadataSettings
from gateway.trust.keystore import KeySet
from gateway.trust.keystore import key_file

ACS_PATH = "/saml/acs"
METADATA_PATH = "/saml/metadata"
# What the SP enforces, and so what its metadata declares (DP 2.1.2).
AUTHN_REQUESTS_SIGNED = True
WANT_ASSERTIONS_SIGNED = False
NAME_ID_FORMATS = (NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT)
_DECRYPTION_STAGES = ("active", "next", "previous")


class _NoPopulation:
    """Replaces pysaml2's in-memory cache of every person who logged in (its `Population`)."""

    def add_information_about_person(self, session_info: Any) -> None:
        """Keep nothing: identities go to the sealed store, not to process memory."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything built from one set of keys and metadata; replaced whole, never changed."""

    client: Saml2Client
    keys: KeySet
    signing_key: rsa.RSAPrivateKey
    decryption_key_files: tuple[str, ...]
    metadata_xml: tuple[str, ...]
    published: str
    provider_keys: dict[str, tuple[xmlsec.Key, ...]]
    """Each provider's signing keys from ``client.metadata``, loaded on first use (see `provider_signing_keys`)."""


def _rsa_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """The SAML signing key: RSA, since the framework's mandatory RSA algorithm is RSA-SHA256 (DP 8)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the saml-signing key must be an RSA key")
    return key


class ServiceProvider:
    """One SP entity: its pysaml2 client, its endpoints, the metadata it trusts and the metadata it publishes."""

    def __init__(
        self,
        *,
        entity_id: str,
        base_url: str,
        keys: KeySet,
        metadata_xml: Sequence[str],
        clock_skew: int,
        display_name: str = "e-ID gateway",
        metadata_info: SpMetadataSettings | None = None,
    ) -> None:
        self.entity_id = entity_id
        self.acs_url = base_url + ACS_PATH
        self.clock_skew = clock_skew
        self.display_name = display_name
        self.metadata_info = metadata_info or SpMetadataSettings()
        self._snapshot = self._build(keys, tuple(metadata_xml), ())

    @property
    def client(self) -> Saml2Client:
        """The current pysaml2 client; hold the returned object for the whole of one operation."""
        return self._snapshot.client

    @property
    def keys(self) -> KeySet:
        """The gateway keys the current snapshot was built from."""
        return self._snapshot.keys

    @property
    def signing_key(self) -> rsa.RSAPrivateKey:
        """The active ``saml-signing`` key, loaded once per snapshot: it signs every AuthnRequest."""
        return self._snapshot.signing_key

    @property
    def published_metadata(self) -> str:
        """The SP's own metadata document for these keys (signed), rendered once per snapshot."""
        return self._snapshot.published

    def install_metadata(self, metadata_xml: Sequence[str], expected_entities: Collection[str] = ()) -> None:
        """Trust exactly ``metadata_xml`` from now on (already verified by the caller).

        Raises ValueError, leaving the current snapshot in force, when pysaml2 does not load every
        entity in ``expected_entities``: pysaml2 skips a schema-invalid aggregate with only a log line,
        and a silently empty trust set must not replace a good one.
        """
        self._snapshot = self._build(self._snapshot.keys, tuple(metadata_xml), expected_entities)

    def install_keys(self, keys: KeySet) -> None:
        """Sign with and publish ``keys`` from now on."""
        current = self._snapshot
        self._snapshot = self._build(keys, current.metadata_xml, ())

    def _build(self, keys: KeySet, metadata_xml: tuple[str, ...], expected: Collection[str]) -> _Snapshot:
        sp_config = SPConfig()
        sp_config.load(self._config(keys))
        store = MetadataStore(sp_config.attribute_converters, sp_config, check_validity=True)
        try:
            for document in metadata_xml:
                store.load("inline", document)
        except Exception as exc:  # noqa: BLE001 - pysaml2 raises bare Exception subclasses on bad metadata
            raise ValueError(f"pysaml2 did not load the metadata: {type(exc).__name__}") from None
        loaded = set(store.keys())
        missing = [entity for entity in expected if entity not in loaded]
        if missing:
            raise ValueError(f"pysaml2 did not load {len(missing)} verified entities")
        sp_config.metadata = store
        client = Saml2Client(config=sp_config)
        use_python_xmlsec(client)
        saml_schema()  # compiled now: a broken schema set fails at start-up, not at the first response
        client.users = _NoPopulation()
        from gateway.saml.sp_metadata import render_sp_metadata

        published = render_sp_metadata(
            entity_id=self.entity_id,
            acs_url=self.acs_url,
            keys=keys,
            info=self.metadata_info,
        )
        return _Snapshot(
            client=client,
            keys=keys,
            signing_key=_rsa_private_key(keys.active("saml-signing").key_pem),
            decryption_key_files=tuple(
                str(key_file(keys.active("saml-signing").key_path.parent, "saml-encryption", stage))
                for stage in _DECRYPTION_STAGES
            ),
            metadata_xml=metadata_xml,
            published=published,
            provider_keys={},
        )

    def _config(self, keys: KeySet) -> dict[str, Any]:
        signing = keys.active("saml-signing")
        return {
            "entityid": self.entity_id,
            "name": self.display_name,
            # "XMLSecurity" only keeps pysaml2 from looking for the xmlsec1 binary;
            # use_python_xmlsec replaces that backend before any use.
            "crypto_backend": "XMLSecurity",
            "key_file": str(signing.key_path),
            "cert_file": str(signing.cert_path),
            "accepted_time_diff": self.clock_skew,
            "only_use_keys_in_metadata": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "allow_unknown_attributes": True,
            "http_client_timeout": 10,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(self.acs_url, BINDING_HTTP_POST)]},
                    "authn_requests_signed": AUTHN_REQUESTS_SIGNED,
                    "want_response_signed": True,
                    "want_assertions_signed": WANT_ASSERTIONS_SIGNED,
                    "want_assertions_or_response_signed": True,
                    "allow_unsolicited": False,
                    "name_id_format": list(NAME_ID_FORMATS),
                    "name_id_format_allow_create": False,
                }
            },
        }

    @property
    def decryption_key_files(self) -> tuple[str, ...]:
        """The ``saml-encryption`` key files of every rollover stage, in the order to try them.

        By file name, read when a response arrives, so a key that moved between stages decrypts at once
        (DP 2.1.1.2: keep decrypting with the old key until every peer has the new one).
        """
        return self._snapshot.decryption_key_files

    def provider_signing_keys(self, provider_entity_id: str) -> tuple[xmlsec.Key, ...]:
        """The keys that may sign ``provider_entity_id``'s messages: its IdP signing certificates in trusted metadata.

        Loaded once per provider and snapshot; a provider the metadata does not describe has none, so
        nothing it sends verifies. Two during a key rollover.
        """
        snapshot = self._snapshot
        keys = snapshot.provider_keys.get(provider_entity_id)
        if keys is None:
            try:
                certs = snapshot.client.metadata.certs(provider_entity_id, "idpsso", "signing")
            except (KeyError, UnknownSystemEntity):
                certs = []
            keys = tuple(public_key(pem_format(cert)) for _, cert in certs)
            snapshot.provider_keys[provider_entity_id] = keys
        return keys

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
        except (KeyError, UnknownSystemEntity):
            return False
