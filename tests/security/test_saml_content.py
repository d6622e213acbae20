"""SAML content attacks on the ACS: XML tricks, sizes, binding to the request, time, confirmation, status, LoA.

Each test sends one response that a careless SP would accept (or mis-read) and asserts the exact outcome:
the error code on the citizen's page, no code for the e-service, and nothing left in the store. The rules
come from the Swedish eID Framework Deployment Profile 6.1-6.4 and saml-core/profiles; the attacks from the
published history of SAML SPs (comment truncation CVE-2017-11427 and relatives, XXE CVE-2016-10127/10149,
entity expansion, inflation bombs, replay, unsolicited responses).
"""

from __future__ import annotations

import datetime
import time
import zlib
from collections.abc import Callable

import pytest
import requests
from lxml import etree

from gateway.saml.namespaces import NS_XENC
from tests.integration.harness import RunningGateway
from tests.integration.harness import query
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import LOA4
from tests.peers.saml_idp import STATUS_AUTHN_FAILED
from tests.peers.saml_idp import STATUS_CANCEL
from tests.peers.saml_idp import STATUS_FRAUD
from tests.peers.saml_idp import STATUS_NO_AUTHN_CONTEXT
from tests.peers.saml_idp import STATUS_NO_PASSIVE
from tests.peers.saml_idp import STATUS_POSSIBLE_FRAUD
from tests.peers.saml_idp import STATUS_REQUESTER
from tests.peers.saml_idp import STATUS_RESPONDER
from tests.peers.saml_idp import STATUS_UNKNOWN_PRINCIPAL
from tests.peers.saml_idp import PostedResponse
from tests.security.attack import ATTACKER_PNR
from tests.security.attack import NS
from tests.security.attack import PNR_CLAIM
from tests.security.attack import StoreWatch
from tests.security.attack import assert_log_is_clean
from tests.security.attack import begin
from tests.security.attack import error_code
from tests.security.attack import logged_in
from tests.security.attack import parse
from tests.security.attack import received
from tests.security.attack import refused
from tests.security.attack import serialize
from tests.security.attack import tripwire
from tests.security.attack import with_xml
from tests.security.attack import without_declaration

pytestmark = pytest.mark.slow

SKEW = 60
"""The gateway's configured clock skew (saml.clock_skew, default)."""
MAX_RESPONSE_AGE = 300
PNR_ATTRIBUTE = "urn:oid:1.2.752.29.4.13"
GIVEN_NAME_ATTRIBUTE = "urn:oid:2.5.4.42"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _seconds(value: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


def _value(root: etree._Element, attribute: str) -> etree._Element:
    return root.find(f".//saml:Attribute[@Name='{attribute}']/saml:AttributeValue", NS)


def _with_doctype(posted: PostedResponse, doctype: str, replace: tuple[str, str] | None = None) -> PostedResponse:
    """The response with a DOCTYPE put in front (and optionally text replaced by an entity reference)."""
    body = without_declaration(posted.xml)
    if replace is not None:
        body = body.replace(replace[0], replace[1], 1)
    return with_xml(posted, f'<?xml version="1.0"?>\n{doctype}\n{body}')


# --- XML tricks -----------------------------------------------------------------------------------


_NAMED_PERSON = {"personalIdentityNumber": (ATTACKER_PNR,), "givenName": ("Testa",), "sn": ("Testsson",),
                 "displayName": ("Testa Testsson",), "dateOfBirth": ("1992-03-10",)}  # fmt: skip


def _comments_inside_values(root: etree._Element) -> None:
    """Split the personal identity number and the given name with an empty comment, keeping their text."""
    for attribute, cut in ((PNR_ATTRIBUTE, 8), (GIVEN_NAME_ATTRIBUTE, 3)):
        value = _value(root, attribute)
        text = value.text or ""
        value.text = text[:cut]
        comment = etree.Comment("")
        comment.tail = text[cut:]
        value.append(comment)


def test_comment_inside_values_does_not_truncate_them(gateway: RunningGateway) -> None:
    """CVE-2017-11427 class: exclusive c14n drops comments, so a comment added after signing keeps the
    signature valid; a parser that stops at the comment would read a shorter identity. The gateway must
    read the whole value."""
    steps = begin(gateway, "plain")
    posted = steps.respond(encrypt=False, attributes=_NAMED_PERSON)
    root = parse(posted.xml)
    _comments_inside_values(root)
    claims = logged_in(steps, with_xml(posted, serialize(root)))
    assert claims[PNR_CLAIM] == ATTACKER_PNR
    assert claims["given_name"] == "Testa"


def test_comment_inside_values_of_an_encrypted_assertion_does_not_truncate_them(gateway: RunningGateway) -> None:
    """The same inside an encrypted assertion: the plaintext is parsed by libxmlsec1 when it decrypts, not by
    the parser that leaves comments out, so the gateway strips them from the decrypted assertion itself."""
    steps = begin(gateway)
    steps.respond(mutate_assertion=_comments_inside_values, attributes=_NAMED_PERSON)
    claims = logged_in(steps)
    assert claims[PNR_CLAIM] == ATTACKER_PNR
    assert claims["given_name"] == "Testa"


def test_internal_entity_standing_for_the_victims_number(gateway: RunningGateway) -> None:
    """An entity declared in a DOCTYPE; SAML has no DTD (DP 6.2), so any DOCTYPE is refused."""
    steps = begin(gateway, "plain")
    posted = steps.respond(encrypt=False)
    forged = _with_doctype(posted, '<!DOCTYPE r [<!ENTITY who "191212121212">]>', (ATTACKER_PNR, "&who;"))
    refused(steps, "provider_error", forged, reason="DTD")


def test_external_entity_reading_a_local_file(gateway: RunningGateway) -> None:
    """XXE (CVE-2016-10127): a SYSTEM entity naming /etc/passwd."""
    steps = begin(gateway, "plain")
    posted = steps.respond(encrypt=False)
    forged = _with_doctype(posted, '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', (ATTACKER_PNR, "&x;"))
    refused(steps, "provider_error", forged, reason="DTD")


def test_external_dtd_and_parameter_entity_are_never_fetched(gateway: RunningGateway) -> None:
    """Out-of-band XXE: an external DTD and a parameter entity pointing at a local listener."""
    with tripwire() as wire:
        steps = begin(gateway)
        posted = steps.respond()
        doctype = f'<!DOCTYPE r SYSTEM "{wire.url}/dtd" [<!ENTITY % p SYSTEM "{wire.url}/entity"> %p;]>'
        refused(steps, "provider_error", _with_doctype(posted, doctype), reason="DTD")
    assert wire.hits == []


def test_utf16_document_with_an_external_entity(gateway: RunningGateway) -> None:
    """The same XXE in UTF-16, where a byte search for "<!DOCTYPE" finds nothing."""
    with tripwire() as wire:
        steps = begin(gateway)
        posted = steps.respond()
        body = without_declaration(posted.xml)
        text = f'<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE r SYSTEM "{wire.url}/dtd">\n{body}'
        refused(steps, "provider_error", with_xml(posted, text.encode("utf-16")))
    assert wire.hits == []


def test_billion_laughs_is_refused_at_once(gateway: RunningGateway) -> None:
    """Entity expansion: ten levels of ten, a gigabyte if expanded."""
    entities = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    steps = begin(gateway, "plain")
    posted = steps.respond(encrypt=False)
    forged = _with_doctype(posted, f"<!DOCTYPE r [{''.join(entities)}]>", ("Testa", "&l9;"))
    started = time.monotonic()
    refused(steps, "provider_error", forged, reason="DTD")
    assert time.monotonic() - started < 5


def test_xinclude_is_never_processed(gateway: RunningGateway) -> None:
    """XInclude pointing at a local listener; SAML processors must not resolve it."""
    with tripwire() as wire:
        steps = begin(gateway)
        posted = steps.respond()
        root = parse(posted.xml)
        include = etree.SubElement(root, "{http://www.w3.org/2001/XInclude}include")
        include.set("href", f"{wire.url}/xinclude")
        refused(steps, "provider_error", with_xml(posted, serialize(root)))
    assert wire.hits == []


# --- sizes ------------------------------------------------------------------------------------------


def test_oversized_response_is_refused_before_parsing(gateway: RunningGateway) -> None:
    """300 kB of padding inside the signed document (real responses are a few kB)."""
    steps = begin(gateway)
    posted = steps.respond()
    # Before the root's end tag, whatever prefix the IdP's serializer gave it: ElementTree's prefix
    # registry is process-wide, so the peer writes ns0: or samlp: depending on what ran before.
    closing = posted.xml.rindex("</")
    padded = posted.xml[:closing] + "<!--" + "x" * 300_000 + "-->" + posted.xml[closing:]
    assert posted.xml[closing:].rstrip().endswith(":Response>")
    started = time.monotonic()
    refused(steps, "provider_error", with_xml(posted, padded), reason="too large")
    assert time.monotonic() - started < 5


def test_request_body_beyond_the_limit_leaves_the_login_intact(gateway: RunningGateway) -> None:
    """A 1 MB POST to the ACS is cut off by the body limit (413) before any work; the citizen's login,
    whose RelayState it named, is unharmed and completes with the real response."""
    steps = begin(gateway)
    posted = steps.respond()
    response = requests.post(
        posted.acs_url, data={"SAMLResponse": "A" * 1_048_576, "RelayState": posted.relay_state}, timeout=10
    )
    assert response.status_code == 413
    assert logged_in(steps)[PNR_CLAIM] == ATTACKER_PNR


def test_deflate_bomb_is_never_inflated(gateway: RunningGateway) -> None:
    """The POST binding is not deflated (saml-bindings 3.5.4); pysaml2 would try to inflate it anyway.
    200 kB of raw deflate that expands to 200 MB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = b"".join(compressor.compress(b"\0" * 1_048_576) for _ in range(200)) + compressor.flush()
    steps = begin(gateway)
    posted = steps.respond()
    started = time.monotonic()
    refused(steps, "provider_error", with_xml(posted, bomb), reason="well-formed")
    assert time.monotonic() - started < 5
    assert requests.get(f"{gateway.url}/readyz", timeout=5).status_code == 200


# --- binding to this SP, this request, this browser ----------------------------------------------------


def _drop(path: str, attribute: str | None = None) -> Callable[[etree._Element], None]:
    """A mutation removing the element at ``path`` (or only its ``attribute``)."""

    def mutate(element: etree._Element) -> None:
        for node in element.findall(path, NS) if path else [element]:
            if attribute is None:
                node.getparent().remove(node)
            else:
                node.attrib.pop(attribute, None)

    return mutate


def test_second_audience_restriction_for_another_sp(gateway: RunningGateway) -> None:
    """Several AudienceRestrictions must all be met (saml-core 2.5.1.4); pysaml2 accepts any one of them."""

    def add_foreign(assertion: etree._Element) -> None:
        conditions = assertion.find("saml:Conditions", NS)
        restriction = etree.SubElement(conditions, f"{{{NS['saml']}}}AudienceRestriction")
        etree.SubElement(restriction, f"{{{NS['saml']}}}Audience").text = "https://another-sp.example/sp"

    steps = begin(gateway)
    steps.respond(mutate_assertion=add_foreign)
    refused(steps, "provider_error", reason="Audience")


def test_audience_that_differs_by_a_trailing_slash(gateway: RunningGateway) -> None:
    steps = begin(gateway)
    steps.respond(audience=received(steps).issuer + "/")
    refused(steps, "provider_error")


def test_control_one_restriction_listing_us_among_others_is_accepted(gateway: RunningGateway) -> None:
    """Within one AudienceRestriction any listed audience suffices (saml-core 2.5.1.4)."""

    def add_audience(assertion: etree._Element) -> None:
        restriction = assertion.find("saml:Conditions/saml:AudienceRestriction", NS)
        etree.SubElement(restriction, f"{{{NS['saml']}}}Audience").text = "https://another-sp.example/sp"

    steps = begin(gateway)
    steps.respond(mutate_assertion=add_audience)
    assert logged_in(steps)[PNR_CLAIM] == ATTACKER_PNR


def test_missing_destination(gateway: RunningGateway) -> None:
    """pysaml2 passes a Response without Destination; DP 6.1 requires it on a signed POST response."""
    steps = begin(gateway)
    steps.respond(mutate_response=_drop("", "Destination"))
    refused(steps, "provider_error", reason="Destination")


def test_destination_with_another_port(gateway: RunningGateway) -> None:
    steps = begin(gateway)
    acs = received(steps).acs_url
    steps.respond(destination=acs.replace("127.0.0.1:", "127.0.0.1:1"))
    refused(steps, "provider_error")


def test_missing_recipient(gateway: RunningGateway) -> None:
    steps = begin(gateway)
    steps.respond(mutate_assertion=_drop("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData",
                                          "Recipient"))  # fmt: skip
    refused(steps, "provider_error")


def test_confirmation_in_response_to_missing(gateway: RunningGateway) -> None:
    """The Response names our request but the bearer confirmation does not (pysaml2 skips this check for
    encrypted assertions)."""
    steps = begin(gateway)
    steps.respond(mutate_assertion=_drop("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData",
                                          "InResponseTo"))  # fmt: skip
    refused(steps, "provider_error", reason="InResponseTo")


def test_confirmation_in_response_to_another_request(gateway: RunningGateway) -> None:
    def foreign(assertion: etree._Element) -> None:
        data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
        data.set("InResponseTo", "_another-request")

    steps = begin(gateway)
    steps.respond(mutate_assertion=foreign)
    refused(steps, "provider_error", reason="InResponseTo")


def test_response_for_another_live_login(gateway: RunningGateway) -> None:
    """A genuine response to another citizen's outstanding request, posted with this login's RelayState."""
    victim = begin(gateway)
    attacker = begin(gateway)
    posted = attacker.peer.respond(received(victim))
    forged = PostedResponse(posted.acs_url, posted.saml_response, attacker.posted.relay_state if attacker.posted
                            else received(attacker).relay_state)  # fmt: skip
    refused(attacker, "provider_error", forged)


def test_unsolicited_response_without_relay_state(gateway: RunningGateway) -> None:
    """IdP-initiated SSO (no request, no RelayState) is not accepted (DP 6.1)."""
    steps = begin(gateway)
    posted = steps.peer.respond(received(steps), in_response_to=None)
    watch = StoreWatch(gateway)
    response = requests.post(posted.acs_url, data={"SAMLResponse": posted.saml_response}, timeout=10)
    assert response.status_code == 400
    assert error_code(response) == "expired"
    assert watch.new() <= {"rate"}


@pytest.mark.parametrize(
    "relay_state",
    ["", "x" * 81, "tx:{other}", "../../sess:abc", "a b", "\u00e5\u00e4\u00f6"],
    ids=["empty", "too-long", "key-syntax", "path", "space", "non-ascii"],
)
def test_relay_state_tampering(gateway: RunningGateway, relay_state: str) -> None:
    """RelayState is the only thing the cross-site POST carries; anything but a live transaction id is
    refused at the ACS itself, and none of it reaches a store key."""
    steps = begin(gateway)
    posted = steps.respond()
    watch = StoreWatch(gateway)
    response = requests.post(
        posted.acs_url, data={"SAMLResponse": posted.saml_response, "RelayState": relay_state}, timeout=10
    )
    assert response.status_code == 400
    assert error_code(response) == "expired"
    assert watch.new() <= {"rate"}
    assert logged_in(steps)[PNR_CLAIM] == ATTACKER_PNR


# --- time ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "offset", "accepted"),
    [
        ("not_on_or_after", -SKEW // 2, True),
        ("not_on_or_after", -SKEW - 30, False),
        ("not_before", SKEW // 2, True),
        ("not_before", SKEW + 30, False),
        ("issue_instant", -MAX_RESPONSE_AGE - SKEW // 2, True),
        ("issue_instant", -MAX_RESPONSE_AGE - SKEW - 30, False),
        ("issue_instant", SKEW // 2, True),
        ("issue_instant", SKEW + 30, False),
        ("confirmation_not_on_or_after", -SKEW // 2, True),
        ("confirmation_not_on_or_after", -SKEW - 30, False),
        ("authn_instant", SKEW + 30, False),
    ],
)
def test_time_window_edges_with_the_clock_skew(
    gateway: RunningGateway, field: str, offset: int, accepted: bool
) -> None:
    """Each bound moved to half the skew inside (accepted) or 30 s beyond the skew (refused)."""
    now = _now()
    times = {field: now + _seconds(offset)}
    if field == "not_on_or_after":
        times["not_before"] = now - _seconds(300)
    if field == "not_before":
        times["not_on_or_after"] = now + _seconds(offset + 300)
    if field == "confirmation_not_on_or_after":
        times["not_on_or_after"] = now + _seconds(300)
    steps = begin(gateway)
    steps.respond(**times)  # type: ignore[arg-type]
    if accepted:
        assert logged_in(steps)[PNR_CLAIM] == ATTACKER_PNR
    else:
        refused(steps, "provider_error")


def test_stale_authentication_when_a_fresh_one_was_demanded(gateway: RunningGateway) -> None:
    """prompt=login sends ForceAuthn; an AuthnInstant from before the request means the provider reused an
    old session anyway (DP 6.3.5), so the login is refused."""
    steps = begin(gateway, prompt="login")
    assert received(steps).force_authn is True
    steps.respond(authn_instant=_now() - _seconds(1800))
    refused(steps, "provider_error", reason="AuthnInstant")


def test_authentication_older_than_max_age(gateway: RunningGateway) -> None:
    """max_age=60 and an AuthnInstant 30 minutes old: OIDC Core 3.1.2.1 requires a fresh authentication."""
    steps = begin(gateway, max_age="60")
    steps.respond(authn_instant=_now() - _seconds(1800))
    refused(steps, "provider_error", reason="AuthnInstant")


# --- subject confirmation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "methods",
    [
        ("urn:oasis:names:tc:SAML:2.0:cm:holder-of-key",),
        ("urn:oasis:names:tc:SAML:2.0:cm:sender-vouches",),
        ("urn:oasis:names:tc:SAML:2.0:cm:bearer", "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"),
    ],
    ids=["holder-of-key", "sender-vouches", "bearer-and-sender-vouches"],
)
def test_non_bearer_subject_confirmation(gateway: RunningGateway, methods: tuple[str, ...]) -> None:
    """Only bearer confirmation is verified by the gateway; pysaml2 passes sender-vouches unchecked."""

    def confirm_with(assertion: etree._Element) -> None:
        confirmation = assertion.find("saml:Subject/saml:SubjectConfirmation", NS)
        confirmation.set("Method", methods[0])
        for method in methods[1:]:
            extra = etree.fromstring(etree.tostring(confirmation))
            extra.set("Method", method)
            confirmation.addnext(extra)

    steps = begin(gateway)
    steps.respond(mutate_assertion=confirm_with)
    refused(steps, "provider_error")


def test_bearer_confirmation_without_data(gateway: RunningGateway) -> None:
    steps = begin(gateway)
    steps.respond(mutate_assertion=_drop("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"))
    refused(steps, "provider_error")


def test_saml_version_other_than_2_0(gateway: RunningGateway) -> None:
    """pysaml2 refused any Response Version but 2.0 (VersionMismatch); the gateway still does."""

    def version(response: etree._Element) -> None:
        response.set("Version", "2.1")

    steps = begin(gateway)
    steps.respond(mutate_response=version)
    refused(steps, "provider_error", reason="SAML 2.0")


def test_provider_session_already_ended(gateway: RunningGateway) -> None:
    """An AuthnStatement whose SessionNotOnOrAfter has passed (saml-core 2.7.2), as pysaml2 refused it."""

    def ended(assertion: etree._Element) -> None:
        past = (_now() - _seconds(600)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assertion.find("saml:AuthnStatement", NS).set("SessionNotOnOrAfter", past)

    steps = begin(gateway)
    steps.respond(mutate_assertion=ended)
    refused(steps, "provider_error", reason="SessionNotOnOrAfter")


def test_encrypted_attribute_inside_the_encrypted_assertion(gateway: RunningGateway) -> None:
    """Only the assertion itself is decrypted: an EncryptedAttribute (or EncryptedID) found inside it is
    refused, never decrypted or skipped."""

    def encrypted_attribute(assertion: etree._Element) -> None:
        statement = assertion.find("saml:AttributeStatement", NS)
        wrapper = etree.SubElement(statement, f"{{{NS['saml']}}}EncryptedAttribute")
        data = etree.SubElement(wrapper, f"{{{NS_XENC}}}EncryptedData")
        etree.SubElement(etree.SubElement(data, f"{{{NS_XENC}}}CipherData"), f"{{{NS_XENC}}}CipherValue").text = "AAAA"

    steps = begin(gateway)
    steps.respond(mutate_assertion=encrypted_attribute)
    refused(steps, "provider_error", reason="encrypted parts")


def test_schema_violation_inside_the_encrypted_assertion(gateway: RunningGateway) -> None:
    """The decrypted assertion is schema-checked as the Response was (CVE-2021-21238 class): here a second
    Subject, which a reader taking either one would accept."""

    def second_subject(assertion: etree._Element) -> None:
        subject = assertion.find("saml:Subject", NS)
        subject.addnext(etree.fromstring(etree.tostring(subject)))

    steps = begin(gateway)
    steps.respond(mutate_assertion=second_subject)
    refused(steps, "provider_error", reason="decrypted assertion does not conform to the SAML schemas")


# --- status --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top", "second", "page", "oidc_error"),
    [
        (STATUS_RESPONDER, STATUS_AUTHN_FAILED, "provider_error", "access_denied"),
        (STATUS_RESPONDER, STATUS_NO_PASSIVE, "login_required", "login_required"),
        (STATUS_REQUESTER, STATUS_FRAUD, "fraud", "access_denied"),
        (STATUS_REQUESTER, STATUS_POSSIBLE_FRAUD, "fraud", "access_denied"),
        (STATUS_REQUESTER, STATUS_UNKNOWN_PRINCIPAL, "unknown_principal", "access_denied"),
        (STATUS_REQUESTER, STATUS_NO_AUTHN_CONTEXT, "loa_not_met", "unmet_authentication_requirements"),
        (STATUS_RESPONDER, None, "provider_error", "access_denied"),
    ],
    ids=["authn-failed", "no-passive", "fraud", "possible-fraud", "unknown-principal", "no-authn-context", "bare"],
)
def test_provider_error_status(
    gateway: RunningGateway, top: str, second: str | None, page: str, oidc_error: str
) -> None:
    """An error status (DP 6.4): the citizen sees what happened, with a link that returns the OIDC error to
    the e-service; no code, no session."""
    steps = begin(gateway)
    steps.respond(status=top, sub_status=second)
    watch = StoreWatch(gateway)
    assert steps.post_to_acs().status_code == 303
    shown = steps.resume()
    assert shown.status_code == 400
    assert error_code(shown) == page
    continue_url = etree.HTML(shown.text).xpath("//a/@href")
    back = [url for url in continue_url if url.startswith(steps.rp.client.redirect_uri + "?")]
    assert len(back) == 1, continue_url
    assert query(back[0]) == {"error": oidc_error, "state": steps.rp.state, "iss": gateway.url}
    assert watch.new() <= {"rate"}


def test_unsigned_cancel_is_not_trusted_as_a_cancel(gateway: RunningGateway) -> None:
    """Even an error status must be signed: an unsigned "cancel" is a refused response, not a cancellation
    to report to the e-service as access_denied."""
    steps = begin(gateway)
    steps.respond(status=STATUS_REQUESTER, sub_status=STATUS_CANCEL, sign_response=False)
    refused(steps, "provider_error", reason="signature")


def test_error_status_carrying_an_assertion(gateway: RunningGateway) -> None:
    """DP 6.4: error responses carry no assertion; one that does is refused, not half-processed."""

    def fail_status(response: etree._Element) -> None:
        code = response.find("samlp:Status/samlp:StatusCode", {"samlp": NS["samlp"]})
        code.set("Value", STATUS_RESPONDER)

    steps = begin(gateway)
    steps.respond(mutate_response=fail_status)
    refused(steps, "provider_error", reason="must not carry assertions")


# --- level of assurance ----------------------------------------------------------------------------------


def test_lower_loa_than_requested(gateway: RunningGateway) -> None:
    steps = begin(gateway, acr_values=LOA4)
    assert received(steps).requested_loas == (LOA4,)
    steps.respond(loa=LOA3)
    refused(steps, "loa_not_met", reason="LoA")


def test_loa_uri_that_only_starts_like_the_requested_one(gateway: RunningGateway) -> None:
    steps = begin(gateway, acr_values=LOA3)
    steps.respond(loa=LOA3 + "-nf")
    refused(steps, "loa_not_met", reason="LoA")


def test_missing_authn_context_class_ref(gateway: RunningGateway) -> None:
    steps = begin(gateway)
    steps.respond(mutate_assertion=_drop("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef"))
    refused(steps, "provider_error")


# --- the browser -------------------------------------------------------------------------------------------


def _victims_response_in_the_attackers_browser(
    gateway: RunningGateway, cookie: Callable[[requests.Session], None]
) -> None:
    steps = begin(gateway)
    posted = steps.respond()
    attacker = requests.Session()
    cookie(attacker)
    acs = attacker.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
    assert acs.status_code == 303
    resume_url = gateway.url + acs.headers["Location"]
    stolen = attacker.get(resume_url, allow_redirects=False, timeout=10)
    assert stolen.status_code == 400
    assert error_code(stolen) == "session_mismatch"
    steps.resume_url = resume_url
    assert steps.resume().status_code == 302, "the victim's own browser still completes its login"


def test_completion_in_a_browser_holding_its_own_login(gateway: RunningGateway) -> None:
    """The attacker's browser has a transaction cookie of its own (it started a login too)."""

    def own_login(browser: requests.Session) -> None:
        browser.cookies.update(begin(gateway).browser.cookies)

    _victims_response_in_the_attackers_browser(gateway, own_login)


def test_completion_with_a_forged_unsigned_transaction_cookie(gateway: RunningGateway) -> None:
    """The attacker knows the transaction id (RelayState) and sets it as a plain cookie."""
    steps = begin(gateway)
    posted = steps.respond()
    attacker = requests.Session()
    attacker.cookies.set("eidgw_tx", posted.relay_state or "", domain="127.0.0.1")
    acs = attacker.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
    stolen = attacker.get(gateway.url + acs.headers["Location"], allow_redirects=False, timeout=10)
    assert stolen.status_code == 400
    assert error_code(stolen) == "session_mismatch"


def test_completion_with_a_session_cookie_moved_into_the_transaction_cookie(gateway: RunningGateway) -> None:
    """A validly signed cookie of another kind (the SSO session) is not a transaction cookie: values are
    signed together with their cookie's name."""
    helper = begin(gateway)
    helper.respond()
    logged_in(helper)
    session_cookie = helper.browser.cookies.get("eidgw_sid")
    assert session_cookie

    def moved(browser: requests.Session) -> None:
        browser.cookies.set("eidgw_tx", session_cookie, domain="127.0.0.1")

    _victims_response_in_the_attackers_browser(gateway, moved)


def test_no_personal_data_in_the_log_after_these_attacks(gateway: RunningGateway) -> None:
    """Runs last in this module: every refused and accepted response above was logged without a trace of
    who it named (citizens appear as pseudonyms only)."""
    assert_log_is_clean(gateway)
