"""How much work the SP does per Response: one decryption, one schema validation, one signature check.

`ServiceProvider.parse_authn_response` runs pysaml2's checks in one pass (`_OnePassAuthnResponse`;
pysaml2's own entry point makes two for an unsigned assertion) and pysaml2's schema check runs on
libxml2 (`gateway.saml.schema`). These tests count the expensive steps of a real SP consuming a real
response from the sandbox IdP. That a signature present on an encrypted assertion is still verified
(and refused when made with another key) is shown end to end in tests/security/test_saml_signatures.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import saml2.entity
import saml2.sigver
from lxml import etree

from gateway.mapping.loa import LOA3
from gateway.saml.acs import decode_post
from gateway.saml.authn_request import build_authn_request
from gateway.saml.sp import ServiceProvider
from gateway.saml.sp_metadata import sp_metadata_xml
from gateway.sandbox.identities import IDENTITIES
from gateway.sandbox.idp import SandboxIdP
from gateway.trust.certs import generate_key_pair
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys

BASE = "https://gw.example"


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServiceProvider, SandboxIdP]:
    """The gateway SP and the sandbox IdP it trusts."""
    folder = tmp_path_factory.mktemp("work")
    keys_dir = folder / "keys"
    generate_keys(keys_dir)

    def idp(name: str) -> SandboxIdP:
        pair = generate_key_pair(name)
        (folder / f"{name}.key").write_bytes(pair.key_pem)
        (folder / f"{name}.crt").write_bytes(pair.cert_pem)
        return SandboxIdP(base_url=BASE, key_path=folder / f"{name}.key", cert_path=folder / f"{name}.crt")

    trusted = idp("trusted")
    sp = ServiceProvider(
        entity_id=BASE + "/saml/metadata",
        base_url=BASE,
        keys=load_keys(keys_dir, b"x"),
        metadata_xml=(trusted.metadata_xml(),),
        clock_skew=60,
    )
    trusted.trust_sp(sp_metadata_xml(sp))
    return sp, trusted


def _login(sp: ServiceProvider, idp: SandboxIdP) -> tuple[str, bytes]:
    """A request from ``sp`` answered by ``idp``: (request ID, the Response as the ACS decoded it)."""
    outgoing = build_authn_request(sp, idp.entity_id, loas=(LOA3,), relay_state="rs", force_authn=False)
    request = idp.receive(dict(parse_qsl(urlsplit(outgoing.url).query)))
    response = idp.respond(request, IDENTITIES[0])
    return outgoing.request_id, decode_post(response.saml_response)


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[object]:
    calls: list[object] = []
    original: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_an_encrypted_unsigned_assertion_is_decrypted_and_schema_checked_once(
    parties: tuple[ServiceProvider, SandboxIdP], monkeypatch: pytest.MonkeyPatch
) -> None:
    sp, trusted = parties
    request_id, posted = _login(sp, trusted)
    decryptions = _counting(monkeypatch, type(sp.client.sec.crypto), "decrypt")
    validations = _counting(monkeypatch, saml2.sigver, "validate_doc_with_schema")
    verifications = _counting(monkeypatch, type(sp.client.sec.crypto), "validate_signature")
    redecodings = _counting(monkeypatch, saml2.entity, "decode_base64_and_inflate")

    parsed = sp.parse_authn_response(posted, request_id)

    assert parsed is not None
    assert parsed.assertion is not None
    assert parsed.assertion.signature is None
    assert len(decryptions) == 1
    assert len(validations) == 1, "one signed element (the Response), one schema validation"
    assert len(verifications) == 1
    assert redecodings == [], "pysaml2 is handed the decoded document, not the form value to decode again"


def test_the_response_type_is_pysaml2s(parties: tuple[ServiceProvider, SandboxIdP]) -> None:
    """What the ACS reads is pysaml2's AuthnResponse, with the assertion's attributes."""
    sp, trusted = parties
    request_id, posted = _login(sp, trusted)
    parsed = sp.parse_authn_response(posted, request_id)
    assert parsed is not None
    names = {attribute.name for statement in parsed.assertion.attribute_statement for attribute in statement.attribute}
    assert "urn:oid:1.2.752.29.4.13" in names  # personalIdentityNumber (DP attribute specification)


def test_attribute_statements_are_not_serialised_for_pysaml2s_debug_fstring(
    parties: tuple[ServiceProvider, SandboxIdP], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``get_identity`` formats each statement in an f-string: that costs no serialisation and shows no values."""
    sp, trusted = parties
    request_id, posted = _login(sp, trusted)
    parsed = sp.parse_authn_response(posted, request_id)
    assert parsed is not None
    (statement,) = parsed.assertion.attribute_statement
    number = IDENTITIES[0].personal_identity_number
    assert number in str(statement), "str() still serialises the statement"
    assert number not in f"{statement}"
    assert f"{statement}" == f"<saml:AttributeStatement with {len(statement.attribute)} attributes>"

    serialisations = _counting(monkeypatch, type(statement), "to_string")
    identity = parsed.get_identity()
    assert identity["personalIdentityNumber"] == [number]
    assert serialisations == []


def test_a_signature_check_writes_no_temp_file(
    parties: tuple[ServiceProvider, SandboxIdP], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metadata certificate reaches the backend from memory, not through a new file in /tmp per login."""
    sp, trusted = parties
    request_id, posted = _login(sp, trusted)
    temp_files = _counting(monkeypatch, saml2.sigver, "make_temp")
    verifications = _counting(monkeypatch, type(sp.client.sec.crypto), "validate_signature")
    assert sp.parse_authn_response(posted, request_id) is not None
    assert len(verifications) == 1
    assert temp_files == []


MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _signing_cert(metadata: str) -> str:
    """The base64 body of the IdP's one signing certificate in ``metadata``."""
    root = etree.fromstring(metadata.encode())
    (idp,) = root.iter(f"{{{MD}}}IDPSSODescriptor")
    bodies = {
        "".join((x509.text or "").split())
        for descriptor in idp.findall(f"{{{MD}}}KeyDescriptor")
        if descriptor.get("use") in (None, "signing")
        for x509 in descriptor.iter(f"{{{DS}}}X509Certificate")
    }
    (body,) = bodies
    return body


def _with_signing_certs(metadata: str, *bodies: str) -> str:
    """``metadata`` whose IdP signs with exactly the certificates ``bodies``, each in its own KeyDescriptor."""
    md, ds = MD, DS
    root = etree.fromstring(metadata.encode())
    (idp,) = root.iter(f"{{{md}}}IDPSSODescriptor")
    for descriptor in idp.findall(f"{{{md}}}KeyDescriptor"):
        if descriptor.get("use") in (None, "signing"):
            idp.remove(descriptor)
    for position, body in enumerate(bodies):
        descriptor = etree.Element(f"{{{md}}}KeyDescriptor", use="signing")
        x509 = etree.SubElement(etree.SubElement(etree.SubElement(descriptor, f"{{{ds}}}KeyInfo"),
                                                 f"{{{ds}}}X509Data"), f"{{{ds}}}X509Certificate")  # fmt: skip
        x509.text = body
        idp.insert(position, descriptor)
    return etree.tostring(root).decode()


def test_each_metadata_signing_certificate_is_tried_and_only_those(
    parties: tuple[ServiceProvider, SandboxIdP],
) -> None:
    """A provider mid-rollover lists two certificates: the one that made the signature verifies, wherever it
    stands; metadata without it refuses the response."""
    sp, trusted = parties
    request_id, posted = _login(sp, trusted)
    other = "".join(generate_key_pair("other").cert_pem.decode().splitlines()[1:-1])
    real = _signing_cert(trusted.metadata_xml())
    rolled = ServiceProvider(
        entity_id=sp.entity_id, base_url=BASE, keys=sp.keys, clock_skew=60,
        metadata_xml=(_with_signing_certs(trusted.metadata_xml(), other, real),),
    )  # fmt: skip
    assert rolled.parse_authn_response(posted, request_id) is not None

    untrusted = ServiceProvider(
        entity_id=sp.entity_id, base_url=BASE, keys=sp.keys, clock_skew=60,
        metadata_xml=(_with_signing_certs(trusted.metadata_xml(), other),),
    )  # fmt: skip
    with pytest.raises(saml2.sigver.SignatureError):
        untrusted.parse_authn_response(posted, request_id)
