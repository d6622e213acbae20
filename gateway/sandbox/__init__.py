"""The development sandbox: a built-in test e-ID provider and a demo e-service, as one unit to mount.

`create_app` builds a :class:`Sandbox` only when the settings ask for it (``environment:
development``; production refuses it), adds its provider and client to the registries, its IdP's
metadata to what the SP trusts, and calls :meth:`Sandbox.attach` once the SP exists. Nothing else in
the gateway imports this package, so production code paths never load it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from gateway.mapping.loa import LOA3
from gateway.sandbox import demo_rp
from gateway.sandbox import views
from gateway.sandbox.demo_rp import DemoRP
from gateway.sandbox.demo_rp import demo_client
from gateway.sandbox.idp import SandboxIdP
from gateway.settings.schema import ClientSettings
from gateway.settings.schema import ProviderSettings
from gateway.trust.certs import generate_private_key
from gateway.trust.certs import self_signed
from gateway.trust.keystore import _write_exclusive
from gateway.trust.keystore import derive

KEY_FILE: Final = "sandbox-idp.pem"
CERT_FILE: Final = "sandbox-idp.crt"
COMMON_NAME: Final = "eid-gateway sandbox idp"
PROVIDER_ID: Final = "sandbox"

_WAIT_FOR_WRITER: Final = 5.0
"""Seconds to wait for another worker that is still writing the key or certificate file."""


def _read_key(key_path: Path) -> rsa.RSAPrivateKey | None:
    """The RSA key in ``key_path``, or None while it is absent or still being written."""
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    return key if isinstance(key, rsa.RSAPrivateKey) else None


def _matching_pair(key_path: Path, cert_path: Path) -> bool:
    """True when both files are complete and the certificate holds the key's public half."""
    key = _read_key(key_path)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key is not None and key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki)


def ensure_key_pair(keys_dir: Path) -> tuple[Path, Path]:
    """The sandbox IdP's key and certificate in ``keys_dir``, created if missing.

    Several gunicorn workers may start at once. The key is created exclusively (0600) first, so one
    key wins; the certificate is then made from whichever key is on disk, so every certificate any
    worker writes matches it, and the first one written wins too. A reader that comes while another
    worker is still writing waits briefly for complete files.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = keys_dir / KEY_FILE, keys_dir / CERT_FILE
    if not key_path.exists():
        new_key = generate_private_key("rsa")
        _write_exclusive(
            key_path,
            new_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            0o600,
        )
    deadline = time.monotonic() + _WAIT_FOR_WRITER
    while not _matching_pair(key_path, cert_path):
        key = None if cert_path.exists() else _read_key(key_path)
        if key is not None:
            certificate = self_signed(key, COMMON_NAME)
            _write_exclusive(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
            continue
        if time.monotonic() > deadline:
            raise RuntimeError(f"{key_path} and {cert_path} do not hold a matching key pair")
        time.sleep(0.05)
    return key_path, cert_path


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The sandbox's parts: the IdP, its provider entry, the demo client and the demo e-service."""

    idp: SandboxIdP
    provider: ProviderSettings
    client: ClientSettings
    demo: DemoRP

    @classmethod
    def build(cls, base_url: str, keys_dir: Path, secret: bytes) -> Sandbox:
        """Build everything once at start; ``secret`` is the gateway's, from which the sandbox derives its own."""
        key_path, cert_path = ensure_key_pair(keys_dir)
        idp = SandboxIdP(base_url=base_url, key_path=key_path, cert_path=cert_path, loas=(LOA3,))
        provider = ProviderSettings(
            id=PROVIDER_ID,
            entity_id=idp.entity_id,
            display_name={"sv": "Test-e-legitimation (sandlåda)", "en": "Test e-ID (sandbox)"},
            loas=(LOA3,),
            attribute_set="pnr-01",
        )
        client = demo_client(base_url, derive(secret, "sandbox demo client").hex())
        demo = DemoRP(base_url=base_url, client=client, cookie_key=derive(secret, "sandbox demo cookie"))
        return cls(idp=idp, provider=provider, client=client, demo=demo)

    def attach(self, app: Flask, sp_metadata_xml: str) -> None:
        """Trust the gateway's SP and mount the sandbox IdP and demo e-service routes on ``app``."""
        self.idp.trust_sp(sp_metadata_xml)
        app.register_blueprint(views.blueprint)
        app.register_blueprint(demo_rp.blueprint)
