"""One test per rule of gateway.mapping.personnummer (SKV 704, SKV 707, swedish-eid.md 6)."""

from __future__ import annotations

import pytest

from gateway.mapping.personnummer import InvalidNumber
from gateway.mapping.personnummer import NumberKind
from gateway.mapping.personnummer import NumberRule
from gateway.mapping.personnummer import classify
from gateway.mapping.personnummer import validate
from tests.unit.mapping.spec import COORDINATION_DAY_60
from tests.unit.mapping.spec import COORDINATION_MONTH_00
from tests.unit.mapping.spec import COORDINATION_NUMBERS
from tests.unit.mapping.spec import PERSONAL_NUMBERS
from tests.unit.mapping.spec import luhn_check_digit
from tests.unit.mapping.spec import with_valid_check_digit
from tests.unit.mapping.spec import with_wrong_check_digit

ALL_LISTED = (*PERSONAL_NUMBERS, *COORDINATION_NUMBERS, COORDINATION_MONTH_00, COORDINATION_DAY_60)


def test_independent_luhn_helper_agrees_with_every_listed_number() -> None:
    # Guards the helper the other tests rely on to build numbers with a valid check digit.
    for number in ALL_LISTED:
        assert luhn_check_digit(number[2:11]) == int(number[11])


@pytest.mark.parametrize("number", PERSONAL_NUMBERS)
def test_listed_personnummer_is_valid_and_personal(number: str) -> None:
    assert validate(number) is NumberKind.PERSONAL
    assert classify(number) is NumberKind.PERSONAL


@pytest.mark.parametrize("number", [*COORDINATION_NUMBERS, COORDINATION_MONTH_00, COORDINATION_DAY_60])
def test_listed_samordningsnummer_is_valid_and_coordination(number: str) -> None:
    assert validate(number) is NumberKind.COORDINATION
    assert classify(number) is NumberKind.COORDINATION


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        ("01", NumberKind.PERSONAL),
        ("31", NumberKind.PERSONAL),
        ("60", NumberKind.COORDINATION),
        ("61", NumberKind.COORDINATION),
        ("91", NumberKind.COORDINATION),
    ],
)
def test_classify_by_day_digits(day: str, kind: NumberKind) -> None:
    # Built from a listed number with a wrong check digit: classify looks at the day only.
    number = with_wrong_check_digit(PERSONAL_NUMBERS[0][:6] + day + PERSONAL_NUMBERS[0][8:])
    assert classify(number) is kind


def built(yyyymmdd: str, birth_number: str = "238") -> str:
    """A date that no real number can carry, with a correct check digit.

    238 is the birth number of Skatteverket's test numbers (swedish-eid.md 6).
    The date itself breaks a rule, so the result is nobody's number, and the
    valid check digit makes sure only that rule can reject it.
    """
    return with_valid_check_digit(yyyymmdd + birth_number)


INVALID: list[tuple[str, NumberRule, str]] = [
    # (number, rule it breaks, why) -- each otherwise valid, so removing the rule lets it through
    ("", NumberRule.LENGTH, "empty"),
    (PERSONAL_NUMBERS[0][:11], NumberRule.LENGTH, "11 digits"),
    (PERSONAL_NUMBERS[0] + "0", NumberRule.LENGTH, "13 digits"),
    (PERSONAL_NUMBERS[0][2:], NumberRule.LENGTH, "10-digit form without century"),
    (PERSONAL_NUMBERS[0][:8] + "-" + PERSONAL_NUMBERS[0][8:], NumberRule.LENGTH, "hyphen"),
    (PERSONAL_NUMBERS[0][:11] + "X", NumberRule.DIGITS, "letter"),
    (PERSONAL_NUMBERS[0][:8] + "+" + PERSONAL_NUMBERS[0][9:], NumberRule.DIGITS, "plus sign"),
    (PERSONAL_NUMBERS[0][:11] + "\u0660", NumberRule.DIGITS, "Arabic-Indic digit"),
    (" " + PERSONAL_NUMBERS[0][1:], NumberRule.DIGITS, "space"),
    # The century is outside the Luhn digits, so these keep a valid check digit.
    ("17" + PERSONAL_NUMBERS[0][2:], NumberRule.CENTURY, "century 17"),
    ("21" + PERSONAL_NUMBERS[0][2:], NumberRule.CENTURY, "century 21"),
    (built("19921310"), NumberRule.MONTH, "month 13"),
    (built("19920010"), NumberRule.MONTH, "month 00 in a personnummer"),
    (built("19501361"), NumberRule.MONTH, "month 13 in a coordination number"),
    (built("19920300"), NumberRule.DAY, "day 00"),
    (built("19920332"), NumberRule.DAY, "day 32"),
    (built("19920359"), NumberRule.DAY, "day 59"),
    (built("19920392"), NumberRule.DAY, "day 92"),
    (built("19920230"), NumberRule.DAY, "30 February"),
    (built("19920431"), NumberRule.DAY, "31 April"),
    (built("19000229"), NumberRule.DAY, "29 February 1900, not a leap year"),
    (built("19500290"), NumberRule.DAY, "coordination: 30 February + 60"),
    (built("19500092"), NumberRule.MONTH, "month 00 with day 92, which is no coordination day"),
]
INVALID += [
    (with_wrong_check_digit(number, delta), NumberRule.CHECKSUM, f"check digit +{delta}")
    for number in ALL_LISTED
    for delta in (1, 5)
]


@pytest.mark.parametrize(("number", "rule", "why"), INVALID, ids=[case[2] for case in INVALID])
def test_invalid_number_names_the_rule_and_not_the_number(number: str, rule: NumberRule, why: str) -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the rule is checked below
        validate(number)
    error = caught.value
    assert isinstance(error, InvalidNumber)  # a ValueError, so callers may catch either
    assert error.rule is rule, why
    if number:
        for text in (str(error), error.reason, repr(error.args)):
            assert number not in text
            assert number[2:11] not in text


def test_coordination_day_60_means_unknown_day() -> None:
    # swedish-eid.md 6: day 60 occurs in Skatteverket's test list; it is not day 0 of a month.
    assert COORDINATION_DAY_60[6:8] == "60"
    assert validate(COORDINATION_DAY_60) is NumberKind.COORDINATION


def test_coordination_month_00_means_unknown_month() -> None:
    assert COORDINATION_MONTH_00[4:6] == "00"
    assert validate(COORDINATION_MONTH_00) is NumberKind.COORDINATION
