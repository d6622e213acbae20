"""The gateway's own keys: created private, matching, never overwritten, one pair under concurrency."""

from __future__ import annotations

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.trust.keystore import ROLES
from gateway.trust.keystore import ensure_key_pair
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys


def _spki(pem: bytes, *, private: bool) -> bytes:
    key = (
        serialization.load_pem_private_key(pem, password=None).public_key()
        if private
        else x509.load_pem_x509_certificate(pem).public_key()
    )
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_key_pair_is_private_matching_and_kept(tmp_path: Path) -> None:
    key_path, cert_path = ensure_key_pair(tmp_path, "thing")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key_pem = key_path.read_bytes()
    assert _spki(key_pem, private=True) == _spki(cert_path.read_bytes(), private=False)
    cert_path.unlink()  # as if the process that wrote the key had not written its certificate yet
    ensure_key_pair(tmp_path, "thing")
    cert_pem = cert_path.read_bytes()
    assert key_path.read_bytes() == key_pem
    assert _spki(key_pem, private=True) == _spki(cert_pem, private=False)
    ensure_key_pair(tmp_path, "thing")
    assert (key_path.read_bytes(), cert_path.read_bytes()) == (key_pem, cert_pem)


def test_processes_generating_at_once_agree_on_one_pair_per_role(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=4) as pool:
        list(pool.map(generate_keys, [tmp_path] * 4))
    keys = load_keys(tmp_path, None)
    for role in ROLES:
        active = keys.active(role)
        assert _spki(active.key_pem, private=True) == _spki(active.cert_pem, private=False)
    assert not list(tmp_path.glob(".*.tmp"))
    assert len(keys.secret) == 64
