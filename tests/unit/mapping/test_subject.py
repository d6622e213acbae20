"""Pairwise and public subjects: a keyed pseudonym, stable per sector, separate across sectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from gateway.mapping.subject import pairwise_subject
from gateway.mapping.subject import public_subject
from tests.unit.mapping.spec import PERSONAL_NUMBERS

SECRET = b"k" * 32
OTHER_SECRET = b"j" * 32
KEY = "pnr:" + PERSONAL_NUMBERS[0]


def by_definition(secret: bytes, sector: str, subject_key: str) -> str:
    """The brief's definition, spelled out with the standard library."""
    mac = hmac.new(secret, sector.encode() + b"\x00" + subject_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


@pytest.mark.parametrize("sector", ["rp.example.test", "other.example.test", "xn--rksmrgs-5wao1o.example"])
@pytest.mark.parametrize("subject_key", [KEY, "prid:NO:29078534891", "nameid:https://idp.example.test!nid"])
def test_pairwise_follows_the_definition(sector: str, subject_key: str) -> None:
    assert pairwise_subject(SECRET, sector, subject_key) == by_definition(SECRET, sector, subject_key)


def test_public_is_the_fixed_public_sector() -> None:
    assert public_subject(SECRET, KEY) == by_definition(SECRET, "public", KEY)


def test_stable_for_the_same_inputs() -> None:
    assert pairwise_subject(SECRET, "rp.example.test", KEY) == pairwise_subject(SECRET, "rp.example.test", KEY)


def test_separate_per_sector_secret_and_subject() -> None:
    subs = {
        pairwise_subject(SECRET, "rp.example.test", KEY),
        pairwise_subject(SECRET, "other.example.test", KEY),
        pairwise_subject(OTHER_SECRET, "rp.example.test", KEY),
        pairwise_subject(SECRET, "rp.example.test", "pnr:" + PERSONAL_NUMBERS[1]),
        public_subject(SECRET, KEY),
    }
    assert len(subs) == 5


def test_sector_and_key_cannot_be_shifted_into_each_other() -> None:
    # Without the separator, ("rp.a", "b...") and ("rp.ab", "...") would hash the same bytes.
    assert pairwise_subject(SECRET, "rp.a", "bkey") != pairwise_subject(SECRET, "rp.ab", "key")


def test_url_safe_without_padding_and_without_the_number() -> None:
    sub = pairwise_subject(SECRET, "rp.example.test", KEY)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sub)
    assert PERSONAL_NUMBERS[0] not in sub
    assert PERSONAL_NUMBERS[0][2:] not in sub


def test_public_sector_name_is_reserved_for_public_subjects() -> None:
    with pytest.raises(ValueError, match="reserved"):
        pairwise_subject(SECRET, "public", KEY)


@pytest.mark.parametrize(
    ("secret", "sector", "subject_key"),
    [
        (b"short", "rp.example.test", KEY),
        (b"", "rp.example.test", KEY),
        (SECRET, "", KEY),
        (SECRET, "rp\x00.example.test", KEY),
        (SECRET, "rp.example.test", ""),
    ],
)
def test_weak_or_ambiguous_inputs_are_refused(secret: bytes, sector: str, subject_key: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        pairwise_subject(secret, sector, subject_key)
