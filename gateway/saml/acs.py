"""Verify a SAML Response for one outstanding AuthnRequest and extract an `AuthnResult`.

`gateway.saml.response_document` verifies the signature, decrypts and reads the document on one
tree; this module judges what it read, one named check per rule of saml-core, the SAML profiles and
the Swedish eID Framework (DP 6.1-6.4): the envelope's shape before any cryptography, the SAML
version, absent protections (Destination, Conditions, Audience, NotOnOrAfter), the binding to the
provider we asked and the request we sent, time bounds with the clock skew, bearer confirmation,
one assertion and one AuthnStatement, unknown conditions, the requested LoA, the provider's status
codes, and the replay guard. Any failure raises `UpstreamError`; the reason goes to the log, never
to the page.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime
import logging
import re
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

import xmlsec
from lxml import etree
from saml2.saml import SCM_BEARER
from saml2.samlp import STATUS_SUCCESS
from saml2.sigver import SignatureError

from gateway.errors import UpstreamError
from gateway.model import AuthnResult
from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_XENC
from gateway.saml.replay import ReplayGuard
from gateway.saml.response_document import SAML_VERSION
from gateway.saml.response_document import AssertionRecord
from gateway.saml.response_document import ConditionsRecord
from gateway.saml.response_document import ResponseRecord
from gateway.saml.response_document import read_response
from gateway.saml.response_document import refused
from gateway.saml.response_document import status_of
from gateway.saml.response_document import verify_and_decrypt
from gateway.saml.sp import ServiceProvider
from gateway.saml.xmlsec_backend import parse_received

log = logging.getLogger(__name__)

_SAML_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d*)?Z?", re.ASCII)


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


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the response must match: this login's outstanding request."""

    request_id: str
    provider_entity_id: str
    requested_loas: tuple[str, ...]
    require_encryption: bool = True
    authn_not_before: int | None = None
    """With ForceAuthn: when the request was made; an older AuthnInstant is an SSO the SP refused (DP 6.3.5)."""


def decode_post(saml_response: str) -> bytes:
    """Base64-decode the POSTed SAMLResponse, bounded; the POST binding is never deflated."""
    if len(saml_response) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise refused("SAMLResponse too large")
    try:
        return base64.b64decode(saml_response.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise refused("SAMLResponse is not base64") from None


def _parse(xml: bytes) -> etree._Element:
    """The received document as a tree, or a refusal; a DTD is refused before the parser sees it."""
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise refused("DTD in response")
    try:
        return parse_received(xml)
    except SignatureError:
        raise refused("response is not well-formed XML") from None


def _check_envelope(root: etree._Element, expect: Expectation) -> None:
    """Shape checks on the received document, before any signature or decryption work."""
    if root.tag != f"{{{NS_SAMLP}}}Response":
        raise refused("not a samlp:Response")
    if len(root.findall(f"{{{NS_DS}}}Signature")) != 1:
        raise refused("the Response must carry exactly one enveloped signature (DP 6.1)")
    plain = root.findall(f"{{{NS_SAML}}}Assertion")
    encrypted = root.findall(f"{{{NS_SAML}}}EncryptedAssertion")
    # Assertions and encrypted data belong only where they are consumed: as the Response's own children.
    # Anywhere else (ds:Object, ds:KeyInfo, Extensions, a wrapper) they sit outside what the signature
    # digests, and are the raw material of signature wrapping, so they are refused before any
    # signature or decryption work.
    nested = root.iter(f"{{{NS_SAML}}}Assertion", f"{{{NS_SAML}}}EncryptedAssertion", f"{{{NS_XENC}}}EncryptedData")
    if sum(1 for _ in nested) != len(plain) + 2 * len(encrypted):
        raise refused("an assertion or encrypted data outside the Response's own children (signature wrapping)")
    status, _ = status_of(root)
    if status != STATUS_SUCCESS:
        if plain or encrypted:
            raise refused("an error response must not carry assertions (DP 6.4)")
        return
    if len(plain) + len(encrypted) != 1:
        raise refused("exactly one assertion is allowed")
    if expect.require_encryption and not encrypted:
        raise refused("the assertion must be encrypted (DP 6.1)")


def _status_error(response: ResponseRecord) -> UpstreamError:
    """Map a verified error Response to the citizen's page and the e-service's OIDC error."""
    page, oidc_error = _STATUS_ERRORS.get(response.second_status or "", ("provider_error", "access_denied"))
    return UpstreamError(
        page, f"provider status {response.status or 'none'} / {response.second_status}", oidc_error=oidc_error
    )


def _epoch(value: str | None, what: str) -> int:
    """Seconds since the epoch of a SAML time (saml-core 1.3.3: xs:dateTime in UTC), whole seconds.

    The forms pysaml2 read: ``YYYY-MM-DDThh:mm:ss``, optional fraction, optional ``Z``; a time zone
    offset, or anything else, is refused with the attribute's name.
    """
    match = _SAML_TIME.fullmatch(value or "")
    if match is None:
        raise refused(f"{what} is missing or not a SAML UTC time")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise refused(f"{what} is not a valid time") from None
    return calendar.timegm((year, month, day, hour, minute, second))


def verify_response(
    sp: ServiceProvider,
    saml_response: str,
    expect: Expectation,
    replay: ReplayGuard,
    *,
    now: Callable[[], float] = time.time,
) -> AuthnResult:
    """Verify a POSTed response against ``expect``; return what it asserts."""
    root = _parse(decode_post(saml_response))
    _check_envelope(root, expect)
    trusted_keys = sp.provider_signing_keys(expect.provider_entity_id)
    try:
        response = read_response(root, verify_and_decrypt(root, trusted_keys, sp.decryption_key_files))
    except (etree.LxmlError, xmlsec.Error) as exc:
        # libxml2 or libxmlsec1 refusing input that none of the checks foresaw: still a refusal, not a crash
        # that would lose the login's transaction (the ACS has taken it out of the store).
        raise refused(f"the XML libraries refused the response: {type(exc).__name__}") from None
    if response.status != STATUS_SUCCESS:
        raise _status_error(response)
    assertion = response.assertion
    if assertion is None:
        raise refused("no assertion in a successful response")
    skew = sp.clock_skew
    current = now()

    if response.version != SAML_VERSION or assertion.version != SAML_VERSION:
        raise refused("only SAML 2.0 is accepted")
    if response.issuer != expect.provider_entity_id:
        raise refused("Response Issuer is not the provider the request went to")
    if assertion.issuer != response.issuer:
        raise refused("Assertion Issuer differs from Response Issuer")
    if response.destination != sp.acs_url:
        raise refused("Response Destination is missing or not our ACS URL")
    if response.in_response_to != expect.request_id:
        raise refused("Response InResponseTo does not match the outstanding request")
    issued = _epoch(response.issue_instant, "Response IssueInstant")
    if not (current - MAX_RESPONSE_AGE - skew <= issued <= current + skew):
        raise refused("Response IssueInstant is outside the accepted window")
    if assertion.has_advice:
        raise refused("Advice is not accepted")

    _check_conditions(assertion.conditions, sp.entity_id, current, skew)
    confirmation_until = _check_subject(assertion, sp.acs_url, expect.request_id, current, skew)
    loa, authn_instant, authority = _check_authn_statement(assertion, expect.requested_loas, current, skew)
    # AuthnInstant becomes the ID token's auth_time, which e-services compare with max_age: one from the
    # future would satisfy every max_age.
    if authn_instant > current + skew:
        raise refused("AuthnInstant is in the future")
    if expect.authn_not_before is not None and authn_instant < expect.authn_not_before - skew:
        raise refused("AuthnInstant predates a request with ForceAuthn (DP 6.3.5)")

    if not assertion.name_id:
        raise refused("no NameID in the assertion")
    if len(assertion.attribute_statements) > 1:
        raise refused("more than one AttributeStatement (DP 6.2)")
    attributes: dict[str, tuple[str, ...]] = {}
    for statement in assertion.attribute_statements:
        for name, values in statement:
            if name in attributes:
                raise refused("an attribute appears twice (ATTR 2)")
            attributes[name] = values

    replay.register(response.issuer, assertion.id, until=confirmation_until + skew)
    return AuthnResult(
        issuer=response.issuer,
        name_id=assertion.name_id,
        name_id_format=assertion.name_id_format or "",
        loa=loa,
        authn_instant=authn_instant,
        assertion_id=assertion.id,
        attributes=attributes,
        authenticating_authority=authority,
    )


def _check_conditions(conditions: ConditionsRecord | None, entity_id: str, current: float, skew: int) -> None:
    if conditions is None:
        raise refused("Conditions are missing (DP 6.2)")
    not_before = _epoch(conditions.not_before, "Conditions NotBefore")
    not_on_or_after = _epoch(conditions.not_on_or_after, "Conditions NotOnOrAfter")
    if not_on_or_after <= not_before:
        raise refused("Conditions NotOnOrAfter is not later than NotBefore (saml-core 2.5.1.2)")
    if current + skew < not_before:
        raise refused("assertion is not yet valid")
    if current - skew >= not_on_or_after:
        raise refused("assertion has expired")
    if conditions.other_conditions:
        # saml-core 2.5.1: a condition the relying party does not understand makes the assertion Indeterminate.
        raise refused("a Condition of an unknown type")
    if not conditions.audience_restrictions:
        raise refused("AudienceRestriction is missing (DP 6.2)")
    # SAML core 2.5.1.4: several AudienceRestrictions must ALL be satisfied.
    for audiences in conditions.audience_restrictions:
        if entity_id not in audiences:
            raise refused("Audience is not this SP")


def _check_subject(assertion: AssertionRecord, acs_url: str, request_id: str, current: float, skew: int) -> int:
    if not assertion.has_subject:
        raise refused("Subject is missing")
    bearer = [c for c in assertion.confirmations if c.method == SCM_BEARER]
    if not bearer or len(bearer) != len(assertion.confirmations):
        raise refused("only bearer SubjectConfirmation is accepted")
    latest = 0
    for data in bearer:
        if not data.has_data:
            raise refused("SubjectConfirmationData is missing (DP 6.2)")
        if data.in_response_to != request_id:
            raise refused("SubjectConfirmationData InResponseTo does not match the request")
        if data.recipient != acs_url:
            raise refused("SubjectConfirmationData Recipient is not our ACS URL")
        until = _epoch(data.not_on_or_after, "SubjectConfirmationData NotOnOrAfter")
        if current - skew >= until:
            raise refused("subject confirmation has expired")
        if data.not_before is not None:
            raise refused("bearer SubjectConfirmationData must not have NotBefore (SAML profiles 4.1.4.2)")
        latest = max(latest, until)
    return latest


def _check_authn_statement(
    assertion: AssertionRecord, requested: Sequence[str], current: float, skew: int
) -> tuple[str, int, str | None]:
    if len(assertion.authn_statements) != 1:
        raise refused("exactly one AuthnStatement is required (DP 6.2)")
    statement = assertion.authn_statements[0]
    loa = statement.class_ref
    if not loa:
        raise refused("AuthnContextClassRef is missing")
    if requested and loa not in requested:
        raise refused("returned LoA was not requested (DP 6.3.4)", "loa_not_met", "unmet_authentication_requirements")
    if statement.session_not_on_or_after is not None:
        session_until = _epoch(statement.session_not_on_or_after, "AuthnStatement SessionNotOnOrAfter")
        if current - skew >= session_until:
            raise refused("the provider's session ended (SessionNotOnOrAfter, saml-core 2.7.2)")
    authorities = statement.authenticating_authorities
    authority = authorities[-1] if authorities else None
    return loa, _epoch(statement.authn_instant, "AuthnInstant"), authority or None
