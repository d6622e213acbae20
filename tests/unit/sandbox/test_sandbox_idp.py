"""The sandbox IdP against an independent SP: a stock pysaml2 ``Saml2Client`` on the xmlsec1 binary.

The sandbox signs, verifies and encrypts in-process with python-xmlsec; this SP verifies and decrypts
with the xmlsec1 binary and its own keys, so a response it accepts is one another implementation
accepts, not one the gateway's own backend agrees with itself about.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2 import saml
from saml2.response import StatusError
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA1
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.mapping.loa import LOA3
from gateway.mapping.loa import LOA4
from gateway.sandbox.identities import IDENTITIES
from gateway.sandbox.idp import ASSURANCE_CERTIFICATION
from gateway.sandbox.idp import STATUS_CANCEL
from gateway.sandbox.idp import STATUS_NO_AUTHN_CONTEXT
from gateway.sandbox.idp import SandboxIdP
from gateway.sandbox.idp import SandboxRequest
from gateway.sandbox.idp import SandboxRequestError
from gateway.trust.certs import generate_key_pair
from tests.peers.xmlsec1_sp import Xmlsec1SP

BASE_URL = "http://localhost:8080"
SP_ENTITY_ID = "https://sp.sandbox-test.example/sp"
SP_ACS = "https://sp.sandbox-test.example/acs"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}


@dataclass(frozen=True)
class Login:
    """A signed AuthnRequest as the SP sent it: its ID and the Redirect query parameters."""

    request_id: str
    args: dict[str, str]


class IndependentSP(Xmlsec1SP):
    """A stock pysaml2 SP with its own keys, verifying and decrypting with /usr/bin/xmlsec1."""

    def __init__(self, workdir: Path, idp_metadata: str) -> None:
        super().__init__(
            workdir, idp_metadata, entity_id=SP_ENTITY_ID, acs_url=SP_ACS,
            signing=generate_key_pair("sandbox test sp sign"), encryption=generate_key_pair("sandbox test sp enc"),
        )  # fmt: skip

    def login(self, idp: SandboxIdP, *, loas: tuple[str, ...] = (LOA4, LOA3), sigalg: str = SIG_RSA_SHA256) -> Login:
        """A signed AuthnRequest to the sandbox: its ID and the Redirect query parameters."""
        request_id, location = self.login_url(idp.entity_id, loas=loas, relay_state="tx-4711", sigalg=sigalg)
        return Login(request_id, dict(parse_qsl(urlsplit(location).query)))


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> SandboxIdP:
    return _idp(tmp_path_factory)


def _idp(tmp_path_factory: pytest.TempPathFactory) -> SandboxIdP:
    workdir = tmp_path_factory.mktemp("sandbox-idp")
    pair = generate_key_pair("sandbox idp under test")
    (workdir / "idp.pem").write_bytes(pair.key_pem)
    (workdir / "idp.crt").write_bytes(pair.cert_pem)
    return SandboxIdP(base_url=BASE_URL, key_path=workdir / "idp.pem", cert_path=workdir / "idp.crt")


@pytest.fixture(scope="module")
def sp(tmp_path_factory: pytest.TempPathFactory, idp: SandboxIdP) -> IndependentSP:
    client = IndependentSP(tmp_path_factory.mktemp("sp"), idp.metadata_xml())
    idp.trust_sp(client.metadata_xml())
    return client


@pytest.fixture
def login(sp: IndependentSP, idp: SandboxIdP) -> Login:
    return sp.login(idp)


@pytest.fixture
def request_(idp: SandboxIdP, login: Login) -> SandboxRequest:
    return idp.receive(login.args)


def _xml(saml_response: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(saml_response))


# -- metadata --------------------------------------------------------------------------------------


def test_metadata_declares_sso_signing_key_signed_requests_and_loas(idp: SandboxIdP) -> None:
    root = etree.fromstring(idp.metadata_xml().encode())
    assert root.get("entityID") == f"{BASE_URL}/sandbox/idp"
    descriptor = root.find("md:IDPSSODescriptor", NS)
    assert descriptor.get("WantAuthnRequestsSigned") == "true"
    assert [k.get("use") for k in descriptor.findall("md:KeyDescriptor", NS)] == ["signing"]
    sso = descriptor.find("md:SingleSignOnService", NS)
    assert (sso.get("Binding"), sso.get("Location")) == (BINDING_HTTP_REDIRECT, f"{BASE_URL}/sandbox/idp/sso")
    loas = root.findall(f".//saml:Attribute[@Name='{ASSURANCE_CERTIFICATION}']/saml:AttributeValue", NS)
    assert [v.text for v in loas] == [LOA3]


# -- receive ---------------------------------------------------------------------------------------


def test_receive_accepts_a_signed_request(idp: SandboxIdP, login: Login) -> None:
    request = idp.receive(login.args)
    assert request.id == login.request_id
    assert request.issuer == SP_ENTITY_ID
    assert request.acs_url == SP_ACS
    assert request.relay_state == "tx-4711"
    assert request.requested_loas == (LOA4, LOA3)
    assert request.loa == LOA3
    assert request.force_authn is True


def test_receive_refuses_an_unsigned_request(idp: SandboxIdP, login: Login) -> None:
    unsigned = {k: v for k, v in login.args.items() if k not in ("Signature", "SigAlg")}
    with pytest.raises(SandboxRequestError):
        idp.receive(unsigned)


def test_receive_refuses_a_modified_relay_state(idp: SandboxIdP, login: Login) -> None:
    with pytest.raises(SandboxRequestError):
        idp.receive({**login.args, "RelayState": "tx-other"})


def test_receive_refuses_a_signature_that_does_not_match(idp: SandboxIdP, sp: IndependentSP) -> None:
    first, second = sp.login(idp), sp.login(idp)
    with pytest.raises(SandboxRequestError):
        idp.receive({**first.args, "Signature": second.args["Signature"]})


def test_receive_refuses_rsa_sha1(idp: SandboxIdP, sp: IndependentSP) -> None:
    with pytest.raises(SandboxRequestError, match="SigAlg"):
        idp.receive(sp.login(idp, sigalg=SIG_RSA_SHA1).args)


# -- respond ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda identity: identity.key)
def test_respond_is_accepted_by_an_independent_sp(
    idp: SandboxIdP, sp: IndependentSP, login: Login, request_: SandboxRequest, identity: object
) -> None:
    posted = idp.respond(request_, identity)  # type: ignore[arg-type]
    assert posted.acs_url == SP_ACS
    assert posted.relay_state == "tx-4711"

    parsed = sp.parse(posted.saml_response, login.request_id)

    assert parsed.response.signature is not None
    assert parsed.assertion.authn_statement[0].authn_context.authn_context_class_ref.text == LOA3
    assert parsed.assertion.subject.name_id.format == saml.NAMEID_FORMAT_PERSISTENT
    attributes = {
        a.name: [v.text for v in a.attribute_value]
        for statement in parsed.assertion.attribute_statement
        for a in statement.attribute
    }
    assert attributes == identity.attributes()  # type: ignore[attr-defined]
    formats = {a.name_format for s in parsed.assertion.attribute_statement for a in s.attribute}
    assert formats == {saml.NAME_FORMAT_URI}


def test_response_is_signed_over_an_encrypted_assertion(idp: SandboxIdP, request_: SandboxRequest) -> None:
    root = _xml(idp.respond(request_, IDENTITIES[0]).saml_response)
    assert root.find("saml:Assertion", NS) is None
    assert root.find("saml:EncryptedAssertion/xenc:EncryptedData", NS) is not None
    signature = root.find("ds:Signature", NS)
    assert signature.find("ds:SignedInfo/ds:Reference", NS).get("URI") == "#" + root.get("ID")
    methods = {e.get("Algorithm") for e in signature.iter(f"{{{NS['ds']}}}SignatureMethod")}
    assert methods == {SIG_RSA_SHA256}
    assert {e.get("Algorithm") for e in signature.iter(f"{{{NS['ds']}}}DigestMethod")} == {DIGEST_SHA256}


def test_response_confirms_bearer_for_this_request(
    idp: SandboxIdP, sp: IndependentSP, login: Login, request_: SandboxRequest
) -> None:
    parsed = sp.parse(idp.respond(request_, IDENTITIES[0]).saml_response, login.request_id)
    assert parsed.response.destination == SP_ACS
    assert parsed.response.in_response_to == login.request_id
    confirmation = parsed.assertion.subject.subject_confirmation[0]
    assert confirmation.method == saml.SCM_BEARER
    data = confirmation.subject_confirmation_data
    assert (data.in_response_to, data.recipient) == (login.request_id, SP_ACS)
    assert data.not_on_or_after
    conditions = parsed.assertion.conditions
    assert conditions.not_before
    assert conditions.not_on_or_after
    assert conditions.audience_restriction[0].audience[0].text == SP_ENTITY_ID


def test_persistent_name_id_is_stable_per_identity(
    idp: SandboxIdP, sp: IndependentSP, request_: SandboxRequest, login: Login
) -> None:
    first = sp.parse(idp.respond(request_, IDENTITIES[0]).saml_response, login.request_id)
    again = sp.parse(idp.respond(request_, IDENTITIES[0]).saml_response, login.request_id)
    other = sp.parse(idp.respond(request_, IDENTITIES[1]).saml_response, login.request_id)
    assert first.assertion.subject.name_id.text == again.assertion.subject.name_id.text
    assert first.assertion.subject.name_id.text != other.assertion.subject.name_id.text


# -- cancel and errors -----------------------------------------------------------------------------


def test_cancel_is_a_status_error_in_the_sp(
    idp: SandboxIdP, sp: IndependentSP, login: Login, request_: SandboxRequest
) -> None:
    posted = idp.cancel(request_)
    root = _xml(posted.saml_response)
    codes = [c.get("Value") for c in root.iter(f"{{{NS['samlp']}}}StatusCode")]
    assert codes == ["urn:oasis:names:tc:SAML:2.0:status:Requester", STATUS_CANCEL]
    assert root.find("ds:Signature", NS) is not None
    with pytest.raises(StatusError):
        sp.parse(posted.saml_response, login.request_id)


def test_offer_without_a_matching_loa_declines_with_no_authn_context(idp: SandboxIdP, sp: IndependentSP) -> None:
    login = sp.login(idp, loas=(LOA4,))
    offer = idp.offer(login.args)
    assert offer.request.loa is None
    assert offer.logins == ()
    codes = [c.get("Value") for c in _xml(offer.decline.saml_response).iter(f"{{{NS['samlp']}}}StatusCode")]
    assert codes[-1] == STATUS_NO_AUTHN_CONTEXT
    with pytest.raises(StatusError):
        sp.parse(offer.decline.saml_response, login.request_id)


def test_offer_has_one_login_per_identity(idp: SandboxIdP, login: Login) -> None:
    offer = idp.offer(login.args)
    assert [entry.identity for entry in offer.logins] == list(IDENTITIES)
    assert offer.decline.relay_state == "tx-4711"


# -- key pair --------------------------------------------------------------------------------------


def test_trusting_the_sp_again_replaces_its_keys(tmp_path_factory: pytest.TempPathFactory) -> None:
    """After the SP rolls its encryption key over, responses go to the new key only."""
    idp = _idp(tmp_path_factory)  # its own IdP: the shared one must keep trusting the shared SP
    first = IndependentSP(tmp_path_factory.mktemp("first"), idp.metadata_xml())
    rolled = IndependentSP(tmp_path_factory.mktemp("rolled"), idp.metadata_xml())  # same entity ID, other keys
    idp.trust_sp(first.metadata_xml())
    idp.trust_sp(rolled.metadata_xml())
    login = rolled.login(idp)
    response = idp.respond(idp.receive(login.args), IDENTITIES[0])
    assert rolled.parse(response.saml_response, login.request_id).assertion is not None
    assert first.parse(response.saml_response, login.request_id).assertion is None
