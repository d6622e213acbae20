"""SAML attributes -> :class:`~gateway.model.Identity`, driven by ``profiles.yaml``.

Responsibility: turn what a verified SAML assertion says (an
:class:`~gateway.model.AuthnResult`, attributes keyed by SAML ``Name``) into the
citizen the rest of the gateway works with, enforcing the attribute rules of
the Swedish eID Framework (ATTR 2, 3.1) on the way in:

- only attributes of the attribute table are kept, keyed by friendly name;
- a single-valued attribute with several values is refused (ATTR 3.1);
- the provider's attribute set must be complete (ATTR 2; DP 6.2.1 leaves the
  decision to the SP);
- identity numbers must be valid, and a coordination number is refused unless
  the e-service accepts one (EC 6.2, swedish-eid.md 3.4 and 6).

The mapping itself is data (``profiles.yaml``), parsed once into frozen
dataclasses by :func:`load_profiles` and checked for internal consistency, so a
typo in the data fails at start-up with the file and key named rather than
silently dropping a claim.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from typing import Final

import yaml

from gateway.errors import ConfigError
from gateway.errors import Problem
from gateway.errors import UpstreamError
from gateway.mapping.personnummer import InvalidNumber
from gateway.mapping.personnummer import NumberKind
from gateway.mapping.personnummer import validate
from gateway.model import AuthnResult
from gateway.model import Identity

PROFILES_FILE: Final = "gateway/mapping/profiles.yaml"

NUMBER_ATTRIBUTES: Final[tuple[str, ...]] = (
    "personalIdentityNumber",
    "previousPersonalIdentityNumber",
    "mappedPersonalIdentityNumber",
)
"""Attributes holding a 12-digit personnummer or samordningsnummer (ATTR 3.1)."""

SPECIAL_CLAIMS: Final[tuple[str, ...]] = ("https://id.oidc.se/claim/authnProvider",)
"""Claims made by code from the assertion itself rather than from an attribute (OSCLM 2.3.5)."""

CLAIM_SHAPES: Final[tuple[str, ...]] = ("first", "lines", "list")
_DESTINATIONS: Final = {"both": True, "userinfo": False}

_Report = Callable[[str, str], None]
"""Records one problem: (key, message)."""


_MEMBER: Final = re.compile(r"([a-z_]+)\.([a-z_]+)")


def split_member(target: str) -> tuple[str, str | None]:
    """``"address.locality"`` -> ``("address", "locality")``; a claim name -> ``(name, None)``.

    Only a plain ``word.word`` target names a member of a JSON object claim
    (OIDC Core 5.1.1 ``address``, OIDC IA ``place_of_birth``): collision-resistant
    claim names are URIs and contain dots of their own.
    """
    match = _MEMBER.fullmatch(target)
    if match:
        return match.group(1), match.group(2)
    return target, None


@dataclass(frozen=True, slots=True)
class AttributeDef:
    """One row of the attribute table (ATTR 3.1)."""

    friendly_name: str
    name: str
    multi_valued: bool


@dataclass(frozen=True, slots=True)
class AttributeSet:
    """An attribute set (ATTR 2): what a provider configured with it must deliver."""

    id: str
    uri: str
    required: tuple[str, ...]
    recommended: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClaimRule:
    """How one attribute becomes a claim; see the comment above ``claims`` in profiles.yaml."""

    attribute: str
    claim: str | None
    coordination_claim: str | None = None
    eidas_claim: str | None = None
    values: Mapping[str, str] | None = None
    parse: str | None = None

    def targets(self) -> tuple[str, ...]:
        """Every top-level claim this rule can produce (``address.x`` counts as ``address``)."""
        found = (self.claim, self.coordination_claim, self.eidas_claim)
        return tuple(dict.fromkeys(split_member(t)[0] for t in found if t))


@dataclass(frozen=True, slots=True)
class ScopeDef:
    """A scope's claims; ``id_token`` lists those also placed in the ID token."""

    scope: str
    claims: tuple[str, ...]
    id_token: frozenset[str]


@dataclass(frozen=True, slots=True)
class EidasAddressLayout:
    """Where the keys of ``eidasNaturalPersonAddress`` go in the ``address`` claim."""

    street_address_lines: tuple[tuple[str, ...], ...]
    members: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Profiles:
    """The parsed ``profiles.yaml``; immutable, shared by every request."""

    attributes: Mapping[str, AttributeDef]
    """By SAML ``Name``."""
    attribute_sets: Mapping[str, AttributeSet]
    claim_rules: tuple[ClaimRule, ...]
    claim_shapes: Mapping[str, str]
    eidas_address: EidasAddressLayout
    scopes: Mapping[str, ScopeDef]
    claims_parameter_only: Mapping[str, frozenset[str]]
    """Claim -> scopes of which one must be granted (empty: none needed)."""

    def by_friendly_name(self, friendly_name: str) -> AttributeDef:
        """The table row for a friendly name; KeyError if it is not in the table."""
        for attribute in self.attributes.values():
            if attribute.friendly_name == friendly_name:
                return attribute
        raise KeyError(friendly_name)


@functools.cache
def load_profiles() -> Profiles:
    """Read and check the package's ``profiles.yaml`` once per process."""
    text = importlib.resources.files("gateway.mapping").joinpath("profiles.yaml").read_text("utf-8")
    return parse_profiles(yaml.safe_load(text))


def parse_profiles(data: Any, source: str = PROFILES_FILE) -> Profiles:
    """Build :class:`Profiles` from parsed YAML, reporting every problem at once.

    Raises :class:`~gateway.errors.ConfigError` naming file and key, so a bad
    edit of the data is caught before the first login, not during one.
    """
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(source, key, message))

    root = _mapping(data, "", problem)
    attributes = _parse_attributes(_mapping(root.get("attributes"), "attributes", problem), problem)
    friendly = {a.friendly_name for a in attributes.values()}
    sets = _parse_sets(_mapping(root.get("attribute_sets"), "attribute_sets", problem), friendly, problem)
    rules = _parse_rules(_mapping(root.get("claims"), "claims", problem), friendly, problem)
    shapes = _parse_shapes(_mapping(root.get("claim_shapes"), "claim_shapes", problem), problem)
    layout = _parse_eidas_address(_mapping(root.get("eidas_address"), "eidas_address", problem), problem)
    scopes = _parse_scopes(_mapping(root.get("scopes"), "scopes", problem), problem)
    only = _parse_only(_mapping(root.get("claims_parameter_only"), "claims_parameter_only", problem), scopes, problem)

    producible = {t for rule in rules for t in rule.targets()} | set(SPECIAL_CLAIMS)
    for scope in scopes.values():
        for claim in scope.claims:
            if claim not in producible:
                problem(f"scopes.{scope.scope}.{claim}", "no attribute rule produces this claim")
    for claim in only:
        if claim not in producible:
            problem(f"claims_parameter_only.{claim}", "no attribute rule produces this claim")

    if problems:
        raise ConfigError(problems)
    return Profiles(
        attributes=MappingProxyType(attributes),
        attribute_sets=MappingProxyType(sets),
        claim_rules=rules,
        claim_shapes=MappingProxyType(shapes),
        eidas_address=layout,
        scopes=MappingProxyType(scopes),
        claims_parameter_only=MappingProxyType(only),
    )


def to_identity(
    result: AuthnResult,
    *,
    provider_id: str,
    attribute_set: str,
    accept_coordination_number: bool,
) -> Identity:
    """Map and validate a verified assertion's attributes into an :class:`Identity`.

    ``attribute_set`` is the id of the set the provider is configured with
    (``pnr-01``...); an unknown id is a configuration error (``KeyError``).
    Every refusal is an :class:`~gateway.errors.UpstreamError` whose detail
    names attributes and rules only, never a value (style rule 5).

    ``subject_key`` prefers the personal identity number, so one citizen keeps
    one ``sub`` across BankID, Freja and others (NameIDs are per IdP, DP 6.2);
    then ``prid`` for eIDAS (ATTR 3.3.1 recommends it as the primary key); then
    the provider's NameID, qualified by the issuer because NameIDs are only
    unique per IdP.
    """
    profiles = load_profiles()
    wanted = profiles.attribute_sets[attribute_set]
    attributes = _known_attributes(result, profiles)

    missing = [name for name in wanted.required if name not in attributes]
    if missing:
        raise UpstreamError("attributes_missing", "missing required attributes: " + ", ".join(missing))

    for name in NUMBER_ATTRIBUTES:
        if name in attributes:
            kind = _validated_kind(name, attributes[name][0])
            # EC 6.2: the opt-in covers personalIdentityNumber only, not the mapped number.
            if name == "personalIdentityNumber" and kind is NumberKind.COORDINATION and not accept_coordination_number:
                raise UpstreamError(
                    "coordination_number_not_accepted",
                    "personalIdentityNumber is a coordination number; the e-service has not opted in",
                )

    if "personalIdentityNumber" in attributes:
        subject_key = "pnr:" + attributes["personalIdentityNumber"][0]
    elif "prid" in attributes:
        subject_key = "prid:" + attributes["prid"][0]
    else:
        subject_key = "nameid:" + result.issuer + "!" + result.name_id

    transaction = attributes.get("transactionIdentifier")
    return Identity(
        provider_id=provider_id,
        issuer=result.issuer,
        subject_key=subject_key,
        loa=result.loa,
        authn_instant=result.authn_instant,
        attributes=attributes,
        authenticating_authority=result.authenticating_authority,
        transaction_identifier=transaction[0] if transaction else None,
    )


def _known_attributes(result: AuthnResult, profiles: Profiles) -> dict[str, tuple[str, ...]]:
    """Keep the table's attributes, by friendly name; empty values count as absent."""
    kept: dict[str, tuple[str, ...]] = {}
    for name, raw_values in result.attributes.items():
        definition = profiles.attributes.get(name)
        if definition is None:
            continue  # not in the table: never stored, never released
        values = tuple(v for v in raw_values if v)
        if not values:
            continue
        if len(values) > 1 and not definition.multi_valued:
            raise UpstreamError(
                "attribute_not_single_valued",
                f"{definition.friendly_name} has several values but is single-valued (ATTR 3.1)",
            )
        kept[definition.friendly_name] = values
    return kept


def _validated_kind(name: str, number: str) -> NumberKind:
    try:
        return validate(number)
    except InvalidNumber as exc:
        raise UpstreamError("invalid_identity_number", f"{name}: {exc.reason}") from None


# --- parsing helpers: each reports problems instead of raising, so all are found at once.


def _mapping(value: Any, key: str, problem: _Report) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    problem(key or "(root)", "must be a mapping")
    return {}


def _strings(value: Any, key: str, problem: _Report) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problem(key, "must be a list of strings")
    return ()


def _parse_attributes(section: Mapping[str, Any], problem: _Report) -> dict[str, AttributeDef]:
    by_name: dict[str, AttributeDef] = {}
    for friendly, row in section.items():
        key = f"attributes.{friendly}"
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            problem(key, "needs a string `name`")
            continue
        if not isinstance(row.get("multi_valued"), bool):
            problem(key, "needs a boolean `multi_valued`")
            continue
        if row["name"] in by_name:
            problem(key, "SAML name already used by " + by_name[row["name"]].friendly_name)
            continue
        by_name[row["name"]] = AttributeDef(friendly, row["name"], row["multi_valued"])
    return by_name


def _parse_sets(
    section: Mapping[str, Any],
    friendly: set[str],
    problem: _Report,
) -> dict[str, AttributeSet]:
    sets: dict[str, AttributeSet] = {}
    for set_id, row in section.items():
        key = f"attribute_sets.{set_id}"
        row = _mapping(row, key, problem)
        uri = row.get("uri")
        if not isinstance(uri, str):
            problem(key, "needs a string `uri`")
            continue
        required = _strings(row.get("required"), key + ".required", problem)
        recommended = _strings(row.get("recommended"), key + ".recommended", problem)
        for name in (*required, *recommended):
            if name not in friendly:
                problem(key, f"{name} is not in the attribute table")
        sets[set_id] = AttributeSet(set_id, uri, required, recommended)
    return sets


def _parse_rules(
    section: Mapping[str, Any],
    friendly: set[str],
    problem: _Report,
) -> tuple[ClaimRule, ...]:
    rules: list[ClaimRule] = []
    allowed = {"claim", "coordination_claim", "eidas_claim", "values", "parse"}
    for attribute, row in section.items():
        key = f"claims.{attribute}"
        row = _mapping(row, key, problem)
        if attribute not in friendly:
            problem(key, "not in the attribute table")
        if unknown := set(row) - allowed:
            problem(key, "unknown keys: " + ", ".join(sorted(unknown)))
        if "claim" not in row:
            problem(key, "needs `claim` (null for none)")
        targets = {k: row.get(k) for k in ("claim", "coordination_claim", "eidas_claim")}
        if any(v is not None and not isinstance(v, str) for v in targets.values()):
            problem(key, "claim names must be strings")
            continue
        if row.get("coordination_claim") is not None and attribute not in NUMBER_ATTRIBUTES:
            problem(key, "coordination_claim only applies to identity-number attributes")
        values = row.get("values")
        if values is not None:
            if not isinstance(values, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in values.items()
            ):
                problem(key + ".values", "must map strings to strings")
                continue
            values = MappingProxyType({k.upper(): v for k, v in values.items()})
        parse = row.get("parse")
        if parse not in (None, "eidas_address"):
            problem(key + ".parse", "only eidas_address is supported")
        rules.append(
            ClaimRule(
                attribute=attribute,
                claim=targets["claim"],
                coordination_claim=targets["coordination_claim"],
                eidas_claim=targets["eidas_claim"],
                values=values,
                parse=parse,
            )
        )
    return tuple(rules)


def _parse_shapes(section: Mapping[str, Any], problem: _Report) -> dict[str, str]:
    shapes: dict[str, str] = {}
    for claim, shape in section.items():
        if shape not in CLAIM_SHAPES:
            problem(f"claim_shapes.{claim}", "must be one of " + ", ".join(CLAIM_SHAPES))
            continue
        shapes[claim] = shape
    return shapes


def _parse_eidas_address(section: Mapping[str, Any], problem: _Report) -> EidasAddressLayout:
    lines_raw = section.get("street_address_lines")
    lines: list[tuple[str, ...]] = []
    if not isinstance(lines_raw, list):
        problem("eidas_address.street_address_lines", "must be a list of lists of keys")
    else:
        for index, line in enumerate(lines_raw):
            lines.append(_strings(line, f"eidas_address.street_address_lines[{index}]", problem))
    members = _mapping(section.get("members"), "eidas_address.members", problem)
    if not all(isinstance(v, str) for v in members.values()):
        problem("eidas_address.members", "must map address members to eIDAS keys")
    return EidasAddressLayout(tuple(lines), MappingProxyType(dict(members)))


def _parse_scopes(section: Mapping[str, Any], problem: _Report) -> dict[str, ScopeDef]:
    scopes: dict[str, ScopeDef] = {}
    for scope, row in section.items():
        key = f"scopes.{scope}"
        row = _mapping(row, key, problem)
        id_token: set[str] = set()
        for claim, destination in row.items():
            if destination not in _DESTINATIONS:
                problem(f"{key}.{claim}", "must be `both` or `userinfo`")
            elif _DESTINATIONS[destination]:
                id_token.add(claim)
        scopes[scope] = ScopeDef(scope, tuple(row), frozenset(id_token))
    return scopes


def _parse_only(
    section: Mapping[str, Any],
    scopes: Mapping[str, ScopeDef],
    problem: _Report,
) -> dict[str, frozenset[str]]:
    only: dict[str, frozenset[str]] = {}
    for claim, required in section.items():
        key = f"claims_parameter_only.{claim}"
        names = _strings(required, key, problem)
        for scope in names:
            if scope not in scopes:
                problem(key, f"{scope} is not a scope defined under `scopes`")
        only[claim] = frozenset(names)
    return only
