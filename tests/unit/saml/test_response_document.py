"""`gateway.saml.response_document`: a real Response from the sandbox IdP verified, decrypted and read on one tree.

The attacks on each step (wrapping, foreign keys, algorithms, schema violations, comments in values)
run end to end in tests/security; these tests pin down the parts a whole login does not show: what
the record holds, which keys verify, and which decryption keys are tried.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import xmlsec
from lxml import etree
from saml2.sigver import DecryptError

from gateway.errors import UpstreamError
from gateway.mapping.loa import LOA3
from gateway.saml import acs
from gateway.saml.acs import Expectation
from gateway.saml.acs import decode_post
from gateway.saml.acs import verify_response
from gateway.saml.authn_request import build_authn_request
from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_MD
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_XENC
from gateway.saml.replay import ReplayGuard
from gateway.saml.response_document import read_response
from gateway.saml.response_document import verify_and_decrypt
from gateway.saml.sp import ServiceProvider
from gateway.saml.sp_metadata import sp_metadata_xml
from gateway.saml.xmlsec_backend import PythonXmlsecBackend
from gateway.saml.xmlsec_backend import decrypt_in_place
from gateway.saml.xmlsec_backend import parse_received
from gateway.sandbox.identities import IDENTITIES
from gateway.sandbox.idp import SandboxIdP
from gateway.store.memory_store import MemoryStore
from gateway.trust.certs import generate_key_pair
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys

MD, DS = NS_MD, NS_DS
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


def _verified(sp: ServiceProvider, idp: SandboxIdP, posted: bytes) -> tuple[etree._Element, etree._Element | None]:
    root = parse_received(posted)
    return root, verify_and_decrypt(root, sp.provider_signing_keys(idp.entity_id), sp.decryption_key_files)


def test_a_genuine_response_is_read_as_the_provider_sent_it(parties: tuple[ServiceProvider, SandboxIdP]) -> None:
    """The record holds what the sandbox IdP asserted for the identity it was given, read from the tree
    in which the plaintext assertion took its encryption's place."""
    sp, idp = parties
    request_id, posted = _login(sp, idp)
    root, assertion = _verified(sp, idp, posted)
    assert assertion is not None
    assert assertion.getparent() is root.find(f"{{{NS_SAML}}}EncryptedAssertion")
    assert next(root.iter(f"{{{NS_XENC}}}EncryptedData"), None) is None

    record = read_response(root, assertion)
    identity = IDENTITIES[0]
    assert (record.issuer, record.in_response_to, record.destination) == (idp.entity_id, request_id, sp.acs_url)
    assert record.status == "urn:oasis:names:tc:SAML:2.0:status:Success"
    read = record.assertion
    assert read is not None
    assert read.issuer == idp.entity_id
    assert read.id == assertion.get("ID")
    (statement,) = read.attribute_statements
    assert dict(statement) == {name: tuple(values) for name, values in identity.attributes().items()}
    assert read.conditions is not None
    assert read.conditions.audience_restrictions == (frozenset({sp.entity_id}),)
    (authn,) = read.authn_statements
    assert authn.class_ref == LOA3
    assert [c.recipient for c in read.confirmations] == [sp.acs_url]


def test_each_metadata_signing_certificate_is_tried_and_only_those(
    parties: tuple[ServiceProvider, SandboxIdP],
) -> None:
    """A provider mid-rollover lists two certificates: the one that made the signature verifies, wherever it
    stands; metadata without it refuses the response."""
    sp, trusted = parties
    _, posted = _login(sp, trusted)
    other = "".join(generate_key_pair("other").cert_pem.decode().splitlines()[1:-1])
    real = _signing_cert(trusted.metadata_xml())
    rolled = ServiceProvider(
        entity_id=sp.entity_id, base_url=BASE, keys=sp.keys, clock_skew=60,
        metadata_xml=(_with_signing_certs(trusted.metadata_xml(), other, real),),
    )  # fmt: skip
    assert len(rolled.provider_signing_keys(trusted.entity_id)) == 2
    assert _verified(rolled, trusted, posted)[1] is not None

    untrusted = ServiceProvider(
        entity_id=sp.entity_id, base_url=BASE, keys=sp.keys, clock_skew=60,
        metadata_xml=(_with_signing_certs(trusted.metadata_xml(), other),),
    )  # fmt: skip
    with pytest.raises(UpstreamError) as refusal:
        _verified(untrusted, trusted, posted)
    assert "signature did not verify" in refusal.value.detail


def test_a_provider_missing_from_metadata_has_no_keys(parties: tuple[ServiceProvider, SandboxIdP]) -> None:
    sp, idp = parties
    _, posted = _login(sp, idp)
    assert sp.provider_signing_keys("https://unknown.example/idp") == ()
    root = parse_received(posted)
    with pytest.raises(UpstreamError) as refusal:
        verify_and_decrypt(root, sp.provider_signing_keys("https://unknown.example/idp"), sp.decryption_key_files)
    assert "signature did not verify" in refusal.value.detail


def test_every_rollover_stage_key_is_tried(parties: tuple[ServiceProvider, SandboxIdP], tmp_path: Path) -> None:
    """A stage's key file that is missing or holds another key is passed over (DP 2.1.1.2: the old key keeps
    decrypting during a rollover); with none that opens it, decryption fails."""
    sp, idp = parties
    _, posted = _login(sp, idp)
    other = tmp_path / "other.key"
    other.write_bytes(generate_key_pair("other").key_pem)
    missing = str(tmp_path / "missing.key")
    (active, *_) = sp.decryption_key_files

    def encrypted_data() -> etree._Element:
        return next(parse_received(posted).iter(f"{{{NS_XENC}}}EncryptedData"))

    plaintext = decrypt_in_place(encrypted_data(), (missing, str(other), active))
    assert plaintext.tag == f"{{{NS_SAML}}}Assertion"
    with pytest.raises(DecryptError):
        decrypt_in_place(encrypted_data(), (missing, str(other)))


def test_comments_are_left_out_so_texts_read_whole() -> None:
    """Exclusive c14n ignores comments, so one put into a signed value must not cut what is read."""
    root = parse_received(b"<a><b>19920310<!-- -->0000<?pi x?>1</b></a>")
    assert root.findtext("b") == "1992031000001"
    assert len(root[0]) == 0


def test_an_encrypted_assertion_holding_another_element_is_refused(parties: tuple[ServiceProvider, SandboxIdP]) -> None:
    """The provider's key signs a Response whose EncryptedAssertion holds a saml:Issuer, an element the
    schemas accept on its own: what decrypts must be an Assertion (saml-core 2.3.4)."""
    sp, idp = parties
    _, posted = _login(sp, idp)
    root = parse_received(posted)
    assertion = verify_and_decrypt(root, sp.provider_signing_keys(idp.entity_id), sp.decryption_key_files)
    assert assertion is not None
    issuer = etree.Element(f"{{{NS_SAML}}}Issuer")
    issuer.text = idp.entity_id
    assertion.getparent().replace(assertion, issuer)
    backend = PythonXmlsecBackend()
    encrypted = backend.encrypt_assertion(
        etree.tostring(root), str(sp.keys.active("saml-encryption").cert_path), None,
        node_xpath="//*[local-name()='EncryptedAssertion']/*",
    )  # fmt: skip
    signed = backend.sign_statement(encrypted, f"{NS_SAMLP}:Response", idp._server.config.key_file, root.get("ID"))
    forged = parse_received(signed.encode())
    with pytest.raises(UpstreamError) as refusal:
        verify_and_decrypt(forged, sp.provider_signing_keys(idp.entity_id), sp.decryption_key_files)
    assert "did not hold exactly one Assertion" in refusal.value.detail, refusal.value.detail


def test_an_encrypted_assertion_with_something_beside_it_is_refused(
    parties: tuple[ServiceProvider, SandboxIdP],
) -> None:
    """A signed Response whose EncryptedAssertion holds, besides its EncryptedData, an element the schema
    allows there (an xenc:EncryptedKey, saml-core 2.2.4): after decryption the Assertion must stand alone."""
    sp, idp = parties
    _, posted = _login(sp, idp)
    root = parse_received(posted)
    encrypted = root.find(f"{{{NS_SAML}}}EncryptedAssertion")
    spare = next(encrypted.iter(f"{{{NS_XENC}}}EncryptedKey"))
    copy = etree.fromstring(etree.tostring(spare))
    copy.attrib.pop("Id", None)  # xs:ID values must stay unique for the schema
    encrypted.append(copy)
    signed = PythonXmlsecBackend().sign_statement(
        etree.tostring(root), f"{NS_SAMLP}:Response", idp._server.config.key_file, root.get("ID")
    )
    forged = parse_received(signed.encode())
    with pytest.raises(UpstreamError) as refusal:
        verify_and_decrypt(forged, sp.provider_signing_keys(idp.entity_id), sp.decryption_key_files)
    assert "did not hold exactly one Assertion" in refusal.value.detail, refusal.value.detail


def test_an_error_from_the_xml_libraries_is_a_refusal(
    parties: tuple[ServiceProvider, SandboxIdP], monkeypatch: pytest.MonkeyPatch
) -> None:
    """libxml2 or libxmlsec1 refusing input in a way no check foresaw ends the login with a refusal, which
    the ACS records on the transaction, never with an exception that would lose it; the control logs in."""
    sp, idp = parties
    request_id, posted = _login(sp, idp)
    expectation = Expectation(request_id=request_id, provider_entity_id=idp.entity_id, requested_loas=(LOA3,))
    encoded = base64.b64encode(posted).decode("ascii")
    assert verify_response(sp, encoded, expectation, ReplayGuard(MemoryStore())).issuer == idp.entity_id

    def unforeseen(*_args: object) -> None:
        raise xmlsec.Error("unforeseen")

    monkeypatch.setattr(acs, "verify_and_decrypt", unforeseen)
    with pytest.raises(UpstreamError) as refusal:
        verify_response(sp, encoded, expectation, ReplayGuard(MemoryStore()))
    assert "XML libraries refused the response: Error" in refusal.value.detail
