"""A federation operator for the tests: a test CA, a metadata signer, signed aggregates, and a feed server.

The gateway verifies metadata with python-xmlsec; the aggregates here are signed by the *xmlsec1
binary* (as the peer IdP signs its responses), so a misreading shared by signer and verifier cannot
pass unnoticed. The signer's certificate is issued by a test CA, as a real federation's signer may
be; the gateway pins the signer's certificate itself.

`FeedServer` serves the current aggregate over HTTP on the loopback interface, counts the requests
and can delay its answers, so tests can see how many processes fetched and make fetches overlap.
"""

from __future__ import annotations

import datetime
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.trust.certs import KeyPair
from gateway.trust.certs import cert_body
from tests.peers.loopback import LoopbackServer

XMLSEC1 = "/usr/bin/xmlsec1"
NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_MDRPI = "urn:oasis:names:tc:SAML:metadata:rpi"


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class FederationCA:
    """A certificate authority that issues metadata signer certificates."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str = "Test Federation CA") -> FederationCA:
        """A fresh CA (RSA 2048: the tests need speed, not strength)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate, PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue_signer(self, name: str = "Test Metadata Signer") -> KeyPair:
        """A metadata signing key and its certificate, issued by this CA."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return KeyPair(key_pem=_pem(key), cert_pem=cert.public_bytes(serialization.Encoding.PEM))


def saml_time(moment: datetime.datetime) -> str:
    """xs:dateTime in UTC."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def aggregate(
    entities: Sequence[str],
    *,
    valid_for: datetime.timedelta | None = datetime.timedelta(days=7),
    cache_duration: str | None = "PT1H",
    name: str = "https://federation.test.example/md",
    published: datetime.datetime | None = None,
) -> str:
    """An unsigned EntitiesDescriptor holding ``entities`` (EntityDescriptor XML strings).

    ``published`` adds the publisher's ``mdrpi:PublicationInfo`` with that ``creationInstant``.
    """
    root = etree.Element(f"{{{NS_MD}}}EntitiesDescriptor", nsmap={"md": NS_MD, "ds": NS_DS})
    root.set("ID", f"_agg{time.time_ns()}")
    root.set("Name", name)
    if valid_for is not None:
        root.set("validUntil", saml_time(datetime.datetime.now(datetime.UTC) + valid_for))
    if cache_duration is not None:
        root.set("cacheDuration", cache_duration)
    if published is not None:
        extensions = etree.SubElement(root, f"{{{NS_MD}}}Extensions")
        info = etree.SubElement(extensions, f"{{{NS_MDRPI}}}PublicationInfo", nsmap={"mdrpi": NS_MDRPI})
        info.set("publisher", name)
        info.set("creationInstant", saml_time(published))
    text = etree.tostring(root, encoding="unicode")
    closing = "</md:EntitiesDescriptor>"
    opened = text[:-2] + ">" if text.endswith("/>") else text[: -len(closing)]
    body = "".join(e[e.index("?>") + 2 :] if e.startswith("<?xml") else e for e in entities)
    return f"{opened}{body}{closing}"


def sign(xml: str, signer: KeyPair, *, sign_alg: str = SIG_RSA_SHA256, digest_alg: str = DIGEST_SHA256) -> bytes:
    """``xml`` (an EntitiesDescriptor with an ID) signed enveloped by the xmlsec1 binary."""
    root = etree.fromstring(xml.encode())
    template = pre_signature_part(
        ident=root.get("ID"), public_key=cert_body(signer.cert_pem), sign_alg=sign_alg, digest_alg=digest_alg
    )
    root.insert(0, etree.fromstring(str(template).encode()))
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "key.pem").write_bytes(signer.key_pem)
        (folder / "in.xml").write_bytes(etree.tostring(root))
        subprocess.run(
            [
                XMLSEC1, "--sign", "--privkey-pem", str(folder / "key.pem"),
                "--id-attr:ID", f"{NS_MD}:EntitiesDescriptor",
                "--output", str(folder / "out.xml"), str(folder / "in.xml"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return (folder / "out.xml").read_bytes()


class FeedServer(LoopbackServer):
    """Serves ``document`` at ``url`` on 127.0.0.1, counting GETs; ``delay`` slows every answer."""

    def __init__(self, document: bytes = b"", *, delay: float = 0.0) -> None:
        self.document = document
        self.delay = delay
        self.requests = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests += 1
                    body = server.document
                time.sleep(server.delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests count requests instead."""

        super().__init__(Handler, "/md.xml")


@contextmanager
def feed(document: bytes = b"", *, delay: float = 0.0) -> Iterator[FeedServer]:
    """A running `FeedServer`."""
    with FeedServer(document, delay=delay) as server:
        yield server
