"""SAML signature attacks on the ACS: wrapping, foreign keys, weak algorithms, stripped and crafted signatures.

The attacker is a citizen with a real e-ID (``ATTACKER_PNR``): the provider signs responses for them, and
anyone can encrypt an assertion to the gateway's published encryption certificate. So the attacker holds
genuinely signed elements and can forge any encrypted content; each test rearranges the two, as signature
wrapping attacks do (XSW1-8 of the SAML Raider catalogue, CVE-2020-5390 and CVE-2021-21238 in pysaml2),
and asserts the exact outcome: refused with ``provider_error``, no code, no session — or, where the forged
part cannot be consumed at all, a login as the attacker, never as the victim.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import xmlsec
from lxml import etree
from saml2.xmldsig import DIGEST_SHA1
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA1
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.trust.certs import cert_body
from gateway.trust.certs import generate_key_pair
from tests.integration.harness import LoginSteps
from tests.integration.harness import RunningGateway
from tests.peers.saml_idp import PeerIdP
from tests.peers.saml_idp import PostedResponse
from tests.peers.saml_idp import ReceivedRequest
from tests.peers.saml_idp import _parse as peer_parse
from tests.security.attack import ATTACKER_PNR
from tests.security.attack import NS
from tests.security.attack import NS_DS
from tests.security.attack import NS_SAML
from tests.security.attack import NS_SAMLP
from tests.security.attack import PNR_CLAIM
from tests.security.attack import VICTIM
from tests.security.attack import after_issuer
from tests.security.attack import assert_log_is_clean
from tests.security.attack import begin
from tests.security.attack import logged_in
from tests.security.attack import parse
from tests.security.attack import received
from tests.security.attack import refused
from tests.security.attack import serialize
from tests.security.attack import signature_of
from tests.security.attack import splice
from tests.security.attack import tripwire
from tests.security.attack import unsigned
from tests.security.attack import with_xml

pytestmark = pytest.mark.slow


def _genuine_and_forged(steps: LoginSteps, **forged: object) -> tuple[PostedResponse, PostedResponse]:
    """The provider's signed response for the attacker, and an unsigned one for the victim (encrypted to us)."""
    request = received(steps)
    genuine = steps.peer.respond(request)
    forgery = steps.peer.respond(request, attributes=VICTIM, sign_response=False, **forged)  # type: ignore[arg-type]
    return genuine, forgery


def _signed_around(peer: PeerIdP, request: ReceivedRequest, assertion_xml: str) -> PostedResponse:
    """A Response from ``peer``, signed by it, carrying ``assertion_xml`` verbatim (plaintext)."""

    def drop_assertions(response: etree._Element) -> None:
        for assertion in response.findall("saml:Assertion", NS):
            response.remove(assertion)

    skeleton = peer.respond(request, encrypt=False, sign_response=False, mutate_response=drop_assertions)
    root = parse(skeleton.xml)
    element = peer_parse(splice(root, root, len(root), assertion_xml))
    return peer._finish(  # the peer's own last step: sign the Response as it is
        element, request, skeleton.acs_url, (None, assertion_xml), None, True, None, SIG_RSA_SHA256, DIGEST_SHA256
    )


# --- positive controls ----------------------------------------------------------------------------


def test_control_genuine_encrypted_response_logs_the_attacker_in_as_themselves(gateway: RunningGateway) -> None:
    """Without tampering, the same steps log in: every refusal below is caused by the attack alone."""
    steps = begin(gateway)
    steps.respond()
    assert logged_in(steps)[PNR_CLAIM] == ATTACKER_PNR


def test_control_plaintext_provider_accepts_a_signed_response(gateway: RunningGateway) -> None:
    """The provider configured without required encryption accepts a signed plaintext response."""
    steps = begin(gateway, "plain")
    steps.respond(encrypt=False)
    assert logged_in(steps)[PNR_CLAIM] == ATTACKER_PNR


# --- wrapping: the signed response moved, a forged one consumed -----------------------------------------


def test_forged_response_around_the_signed_response(gateway: RunningGateway) -> None:
    """XSW: the forged Response carries the genuine signed Response inside its Extensions."""
    steps = begin(gateway)
    genuine, forgery = _genuine_and_forged(steps)
    root = parse(forgery.xml)
    extensions = etree.Element(f"{{{NS_SAMLP}}}Extensions")
    root.insert(after_issuer(root), extensions)
    refused(steps, "provider_error", with_xml(forgery, splice(root, extensions, 0, genuine.xml)), reason="signature")


def test_forged_response_with_the_copied_signature_and_the_signed_response_in_its_object(
    gateway: RunningGateway,
) -> None:
    """XSW1: the genuine signature copied onto the forged Response, the signed Response inside ds:Object.

    The copied signature still verifies cryptographically (its Reference finds the genuine Response by ID);
    only the rule that it must reference the element it is enveloped in refuses it.
    """
    steps = begin(gateway)
    genuine, forgery = _genuine_and_forged(steps)
    signature = parse(serialize(signature_of(genuine.xml)))
    holder = etree.SubElement(signature, f"{{{NS_DS}}}Object")
    signature_text = splice(signature, holder, 0, unsigned(genuine.xml))
    root = parse(forgery.xml)
    refused(
        steps,
        "provider_error",
        with_xml(forgery, splice(root, root, after_issuer(root), signature_text)),
        reason="signature",
    )


def test_forged_response_with_the_copied_signature_and_the_signed_response_beside_it(
    gateway: RunningGateway,
) -> None:
    """XSW2: the genuine Response (signature removed: the enveloped transform never covered it) as a sibling."""
    steps = begin(gateway)
    genuine, forgery = _genuine_and_forged(steps)
    root = parse(forgery.xml)
    position = after_issuer(root)
    text = splice(root, root, position, serialize(signature_of(genuine.xml)))
    root = parse(text)
    refused(
        steps,
        "provider_error",
        with_xml(forgery, splice(root, root, position, unsigned(genuine.xml))),
        reason="signature",
    )


def test_forged_response_reusing_the_signed_responses_id(gateway: RunningGateway) -> None:
    """Two elements with the signed ID: a verifier that resolves by ID and a parser that reads by position
    would disagree about which one is signed (saml-core 1.3.4 makes IDs unique)."""
    steps = begin(gateway)
    genuine, forgery = _genuine_and_forged(steps)
    root = parse(forgery.xml)
    root.set("ID", genuine.response_id)
    text = splice(root, root, after_issuer(root), serialize(signature_of(genuine.xml)))
    root = parse(text)
    extensions = etree.Element(f"{{{NS_SAMLP}}}Extensions")
    root.insert(after_issuer(root) + 1, extensions)
    refused(
        steps,
        "provider_error",
        with_xml(forgery, splice(root, extensions, 0, unsigned(genuine.xml))),
        reason="signature",
    )


def test_signed_response_with_an_injected_unsigned_assertion(gateway: RunningGateway) -> None:
    """A forged EncryptedAssertion appended to the genuine signed Response: the digest no longer matches."""
    steps = begin(gateway)
    genuine, forgery = _genuine_and_forged(steps)
    injected = serialize(parse(forgery.xml).find("saml:EncryptedAssertion", NS))
    root = parse(genuine.xml)
    refused(steps, "provider_error", with_xml(genuine, splice(root, root, len(root), injected)), reason="assertion")


def test_forged_assertion_in_the_signatures_object(gateway: RunningGateway) -> None:
    """ds:Object is outside what the enveloped signature digests: a forgery there keeps the signature valid."""
    steps = begin(gateway)
    genuine, forgery = _genuine_and_forged(steps)
    injected = serialize(parse(forgery.xml).find("saml:EncryptedAssertion", NS))
    root = parse(genuine.xml)
    holder = etree.SubElement(root.find("ds:Signature", NS), f"{{{NS_DS}}}Object")
    refused(steps, "provider_error", with_xml(genuine, splice(root, holder, 0, injected)), reason="signature")


def test_forged_assertion_in_the_signatures_key_info(gateway: RunningGateway) -> None:
    """ds:KeyInfo is not digested either. The forgery there was never consumed, but it was decrypted and
    parsed (the backend decrypts the first EncryptedData in document order): refused before that now."""
    steps = begin(gateway)
    genuine, forgery = _genuine_and_forged(steps)
    injected = serialize(parse(forgery.xml).find("saml:EncryptedAssertion", NS))
    root = parse(genuine.xml)
    key_info = root.find("ds:Signature/ds:KeyInfo", NS)
    refused(steps, "provider_error", with_xml(genuine, splice(root, key_info, 0, injected)), reason="signature")


# --- wrapping at the assertion level (plaintext provider) ---------------------------------------------


def _plain_signed_assertion(steps: LoginSteps) -> tuple[ReceivedRequest, PostedResponse]:
    request = received(steps)
    return request, steps.peer.respond(request, sign_response=False, sign_assertion=True, encrypt=False)


def test_forged_assertion_beside_the_signed_assertion(gateway: RunningGateway) -> None:
    """XSW3: an unsigned Response with the victim's assertion before the attacker's signed one."""
    steps = begin(gateway, "plain")
    request, genuine = _plain_signed_assertion(steps)
    forged = steps.peer.respond(request, attributes=VICTIM, sign_response=False, encrypt=False)
    root = parse(forged.xml)
    assert genuine.assertion_xml is not None
    refused(
        steps,
        "provider_error",
        with_xml(forged, splice(root, root, len(root), genuine.assertion_xml)),
        reason="signature",
    )


def test_signed_assertion_inside_a_forged_assertion(gateway: RunningGateway) -> None:
    """XSW5/7: the forged assertion wraps the genuine signed one (in its Advice) and carries its signature."""
    steps = begin(gateway, "plain")
    request, genuine = _plain_signed_assertion(steps)
    forged = steps.peer.respond(request, attributes=VICTIM, sign_response=False, encrypt=False)
    root = parse(forged.xml)
    assertion = root.find("saml:Assertion", NS)
    assert genuine.assertion_xml is not None
    text = splice(root, assertion, after_issuer(assertion), serialize(signature_of(genuine.assertion_xml)))
    root = parse(text)
    assertion = root.find("saml:Assertion", NS)
    advice = etree.Element(f"{{{NS_SAML}}}Advice")
    assertion.insert(assertion.index(assertion.find("saml:Conditions", NS)) + 1, advice)
    refused(
        steps,
        "provider_error",
        with_xml(forged, splice(root, advice, 0, unsigned(genuine.assertion_xml))),
        reason="signature",
    )


def test_forged_assertion_inside_a_signed_response_wrapping_the_signed_assertion(gateway: RunningGateway) -> None:
    """The provider signs a Response for the attacker; an assertion-level wrap inside it breaks that digest."""
    steps = begin(gateway, "plain")
    request = received(steps)
    genuine = steps.peer.respond(request, encrypt=False, sign_assertion=True)
    forged = steps.peer.respond(request, attributes=VICTIM, sign_response=False, encrypt=False)
    root = parse(genuine.xml)
    assertion = root.find("saml:Assertion", NS)
    forged_assertion = serialize(parse(forged.xml).find("saml:Assertion", NS))
    refused(
        steps,
        "provider_error",
        with_xml(genuine, splice(root, root, root.index(assertion), forged_assertion)),
        reason="assertion",
    )


def test_response_signature_that_references_the_assertion_instead(gateway: RunningGateway) -> None:
    """The signature over a different element than the one consumed: the assertion's signature moved up to
    the Response, so Destination, InResponseTo and Status look signed but are not."""
    steps = begin(gateway, "plain")
    _, genuine = _plain_signed_assertion(steps)
    root = parse(genuine.xml)
    assertion = root.find("saml:Assertion", NS)
    signature = assertion.find("ds:Signature", NS)
    signature_text = serialize(signature)
    assertion.remove(signature)
    refused(
        steps,
        "provider_error",
        with_xml(genuine, splice(root, root, after_issuer(root), signature_text)),
        reason="signature",
    )


def test_signature_of_another_response_than_the_one_consumed(gateway: RunningGateway) -> None:
    """A genuinely signed error Response (any citizen can get one by cancelling) embedded in the forged
    Response, whose copied signature points at it."""
    steps = begin(gateway)
    request = received(steps)
    cancel = steps.peer.respond(
        request,
        status="urn:oasis:names:tc:SAML:2.0:status:Requester",
        sub_status="http://id.elegnamnden.se/status/1.0/cancel",
    )
    forgery = steps.peer.respond(request, attributes=VICTIM, sign_response=False)
    root = parse(forgery.xml)
    position = after_issuer(root)
    extensions = etree.Element(f"{{{NS_SAMLP}}}Extensions")
    # Inside an element of a foreign namespace, as samlp:Extensions allows (saml-core 3.2.2), so that the
    # forgery conforms to the schemas and reaches the signature check.
    wrapper = etree.SubElement(extensions, "{urn:example:wrapper}Wrapper")
    root.insert(position, extensions)
    text = splice(root, wrapper, 0, unsigned(cancel.xml))
    root = parse(text)
    refused(
        steps,
        "provider_error",
        with_xml(forgery, splice(root, root, position, serialize(signature_of(cancel.xml)))),
        reason="signature",
    )


# --- keys -----------------------------------------------------------------------------------------------


def test_key_not_in_metadata_with_the_providers_certificate_in_key_info(gateway: RunningGateway) -> None:
    """Signed by the attacker's key, with KeyInfo naming the provider's real certificate."""
    steps = begin(gateway)
    posted = steps.respond(signing_key=generate_key_pair("attacker"))
    root = parse(posted.xml)
    root.find("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).text = cert_body(
        steps.peer.key_pair.cert_pem
    )
    refused(steps, "provider_error", with_xml(posted, serialize(root)), reason="signature")


def test_key_not_in_metadata_as_a_bare_rsa_key_value(gateway: RunningGateway) -> None:
    """Signed by the attacker's key, the public key itself in KeyInfo (ds:KeyValue), no certificate at all."""
    attacker = generate_key_pair("attacker")
    from cryptography import x509

    numbers = x509.load_pem_x509_certificate(attacker.cert_pem).public_key().public_numbers()  # type: ignore[union-attr]

    def b64(value: int) -> str:
        return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode()

    steps = begin(gateway)
    posted = steps.respond(signing_key=attacker)
    root = parse(posted.xml)
    key_info = root.find("ds:Signature/ds:KeyInfo", NS)
    for child in list(key_info):
        key_info.remove(child)
    value = etree.SubElement(etree.SubElement(key_info, f"{{{NS_DS}}}KeyValue"), f"{{{NS_DS}}}RSAKeyValue")
    etree.SubElement(value, f"{{{NS_DS}}}Modulus").text = b64(numbers.n)
    etree.SubElement(value, f"{{{NS_DS}}}Exponent").text = b64(numbers.e)
    refused(steps, "provider_error", with_xml(posted, serialize(root)), reason="signature")


def test_assertion_signed_by_another_trusted_providers_key(gateway: RunningGateway) -> None:
    """The right provider signs the Response; inside, an assertion in its name signed by another trusted
    provider's key. A signature that is present must verify with the issuer's own metadata keys."""
    steps = begin(gateway, "plain")
    request = received(steps)
    other = gateway.peers["other"]
    foreign = other.respond(
        request, issuer=steps.peer.entity_id, sign_response=False, sign_assertion=True, encrypt=False
    )
    assert foreign.assertion_xml is not None
    refused(steps, "provider_error", _signed_around(steps.peer, request, foreign.assertion_xml), reason="signature")


def test_control_assertion_signed_by_the_right_provider_inside_its_signed_response(gateway: RunningGateway) -> None:
    """The composition used above, with the right key: accepted (so the refusal above is the foreign key's)."""
    steps = begin(gateway, "plain")
    request = received(steps)
    own = steps.peer.respond(request, sign_response=False, sign_assertion=True, encrypt=False)
    assert own.assertion_xml is not None
    assert logged_in(steps, _signed_around(steps.peer, request, own.assertion_xml))[PNR_CLAIM] == ATTACKER_PNR


def _encrypted_with_assertion_signed_by(peer: PeerIdP, request: ReceivedRequest, signer: PeerIdP) -> PostedResponse:
    """A Response signed by ``peer`` whose encrypted assertion is signed with ``signer``'s key."""
    inner = peer.respond(request, sign_response=False, sign_assertion=True, encrypt=True, signing_key=signer.key_pair)
    return peer._finish(  # the peer's own last step: sign the Response as it is
        peer_parse(inner.xml), request, inner.acs_url, (inner.assertion_id, inner.assertion_xml or ""), None, True,
        None, SIG_RSA_SHA256, DIGEST_SHA256,
    )  # fmt: skip


def test_encrypted_assertion_signed_by_another_trusted_providers_key(gateway: RunningGateway) -> None:
    """The same inside an EncryptedAssertion: a signature found after decryption must verify too."""
    steps = begin(gateway)
    request = received(steps)
    forged = _encrypted_with_assertion_signed_by(steps.peer, request, gateway.peers["other"])
    refused(steps, "provider_error", forged, reason="signature")


def test_control_encrypted_assertion_signed_by_the_right_provider(gateway: RunningGateway) -> None:
    """The composition used above, with the right key: accepted."""
    steps = begin(gateway)
    request = received(steps)
    genuine = _encrypted_with_assertion_signed_by(steps.peer, request, steps.peer)
    assert logged_in(steps, genuine)[PNR_CLAIM] == ATTACKER_PNR


# --- algorithms -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sign_alg", "digest_alg"),
    [(SIG_RSA_SHA1, DIGEST_SHA1), (SIG_RSA_SHA256, DIGEST_SHA1), (SIG_RSA_SHA1, DIGEST_SHA256)],
    ids=["rsa-sha1+sha1", "rsa-sha256+sha1-digest", "rsa-sha1+sha256-digest"],
)
def test_response_signed_with_sha1_is_refused(gateway: RunningGateway, sign_alg: str, digest_alg: str) -> None:
    """Deployment Profile 8: SHA-1 is broken and must not be accepted, neither as digest nor in the signature."""
    steps = begin(gateway)
    steps.respond(sign_alg=sign_alg, digest_alg=digest_alg)
    refused(steps, "provider_error", reason="signature")


def test_assertion_signed_with_sha1_inside_a_sha256_response_is_refused(gateway: RunningGateway) -> None:
    """Inner signatures get the same algorithm rules as the outer one."""
    steps = begin(gateway, "plain")
    request = received(steps)
    weak = steps.peer.respond(
        request, sign_response=False, sign_assertion=True, encrypt=False, sign_alg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1
    )
    assert weak.assertion_xml is not None
    refused(steps, "provider_error", _signed_around(steps.peer, request, weak.assertion_xml), reason="signature")


def _hmac_signed(xml: str, key: bytes, method: object, output_length: int | None = None) -> str:
    """``xml`` re-signed by the attacker with an HMAC keyed by ``key`` (which the attacker knows)."""
    root = etree.fromstring(unsigned(xml).encode())
    template = xmlsec.template.create(root, xmlsec.constants.TransformExclC14N, method, ns="ds")
    root.insert(after_issuer(root), template)
    reference = xmlsec.template.add_reference(template, xmlsec.constants.TransformSha256, uri="#" + root.get("ID", ""))
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataHmac, key)
    context.sign(template)
    if output_length is not None:
        method_element = template.find("ds:SignedInfo/ds:SignatureMethod", NS)
        etree.SubElement(method_element, f"{{{NS_DS}}}HMACOutputLength").text = str(output_length)
        template.find("ds:SignatureValue", NS).text = ""
    return serialize(root)


def test_hmac_signature_keyed_with_the_providers_public_certificate(gateway: RunningGateway) -> None:
    """Algorithm confusion: HMAC-SHA256 with the provider's public certificate (from metadata) as the secret."""
    steps = begin(gateway)
    posted = steps.respond()
    forged = _hmac_signed(posted.xml, steps.peer.key_pair.cert_pem, xmlsec.constants.TransformHmacSha256)
    refused(steps, "provider_error", with_xml(posted, forged), reason="signature")


def test_hmac_signature_truncated_to_zero_bits(gateway: RunningGateway) -> None:
    """CVE-2009-0217: HMACOutputLength 0 with an empty SignatureValue, which some verifiers accepted."""
    steps = begin(gateway)
    posted = steps.respond()
    forged = _hmac_signed(posted.xml, b"any key", xmlsec.constants.TransformHmacSha1, output_length=0)
    refused(steps, "provider_error", with_xml(posted, forged), reason="signature")


# --- stripped and crafted signatures -----------------------------------------------------------------


def _edit_signature(posted: PostedResponse, edit: object) -> PostedResponse:
    root = parse(posted.xml)
    edit(root.find("ds:Signature", NS))  # type: ignore[operator]
    return with_xml(posted, serialize(root))


def test_empty_signature_value(gateway: RunningGateway) -> None:
    steps = begin(gateway)
    posted = steps.respond()

    def empty(signature: etree._Element) -> None:
        signature.find("ds:SignatureValue", NS).text = ""

    refused(steps, "provider_error", _edit_signature(posted, empty), reason="signature")


def test_signature_without_a_reference(gateway: RunningGateway) -> None:
    """A SignedInfo with no Reference signs nothing at all (a bare signature over SignedInfo verifies). The
    XML Signature schema requires a Reference, so the schema check refuses it before the signature check
    (whose own rule, one Reference to the signed element, tests/unit/saml/test_xmlsec_backend.py tests)."""
    steps = begin(gateway)
    posted = steps.respond()

    def drop_reference(signature: etree._Element) -> None:
        signed_info = signature.find("ds:SignedInfo", NS)
        signed_info.remove(signed_info.find("ds:Reference", NS))

    refused(steps, "provider_error", _edit_signature(posted, drop_reference), reason="SAML schemas")


def test_signature_over_the_whole_document_by_empty_uri(gateway: RunningGateway) -> None:
    """Reference URI "" (the whole document) instead of "#ID" (saml-core 5.4.2)."""
    steps = begin(gateway)
    posted = steps.respond()

    def empty_uri(signature: etree._Element) -> None:
        signature.find("ds:SignedInfo/ds:Reference", NS).set("URI", "")

    refused(steps, "provider_error", _edit_signature(posted, empty_uri), reason="signature")


def test_plaintext_response_with_no_signature_anywhere(gateway: RunningGateway) -> None:
    """The provider without required encryption still requires the Response signature (DP 6.1)."""
    steps = begin(gateway, "plain")
    steps.respond(encrypt=False, sign_response=False)
    refused(steps, "provider_error", reason="signature")


def test_plaintext_response_with_only_the_assertion_signed(gateway: RunningGateway) -> None:
    """The signed assertion alone leaves the Response's InResponseTo, Destination and Status unsigned."""
    steps = begin(gateway, "plain")
    steps.respond(encrypt=False, sign_response=False, sign_assertion=True)
    refused(steps, "provider_error", reason="signature")


def test_xslt_transform_is_never_run(gateway: RunningGateway, tmp_path: Path) -> None:
    """pysaml2 #1035 class: an XSLT Reference transform that would write a file when executed."""
    marker = tmp_path / "xslt-ran"
    stylesheet = (
        '<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" '
        'xmlns:exsl="http://exslt.org/common" extension-element-prefixes="exsl" version="1.0">'
        f'<xsl:template match="/"><exsl:document href="{marker}">x</exsl:document></xsl:template>'
        "</xsl:stylesheet>"
    )
    steps = begin(gateway)
    posted = steps.respond()

    def add_xslt(signature: etree._Element) -> None:
        transforms = signature.find("ds:SignedInfo/ds:Reference/ds:Transforms", NS)
        transform = etree.SubElement(transforms, f"{{{NS_DS}}}Transform")
        transform.set("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116")
        transform.append(etree.fromstring(stylesheet))

    refused(steps, "provider_error", _edit_signature(posted, add_xslt), reason="signature")
    assert not marker.exists()


def test_reference_and_retrieval_uris_are_never_fetched(gateway: RunningGateway) -> None:
    """SSRF through the signature (pysaml2 #510): an http Reference URI and a KeyInfo RetrievalMethod."""
    with tripwire() as wire:
        steps = begin(gateway)
        posted = steps.respond()

        def point_outside(signature: etree._Element) -> None:
            signature.find("ds:SignedInfo/ds:Reference", NS).set("URI", f"{wire.url}/reference")
            key_info = signature.find("ds:KeyInfo", NS)
            etree.SubElement(key_info, f"{{{NS_DS}}}RetrievalMethod").set("URI", f"{wire.url}/retrieval")

        refused(steps, "provider_error", _edit_signature(posted, point_outside), reason="signature")
    assert wire.hits == []


def test_no_personal_data_in_the_log_after_these_attacks(gateway: RunningGateway) -> None:
    """Runs last in this module: every refused and accepted response above was logged without a trace of
    who it named (citizens appear as pseudonyms only)."""
    assert_log_is_clean(gateway)
