"""`gateway.saml.acs`'s rules on the records `gateway.saml.response_document` reads, for the cases no
schema-valid Response from a peer reaches: the SAML schemas already refuse most of these shapes, and
the rule stays as the check that does not depend on them."""

from __future__ import annotations

import pytest

from gateway.errors import UpstreamError
from gateway.saml.acs import _check_conditions
from gateway.saml.acs import _epoch
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


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2027-01-15T08:00:00Z", 1_800_000_000),
        ("2027-01-15T08:00:00.999Z", 1_800_000_000),
        ("2027-01-15T08:00:00", 1_800_000_000),
    ],
)
def test_saml_times_are_read_in_utc(value: str, seconds: int) -> None:
    """The forms pysaml2 read (saml-core 1.3.3): a fraction is cut, a missing Z still means UTC."""
    assert _epoch(value, "NotBefore") == seconds


@pytest.mark.parametrize(
    "value",
    ["", None, "2027-01-15T09:00:00+01:00", "2027-01-15 08:00:00Z", "2027-02-30T08:00:00Z", "2027-01-15T24:00:00Z",
     "\uff12\uff10\uff12\uff17-01-15T08:00:00Z"],
)  # fmt: skip
def test_other_times_are_refused_with_the_attributes_name(value: str | None) -> None:
    """An offset (pysaml2 raised an AttributeError on one), another layout, digits of another script, a day
    or hour that does not exist."""
    with pytest.raises(UpstreamError) as refused:
        _epoch(value, "Conditions NotBefore")
    assert "Conditions NotBefore" in refused.value.detail
