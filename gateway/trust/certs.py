"""Key pairs and self-signed certificates for the gateway's own keys.

SAML metadata carries keys inside X.509 certificates that are only key
containers (Swedish eID Framework Deployment Profile 2.1.1.2), so a long-lived
self-signed certificate is what the federation expects. Everything here goes
through `cryptography`; no crypto is written by hand.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A private key and its self-signed certificate, both PEM encoded."""

    key_pem: bytes
    cert_pem: bytes


def generate_private_key(kind: str = "rsa") -> PrivateKey:
    """RSA 3072 (the framework's recommendation) or EC P-256 (signing only)."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key kind {kind!r}: use 'rsa' or 'ec'")


def self_signed(key: PrivateKey, common_name: str, *, days: int = 3650) -> x509.Certificate:
    """A self-signed certificate for ``key``, valid from one hour ago."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def generate_key_pair(common_name: str, kind: str = "rsa") -> KeyPair:
    """A new private key with a self-signed certificate, PEM encoded."""
    key = generate_private_key(kind)
    cert = self_signed(key, common_name)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM))


def cert_body(cert_pem: bytes) -> str:
    """The base64 body of a PEM certificate, as SAML metadata's X509Certificate holds it."""
    lines = cert_pem.decode("ascii").strip().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))
