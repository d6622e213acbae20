"""Levels of assurance: the URIs, "at least" ordering, matching, and what the gateway may relay.

Responsibility: everything the gateway decides about LoA URIs, which serve both
as SAML ``AuthnContextClassRef`` values upstream and as OIDC ``acr`` values
downstream (REG 3.1.1; swedish-eid.md sections 2 and 5.7).

Matching is always exact: an AuthnRequest lists every acceptable URI with
``Comparison="exact"`` and the IdP must return one of them (DP 5.3.1, 5.4.4;
the SP checks it, DP 6.3.4). "At least loa3" therefore has to be spelled out as
"loa3 or loa4"; :func:`acceptable` does that within one family of URIs. The
families are kept apart because Digg says Swedish and eIDAS levels cannot be
translated into each other (TAR 1.2.2), and a nonresident or uncertified URI
states something different about the holder or the issuer (REG 3.1.1.1-3.1.1.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from typing import Literal

_ELN = "http://id.elegnamnden.se/loa/1.0/"
_SC = "http://id.swedenconnect.se/loa/1.0/"

LOA1: Final = _ELN + "loa1"
LOA2: Final = _ELN + "loa2"
LOA3: Final = _ELN + "loa3"
LOA4: Final = _ELN + "loa4"

LOA2_NONRESIDENT: Final = _SC + "loa2-nonresident"
LOA3_NONRESIDENT: Final = _SC + "loa3-nonresident"
LOA4_NONRESIDENT: Final = _SC + "loa4-nonresident"

UNCERTIFIED_LOA2: Final = _SC + "uncertified-loa2"
UNCERTIFIED_LOA3: Final = _SC + "uncertified-loa3"

EIDAS_LOW: Final = _ELN + "eidas-low"
EIDAS_SUB: Final = _ELN + "eidas-sub"
EIDAS_HIGH: Final = _ELN + "eidas-high"

EIDAS_NF_LOW: Final = _ELN + "eidas-nf-low"
EIDAS_NF_SUB: Final = _ELN + "eidas-nf-sub"
EIDAS_NF_HIGH: Final = _ELN + "eidas-nf-high"

UNCERTIFIED_EIDAS_LOW: Final = _SC + "uncertified-eidas-low"
UNCERTIFIED_EIDAS_SUB: Final = _SC + "uncertified-eidas-sub"
UNCERTIFIED_EIDAS_HIGH: Final = _SC + "uncertified-eidas-high"

FAMILIES: Final[tuple[tuple[str, ...], ...]] = (
    (LOA1, LOA2, LOA3, LOA4),
    (LOA2_NONRESIDENT, LOA3_NONRESIDENT, LOA4_NONRESIDENT),
    (UNCERTIFIED_LOA2, UNCERTIFIED_LOA3),
    (EIDAS_LOW, EIDAS_SUB, EIDAS_HIGH),
    (EIDAS_NF_LOW, EIDAS_NF_SUB, EIDAS_NF_HIGH),
    (UNCERTIFIED_EIDAS_LOW, UNCERTIFIED_EIDAS_SUB, UNCERTIFIED_EIDAS_HIGH),
)
"""Each family ordered from lowest to highest (TAR 1.2.2: loa2 < loa3 < loa4, low < sub < high)."""

ALL_LOAS: Final[tuple[str, ...]] = tuple(uri for family in FAMILIES for uri in family)

RelayPolicy = Literal["as-is", "uncertified"]
RELAY_POLICIES: Final[tuple[str, ...]] = ("as-is", "uncertified")

_UNCERTIFIED: Final[dict[str, str]] = {
    LOA2: UNCERTIFIED_LOA2,
    LOA3: UNCERTIFIED_LOA3,
    EIDAS_LOW: UNCERTIFIED_EIDAS_LOW,
    EIDAS_SUB: UNCERTIFIED_EIDAS_SUB,
    EIDAS_HIGH: UNCERTIFIED_EIDAS_HIGH,
    EIDAS_NF_LOW: UNCERTIFIED_EIDAS_LOW,
    EIDAS_NF_SUB: UNCERTIFIED_EIDAS_SUB,
    EIDAS_NF_HIGH: UNCERTIFIED_EIDAS_HIGH,
}
"""REG 3.1.1.2, TAR 1.2.3: a provider that is not audited by Digg emits the uncertified URIs."""


def acceptable(minimum: str) -> tuple[str, ...]:
    """Every URI of ``minimum``'s family at or above it, lowest first.

    This is how "at least" becomes the explicit list an exact-matching
    AuthnRequest needs (DP 5.3.1). A URI outside the known families can only
    be matched by itself, so it is returned alone rather than widened.
    """
    for family in FAMILIES:
        if minimum in family:
            return family[family.index(minimum) :]
    return (minimum,)


def requested_loas(acr_values: Sequence[str], offered: Sequence[str]) -> tuple[str, ...]:
    """The URIs to put in ``RequestedAuthnContext`` for one provider.

    The client's acr values are taken as the exact URIs it accepts, in its
    order of preference, and kept when the provider offers them (its
    ``assurance-certification`` metadata, DP 2.1.3). Nothing is widened here: a
    client wanting "at least loa3" lists loa3 and loa4, or the caller expands
    with :func:`acceptable` first. Without acr values the client accepts any
    level, so everything the provider offers is listed (DP 6.3.4). An empty
    result means this provider cannot serve the request.
    """
    offered_set = set(offered)
    if not acr_values:
        return tuple(dict.fromkeys(offered))
    return tuple(uri for uri in dict.fromkeys(acr_values) if uri in offered_set)


def satisfies(returned: str, requested: Sequence[str]) -> bool:
    """Whether the IdP's ``AuthnContextClassRef`` is one of the URIs requested.

    DP 6.3.4: the returned class ref MUST be one of the requested URIs. The
    comparison is exact string equality, as for the request (DP 5.4.4); an
    empty request satisfies nothing, since the gateway always sends one.
    """
    return returned in requested


def relay_acr(loa: str, policy: str) -> str:
    """The ``acr`` the gateway may state for an upstream LoA under ``policy``.

    ``"as-is"`` passes the URI through, for a gateway Digg has audited.
    ``"uncertified"`` applies REG 3.1.1.2 / TAR 1.2.3 for a proxy that is not
    audited: loa2/loa3 become ``uncertified-loa2/3`` and every eIDAS URI
    (notified or not) becomes ``uncertified-eidas-*``. Other URIs, loa4 and the
    nonresident ones included, have no uncertified counterpart in REG and are
    returned unchanged; whether an unaudited proxy may relay them at all is an
    open question (swedish-eid.md section 9, item 2).
    """
    if policy == "as-is":
        return loa
    if policy == "uncertified":
        return _UNCERTIFIED.get(loa, loa)
    raise ValueError(f"unknown acr relay policy {policy!r}; expected one of {RELAY_POLICIES}")


def upstream_for(acr: str, policy: str) -> tuple[str, ...]:
    """The upstream URIs that :func:`relay_acr` turns into ``acr`` under ``policy``.

    The inverse of the relay policy, so a client's ``acr_values`` (stated in the
    gateway's own terms, e.g. ``uncertified-loa3`` for an unaudited proxy) become
    the URIs the providers offer and an AuthnRequest can name (REG 3.1.1.2).
    Under ``"uncertified"``, ``uncertified-loa3`` comes from ``loa3`` and from a
    provider that already emits ``uncertified-loa3`` (a BankID IdP); ``loa3``
    itself comes from nothing, since the gateway never emits it.
    """
    if policy == "as-is":
        return (acr,)
    sources = [loa for loa, relayed in _UNCERTIFIED.items() if relayed == acr]
    if relay_acr(acr, policy) == acr:
        sources.insert(0, acr)
    return tuple(sources)


def acceptable_upstream(acr_values: Sequence[str], *, essential: bool, policy: str) -> tuple[str, ...]:
    """Every upstream URI whose relayed ``acr`` the client accepts, in the client's order.

    A voluntary request (``acr_values``, or ``claims`` without ``essential``) names
    the minimum the client wants: each value is widened with :func:`acceptable`
    to the same level and those above within its family (TAR 1.2.2), because a
    loa4 citizen satisfies an e-service that asks for loa3 and the exact matching
    of DP 5.3.1 would otherwise turn them away. An essential ``acr`` with
    ``values`` is a hard requirement that the ID token's ``acr`` be one of them
    (OIDC Core 5.5.1.1, OSPROF 2.1.6), so it is kept exact. An empty result with
    non-empty ``acr_values`` means nothing the gateway can relay satisfies them.
    """
    found: list[str] = []
    for acr in acr_values:
        for loa in upstream_for(acr, policy):
            found.extend((loa,) if essential else acceptable(loa))
    return tuple(dict.fromkeys(found))


def relayed_acr_values(offered: Sequence[str], policy: str) -> tuple[str, ...]:
    """The ``acr`` values the gateway can state for what its providers offer (``acr_values_supported``)."""
    return tuple(dict.fromkeys(relay_acr(loa, policy) for loa in offered))
