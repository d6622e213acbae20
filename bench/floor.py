"""The crypto floor: what the unavoidable cryptography of one login costs on this machine.

A cold login cannot be cheaper than its cryptography: three RSA private-key operations with the
gateway's own keys (signing the AuthnRequest's query string, unwrapping the assertion's AES key,
signing the ID token), verifying the Response's XML signature with the IdP's key from metadata
(libxmlsec1: exclusive c14n, SHA-256 digest, one RSA public operation, on an already parsed
document) and decrypting the assertion (AES-256-GCM). Each is timed here, in the harness process,
with the gateway's real keys and a real response from the benchmark IdP; everything the gateway
spends beyond their sum is overhead, and reports show CPU per login as a multiple of it.
"""

from __future__ import annotations

import base64
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xmlsec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from bench.idp import OAEP
from bench.idp import AuthnRequest
from bench.idp import BenchIdP
from gateway.saml.namespaces import NS_DS


@dataclass(frozen=True, slots=True)
class Floor:
    """Milliseconds per operation, and their sum for one cold login."""

    operations: dict[str, float]

    @property
    def total_ms(self) -> float:
        """The floor of one cold login."""
        return sum(self.operations.values())

    @property
    def token_ms(self) -> float:
        """The floor of token + userinfo alone (and of an SSO login): the ID token signature."""
        return self.operations["RSA sign: ID token (RS256)"]


def _best_of(call: Callable[[], object], repeat: int = 200) -> float:
    """Median milliseconds of ``call``: the steady cost, without one-off scheduling noise."""
    for _ in range(10):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA key")
    return key


def measure(keys_dir: Path, idp: BenchIdP, idp_cert_pem: bytes, sp_entity_id: str, acs_url: str) -> Floor:
    """Time each unavoidable operation with the gateway's keys in ``keys_dir``."""
    saml_signing = _private_key(keys_dir / "saml-signing.pem")
    saml_encryption = _private_key(keys_dir / "saml-encryption.pem")
    oidc_signing = _private_key(keys_dir / "oidc-signing.pem")
    pkcs1 = padding.PKCS1v15()
    query = b"SAMLRequest=" + base64.b64encode(os.urandom(600)) + b"&RelayState=x&SigAlg=rsa-sha256"
    jwt_input = base64.urlsafe_b64encode(os.urandom(700))

    request = AuthnRequest(id="_" + "a" * 32, sp_entity_id=sp_entity_id, acs_url=acs_url, relay_state="x")
    document = base64.b64decode(idp.respond(request))
    # A session key wrapped to the gateway's encryption key and an assertion-sized ciphertext, as the IdP sends.
    session_key = AESGCM.generate_key(256)
    wrapped = saml_encryption.public_key().encrypt(session_key, OAEP)
    assertion = b"<saml:Assertion>" + os.urandom(2400) + b"</saml:Assertion>"
    nonce = os.urandom(12)
    ciphertext = AESGCM(session_key).encrypt(nonce, assertion, None)

    verify_key = xmlsec.Key.from_memory(idp_cert_pem, xmlsec.constants.KeyDataFormatCertPem)

    def verify_xml_signature() -> None:
        tree = etree.fromstring(document)
        xmlsec.tree.add_ids(tree, ["ID"])
        context = xmlsec.SignatureContext()
        context.key = verify_key
        signature = tree.find(f"{{{NS_DS}}}Signature")
        start = time.perf_counter()
        context.verify(signature)
        timings.append(time.perf_counter() - start)

    timings: list[float] = []
    for _ in range(210):
        verify_xml_signature()
    operations = {
        "RSA sign: AuthnRequest (RSA-SHA256)": _best_of(lambda: saml_signing.sign(query, pkcs1, hashes.SHA256())),
        "RSA-OAEP unwrap: assertion key": _best_of(lambda: saml_encryption.decrypt(wrapped, OAEP)),
        "RSA sign: ID token (RS256)": _best_of(lambda: oidc_signing.sign(jwt_input, pkcs1, hashes.SHA256())),
        "XML signature verify: Response": statistics.median(timings[10:]) * 1000,
        "AES-256-GCM decrypt: assertion": _best_of(lambda: AESGCM(session_key).decrypt(nonce, ciphertext, None)),
    }
    return Floor(operations)
