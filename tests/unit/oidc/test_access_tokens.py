"""Access tokens tagged by session and client, so a logout can revoke them (`gateway.oidc.access_tokens`)."""

from __future__ import annotations

import secrets

from gateway.oidc.access_tokens import new_token
from gateway.oidc.access_tokens import revocation_marker
from gateway.oidc.access_tokens import revoke
from gateway.settings.schema import Lifetimes
from gateway.store.memory_store import MemoryStore


def test_tokens_of_one_session_share_a_tag_per_client_only() -> None:
    sid = secrets.token_urlsafe(24)
    first, again, other_client = new_token(sid, "rp-a"), new_token(sid, "rp-a"), new_token(sid, "rp-b")
    assert first != again
    assert revocation_marker(first) == revocation_marker(again)
    # Different e-services of one session must not be able to link the citizen through the tag.
    assert revocation_marker(first) != revocation_marker(other_client)
    assert revocation_marker(first) != revocation_marker(new_token(secrets.token_urlsafe(24), "rp-a"))
    assert sid not in first


def test_a_logout_revokes_the_sessions_tokens_for_the_clients_it_names_and_no_others() -> None:
    store = MemoryStore()
    sid, other_sid = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    revoke(store, sid, ["rp-a", "rp-b"], Lifetimes())
    assert store.get(_marker(new_token(sid, "rp-a"))) is not None
    assert store.get(_marker(new_token(sid, "rp-b"))) is not None
    assert store.get(_marker(new_token(sid, "rp-c"))) is None
    assert store.get(_marker(new_token(other_sid, "rp-a"))) is None


def test_untagged_or_malformed_tokens_have_no_marker() -> None:
    tag = revocation_marker(new_token("sid", "rp"))
    assert tag is not None
    for token in (secrets.token_urlsafe(32), "ABCDEF0123456789ABCDEF0123456789.x", "0" * 31 + ".x", "{" * 32 + ".x"):
        assert revocation_marker(token) is None, token


def _marker(token: str) -> str:
    marker = revocation_marker(token)
    assert marker is not None
    return marker
