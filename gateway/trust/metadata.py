"""Federation metadata: what may be trusted, checked before anything is used (Deployment Profile 2).

A document is trusted only when it is well-formed, carries no DOCTYPE, verifies as a whole against
the pinned certificate of its source (the federation operator's metadata signer), and its
``validUntil`` has not passed. Verification reuses `gateway.saml.xmlsec_backend` (the hardened parser,
the ID uniqueness check, the algorithm allow-lists of Deployment Profile 8), so there is one XML
signature implementation in the gateway. Single-entity files without a signature are accepted only
where the settings allow them (development), and are otherwise held to the same rules.

The result is a `VerifiedMetadata`: the exact bytes that were verified (pysaml2 parses these and
nothing else), their version (SHA-256), the time limits, and a summary of the entities and their
key fingerprints, from which audit events (`diff`) and status are made. Certificates inside
``md:KeyDescriptor`` are key containers only (DP 2.1.1.2): their expiry is reported, never enforced.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from lxml import etree
from saml2.sigver import XmlsecError

from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_MD
from gateway.saml.namespaces import NS_MDRPI
from gateway.saml.xmlsec_backend import parse_untrusted
from gateway.saml.xmlsec_backend import verify_root_signature

ENTITIES: Final = f"{{{NS_MD}}}EntitiesDescriptor"
ENTITY: Final = f"{{{NS_MD}}}EntityDescriptor"
_ROOTS: Final = frozenset({ENTITIES, ENTITY})
_IDP: Final = f"{{{NS_MD}}}IDPSSODescriptor"
_PUBLICATION_INFO: Final = f"{{{NS_MD}}}Extensions/{{{NS_MDRPI}}}PublicationInfo"
_SAMLP: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
_KEY_DESCRIPTOR: Final = f"{{{NS_MD}}}KeyDescriptor"
_X509_CERTIFICATE: Final = f"{{{NS_DS}}}X509Certificate"
_DURATION: Final = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


class MetadataRefused(Exception):
    """The document must not be trusted; ``reason`` is safe to log and show (it carries no content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EntityKey:
    """One certificate from an entity's KeyDescriptor: its use and fingerprint, and when it expires."""

    use: str
    fingerprint: str
    not_after: float | None


@dataclass(frozen=True, slots=True)
class EntitySummary:
    """What the gateway needs to know about one entity: its ID, whether it is a SAML 2 IdP, and its keys."""

    entity_id: str
    idp: bool
    keys: tuple[EntityKey, ...]

    @property
    def fingerprints(self) -> frozenset[str]:
        """The SHA-256 fingerprints of every certificate the entity publishes, any use."""
        return frozenset(f"{k.use}:{k.fingerprint}" for k in self.keys)


@dataclass(frozen=True, slots=True)
class VerifiedMetadata:
    """A metadata document that passed every check, and what it says."""

    document: bytes
    version: str
    signed: bool
    valid_until: float | None
    cache_duration: float | None
    entities: tuple[EntitySummary, ...]
    published: float | None = None
    """``mdrpi:PublicationInfo/@creationInstant`` of the document element, when the publisher states it."""

    @property
    def text(self) -> str:
        """The verified document as text, for pysaml2's MetadataStore."""
        return self.document.decode("utf-8")

    def entity(self, entity_id: str) -> EntitySummary | None:
        """The entity with ``entity_id``, if the document holds it."""
        return next((e for e in self.entities if e.entity_id == entity_id), None)

    def expired(self, now: float) -> bool:
        """True once ``validUntil`` has passed: from then on nothing in it may be trusted."""
        return self.valid_until is not None and now >= self.valid_until


@dataclass(frozen=True, slots=True)
class MetadataChanges:
    """Entities added, removed or with changed keys between two versions of one source."""

    added: tuple[EntitySummary, ...]
    removed: tuple[EntitySummary, ...]
    keys_changed: tuple[tuple[EntitySummary, EntitySummary], ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.keys_changed)


def version_of(document: bytes) -> str:
    """The version of a document: the SHA-256 of its bytes, so equal content is one version everywhere."""
    return hashlib.sha256(document).hexdigest()


def parse_datetime(value: str) -> float:
    """An xs:dateTime as a POSIX time; without a zone it is taken as UTC (as SAML requires, saml-core 1.3.3)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def parse_duration(value: str) -> float:
    """An xs:duration (``cacheDuration``) in seconds; years and months are counted as 365 and 30 days."""
    match = _DURATION.fullmatch(value.strip())
    if not match or value.strip() in ("P", "PT") or value.strip().endswith("T"):
        raise ValueError("not an xs:duration")
    parts = {name: float(number) for name, number in match.groupdict().items() if number is not None}
    days = parts.get("years", 0) * 365 + parts.get("months", 0) * 30 + parts.get("days", 0)
    return days * 86400 + parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60 + parts.get("seconds", 0)


def verify_metadata(document: bytes, signing_cert: bytes | None, *, now: float) -> VerifiedMetadata:
    """Check ``document`` and summarise it; raise `MetadataRefused` unless every rule holds.

    With ``signing_cert`` the whole document must verify against it (a missing signature is a
    refusal, never a pass). Without, the caller has decided that this source may be unsigned.
    """
    try:
        if signing_cert is not None:
            root = verify_root_signature(document, signing_cert, _ROOTS)
        else:
            root = parse_untrusted(document)
    except XmlsecError as exc:
        raise MetadataRefused(str(exc)) from None
    if root.tag not in _ROOTS:
        raise MetadataRefused("not SAML metadata: the document element is not an Entity(ies)Descriptor")
    valid_until = _time_attribute(root, "validUntil")
    if valid_until is not None and now >= valid_until:
        raise MetadataRefused("validUntil has passed")
    cache_duration = None
    if root.get("cacheDuration") is not None:
        try:
            cache_duration = parse_duration(root.get("cacheDuration", ""))
        except ValueError:
            raise MetadataRefused("cacheDuration is not an xs:duration") from None
    entities = _entities(root, now)
    if not entities:
        raise MetadataRefused("no entity in the document")
    publication = root.find(_PUBLICATION_INFO)
    return VerifiedMetadata(
        document=document,
        version=version_of(document),
        signed=signing_cert is not None,
        valid_until=valid_until,
        cache_duration=cache_duration,
        entities=entities,
        published=_time_attribute(publication, "creationInstant") if publication is not None else None,
    )


def older_than(new: VerifiedMetadata, installed: VerifiedMetadata) -> str | None:
    """Why ``new`` is an older publication than ``installed`` (a rollback), or None.

    A signed aggregate stays valid until its ``validUntil``, so an attacker who can answer the
    metadata URL (or an out-of-date mirror) could serve an earlier one and bring back a provider or a
    key the federation has since removed. The publisher's own ordering decides: the publication
    instant (SAML V2.0 Metadata Extensions for Registration and Publication Information, 2.2) when both
    documents state one, otherwise ``validUntil``, which a federation moves forward with every
    publication. Documents that state neither cannot be ordered and are not refused here.
    """
    if new.published is not None and installed.published is not None:
        if new.published < installed.published:
            return "older than the installed copy (PublicationInfo creationInstant): a rollback"
        return None
    if new.valid_until is not None and installed.valid_until is not None and new.valid_until < installed.valid_until:
        return "older than the installed copy (earlier validUntil): a rollback"
    return None


def _time_attribute(element: etree._Element, name: str) -> float | None:
    value = element.get(name)
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise MetadataRefused(f"{name} is not an xs:dateTime") from None


def _entities(root: etree._Element, now: float) -> tuple[EntitySummary, ...]:
    """Every EntityDescriptor still valid, in document order; an entity ID twice is a refusal.

    A nested EntitiesDescriptor or EntityDescriptor whose own validUntil has passed is left out, as
    pysaml2 leaves it out when it loads the same bytes.
    """
    found: dict[str, EntitySummary] = {}
    candidates = [root] if root.tag == ENTITY else list(root.iter(ENTITY))
    for entity in candidates:
        if _expired_on_path(entity, root, now):
            continue
        entity_id = entity.get("entityID") or ""
        if not entity_id:
            raise MetadataRefused("an EntityDescriptor has no entityID")
        if entity_id in found:
            raise MetadataRefused("an entityID occurs more than once")
        keys = tuple(_keys(entity))
        idp = any(_SAMLP in (d.get("protocolSupportEnumeration") or "").split() for d in entity.findall(_IDP))
        found[entity_id] = EntitySummary(entity_id=entity_id, idp=idp, keys=keys)
    return tuple(found.values())


def _expired_on_path(entity: etree._Element, root: etree._Element, now: float) -> bool:
    element: etree._Element | None = entity
    while element is not None and element is not root:
        until = _time_attribute(element, "validUntil")
        if until is not None and now >= until:
            return True
        element = element.getparent()
    return False


def _keys(entity: etree._Element) -> list[EntityKey]:
    keys = []
    for descriptor in entity.iter(_KEY_DESCRIPTOR):
        use = descriptor.get("use") or "any"
        for certificate in descriptor.iter(_X509_CERTIFICATE):
            body = "".join((certificate.text or "").split())
            try:
                der = _b64(body)
            except ValueError:
                raise MetadataRefused("an X509Certificate is not base64") from None
            keys.append(EntityKey(use=use, fingerprint=hashlib.sha256(der).hexdigest(), not_after=_not_after(der)))
    return keys


def _b64(body: str) -> bytes:
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


def _not_after(der: bytes) -> float | None:
    """The certificate's notAfter, or None when it does not parse (a key container need not be a good cert)."""
    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    except ValueError:
        return None


def diff(old: VerifiedMetadata | None, new: VerifiedMetadata) -> MetadataChanges:
    """What changed from ``old`` to ``new``: the facts an audit event records."""
    before = {e.entity_id: e for e in old.entities} if old is not None else {}
    after = {e.entity_id: e for e in new.entities}
    return MetadataChanges(
        added=tuple(e for i, e in after.items() if i not in before),
        removed=tuple(e for i, e in before.items() if i not in after),
        keys_changed=tuple(
            (before[i], e) for i, e in after.items() if i in before and before[i].fingerprints != e.fingerprints
        ),
    )
