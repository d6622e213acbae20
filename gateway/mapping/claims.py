"""Identity -> OIDC claims for one destination (ID token or UserInfo).

Responsibility: decide which identity claims an e-service receives, where, and
under which names, following the Swedish OIDC profile and its claim and scope
specifications (OSPROF 4.2; OSCLM 2-3; SCCLM 2-3) with the mapping data of
``profiles.yaml``. Protocol claims (``iss``, ``sub``, ``acr``, ``nonce``...)
belong to ``oidc/id_token.py``; this module only knows about the citizen.

Release rules (OSPROF 4.2):

- a granted scope releases its claims to UserInfo, and the claims its
  definition marks for the ID token also to the ID token (OSCLM 3, SCCLM 3.1);
- the ``claims`` request parameter (OIDC Core 5.5) can send a claim to the
  destination it names, but only a claim the client may have at all: one of a
  granted scope, or one of the few claims no scope covers (``txn``,
  ``authnProvider``, ``previousCoordinationNumber``...; OSCLM 2.1.2, SCCLM
  3.1.3), each gated on a scope in ``profiles.yaml`` when it is personal data;
- release is best effort: a claim the identity cannot fill is left out, and
  ``essential``/``value``/``values`` are not enforced here (the ``acr`` one is
  the login flow's job, OSPROF 2.1.6).
"""

from __future__ import annotations

import enum
import urllib.parse
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Final

from gateway.mapping.attributes import NUMBER_ATTRIBUTES
from gateway.mapping.attributes import EidasAddressLayout
from gateway.mapping.attributes import Profiles
from gateway.mapping.attributes import load_profiles
from gateway.mapping.attributes import split_member
from gateway.mapping.personnummer import NumberKind
from gateway.mapping.personnummer import validate
from gateway.model import Identity

AUTHN_PROVIDER: Final = "https://id.oidc.se/claim/authnProvider"
TXN: Final = "txn"


class Destination(enum.Enum):
    """Where claims are delivered; matches the member names of the ``claims`` parameter."""

    ID_TOKEN = "id_token"  # noqa: S105 - the OIDC member name, not a secret
    USERINFO = "userinfo"


SUPPORTED_SCOPES: Final[tuple[str, ...]] = tuple(load_profiles().scopes)
"""Every scope the gateway understands, ``openid`` first, for ``scopes_supported`` (OSPROF 5.2)."""


def claims_for(
    identity: Identity,
    scopes: Sequence[str],
    destination: Destination,
    *,
    requested: Mapping[str, Any] | None = None,
    accept_coordination_number: bool = False,
) -> dict[str, Any]:
    """The identity claims for ``destination``, given the granted ``scopes``.

    ``scopes`` must already be limited to what the client is registered for;
    unknown scopes are ignored. ``requested`` is the ``claims`` parameter's
    member for this destination (``claims["id_token"]`` or
    ``claims["userinfo"]``). ``accept_coordination_number`` mirrors the
    ``accepts-coordination-number`` opt-in (EC 6.2): without it a coordination
    number is never released, even if an earlier login for another e-service
    let one into the identity.
    """
    profiles = load_profiles()
    granted = [profiles.scopes[s] for s in dict.fromkeys(scopes) if s in profiles.scopes]
    wanted: list[str] = [
        claim
        for scope in granted
        for claim in scope.claims
        if destination is Destination.USERINFO or claim in scope.id_token
    ]
    if requested:
        allowed = {claim for scope in granted for claim in scope.claims}
        granted_names = {scope.scope for scope in granted}
        allowed.update(
            claim for claim, needs in profiles.claims_parameter_only.items() if not needs or needs & granted_names
        )
        wanted.extend(claim for claim in requested if claim in allowed)
    available = identity_claims(identity, accept_coordination_number=accept_coordination_number)
    return {claim: available[claim] for claim in dict.fromkeys(wanted) if claim in available}


def supported_claims(scopes: Sequence[str]) -> list[str]:
    """The claims the gateway may release under ``scopes``, for ``claims_supported`` (OSPROF 5.2).

    Includes the claims only the ``claims`` parameter can ask for when their
    scope condition is met by ``scopes``, since a client can obtain them.
    """
    profiles = load_profiles()
    names = set(scopes)
    claims = [claim for s in scopes if s in profiles.scopes for claim in profiles.scopes[s].claims]
    claims.extend(claim for claim, needs in profiles.claims_parameter_only.items() if not needs or needs & names)
    return list(dict.fromkeys(claims))


def identity_claims(identity: Identity, *, accept_coordination_number: bool = False) -> dict[str, Any]:
    """Every claim the identity can fill, before any release decision.

    Internal to the release rules above; exposed for tests and diagnostics.
    Identity numbers are validated again (they were at the edge, in
    ``to_identity``) because releasing a malformed one would be worse than
    failing: an invalid number raises ``InvalidNumber``.
    """
    profiles = load_profiles()
    collected: dict[str, list[str]] = {}
    eidas_parts: dict[str, str] | None = None
    came_through_eidas = "prid" in identity.attributes  # CONSTR: the connector always sets prid

    for rule in profiles.claim_rules:
        values = identity.attributes.get(rule.attribute)
        if not values:
            continue
        if rule.parse == "eidas_address":
            eidas_parts = _eidas_address_parts(values[0])
            continue
        target = rule.claim
        if rule.attribute in NUMBER_ATTRIBUTES and validate(values[0]) is NumberKind.COORDINATION:
            if rule.attribute == "personalIdentityNumber" and not accept_coordination_number:
                continue  # EC 6.2
            target = rule.coordination_claim
        if came_through_eidas and rule.eidas_claim:
            target = rule.eidas_claim
        if rule.values is not None:
            table = rule.values
            values = tuple(table[v.strip().upper()] for v in values if v.strip().upper() in table)
        if target and values:
            collected.setdefault(target, []).extend(values)

    claims = _shape(collected, profiles)
    if eidas_parts:
        _merge_eidas_address(claims, eidas_parts, profiles.eidas_address)
    if TXN not in claims and identity.transaction_identifier:
        claims[TXN] = identity.transaction_identifier
    # OSCLM 2.3.5: the authority that authenticated the user, else the IdP itself.
    claims[AUTHN_PROVIDER] = identity.authenticating_authority or identity.issuer
    return claims


def _shape(collected: Mapping[str, list[str]], profiles: Profiles) -> dict[str, Any]:
    """Reduce each target's values per ``claim_shapes`` and build the object claims."""
    claims: dict[str, Any] = {}
    for target, values in collected.items():
        shape = profiles.claim_shapes.get(target, "first")
        value: Any
        if shape == "lines":
            value = "\n".join(values)
        elif shape == "list":
            value = list(values)
        else:
            value = values[0]
        parent, member = split_member(target)
        if member is None:
            claims[target] = value
        else:
            claims.setdefault(parent, {})[member] = value
    return claims


def _eidas_address_parts(value: str) -> dict[str, str]:
    """Split ``Key=Value;Key=Value`` with URL-encoded keys and values (ATTR 3.3.3.1).

    ``unquote_plus`` because the encoder may write a space as ``+`` (form
    encoding) or ``%20`` (the ATTR example); a literal plus is then ``%2B``.
    """
    parts: dict[str, str] = {}
    for pair in value.split(";"):
        key, sep, raw = pair.partition("=")
        if sep and key.strip():
            decoded = urllib.parse.unquote_plus(raw).strip()
            if decoded:
                parts[urllib.parse.unquote_plus(key).strip()] = decoded
    return parts


def _merge_eidas_address(claims: dict[str, Any], parts: Mapping[str, str], layout: EidasAddressLayout) -> None:
    """Fill ``address`` from eIDAS parts where the generic attributes left gaps.

    A member already set from street/postOfficeBox/postalCode/l/c wins, and
    ``street_address`` is never built from both sources, so lines of two
    different addresses cannot be mixed.
    """
    address: dict[str, Any] = dict(claims.get("address", {}))
    if "street_address" not in address:
        lines = [" ".join(parts[k] for k in line if k in parts) for line in layout.street_address_lines]
        lines = [line for line in lines if line]
        if lines:
            address["street_address"] = "\n".join(lines)
    for member, key in layout.members.items():
        if member not in address and key in parts:
            address[member] = parts[key]
    if address:
        claims["address"] = address
