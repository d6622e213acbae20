"""The seal refuses every change to a sealed value and keeps old keys readable during rotation."""

from __future__ import annotations

import os

import pytest

from gateway.store.sealed import Sealer
from gateway.store.sealed import SealError

AAD = b"tx:{abc}"
PLAINTEXT = b'{"personalIdentityNumber":"195001182046"}'


@pytest.fixture
def sealer() -> Sealer:
    return Sealer({"k1": os.urandom(32)}, active="k1")


def test_round_trip(sealer: Sealer) -> None:
    sealed = sealer.seal(PLAINTEXT, AAD)
    assert PLAINTEXT not in sealed
    assert sealer.open(sealed, AAD) == PLAINTEXT


def test_layout_is_version_kid_nonce_ciphertext(sealer: Sealer) -> None:
    sealed = sealer.seal(PLAINTEXT, AAD)
    assert sealed[0] == 1
    assert sealed[1] == 2
    assert sealed[2:4] == b"k1"
    assert len(sealed) == 4 + 12 + len(PLAINTEXT) + 16


def test_nonces_differ(sealer: Sealer) -> None:
    assert sealer.seal(PLAINTEXT, AAD) != sealer.seal(PLAINTEXT, AAD)


@pytest.mark.parametrize("position", [0, 1, 2, 4, 10, 20, -1])
def test_any_changed_byte_is_refused(sealer: Sealer, position: int) -> None:
    sealed = bytearray(sealer.seal(PLAINTEXT, AAD))
    sealed[position] ^= 0x01
    with pytest.raises(SealError):
        sealer.open(bytes(sealed), AAD)


@pytest.mark.parametrize("length", [0, 1, 3, 4, 15, 31])
def test_truncated_value_is_refused(sealer: Sealer, length: int) -> None:
    sealed = sealer.seal(PLAINTEXT, AAD)
    with pytest.raises(SealError):
        sealer.open(sealed[:length], AAD)


def test_wrong_aad_is_refused(sealer: Sealer) -> None:
    sealed = sealer.seal(PLAINTEXT, AAD)
    with pytest.raises(SealError):
        sealer.open(sealed, b"tx:{other}")


def test_unknown_key_id_is_refused(sealer: Sealer) -> None:
    other = Sealer({"k2": os.urandom(32)}, active="k2")
    with pytest.raises(SealError, match="unknown key"):
        sealer.open(other.seal(PLAINTEXT, AAD), AAD)


def test_same_key_id_with_another_key_is_refused(sealer: Sealer) -> None:
    impostor = Sealer({"k1": os.urandom(32)}, active="k1")
    with pytest.raises(SealError):
        sealer.open(impostor.seal(PLAINTEXT, AAD), AAD)


def test_rotation_keeps_old_values_readable() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = Sealer({"old": old_key}, active="old")
    sealed_before = before.seal(PLAINTEXT, AAD)
    after = Sealer({"old": old_key, "new": new_key}, active="new")
    sealed_after = after.seal(PLAINTEXT, AAD)
    assert sealed_after[2:5] == b"new"
    assert after.open(sealed_before, AAD) == PLAINTEXT
    assert after.open(sealed_after, AAD) == PLAINTEXT
    with pytest.raises(SealError, match="unknown key"):
        before.open(sealed_after, AAD)


def test_from_secret_is_deterministic_across_processes() -> None:
    secret = b"s" * 32
    one, other = Sealer.from_secret(secret), Sealer.from_secret(secret)
    assert one.active == other.active
    assert len(one.active) == 8
    assert other.open(one.seal(PLAINTEXT, AAD), AAD) == PLAINTEXT


def test_from_secret_rotation_with_previous_secrets() -> None:
    old_secret, new_secret = b"o" * 32, b"n" * 32
    sealed_old = Sealer.from_secret(old_secret).seal(PLAINTEXT, AAD)
    rotated = Sealer.from_secret(new_secret, previous=[old_secret])
    assert rotated.active == Sealer.from_secret(new_secret).active
    assert rotated.open(sealed_old, AAD) == PLAINTEXT
    with pytest.raises(SealError):
        Sealer.from_secret(new_secret).open(sealed_old, AAD)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer.from_secret(b"too short")


@pytest.mark.parametrize(
    ("keys", "active"),
    [({"k": os.urandom(16)}, "k"), ({"k": os.urandom(32)}, "missing"), ({"": os.urandom(32)}, "")],
)
def test_bad_key_configuration_is_refused(keys: dict[str, bytes], active: str) -> None:
    with pytest.raises(ValueError, match="key"):
        Sealer(keys, active=active)
