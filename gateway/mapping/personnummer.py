"""Validation of Swedish personal identity numbers and coordination numbers.

Responsibility: decide whether a 12-digit value received in the SAML
``personalIdentityNumber`` family of attributes is well formed, and whether it
is a personnummer (SKV 704) or a samordningsnummer (SKV 707), because the OIDC
profile gives each its own claim (OSCLM 2.1.1, 2.1.2) and a samordningsnummer
may only reach e-services that opted in (EC 6.2).

Rules, in the order they are checked (swedish-eid.md section 6):

1. exactly 12 characters, the form used by the attribute and the claims
   (ATTR 3.1, OSCLM 2.1), so no hyphen or plus sign;
2. ASCII digits only;
3. century 18, 19 or 20 (SKV 704: Skatteverket stores the century);
4. month 01-12; a coordination number may also have month 00, which
   Skatteverket's test list uses for an unknown month;
5. day: for a personnummer a real calendar date; for a coordination number the
   day is increased by 60 (SKV 707), day 60 means an unknown day, and otherwise
   ``day - 60`` must be a day that exists in the month (any 1-31 when the month
   is unknown);
6. the check digit: Luhn, "modulus 10 with weights 2, 1", over the ten digits
   after the century (SKV 704).

The error never carries the number itself: it may reach a log, and a
personnummer is personal data (style rule 5).
"""

from __future__ import annotations

import calendar
import enum
import re

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_CENTURIES = frozenset({"18", "19", "20"})
_COORDINATION_OFFSET = 60
"""SKV 707: a coordination number carries the day of birth plus 60."""


class NumberKind(enum.Enum):
    """Which register the number comes from; it decides the OIDC claim (OSCLM 2.1)."""

    PERSONAL = "personal"
    COORDINATION = "coordination"


class NumberRule(enum.Enum):
    """The rule a number broke, so callers and tests can tell failures apart."""

    LENGTH = "length"
    DIGITS = "digits"
    CENTURY = "century"
    MONTH = "month"
    DAY = "day"
    CHECKSUM = "checksum"


class InvalidNumber(ValueError):
    """A number broke one of the rules; the message names the rule, never the number."""

    def __init__(self, rule: NumberRule, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def classify(number: str) -> NumberKind:
    """Tell a coordination number from a personnummer by its day digits.

    Days 60-91 can only be a coordination number (SKV 707: day + 60, and 60 for
    an unknown day in Skatteverket's test list); anything else is treated as a
    personnummer. This looks at the shape only: call :func:`validate` to know
    the number is valid at all.
    """
    _check_shape(number)
    day = int(number[6:8])
    if _COORDINATION_OFFSET <= day <= _COORDINATION_OFFSET + 31:
        return NumberKind.COORDINATION
    return NumberKind.PERSONAL


def validate(number: str) -> NumberKind:
    """Check every rule of the module docstring and return the kind of number.

    Raises :class:`InvalidNumber` naming the first rule broken. Dates in the
    future are not refused: Skatteverket's rules do not forbid them and the
    gateway has no clock-independent way to judge them.
    """
    kind = classify(number)
    if number[:2] not in _CENTURIES:
        raise InvalidNumber(NumberRule.CENTURY, "century must be 18, 19 or 20")
    year, month, day = int(number[:4]), int(number[4:6]), int(number[6:8])
    _check_month(month, kind)
    _check_day(year, month, day, kind)
    if _luhn_check_digit(number[2:11]) != int(number[11]):
        raise InvalidNumber(NumberRule.CHECKSUM, "check digit does not match (SKV 704 modulus 10)")
    return kind


def _check_shape(number: str) -> None:
    if len(number) != 12:
        raise InvalidNumber(NumberRule.LENGTH, "must be 12 digits (ATTR 3.1)")
    # str.isdigit() would accept non-ASCII digits such as Arabic-Indic ones.
    if not _TWELVE_DIGITS.fullmatch(number):
        raise InvalidNumber(NumberRule.DIGITS, "must contain only the digits 0-9")


def _check_month(month: int, kind: NumberKind) -> None:
    if 1 <= month <= 12:
        return
    if month == 0 and kind is NumberKind.COORDINATION:
        return
    raise InvalidNumber(NumberRule.MONTH, "month is not 01-12 (00 only in a coordination number)")


def _check_day(year: int, month: int, day: int, kind: NumberKind) -> None:
    if kind is NumberKind.COORDINATION:
        day -= _COORDINATION_OFFSET
        if day == 0:
            return  # unknown day of birth
    last = 31 if month == 0 else calendar.monthrange(year, month)[1]  # month 00: unknown month
    if not 1 <= day <= last:
        raise InvalidNumber(NumberRule.DAY, "day does not exist in that month")


def _luhn_check_digit(nine_digits: str) -> int:
    """SKV 704: weights 2, 1, 2... from the left, add the digits of the products."""
    total = 0
    for position, char in enumerate(nine_digits):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10
