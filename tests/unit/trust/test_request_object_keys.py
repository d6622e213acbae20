"""The request object encryption key: published with `use: enc`, rolled over like the others.

Clients may encrypt to the active or the next key (both published); a request
object encrypted to a key that was just retired from publication (previous)
still decrypts during the grace period.
"""

from __future__ import annotations

import time
from pathlib import Path

from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.rollover import activate
from gateway.trust.rollover import rollover
from gateway.trust.signing_keys import SigningKeys


def _enc_kids(keys: SigningKeys) -> list[str]:
    return [k["kid"] for k in keys.jwks()["keys"] if k["use"] == "enc"]


def test_encryption_key_is_published_for_encryption_and_kept_for_decryption(tmp_path: Path) -> None:
    generate_keys(tmp_path)
    keys = SigningKeys(load_keys(tmp_path, b"x"))
    [original] = _enc_kids(keys)
    assert all(k["alg"] == "RSA-OAEP" and "d" not in k for k in keys.jwks()["keys"] if k["use"] == "enc")

    created = rollover(tmp_path, "oidc-encryption")
    keys.install(load_keys(tmp_path, b"x"))
    assert _enc_kids(keys) == [created.kid, original]

    activate(tmp_path, "oidc-encryption", wait=0, now=time.time() + 1)
    keys.install(load_keys(tmp_path, b"x"))
    assert _enc_kids(keys) == [created.kid]
    assert {k.kid for k in keys.decryption_keys()} == {created.kid, original}
