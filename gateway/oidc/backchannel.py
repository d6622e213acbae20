"""OpenID Connect Back-Channel Logout 1.0: telling e-services, server to server, that a session ended.

When a citizen logs out, every e-service the SSO session logged in and that registered a
`backchannel_logout_uri` gets a POST of `logout_token=<JWT>` (section 2.5, form-encoded). The logout
token (section 2.4) is signed like an ID token (same key, `alg` and `kid`), typed `logout+jwt`
(section 2.4, RFC 8725 3.11), and carries `iss`, `aud`, `iat`, `exp` (two minutes), a random `jti`,
the `events` member, `sid` (the ID token's, always: section 2.2 `backchannel_logout_session_required`
is then met for every client) and `sub` (the pairwise `sub` that client received). It never has a
`nonce` (section 2.4: MUST NOT).

The citizen waits for these calls, so they run in parallel, each with a short timeout and without
following redirects (a redirect is not a success, section 2.8), and the wait ends after `DEADLINE`
whatever is still running; a late call finishes on its own daemon thread. Success is 200 or 204
(section 2.8). A failure that may pass (no connection, a timeout, 429 or 5xx: the e-service is
restarting or overloaded) is retried on that thread after each of `RETRY_DELAYS`, with the same token,
so a logout is not lost to an e-service's brief outage; a 400 is its answer and is not retried. The
retries live in the worker's memory: a worker that stops meanwhile drops them. Every final outcome is
logged (client id, status or error class, attempts, never the token) and counted in the store
(`eid_gateway_backchannel_logouts_total` on /metrics); a failure is the e-service's to fix and never
shown to the citizen as theirs.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Final

import requests

from gateway.errors import StoreUnavailable
from gateway.oidc import id_token
from gateway.oidc.records import AuthenticatedUser
from gateway.oidc.server import OidcContext
from gateway.settings.schema import ClientSettings
from gateway.store import keys as store_keys
from gateway.trust.signing_keys import SigningKeys

log = logging.getLogger(__name__)

EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_JWT_TYPE: Final = "logout+jwt"
TOKEN_LIFETIME: Final = 120
"""Seconds a logout token is valid (section 2.4 recommends two minutes)."""
TIMEOUT: Final = 3.0
"""Seconds for each notification to connect, and again for its answer."""
DEADLINE: Final = 4.0
"""The most the citizen's request waits for all notifications together."""
RETRY_DELAYS: Final = (2.0, 10.0, 30.0)
"""Seconds before each retry of a notification that failed in a way that may pass: all within the token's
two minutes, so a retried token is still valid when it arrives."""
DELIVERED: Final = "delivered"
FAILED: Final = "failed"
OUTCOMES: Final = (DELIVERED, FAILED)
COUNTER_TTL: Final = 400 * 24 * 3600
"""The store keeps every counter with a TTL: it starts again after this (Prometheus handles counter resets)."""


def logout_token(
    *, issuer: str, client: ClientSettings, user: AuthenticatedUser, pairwise_key: bytes, keys: SigningKeys, now: int
) -> str:
    """A signed logout token for ``client`` about ``user``'s session (section 2.4)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": id_token.subject_for(client, user, pairwise_key),
        "aud": client.client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "jti": secrets.token_urlsafe(24),
        "sid": user.sid,
        "events": {EVENT: {}},
    }
    # Verified like the client's ID tokens (section 2.6), so signed like them.
    return id_token.sign(claims, keys, typ=LOGOUT_JWT_TYPE, alg=client.id_token_signed_response_alg)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one attempt ended: ``outcome`` is `DELIVERED` or `FAILED`; ``detail`` the status or error class;
    ``may_pass`` whether the failure is one a later attempt could overcome (the e-service down, overloaded
    or failing on its side), not an answer it will repeat (400: section 2.8's "the logout failed")."""

    client_id: str
    outcome: str
    detail: str
    may_pass: bool = False


def notify(
    context: OidcContext,
    user: AuthenticatedUser,
    client_ids: Iterable[str],
    *,
    timeout: float = TIMEOUT,
    deadline: float = DEADLINE,
    retry_delays: Sequence[float] = RETRY_DELAYS,
) -> list[Delivery]:
    """Notify every client in ``client_ids`` that has a `backchannel_logout_uri`; the first attempts that
    ended within ``deadline`` seconds (retries and slower attempts go on in the background, and log and
    count themselves)."""
    now = int(time.time())
    first_attempts: list[Delivery] = []

    def deliver(client_id: str, uri: str, token: str) -> None:
        _deliver(context, client_id, uri, token, timeout, retry_delays, first_attempts.append)

    threads = []
    for client_id in dict.fromkeys(client_ids):
        client = context.clients.get(client_id)
        uri = client.settings.backchannel_logout_uri if client is not None else None
        if client is None or uri is None:
            continue
        token = logout_token(
            issuer=context.issuer, client=client.settings, user=user, pairwise_key=context.pairwise_key,
            keys=context.signing_keys, now=now,
        )  # fmt: skip
        thread = threading.Thread(target=deliver, args=(client_id, uri, token), name="backchannel-logout", daemon=True)
        thread.start()
        threads.append(thread)
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return list(first_attempts)


def _deliver(
    context: OidcContext,
    client_id: str,
    uri: str,
    token: str,
    timeout: float,
    retry_delays: Sequence[float],
    on_first_attempt: Callable[[Delivery], None],
) -> None:
    """POST the token to ``uri``, again after each of ``retry_delays`` while the failure may pass; count the end.

    The same token each time: a retry is the same notification, and its `jti` lets the e-service see that.
    """
    delivery = _attempt(client_id, uri, token, timeout)
    on_first_attempt(delivery)
    attempts = 1
    for delay in retry_delays:
        if not delivery.may_pass:
            break
        log.warning(
            "back-channel logout attempt failed",
            extra={"client": client_id, "error": delivery.detail, "attempt": attempts, "retry_in": delay},
        )
        time.sleep(delay)
        delivery = _attempt(client_id, uri, token, timeout)
        attempts += 1
    if delivery.outcome == DELIVERED:
        log.info("back-channel logout delivered", extra={"client": client_id, "status": delivery.detail,
                                                         "attempts": attempts})  # fmt: skip
    else:
        log.warning("back-channel logout failed", extra={"client": client_id, "error": delivery.detail,
                                                         "attempts": attempts})  # fmt: skip
    try:
        context.store.incr(store_keys.backchannel_count(client_id, delivery.outcome), COUNTER_TTL)
    except StoreUnavailable:
        log.warning("back-channel logout not counted: store unavailable", extra={"client": client_id})


def _attempt(client_id: str, uri: str, token: str, timeout: float) -> Delivery:
    """POST the token to ``uri`` once."""
    try:
        with requests.post(
            uri,
            data={"logout_token": token},
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,  # the status is the answer: the body is never read
        ) as response:
            status = response.status_code
    except (requests.RequestException, OSError) as error:
        return Delivery(client_id, FAILED, type(error).__name__, may_pass=True)
    if status in (200, 204):
        return Delivery(client_id, DELIVERED, str(status))
    if status == 429 or status >= 500:
        return Delivery(client_id, FAILED, str(status), may_pass=True)
    return Delivery(client_id, FAILED, str(status))


def counts(context: OidcContext) -> list[tuple[str, str, int]]:
    """``(client_id, outcome, count)`` for every client with a `backchannel_logout_uri`, for /metrics."""
    found = []
    for client in context.clients:
        if client.settings.backchannel_logout_uri is None:
            continue
        for outcome in OUTCOMES:
            raw = context.store.get(store_keys.backchannel_count(client.client_id, outcome))
            found.append((client.client_id, outcome, int(raw) if raw else 0))
    return found
