"""Value objects that cross the gateway's parts.

Parts talk through these frozen objects rather than dicts, so every boundary is
typed and a value parsed once at the edge cannot be changed further in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

Attributes = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class AuthnResult:
    """What a verified SAML Response says about the citizen, before mapping.

    Attributes are keyed by their SAML ``Name`` (an ``urn:oid:`` URI), exactly as
    the provider sent them; nothing here has been interpreted yet.
    """

    issuer: str
    name_id: str
    name_id_format: str
    loa: str
    authn_instant: int
    assertion_id: str
    attributes: Attributes = field(default_factory=dict)
    authenticating_authority: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """A citizen as the gateway knows them after mapping and validation.

    ``subject_key`` is the stable identifier the pairwise ``sub`` is derived
    from: the personal identity number when there is one (so the same citizen
    gets the same ``sub`` through BankID and Freja), else ``prid`` for eIDAS,
    else the provider's persistent NameID qualified by its entity ID.
    Attributes are keyed by their friendly name (``sn``, ``personalIdentityNumber``...).
    """

    provider_id: str
    issuer: str
    subject_key: str
    loa: str
    authn_instant: int
    attributes: Attributes = field(default_factory=dict)
    authenticating_authority: str | None = None
    transaction_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A message the e-service wants the e-ID provider to show the citizen (OSRPAR 2.1, UMSG 2).

    ``messages`` maps a language tag to the message, base64 of its UTF-8 text as
    both the OIDC parameter and the SAML extension carry it; the first entry is
    the default one. ``mime_type`` is ``text/plain`` or ``text/markdown``.
    """

    messages: tuple[tuple[str, str], ...]
    mime_type: str = "text/plain"
