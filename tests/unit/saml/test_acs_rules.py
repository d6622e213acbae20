"""`gateway.saml.acs`'s rules on the records `gateway.saml.response_document` reads, for the cases no
schema-valid Response from a peer reaches: the SAML schemas already refuse most of these shapes, and
the rule stays as the check that does not depend on them."""

from __future__ import annotations

import pytest

from gateway.errors import UpstreamError
from gateway.saml.acs import _check_conditions
from gateway.saml.response_document import ConditionsRecord

SP = "https://gw.example/saml/metadata"
NOW = 1_800_000_000.0
"""2027-01-15T08:00:00Z"""


def _conditions(**changes: object) -> ConditionsRecord:
    values: dict[str, object] = {
        "not_before": "2027-01-15T07:59:00Z",
        "not_on_or_after": "2027-01-15T08:05:00Z",
        "audience_restrictions": (frozenset({SP}),),
        "other_conditions": 0,
    }
    values.update(changes)
    return ConditionsRecord(**values)  # type: ignore[arg-type]


def _refusal(conditions: ConditionsRecord) -> str:
    with pytest.raises(UpstreamError) as refused:
        _check_conditions(conditions, SP, NOW, skew=60)
    return refused.value.detail


def test_control_valid_conditions_pass() -> None:
    _check_conditions(_conditions(), SP, NOW, skew=60)


def test_condition_of_an_unknown_type() -> None:
    """saml-core 2.5.1: a condition the relying party does not understand leaves the assertion Indeterminate."""
    assert "unknown type" in _refusal(_conditions(other_conditions=1))


def test_not_on_or_after_not_later_than_not_before() -> None:
    """Both bounds within the clock skew of now, but in the wrong order (saml-core 2.5.1.2)."""
    inverted = _conditions(not_before="2027-01-15T08:00:30Z", not_on_or_after="2027-01-15T08:00:10Z")
    assert "not later than NotBefore" in _refusal(inverted)
