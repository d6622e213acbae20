"""Self-tests of the peer IdP against a second, plain pysaml2 SP.

The gateway's tests will trust what this peer sends, so the peer is first checked against an SP that
is not the gateway: a stock ``Saml2Client`` on the xmlsec1 backend with its own keys. If that SP accepts
the peer's responses, and sees every override the peer claims to make, a failure in a gateway test
points at the gateway, not at the peer.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import saml2
from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2 import samlp
from saml2.config import SPConfig
from saml2.mdstore import MetadataStore
from saml2.response import StatusError
from saml2.response import StatusNoPassive
from saml2.response import UnsolicitedResponse
from saml2.sigver import DecryptError
from saml2.sigver import SignatureError
from saml2.xmldsig import DIGEST_SHA256
from saml2.xmldsig import SIG_RSA_SHA1
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.trust.certs import KeyPair
from gateway.trust.certs import cert_body
from gateway.trust.certs import generate_key_pair
from tests.peers.saml_idp import AES128_GCM
from tests.peers.saml_idp import AES256_CBC
from tests.peers.saml_idp import ASSURANCE_CERTIFICATION
from tests.peers.saml_idp import EC_SUPPORTS_USER_MESSAGE
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import LOA4
from tests.peers.saml_idp import NS_PSC
from tests.peers.saml_idp import NSMAP
from tests.peers.saml_idp import STATUS_CANCEL
from tests.peers.saml_idp import STATUS_NO_PASSIVE
from tests.peers.saml_idp import STATUS_REQUESTER
from tests.peers.saml_idp import PeerIdP
from tests.peers.saml_idp import PeerRejected
from tests.peers.saml_idp import ReceivedRequest
from tests.peers.xmlsec1_sp import Xmlsec1SP

SP_ENTITY_ID = "https://sp.selftest.example/sp"
SP_ACS = "https://sp.selftest.example/acs"
PNR_OID = "urn:oid:1.2.752.29.4.13"
XENC = "http://www.w3.org/2001/04/xmlenc#"
DSIG = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(frozen=True)
class Keys:
    """Every key the module needs, generated once: RSA 3072 generation is the slow part."""

    idp: KeyPair
    sp_signing: KeyPair
    sp_encryption: KeyPair
    stranger: KeyPair


class SelfTestSP(Xmlsec1SP):
    """A stock pysaml2 SP on the xmlsec1 backend, standing in for the gateway it is not."""

    def __init__(self, workdir: Path, keys: Keys, idp_metadata: str, signing: KeyPair | None = None) -> None:
        super().__init__(
            workdir, idp_metadata, entity_id=SP_ENTITY_ID, acs_url=SP_ACS,
            signing=signing or keys.sp_signing, encryption=keys.sp_encryption,
        )  # fmt: skip

    def login_url(
        self, idp_entity_id: str, *, loas: tuple[str, ...] = (LOA3, LOA4), relay_state: str = "tx-123", **kwargs: object
    ) -> tuple[str, str]:
        """A signed HTTP-Redirect AuthnRequest with RequestedAuthnContext: (request ID, URL)."""
        return super().login_url(idp_entity_id, loas=loas, relay_state=relay_state, **kwargs)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        idp=generate_key_pair("selftest idp"),
        sp_signing=generate_key_pair("selftest sp signing"),
        sp_encryption=generate_key_pair("selftest sp encryption"),
        stranger=generate_key_pair("selftest stranger"),
    )


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> PeerIdP:
    return PeerIdP(
        tmp_path_factory.mktemp("peer"),
        loas=(LOA3, LOA4),
        key_pair=keys.idp,
        supports_principal_selection=True,
        supports_user_message=True,
    )


@pytest.fixture(scope="module")
def sp(tmp_path_factory: pytest.TempPathFactory, keys: Keys, peer: PeerIdP) -> SelfTestSP:
    client = SelfTestSP(tmp_path_factory.mktemp("sp"), keys, peer.metadata_xml())
    peer.trust_sp(client.metadata_xml())
    return client


@pytest.fixture
def login(sp: SelfTestSP, peer: PeerIdP) -> tuple[str, ReceivedRequest]:
    """A fresh signed AuthnRequest from the self-test SP, already received by the peer."""
    request_id, url = sp.login_url(peer.entity_id)
    return request_id, peer.receive(url)


# -- metadata --------------------------------------------------------------------------------------


def test_metadata_loads_in_pysaml2_with_loas_categories_and_keys(peer: PeerIdP, keys: Keys) -> None:
    store = MetadataStore(attrc=SPConfig().attribute_converters, config=SPConfig())
    store.load("inline", peer.metadata_xml())

    assert list(store.assurance_certifications(peer.entity_id)) == [LOA3, LOA4]
    categories = store.entity_categories(peer.entity_id)
    assert "http://id.elegnamnden.se/ec/1.0/loa3-pnr" in categories
    assert "http://id.swedenconnect.se/ec/1.0/loa3-name" in categories
    assert EC_SUPPORTS_USER_MESSAGE in categories
    signing = ["".join(cert.split()) for _name, cert in store.certs(peer.entity_id, "idpsso", "signing")]
    assert signing == [cert_body(keys.idp.cert_pem)]
    endpoints = store.single_sign_on_service(peer.entity_id, BINDING_HTTP_REDIRECT)
    assert [e["location"] for e in endpoints] == [peer.sso_url]
    assert store.single_sign_on_service(peer.entity_id, BINDING_HTTP_POST)

    root = etree.fromstring(peer.metadata_xml().encode())
    idp = root.find("md:IDPSSODescriptor", NSMAP)
    assert idp is not None
    assert idp.get("WantAuthnRequestsSigned") == "true"
    assert [el.text for el in idp.findall("md:NameIDFormat", NSMAP)] == [
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    ]
    match = idp.find("md:Extensions/psc:RequestedPrincipalSelection/psc:MatchValue", NSMAP)
    assert match is not None
    assert match.get("Name") == PNR_OID
    certification = root.find(
        f"md:Extensions/mdattr:EntityAttributes/saml:Attribute[@Name='{ASSURANCE_CERTIFICATION}']", NSMAP
    )
    assert certification is not None


def test_metadata_without_optional_features_declares_none(tmp_path: Path, keys: Keys) -> None:
    plain = PeerIdP(tmp_path, key_pair=keys.idp)
    xml = plain.metadata_xml()
    assert EC_SUPPORTS_USER_MESSAGE not in xml
    assert "RequestedPrincipalSelection" not in xml
    assert "loa3-pnr" in xml
    assert "loa4-pnr" not in xml


# -- receiving -------------------------------------------------------------------------------------


def test_receive_verifies_signed_redirect_and_reads_the_request(sp: SelfTestSP, peer: PeerIdP) -> None:
    request_id, url = sp.login_url(peer.entity_id, relay_state="tx-42")

    request = peer.receive(url)

    assert request.signature_verified
    assert request.sig_alg == SIG_RSA_SHA256
    assert request.id == request_id
    assert request.issuer == SP_ENTITY_ID
    assert request.acs_url == SP_ACS
    assert request.destination == peer.sso_url
    assert request.relay_state == "tx-42"
    assert request.requested_loas == (LOA3, LOA4)
    assert request.comparison == "exact"
    assert request.force_authn is True
    assert request.is_passive is None
    assert request.extensions_xml is None
    assert request_id in request.raw_xml


def _tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def test_receive_rejects_a_changed_relay_state(sp: SelfTestSP, peer: PeerIdP) -> None:
    _request_id, url = sp.login_url(peer.entity_id)
    with pytest.raises(PeerRejected, match="does not verify"):
        peer.receive(_tamper(url, RelayState="someone-else"))


def test_receive_rejects_an_unsigned_request_unless_told_not_to_verify(sp: SelfTestSP, peer: PeerIdP) -> None:
    _request_id, url = sp.login_url(peer.entity_id, sign=False)
    with pytest.raises(PeerRejected, match="unsigned"):
        peer.receive(url)

    request = peer.receive(url, verify=False)
    assert not request.signature_verified
    assert request.requested_loas == (LOA3, LOA4)


def test_receive_rejects_rsa_sha1(sp: SelfTestSP, peer: PeerIdP) -> None:
    _request_id, url = sp.login_url(peer.entity_id, sigalg=SIG_RSA_SHA1)
    with pytest.raises(PeerRejected, match="rsa-sha256"):
        peer.receive(url)


def test_receive_rejects_a_key_not_in_the_sp_metadata(tmp_path: Path, keys: Keys, peer: PeerIdP) -> None:
    impostor = SelfTestSP(tmp_path, keys, peer.metadata_xml(), signing=keys.stranger)
    _request_id, url = impostor.login_url(peer.entity_id)
    with pytest.raises(PeerRejected, match="does not verify"):
        peer.receive(url)


def test_receive_exposes_principal_selection_extension(sp: SelfTestSP, peer: PeerIdP) -> None:
    match_value = saml2.ExtensionElement(
        "MatchValue", namespace=NS_PSC, attributes={"Name": PNR_OID}, text="199203102380"
    )
    selection = saml2.ExtensionElement("PrincipalSelection", namespace=NS_PSC, children=[match_value])
    extensions = samlp.Extensions(extension_elements=[selection])

    _request_id, url = sp.login_url(peer.entity_id, extensions=extensions)
    request = peer.receive(url)

    assert request.principal_selection == ((PNR_OID, "199203102380"),)
    assert request.extensions_xml is not None
    assert "PrincipalSelection" in request.extensions_xml


# -- responding ------------------------------------------------------------------------------------


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, NSMAP | {"xenc": XENC, "ds": DSIG})
    assert found is not None, f"{path} missing"
    return found


def test_response_parses_in_pysaml2_with_attributes_and_loa(
    sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]
) -> None:
    request_id, request = login

    posted = peer.respond(request)
    result = sp.parse(posted, request_id)

    assert posted.acs_url == SP_ACS
    assert posted.form() == {"SAMLResponse": posted.saml_response, "RelayState": "tx-123"}
    assert result.ava == {
        "personalIdentityNumber": ["199203102380"],
        "givenName": ["Testa"],
        "sn": ["Testsson"],
        "displayName": ["Testa Testsson"],
        "dateOfBirth": ["1992-03-10"],
    }
    assert [info[0] for info in result.authn_info()] == [LOA3]
    assert result.name_id.format == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert result.name_id.name_qualifier == peer.entity_id
    assert result.name_id.sp_name_qualifier == SP_ENTITY_ID
    assert result.assertion.id == posted.assertion_id


def test_response_is_signed_and_encrypted_with_profile_algorithms(
    peer: PeerIdP, login: tuple[str, ReceivedRequest]
) -> None:
    _request_id, request = login

    root = etree.fromstring(peer.respond(request).xml.encode())

    assert root.find("saml:Assertion", NSMAP) is None
    signature = _one(root, "ds:Signature")
    assert root.index(signature) == 1, "ds:Signature must follow Issuer"
    assert _one(signature, "ds:SignedInfo/ds:SignatureMethod").get("Algorithm") == SIG_RSA_SHA256
    assert _one(signature, "ds:SignedInfo/ds:Reference").get("URI") == "#" + root.get("ID", "")
    assert _one(signature, "ds:SignedInfo/ds:Reference/ds:DigestMethod").get("Algorithm") == DIGEST_SHA256
    transforms = [t.get("Algorithm") for t in signature.iterfind(".//ds:Transform", {"ds": DSIG})]
    assert transforms == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    data = _one(root, "saml:EncryptedAssertion/xenc:EncryptedData")
    assert _one(data, "xenc:EncryptionMethod").get("Algorithm") == AES256_CBC
    key_transport = _one(data, "ds:KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod").get("Algorithm")
    assert key_transport == "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
    assert "rsa-1_5" not in etree.tostring(root).decode()


def test_aes_gcm_assertion_decrypts_in_pysaml2(
    sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]
) -> None:
    request_id, request = login

    posted = peer.respond(request, block_alg=AES128_GCM)

    assert AES128_GCM in posted.xml
    assert sp.parse(posted, request_id).ava["personalIdentityNumber"] == ["199203102380"]


def test_loa_and_attributes_can_be_chosen(sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]) -> None:
    request_id, request = login

    posted = peer.respond(
        request,
        loa=LOA4,
        attributes={"sn": ["Andersson"], PNR_OID: ["190101019801"], "mail": ["a@example.se", "b@example.se"]},
    )
    result = sp.parse(posted, request_id)

    assert [info[0] for info in result.authn_info()] == [LOA4]
    assert result.ava == {
        "sn": ["Andersson"],
        "personalIdentityNumber": ["190101019801"],
        "mail": ["a@example.se", "b@example.se"],
    }
    names = {a.get("Name"): a.get("NameFormat") for a in sp.decrypted(posted).iterfind(".//saml:Attribute", NSMAP)}
    assert names == {
        "urn:oid:2.5.4.4": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
        PNR_OID: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
        "urn:oid:0.9.2342.19200300.100.1.3": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    }


def test_unknown_friendly_name_is_refused(peer: PeerIdP, login: tuple[str, ReceivedRequest]) -> None:
    with pytest.raises(KeyError, match="nickname"):
        peer.respond(login[1], attributes={"nickname": ["x"]})


def test_signed_assertion_verifies_in_pysaml2(
    sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]
) -> None:
    request_id, request = login

    posted = peer.respond(request, sign_assertion=True)
    result = sp.parse(posted, request_id)

    assert result.assertion.signature is not None
    assert posted.assertion_xml is not None
    assert "SignatureValue" in posted.assertion_xml


def test_overrides_land_in_the_decrypted_xml(sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]) -> None:
    _request_id, request = login
    expiry = datetime.datetime(2031, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    start = datetime.datetime(2031, 2, 3, 4, 0, 0, tzinfo=datetime.UTC)

    posted = peer.respond(
        request,
        audience="https://someone-else.example/sp",
        in_response_to="_not-the-request",
        not_on_or_after=expiry,
        not_before=start,
        issue_instant=start,
        authn_instant=start,
        recipient="https://elsewhere.example/acs",
        destination="https://elsewhere.example/dest",
        issuer="https://forged.example/idp",
        name_id="fixed-pseudonym",
    )
    root = sp.decrypted(posted)

    assert root.get("InResponseTo") == "_not-the-request"
    assert root.get("Destination") == "https://elsewhere.example/dest"
    assert root.get("IssueInstant") == "2031-02-03T04:00:00.000Z"
    assert _one(root, "saml:Issuer").text == "https://forged.example/idp"
    assertion = _one(root, "saml:EncryptedAssertion/saml:Assertion")
    assert _one(assertion, "saml:Issuer").text == "https://forged.example/idp"
    assert _one(assertion, "saml:Conditions/saml:AudienceRestriction/saml:Audience").text == (
        "https://someone-else.example/sp"
    )
    conditions = _one(assertion, "saml:Conditions")
    assert conditions.get("NotBefore") == "2031-02-03T04:00:00.000Z"
    assert conditions.get("NotOnOrAfter") == "2031-02-03T04:05:06.000Z"
    data = _one(assertion, "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData")
    assert data.get("InResponseTo") == "_not-the-request"
    assert data.get("Recipient") == "https://elsewhere.example/acs"
    assert data.get("NotOnOrAfter") == "2031-02-03T04:05:06.000Z"
    assert _one(assertion, "saml:Subject/saml:NameID").text == "fixed-pseudonym"
    assert _one(assertion, "saml:AuthnStatement").get("AuthnInstant") == "2031-02-03T04:00:00.000Z"


def test_wrong_in_response_to_is_refused_by_pysaml2(
    sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]
) -> None:
    request_id, request = login
    with pytest.raises(UnsolicitedResponse):
        sp.parse(peer.respond(request, in_response_to="_not-the-request"), request_id)


def test_unsolicited_response_has_no_in_response_to(
    sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]
) -> None:
    _request_id, request = login
    root = sp.decrypted(peer.respond(request, in_response_to=None))
    assert root.get("InResponseTo") is None
    data = _one(root, ".//saml:SubjectConfirmationData")
    assert data.get("InResponseTo") is None


def test_mutations_are_applied_before_the_signatures(
    sp: SelfTestSP, peer: PeerIdP, login: tuple[str, ReceivedRequest]
) -> None:
    request_id, request = login

    def add_attribute(assertion: etree._Element) -> None:
        statement = _one(assertion, "saml:AttributeStatement")
        attribute = etree.SubElement(
            statement,
            f"{{{NSMAP['saml']}}}Attribute",
            Name="urn:oid:2.5.4.6",
            NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
        )
        etree.SubElement(attribute, f"{{{NSMAP['saml']}}}AttributeValue").text = "SE"

    def drop_destination(response: etree._Element) -> None:
        del response.attrib["Destination"]

    posted = peer.respond(
        request, sign_assertion=True, mutate_assertion=add_attribute, mutate_response=drop_destination
    )
    result = sp.parse(posted, request_id)

    assert result.ava["c"] == ["SE"]
    assert "Destination" not in sp.decrypted(posted).attrib


def test_signature_by_a_key_not_in_metadata_fails(
    sp: SelfTestSP, peer: PeerIdP, keys: Keys, login: tuple[str, ReceivedRequest]
) -> None:
    request_id, request = login
    with pytest.raises(SignatureError):
        sp.parse(peer.respond(request, signing_key=keys.stranger), request_id)


def test_encryption_to_another_certificate_cannot_be_decrypted(
    sp: SelfTestSP, peer: PeerIdP, keys: Keys, login: tuple[str, ReceivedRequest]
) -> None:
    request_id, request = login
    posted = peer.respond(request, encryption_cert_pem=keys.stranger.cert_pem)

    with pytest.raises(DecryptError):
        sp.decrypted(posted)
    # pysaml2 swallows the DecryptError and hands back a response without an assertion.
    result = sp.parse(posted, request_id)
    assert result is None or result.assertion is None


def test_plain_unsigned_response_when_asked(peer: PeerIdP, login: tuple[str, ReceivedRequest]) -> None:
    root = etree.fromstring(peer.respond(login[1], sign_response=False, encrypt=False).xml.encode())
    assert root.find("ds:Signature", {"ds": DSIG}) is None
    assert root.find("saml:Assertion", NSMAP) is not None
    assert root.find("saml:EncryptedAssertion", NSMAP) is None


@pytest.mark.parametrize(
    ("sub_status", "error"),
    [(STATUS_CANCEL, StatusError), (STATUS_NO_PASSIVE, StatusNoPassive)],
)
def test_error_status_is_signed_has_no_assertion_and_raises_in_pysaml2(
    sp: SelfTestSP,
    peer: PeerIdP,
    login: tuple[str, ReceivedRequest],
    sub_status: str,
    error: type[StatusError],
) -> None:
    request_id, request = login

    posted = peer.respond(request, status=STATUS_REQUESTER, sub_status=sub_status)
    root = etree.fromstring(posted.xml.encode())

    assert root.find("ds:Signature", {"ds": DSIG}) is not None
    assert root.find("saml:EncryptedAssertion", NSMAP) is None
    assert root.find("saml:Assertion", NSMAP) is None
    assert _one(root, "samlp:Status/samlp:StatusCode").get("Value") == STATUS_REQUESTER
    assert _one(root, "samlp:Status/samlp:StatusCode/samlp:StatusCode").get("Value") == sub_status
    assert posted.relay_state == "tx-123"
    with pytest.raises(error) as raised:
        sp.parse(posted, request_id)
    assert raised.type is error
