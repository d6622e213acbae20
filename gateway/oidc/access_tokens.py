"""Access tokens that end with the SSO session they came from.

An access token is opaque (Sweden Connect OIDC profile 2.3.2) and lives for minutes; the store holds
only its hash (`gateway.store.keys.access_token`). When the citizen logs out, the e-services are told
over the back channel, but a token already handed out would still open `/userinfo`, with the
citizen's personal identity number, until it expired. So each token starts with a tag naming its
session and client, and logging out leaves a marker per tag that `/userinfo` reads together with the
token's record, in the same round trip: no index of tokens per session, no extra write per token.

The tag is a hash of the session id and the client id, so it tells a client nothing it does not know
already, and two e-services of one session get different tags: the tags cannot link a citizen across
e-services, which pairwise subjects exist to prevent. A token without a tag (issued before tags
existed) is looked up as before and expires on its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from gateway.settings.schema import Lifetimes
from gateway.store import keys as store_keys
from gateway.store.base import Store

_TAG_LENGTH = 32


def new_token(sid: str, client_id: str) -> str:
    """A fresh access token for ``client_id`` in session ``sid``: its tag, a dot, 256 random bits."""
    return f"{_tag(sid, client_id)}.{secrets.token_urlsafe(32)}"


def revocation_marker(token: str) -> str | None:
    """The store key whose presence revokes ``token`` (None for a token without a tag)."""
    tag, dot, _ = token.partition(".")
    if not dot or len(tag) != _TAG_LENGTH or not all(c in "0123456789abcdef" for c in tag):
        return None
    return store_keys.logged_out(tag)


def revoke(store: Store, sid: str, client_ids: Iterable[str], lifetimes: Lifetimes) -> None:
    """Revoke every access token session ``sid`` gave ``client_ids``, in one round trip.

    A marker must outlive every token it revokes, including one issued after the logout for a code
    issued before it: so a code's lifetime plus a token's.
    """
    ttl = lifetimes.code + lifetimes.access_token
    markers = [(store_keys.logged_out(_tag(sid, client_id)), b"1", ttl) for client_id in client_ids]
    if markers:
        store.put_many(markers)


def _tag(sid: str, client_id: str) -> str:
    return store_keys.digest(f"{sid}\n{client_id}")[:_TAG_LENGTH]
