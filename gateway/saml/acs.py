"""Verify a SAML Response for one outstanding AuthnRequest and extract an `AuthnResult`.

pysaml2 verifies the signature (through our in-process xmlsec backend),
decrypts, and checks what it checks; this module adds, as one named check per
rule, everything pysaml2 leaves to the application (see ../shared/style.md and
Swedish eID Framework DP 6.1-6.3): the envelope shape before parsing, absent
protections (Destination, Conditions, Audience, NotOnOrAfter), the binding to
the provider we asked and the request we sent, bearer confirmation, one
assertion and one AuthnStatement, the requested LoA, and the replay guard.
Any failure raises `UpstreamError`; the reason goes to the log, never to the page.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import logging
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree
from saml2 import SAMLError
from saml2 import samlp
from saml2.response import StatusError
from saml2.saml import SCM_BEARER
from saml2.sigver import SignatureError
from saml2.time_util import str_to_time

from gateway.errors import StoreUnavailable
from gateway.errors import UpstreamError
from gateway.model import AuthnResult
from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_XENC
from gateway.saml.replay import ReplayGuard
from gateway.saml.sp import ServiceProvider

log = logging.getLogger(__name__)


MAX_RESPONSE_BYTES = 256 * 1024
"""A real assertion is a few kB; anything this large is an attack or a mistake."""

MAX_RESPONSE_AGE = 300
"""DP 6.3.5: reject a Response whose IssueInstant is too old (plus clock skew)."""

STATUS_CANCEL = "http://id.elegnamnden.se/status/1.0/cancel"
STATUS_FRAUD = "http://id.elegnamnden.se/status/1.0/fraud"
STATUS_POSSIBLE_FRAUD = "http://id.elegnamnden.se/status/1.0/possibleFraud"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
STATUS_NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"

# second-level status -> (citizen page code, OIDC error); DP 6.4, REG 3.1.4
_STATUS_ERRORS: dict[str, tuple[str, str]] = {
    STATUS_CANCEL: ("cancelled", "access_denied"),
    STATUS_FRAUD: ("fraud", "access_denied"),
    STATUS_POSSIBLE_FRAUD: ("fraud", "access_denied"),
    STATUS_NO_PASSIVE: ("login_required", "login_required"),
    STATUS_UNKNOWN_PRINCIPAL: ("unknown_principal", "access_denied"),
    STATUS_NO_AUTHN_CONTEXT: ("loa_not_met", "unmet_authentication_requirements"),
}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the response must match: this login's outstanding request."""

    request_id: str
    provider_entity_id: str
    requested_loas: tuple[str, ...]
    require_encryption: bool = True
    authn_not_before: int | None = None
    """With ForceAuthn: when the request was made; an older AuthnInstant is an SSO the SP refused (DP 6.3.5)."""


def _fail(reason: str, code: str = "provider_error", oidc_error: str = "access_denied") -> UpstreamError:
    return UpstreamError(code, reason, oidc_error=oidc_error)


def decode_post(saml_response: str) -> bytes:
    """Base64-decode the POSTed SAMLResponse, bounded; the POST binding is never deflated."""
    if len(saml_response) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise _fail("SAMLResponse too large")
    try:
        return base64.b64decode(saml_response.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _fail("SAMLResponse is not base64") from None


def _check_envelope(xml: bytes, expect: Expectation) -> etree._Element:
    """Shape checks on the raw document, before pysaml2 sees it."""
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise _fail("DTD in response")
    try:
        root = etree.fromstring(xml, parser=_PARSER)
    except etree.XMLSyntaxError:
        raise _fail("response is not well-formed XML") from None
    if root.tag != f"{{{NS_SAMLP}}}Response":
        raise _fail("not a samlp:Response")
    if len(root.findall(f"{{{NS_DS}}}Signature")) != 1:
        raise _fail("the Response must carry exactly one enveloped signature (DP 6.1)")
    plain = root.findall(f"{{{NS_SAML}}}Assertion")
    encrypted = root.findall(f"{{{NS_SAML}}}EncryptedAssertion")
    # Assertions and encrypted data belong only where they are consumed: as the Response's own children.
    # Anywhere else (ds:Object, ds:KeyInfo, Extensions, a wrapper) they sit outside what the signature
    # digests, and are the raw material of signature wrapping; pysaml2 and the backend would still parse
    # and decrypt some of them, so they are refused before either sees the document.
    nested = root.iter(f"{{{NS_SAML}}}Assertion", f"{{{NS_SAML}}}EncryptedAssertion", f"{{{NS_XENC}}}EncryptedData")
    if sum(1 for _ in nested) != len(plain) + 2 * len(encrypted):
        raise _fail("an assertion or encrypted data outside the Response's own children (signature wrapping)")
    status = root.find(f"{{{NS_SAMLP}}}Status/{{{NS_SAMLP}}}StatusCode")
    success = status is not None and status.get("Value") == samlp.STATUS_SUCCESS
    if not success:
        if plain or encrypted:
            raise _fail("an error response must not carry assertions (DP 6.4)")
        return root
    if len(plain) + len(encrypted) != 1:
        raise _fail("exactly one assertion is allowed")
    if expect.require_encryption and not encrypted:
        raise _fail("the assertion must be encrypted (DP 6.1)")
    return root


def _status_error(xml: bytes) -> UpstreamError:
    """Map a verified error Response to the citizen's page and the e-service's OIDC error."""
    response = samlp.response_from_string(xml.decode("utf-8"))
    code = response.status.status_code if response and response.status else None
    second = code.status_code.value if code is not None and code.status_code is not None else None
    page, oidc_error = _STATUS_ERRORS.get(second or "", ("provider_error", "access_denied"))
    top = code.value if code is not None else "none"
    return UpstreamError(page, f"provider status {top} / {second}", oidc_error=oidc_error)


def _epoch(value: str | None, what: str) -> int:
    if not value:
        raise _fail(f"{what} is missing")
    try:
        return calendar.timegm(str_to_time(value))
    except (ValueError, TypeError):
        raise _fail(f"{what} is not a valid time") from None


def verify_response(
    sp: ServiceProvider,
    saml_response: str,
    expect: Expectation,
    replay: ReplayGuard,
    *,
    now: Callable[[], float] = time.time,
) -> AuthnResult:
    """Verify a POSTed response against ``expect``; return what it asserts."""
    xml = decode_post(saml_response)
    _check_envelope(xml, expect)
    try:
        parsed = sp.parse_authn_response(xml, expect.request_id)
    except StatusError:
        raise _status_error(xml) from None
    except StoreUnavailable:
        raise
    except SignatureError:
        raise _fail("signature did not verify against the provider's metadata keys") from None
    except (SAMLError, Exception) as exc:  # noqa: BLE001 - pysaml2 raises bare Exception (e.g. audience); all mean "refuse"
        raise _fail(f"pysaml2 refused the response: {type(exc).__name__}") from None
    if parsed is None or parsed.assertion is None:
        # pysaml2 returns None (or no assertion) on a wrong Destination or IssueInstant.
        raise _fail("pysaml2 processed no assertion")
    response = parsed.response
    assertion = parsed.assertion
    skew = sp.clock_skew
    current = now()

    issuer = response.issuer.text.strip() if response.issuer is not None and response.issuer.text else ""
    if issuer != expect.provider_entity_id:
        raise _fail("Response Issuer is not the provider the request went to")
    a_issuer = assertion.issuer.text.strip() if assertion.issuer is not None and assertion.issuer.text else ""
    if a_issuer != issuer:
        raise _fail("Assertion Issuer differs from Response Issuer")
    if response.destination != sp.acs_url:
        raise _fail("Response Destination is missing or not our ACS URL")
    if response.in_response_to != expect.request_id:
        raise _fail("Response InResponseTo does not match the outstanding request")
    issued = _epoch(response.issue_instant, "Response IssueInstant")
    if not (current - MAX_RESPONSE_AGE - skew <= issued <= current + skew):
        raise _fail("Response IssueInstant is outside the accepted window")
    if assertion.advice is not None:
        raise _fail("Advice is not accepted")

    _check_conditions(assertion, sp.entity_id, current, skew)
    confirmation_until = _check_subject(assertion, sp.acs_url, expect.request_id, current, skew)
    loa, authn_instant, authority = _check_authn_statement(assertion, expect.requested_loas)
    # AuthnInstant becomes the ID token's auth_time, which e-services compare with max_age: one from the
    # future would satisfy every max_age.
    if authn_instant > current + skew:
        raise _fail("AuthnInstant is in the future")
    if expect.authn_not_before is not None and authn_instant < expect.authn_not_before - skew:
        raise _fail("AuthnInstant predates a request with ForceAuthn (DP 6.3.5)")

    name_id = assertion.subject.name_id
    if name_id is None or not name_id.text:
        raise _fail("no NameID in the assertion")
    attributes: dict[str, tuple[str, ...]] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            values = tuple((v.text or "").strip() for v in attribute.attribute_value)
            if attribute.name in attributes:
                raise _fail("an attribute appears twice (ATTR 2)")
            attributes[attribute.name] = values
    if len(assertion.attribute_statement) > 1:
        raise _fail("more than one AttributeStatement (DP 6.2)")

    replay.register(issuer, assertion.id, until=confirmation_until + skew)
    return AuthnResult(
        issuer=issuer,
        name_id=name_id.text.strip(),
        name_id_format=name_id.format or "",
        loa=loa,
        authn_instant=authn_instant,
        assertion_id=assertion.id,
        attributes=attributes,
        authenticating_authority=authority,
    )


def _check_conditions(assertion: object, entity_id: str, current: float, skew: int) -> None:
    conditions = assertion.conditions  # type: ignore[attr-defined]
    if conditions is None:
        raise _fail("Conditions are missing (DP 6.2)")
    not_before = _epoch(conditions.not_before, "Conditions NotBefore")
    not_on_or_after = _epoch(conditions.not_on_or_after, "Conditions NotOnOrAfter")
    if current + skew < not_before:
        raise _fail("assertion is not yet valid")
    if current - skew >= not_on_or_after:
        raise _fail("assertion has expired")
    restrictions = conditions.audience_restriction
    if not restrictions:
        raise _fail("AudienceRestriction is missing (DP 6.2)")
    # SAML core 2.5.1.4: several AudienceRestrictions must ALL be satisfied.
    for restriction in restrictions:
        audiences = {(a.text or "").strip() for a in restriction.audience}
        if entity_id not in audiences:
            raise _fail("Audience is not this SP")


def _check_subject(assertion: object, acs_url: str, request_id: str, current: float, skew: int) -> int:
    subject = assertion.subject  # type: ignore[attr-defined]
    if subject is None:
        raise _fail("Subject is missing")
    bearer = [c for c in subject.subject_confirmation if c.method == SCM_BEARER]
    if not bearer or len(bearer) != len(subject.subject_confirmation):
        raise _fail("only bearer SubjectConfirmation is accepted")
    latest = 0
    for confirmation in bearer:
        data = confirmation.subject_confirmation_data
        if data is None:
            raise _fail("SubjectConfirmationData is missing (DP 6.2)")
        if data.in_response_to != request_id:
            raise _fail("SubjectConfirmationData InResponseTo does not match the request")
        if data.recipient != acs_url:
            raise _fail("SubjectConfirmationData Recipient is not our ACS URL")
        until = _epoch(data.not_on_or_after, "SubjectConfirmationData NotOnOrAfter")
        if current - skew >= until:
            raise _fail("subject confirmation has expired")
        if data.not_before is not None:
            raise _fail("bearer SubjectConfirmationData must not have NotBefore (SAML profiles 4.1.4.2)")
        latest = max(latest, until)
    return latest


def _check_authn_statement(assertion: object, requested: Sequence[str]) -> tuple[str, int, str | None]:
    statements = assertion.authn_statement  # type: ignore[attr-defined]
    if len(statements) != 1:
        raise _fail("exactly one AuthnStatement is required (DP 6.2)")
    statement = statements[0]
    context = statement.authn_context
    ref = context.authn_context_class_ref if context is not None else None
    loa = (ref.text or "").strip() if ref is not None else ""
    if not loa:
        raise _fail("AuthnContextClassRef is missing")
    if requested and loa not in requested:
        raise _fail("returned LoA was not requested (DP 6.3.4)", "loa_not_met", "unmet_authentication_requirements")
    authorities = context.authenticating_authority if context is not None else []
    authority = (authorities[-1].text or "").strip() if authorities else None
    return loa, _epoch(statement.authn_instant, "AuthnInstant"), authority or None
