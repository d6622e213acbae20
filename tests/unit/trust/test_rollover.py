"""Key rollover: next is published before it signs, previous stays published and decrypts until retired."""

from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path

import pytest

from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.rollover import RolloverRefused
from gateway.trust.rollover import activate
from gateway.trust.rollover import key_status
from gateway.trust.rollover import retire
from gateway.trust.rollover import rollover
from gateway.trust.signing_keys import SigningKeys


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated key set, copied for each test (RSA 3072 keys are slow to make)."""
    folder = tmp_path_factory.mktemp("generated")
    generate_keys(folder)
    return folder


@pytest.fixture
def keys_dir(tmp_path: Path, generated: Path) -> Path:
    shutil.copytree(generated, tmp_path / "keys")
    return tmp_path / "keys"


def _kids(keys_dir: Path, role: str) -> dict[str, str]:
    return {k.stage: k.kid for k in load_keys(keys_dir, b"x").keys if k.role == role}


def test_a_role_moves_through_next_active_previous(keys_dir: Path) -> None:
    tmp_path = keys_dir
    original = _kids(tmp_path, "oidc-signing")["active"]
    signing = SigningKeys(load_keys(tmp_path, b"x"))

    created = rollover(tmp_path, "oidc-signing", kind="ec")
    assert created.stage == "next"
    assert created.algorithm == "EC secp256r1"
    assert stat.S_IMODE((tmp_path / "oidc-signing.next.pem").stat().st_mode) == 0o600
    signing.install(load_keys(tmp_path, b"x"))
    assert signing.current().kid == original  # published, not signing
    companion = _kids(tmp_path, "oidc-signing-ec")["active"]  # the ES256 key, published after oidc-signing's
    assert [k["kid"] for k in signing.jwks()["keys"] if k["use"] == "sig"] == [created.kid, original, companion]

    with pytest.raises(RolloverRefused, match="wait until"):
        activate(tmp_path, "oidc-signing", wait=3600)
    now = time.time() + 3601
    activate(tmp_path, "oidc-signing", wait=3600, now=now)
    assert _kids(tmp_path, "oidc-signing") == {"active": created.kid, "previous": original}
    signing.install(load_keys(tmp_path, b"x"))
    assert (signing.current().kid, signing.current().alg) == (created.kid, "ES256")
    assert {k["kid"] for k in signing.jwks()["keys"] if k["use"] == "sig"} == {created.kid, original, companion}
    assert {s.stage: s.since for s in key_status(tmp_path) if s.role == "oidc-signing"}["previous"] == pytest.approx(
        now
    )

    with pytest.raises(RolloverRefused, match="grace period"):
        retire(tmp_path, "oidc-signing", grace=600, now=now + 10)
    assert retire(tmp_path, "oidc-signing", grace=600, now=now + 601) == original
    assert _kids(tmp_path, "oidc-signing") == {"active": created.kid}
    assert not (tmp_path / "oidc-signing.previous.crt").exists()


def test_steps_out_of_order_are_refused(keys_dir: Path) -> None:
    tmp_path = keys_dir
    with pytest.raises(RolloverRefused, match="no next key"):
        activate(tmp_path, "saml-encryption", wait=0)
    with pytest.raises(RolloverRefused, match="no previous key"):
        retire(tmp_path, "saml-encryption", grace=0)
    with pytest.raises(RolloverRefused, match="--kind is for oidc-signing"):
        rollover(tmp_path, "saml-encryption", kind="ec")
    rollover(tmp_path, "saml-encryption")
    with pytest.raises(RolloverRefused, match="already has a next key"):
        rollover(tmp_path, "saml-encryption")
    activate(tmp_path, "saml-encryption", wait=0)
    rollover(tmp_path, "saml-encryption")
    with pytest.raises(RolloverRefused, match="still has a previous key"):
        activate(tmp_path, "saml-encryption", wait=0, force=True)
    before = _kids(tmp_path, "saml-encryption")
    assert set(before) == {"next", "active", "previous"}
    # A refused step changed nothing.
    assert _kids(tmp_path, "saml-encryption") == before


def test_every_stage_file_holds_a_matching_key_and_certificate(keys_dir: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    rollover(keys_dir, "saml-signing")
    activate(keys_dir, "saml-signing", wait=0)
    for stored in load_keys(keys_dir, b"x").keys:
        private = serialization.load_pem_private_key(stored.key_pem, password=None).public_key()
        public = x509.load_pem_x509_certificate(stored.cert_pem).public_key()
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        assert private.public_bytes(serialization.Encoding.DER, spki) == public.public_bytes(
            serialization.Encoding.DER, spki
        ), stored
