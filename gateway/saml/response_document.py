"""A received SAML Response as one lxml tree: verified, decrypted, schema-checked, then read into typed records.

The signature is checked, the assertion decrypted and every value read on the same tree, parsed once
by the hardened parser of `gateway.saml.xmlsec_backend` (no DOCTYPE, nothing loaded from outside,
comments left out). What is verified is therefore exactly what is read: no second parser (pysaml2's
ElementTree used to re-parse the document) that could see a different document than the one whose
signature was checked. The order follows saml-core and the Swedish eID Framework's Deployment
Profile 6.1-6.2:

1. the Response conforms to the SAML schemas (the CVE-2021-21238 class: a schema-invalid document
   can make a signature and a reader disagree);
2. its enveloped signature verifies with a key the provider's trusted metadata lists, never one from
   the message (saml-core 5.4, DP 6.1);
3. the EncryptedAssertion is decrypted in place with the gateway's encryption keys (saml-core 6.1)
   into exactly one Assertion, whose comments are left out too and which may hold nothing encrypted;
   it is schema-checked, and its own signature, when it has one, verified like the Response's;
4. the values are copied into frozen records (`ResponseRecord`), which `gateway.saml.acs` judges by
   the framework's rules.

This replaced pysaml2's Response processing, which cost about 40 % of a cold login's CPU besides the
cryptography (bench/README.md); pysaml2's checks on the way are kept as named checks in
`gateway.saml.acs` and here, each with a test in tests/security or tests/unit/saml that fails
without it. Every refusal raises `UpstreamError`
with a reason for the log that never carries document content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import xmlsec
from lxml import etree
from saml2.sigver import DecryptError
from saml2.sigver import SignatureError

from gateway.errors import UpstreamError
from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_XENC
from gateway.saml.schema import conformance_error
from gateway.saml.xmlsec_backend import decrypt_in_place
from gateway.saml.xmlsec_backend import verify_enveloped

SAML_VERSION: Final = "2.0"

_SAML: Final = f"{{{NS_SAML}}}"
_SAMLP: Final = f"{{{NS_SAMLP}}}"
_ASSERTION: Final = f"{_SAML}Assertion"
_ENCRYPTED_ASSERTION: Final = f"{_SAML}EncryptedAssertion"
_ENCRYPTED_DATA: Final = f"{{{NS_XENC}}}EncryptedData"
_DS_SIGNATURE: Final = f"{{{NS_DS}}}Signature"
# Encrypted parts inside a decrypted assertion (saml-core 2.2.4, 2.7.3.2): the framework has no use for
# them and the gateway decrypts nothing but the assertion itself.
_ENCRYPTED_PARTS: Final = (f"{_SAML}EncryptedID", f"{_SAML}EncryptedAttribute", _ENCRYPTED_DATA)


def refused(reason: str, code: str = "provider_error", oidc_error: str = "access_denied") -> UpstreamError:
    """The error for a response the gateway does not accept; ``reason`` goes to the log, never to a page."""
    return UpstreamError(code, reason, oidc_error=oidc_error)


@dataclass(frozen=True, slots=True)
class SubjectConfirmationRecord:
    """One saml:SubjectConfirmation (saml-core 2.4.1.1) with its SubjectConfirmationData, if any (2.4.1.2)."""

    method: str
    has_data: bool
    in_response_to: str | None
    recipient: str | None
    not_before: str | None
    not_on_or_after: str | None


@dataclass(frozen=True, slots=True)
class ConditionsRecord:
    """saml:Conditions (saml-core 2.5.1)."""

    not_before: str | None
    not_on_or_after: str | None
    audience_restrictions: tuple[frozenset[str], ...]
    """The Audience values of each AudienceRestriction; all of them must be satisfied (2.5.1.4)."""
    other_conditions: int
    """saml:Condition elements of some extension type, which no party here defines."""


@dataclass(frozen=True, slots=True)
class AuthnStatementRecord:
    """saml:AuthnStatement (saml-core 2.7.2)."""

    authn_instant: str | None
    session_not_on_or_after: str | None
    class_ref: str
    authenticating_authorities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AssertionRecord:
    """What a decrypted (or plaintext) saml:Assertion states (saml-core 2.3.3)."""

    id: str
    version: str
    issuer: str
    has_subject: bool
    name_id: str | None
    name_id_format: str | None
    confirmations: tuple[SubjectConfirmationRecord, ...]
    conditions: ConditionsRecord | None
    has_advice: bool
    authn_statements: tuple[AuthnStatementRecord, ...]
    attribute_statements: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]
    """Per AttributeStatement, its attributes as (Name, AttributeValue texts) in document order."""


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """What a verified samlp:Response states (saml-core 3.2.2, 3.3.3)."""

    version: str
    issuer: str
    destination: str | None
    in_response_to: str | None
    issue_instant: str | None
    status: str | None
    second_status: str | None
    assertion: AssertionRecord | None


def _text(element: etree._Element | None) -> str | None:
    """An element's text, stripped; None when the element is absent.

    The tree was parsed without comments, so the text is whole; an element with element children
    (a complex attribute value) gives the text before its first child, as pysaml2 did.
    """
    if element is None:
        return None
    return (element.text or "").strip()


def _schema_valid(element: etree._Element, what: str) -> None:
    violation = conformance_error(element)
    if violation is not None:
        raise refused(f"the {what} does not conform to the SAML schemas ({violation})")


def status_of(root: etree._Element) -> tuple[str | None, str | None]:
    """The Response's top-level and second-level status codes (saml-core 3.2.2.2)."""
    top = root.find(f"{_SAMLP}Status/{_SAMLP}StatusCode")
    if top is None:
        return None, None
    second = top.find(f"{_SAMLP}StatusCode")
    return top.get("Value"), second.get("Value") if second is not None else None


def verify_and_decrypt(
    root: etree._Element, trusted_keys: Sequence[xmlsec.Key], decryption_key_files: Sequence[str]
) -> etree._Element | None:
    """Steps 1-3 of the module docstring on a Response whose shape the caller has checked.

    ``root`` is the samlp:Response, with at most one assertion, as its child. Returns the verified
    assertion element, now in the tree in place of its encryption, or None when the Response carries
    none (an error status). The tree must not be used when this raises.
    """
    _schema_valid(root, "Response")
    try:
        verify_enveloped(root, root, trusted_keys)
    except SignatureError:
        raise refused("signature did not verify against the provider's metadata keys") from None
    assertion = root.find(_ASSERTION)
    encrypted = root.find(_ENCRYPTED_ASSERTION)
    if encrypted is not None:
        encrypted_data = encrypted.find(_ENCRYPTED_DATA)
        if encrypted_data is None:
            raise refused("EncryptedAssertion without EncryptedData")
        try:
            decrypt_in_place(encrypted_data, decryption_key_files)
        except DecryptError:
            raise refused("the assertion could not be decrypted with the gateway's keys") from None
        # saml-core 2.3.4: what decrypts is the one Assertion, alone in its EncryptedAssertion; anything
        # beside it (a second plaintext element, an EncryptedKey left over) is refused, not skipped.
        if len(encrypted) != 1 or encrypted[0].tag != _ASSERTION:
            raise refused("the EncryptedAssertion did not hold exactly one Assertion")
        assertion = encrypted[0]
        # libxmlsec1 parsed the plaintext itself, keeping comments and processing instructions: leave
        # them out here too, joining the text around them, as `parse_received` does for the Response.
        etree.strip_tags(assertion, etree.Comment, etree.ProcessingInstruction)
        if next(assertion.iter(*_ENCRYPTED_PARTS), None) is not None:
            raise refused("encrypted parts inside the assertion are not accepted")
        _schema_valid(assertion, "decrypted assertion")
    if assertion is None:
        return None
    if assertion.find(_DS_SIGNATURE) is not None:
        # An assertion signature is optional when the Response is signed (DP 6.1); one that is there
        # must verify with the same provider's keys, as pysaml2 required.
        try:
            verify_enveloped(root, assertion, trusted_keys)
        except SignatureError:
            raise refused("the assertion's signature did not verify against the provider's metadata keys") from None
    return assertion


def read_response(root: etree._Element, assertion: etree._Element | None) -> ResponseRecord:
    """Step 4: the verified Response's values (``assertion`` as `verify_and_decrypt` returned it)."""
    status, second_status = status_of(root)
    return ResponseRecord(
        version=root.get("Version") or "",
        issuer=_text(root.find(f"{_SAML}Issuer")) or "",
        destination=root.get("Destination"),
        in_response_to=root.get("InResponseTo"),
        issue_instant=root.get("IssueInstant"),
        status=status,
        second_status=second_status,
        assertion=_read_assertion(assertion) if assertion is not None else None,
    )


def _read_assertion(assertion: etree._Element) -> AssertionRecord:
    subject = assertion.find(f"{_SAML}Subject")
    name_id = subject.find(f"{_SAML}NameID") if subject is not None else None
    confirmations = subject.findall(f"{_SAML}SubjectConfirmation") if subject is not None else []
    conditions = assertion.find(f"{_SAML}Conditions")
    return AssertionRecord(
        id=assertion.get("ID") or "",
        version=assertion.get("Version") or "",
        issuer=_text(assertion.find(f"{_SAML}Issuer")) or "",
        has_subject=subject is not None,
        name_id=_text(name_id),
        name_id_format=name_id.get("Format") if name_id is not None else None,
        confirmations=tuple(_read_confirmation(c) for c in confirmations),
        conditions=_read_conditions(conditions) if conditions is not None else None,
        has_advice=assertion.find(f"{_SAML}Advice") is not None,
        authn_statements=tuple(_read_authn_statement(s) for s in assertion.iterchildren(f"{_SAML}AuthnStatement")),
        attribute_statements=tuple(
            tuple(
                (
                    attribute.get("Name") or "",
                    tuple(_text(v) or "" for v in attribute.iterchildren(f"{_SAML}AttributeValue")),
                )
                for attribute in statement.iterchildren(f"{_SAML}Attribute")
            )
            for statement in assertion.iterchildren(f"{_SAML}AttributeStatement")
        ),
    )


def _read_confirmation(confirmation: etree._Element) -> SubjectConfirmationRecord:
    data = confirmation.find(f"{_SAML}SubjectConfirmationData")
    value = data.get if data is not None else (lambda _name: None)
    return SubjectConfirmationRecord(
        method=confirmation.get("Method") or "",
        has_data=data is not None,
        in_response_to=value("InResponseTo"),
        recipient=value("Recipient"),
        not_before=value("NotBefore"),
        not_on_or_after=value("NotOnOrAfter"),
    )


def _read_conditions(conditions: etree._Element) -> ConditionsRecord:
    return ConditionsRecord(
        not_before=conditions.get("NotBefore"),
        not_on_or_after=conditions.get("NotOnOrAfter"),
        audience_restrictions=tuple(
            frozenset(_text(a) or "" for a in restriction.iterchildren(f"{_SAML}Audience"))
            for restriction in conditions.iterchildren(f"{_SAML}AudienceRestriction")
        ),
        other_conditions=sum(1 for _ in conditions.iterchildren(f"{_SAML}Condition")),
    )


def _read_authn_statement(statement: etree._Element) -> AuthnStatementRecord:
    context = statement.find(f"{_SAML}AuthnContext")
    class_ref = context.find(f"{_SAML}AuthnContextClassRef") if context is not None else None
    authorities = context.iterchildren(f"{_SAML}AuthenticatingAuthority") if context is not None else ()
    return AuthnStatementRecord(
        authn_instant=statement.get("AuthnInstant"),
        session_not_on_or_after=statement.get("SessionNotOnOrAfter"),
        class_ref=_text(class_ref) or "",
        authenticating_authorities=tuple(_text(a) or "" for a in authorities),
    )
