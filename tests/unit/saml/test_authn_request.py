"""The AuthnRequest the gateway builds and signs itself: schema-valid, escaped, and signed as saml-bindings says.

The end-to-end tests have pysaml2 peers read these requests (tests/integration/test_swedish_eid.py);
these check the message and the query signature directly, against the SAML schema and the SP's
published certificate, independently of the code that made them.
"""

from __future__ import annotations

import base64
import os
import zlib
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import quote_plus
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.mapping.loa import LOA3
from gateway.model import UserMessage
from gateway.saml.authn_request import build_authn_request
from gateway.saml.authn_request import url_encoded_base64
from gateway.saml.schema import validate
from gateway.saml.sp import ServiceProvider
from gateway.sandbox.idp import SandboxIdP
from gateway.trust.certs import generate_key_pair
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys

BASE = "https://gw.example"
SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
PSC = "{http://id.swedenconnect.se/authn/1.0/principal-selection/ns}"
LOA4 = "http://id.elegnamnden.se/loa/1.0/loa4"


@pytest.fixture(scope="module")
def sp(tmp_path_factory: pytest.TempPathFactory) -> ServiceProvider:
    folder = tmp_path_factory.mktemp("work")
    generate_keys(folder / "keys")
    pair = generate_key_pair("idp")
    (folder / "idp.key").write_bytes(pair.key_pem)
    (folder / "idp.crt").write_bytes(pair.cert_pem)
    idp = SandboxIdP(base_url=BASE, key_path=folder / "idp.key", cert_path=folder / "idp.crt")
    return ServiceProvider(
        entity_id=BASE + "/saml/metadata",
        base_url=BASE,
        keys=load_keys(folder / "keys", b"x"),
        metadata_xml=(idp.metadata_xml(),),
        clock_skew=60,
    )


IDP = BASE + "/sandbox/idp"


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query, strict_parsing=True).items()}


def _message(url: str) -> bytes:
    return zlib.decompress(base64.b64decode(_query(url)["SAMLRequest"]), -zlib.MAX_WBITS)


def _sp_public_key(sp: ServiceProvider) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(Path(sp.keys.active("saml-signing").cert_path).read_bytes()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _signed_part(url: str) -> bytes:
    """The query up to the Signature parameter, as it appears on the wire (saml-bindings 3.4.4.1)."""
    query = urlsplit(url).query
    signed, marker, _ = query.partition("&Signature=")
    assert marker
    return signed.encode("ascii")


def test_request_is_schema_valid_with_every_optional_part(sp: ServiceProvider) -> None:
    outgoing = build_authn_request(
        sp, IDP, loas=(LOA3, LOA4), relay_state="tx", force_authn=True,
        principal=(("urn:oid:1.2.752.29.4.13", "199203102380"),),
        user_message=UserMessage(messages=(("sv", "aGVq"), ("en", "aGk=")), mime_type="text/plain"),
        countries=("DE",),
    )  # fmt: skip
    message = _message(outgoing.url)
    validate(message)  # raises on a schema violation, e.g. children out of order
    root = etree.fromstring(message)
    assert root.get("ID") == outgoing.request_id
    assert root.get("ForceAuthn") == "true"
    assert root.get("Destination") == urlsplit(outgoing.url)._replace(query="").geturl()
    assert root.get("AssertionConsumerServiceURL") == BASE + "/saml/acs"
    assert root.findtext(f"{SAML}Issuer") == BASE + "/saml/metadata"
    context = root.find(f"{SAMLP}RequestedAuthnContext")
    assert context is not None
    assert context.get("Comparison") == "exact"
    assert [ref.text for ref in context] == [LOA3, LOA4]
    assert [child.tag for child in root] == [
        f"{SAML}Issuer", f"{SAMLP}Extensions", f"{SAMLP}RequestedAuthnContext", f"{SAMLP}Scoping"
    ]  # fmt: skip


def test_passive_request_states_both_flags_and_leaves_the_user_message_out(sp: ServiceProvider) -> None:
    message = UserMessage(messages=(("sv", "aGVq"),))
    outgoing = build_authn_request(sp, IDP, loas=(LOA3,), relay_state="tx", force_authn=False, is_passive=True,
                                   user_message=message)  # fmt: skip
    root = etree.fromstring(_message(outgoing.url))
    assert (root.get("IsPassive"), root.get("ForceAuthn")) == ("true", "false")
    assert root.find(f"{SAMLP}Extensions") is None
    validate(etree.tostring(root))


def test_values_are_escaped_not_spliced(sp: ServiceProvider) -> None:
    hostile = 'x"/><saml:Injected>&amp;'
    outgoing = build_authn_request(sp, IDP, loas=(LOA3,), relay_state="a&b=c d", force_authn=False,
                                   principal=(("urn:oid:1.2.752.29.4.13", hostile),))  # fmt: skip
    root = etree.fromstring(_message(outgoing.url))
    assert root.findtext(f".//{PSC}MatchValue") == hostile
    assert not list(root.iter(f"{SAML}Injected"))
    assert _query(outgoing.url)["RelayState"] == "a&b=c d"


def test_query_signature_verifies_with_the_published_certificate_and_covers_relay_state(
    sp: ServiceProvider,
) -> None:
    outgoing = build_authn_request(sp, IDP, loas=(LOA3,), relay_state="tx-1", force_authn=False)
    query = _query(outgoing.url)
    assert query["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    signature = base64.b64decode(query["Signature"])
    signed = _signed_part(outgoing.url)
    assert signed.startswith(b"SAMLRequest=")
    assert b"&RelayState=tx-1&SigAlg=" in signed
    key = _sp_public_key(sp)
    key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        key.verify(signature, signed.replace(b"tx-1", b"tx-2"), padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("size", [0, 1, 2, 3, 61, 62, 63, 384, 1500])
def test_base64_is_url_encoded_exactly_as_quote_plus_does(size: int) -> None:
    for data in (os.urandom(size), b"\xfb\xff" * size, b"\x3e\x3f" * size):
        assert url_encoded_base64(data) == quote_plus(base64.b64encode(data).decode("ascii"))


def test_each_request_has_a_fresh_id_that_is_an_ncname(sp: ServiceProvider) -> None:
    ids = {build_authn_request(sp, IDP, loas=(LOA3,), relay_state="t", force_authn=False).request_id
           for _ in range(5)}  # fmt: skip
    assert len(ids) == 5
    assert all(request_id[0] == "_" and len(request_id) >= 33 for request_id in ids)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"loas": (LOA3,), "force_authn": True, "is_passive": True}, "exclude each other"),
        ({"loas": (), "force_authn": False}, "level of assurance"),
    ],
)
def test_contradictory_or_empty_requests_are_refused(sp: ServiceProvider, kwargs: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        build_authn_request(sp, IDP, relay_state="t", **kwargs)
