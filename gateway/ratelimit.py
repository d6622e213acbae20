"""Rate limits in the shared store: a burst gets 429 with Retry-After, everyone else is unaffected.

The gateway is one front door for many e-services, so it limits what one caller can do (OWASP API4,
RFC 6585 section 4): requests per caller address at the authorization endpoint, the ACS and the token and
PAR endpoints, and failed client authentications per (client, address) at those two, which is what
makes guessing a client secret hopeless (RFC 6749 section 10.10 asks for it). Counters live in the store
(`Store.incr`, atomic: INCR + PEXPIRE NX in Redis), so every worker and host counts together, and keys hold
only a hash of the caller (`gateway.store.keys.rate`).

Windows are fixed and aligned to the clock (minute ``n`` is ``[60n, 60n+60)``), so each counter is one
key, every process agrees on the window, and Retry-After is exact: the seconds until the window ends. A
caller can at most double its rate across a window boundary; for the limits here that is acceptable.

The caller's address is ``request.remote_addr``: behind the reverse proxy `create_app` installs
`ProxyFix` with one trusted hop, so it is the address the proxy saw, not a header anyone can set.
A limit of 0 turns that limit off.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from flask import Response
from flask import request

from gateway.errors import RateLimited
from gateway.settings.schema import RateLimits
from gateway.store import keys
from gateway.store.base import Store

_ENDPOINT_LIMITS = {
    "login.authorize": "authorize", "login.logout": "authorize", "login.acs": "acs", "oidc.token": "token",
    "oidc.par": "token",
}  # fmt: skip
"""Flask endpoint -> the RateLimits field that limits it per caller address (PAR counts with the token endpoint;
the end-session endpoint, which stores a pending logout as /authorize stores a transaction, with /authorize)."""

_CLIENT_AUTH_ENDPOINTS = frozenset({"oidc.token", "oidc.par"})
"""Where clients authenticate, so where a secret could be guessed: failures count together across both."""
_FAILURE_WINDOW = 300


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` events per ``window`` seconds, counted under ``name``."""

    name: str
    count: int
    window: int = 60


class RateLimiter:
    """Counts events per limit and caller in the store; raises `RateLimited` beyond a limit."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def hit(self, limit: Limit, who: str, *, and_check: tuple[Limit, str] | None = None) -> None:
        """Count one event; refuse it if it is over the limit, or if ``and_check``'s limit is used up.

        With ``and_check`` (a limit on failures and whose they are) both take one round trip to the store.
        """
        if and_check is not None and and_check[0].count > 0 and limit.count > 0:
            key, retry_after = self._slot(limit, who)
            other, other_retry_after = self._slot(*and_check)
            count, raw = self._store.incr_and_get(key, retry_after + 1, other)
            if count > limit.count:
                raise RateLimited(limit.name, retry_after)
            _refuse_if_used_up(and_check[0], raw, other_retry_after)
            return
        if limit.count > 0:
            key, retry_after = self._slot(limit, who)
            if self._store.incr(key, ttl=retry_after + 1) > limit.count:
                raise RateLimited(limit.name, retry_after)
        if and_check is not None:
            self.check(*and_check)

    def check(self, limit: Limit, who: str) -> None:
        """Refuse if the limit is already used up, without counting (for limits on failures)."""
        if limit.count <= 0:
            return
        key, retry_after = self._slot(limit, who)
        _refuse_if_used_up(limit, self._store.get(key), retry_after)

    def record(self, limit: Limit, who: str) -> None:
        """Count one event that already happened (a failure); refusal comes at the next `check`."""
        if limit.count > 0:
            key, retry_after = self._slot(limit, who)
            self._store.incr(key, ttl=retry_after + 1)

    def _slot(self, limit: Limit, who: str) -> tuple[str, int]:
        """The counter's key for the current window, and the whole seconds until that window ends."""
        now = self._clock()
        window = int(now // limit.window)
        retry_after = max(1, math.ceil((window + 1) * limit.window - now))
        return keys.rate(f"{limit.name}.{window}", who), retry_after


def _refuse_if_used_up(limit: Limit, raw: bytes | None, retry_after: int) -> None:
    """Refuse when the stored count ``raw`` has reached ``limit``."""
    if raw is not None and int(raw) >= limit.count:
        raise RateLimited(limit.name, retry_after)


def _unverified_subject(assertion: str) -> str:
    """The ``sub`` a client assertion claims, unverified: only to name whose failures to count."""
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else ""


def install(app: Flask, limiter: RateLimiter, limits: RateLimits) -> None:
    """Apply ``limits`` to ``app``'s authorization, ACS and token endpoints."""
    per_endpoint = {endpoint: Limit(field, getattr(limits, field)) for endpoint, field in _ENDPOINT_LIMITS.items()}
    failures = Limit("client-auth-failures", limits.client_auth_failures, _FAILURE_WINDOW)

    def caller() -> str:
        return request.remote_addr or "unknown"

    def claimed_client() -> str:
        """Who the token request says it is, before authentication: the pair failures are counted for."""
        authorization = request.authorization
        client_id = authorization.username if authorization is not None else request.form.get("client_id")
        if not client_id and "client_assertion" in request.form:
            client_id = _unverified_subject(request.form["client_assertion"])
        return f"{client_id or ''}\n{caller()}"

    @app.before_request
    def _limit() -> None:
        limit = per_endpoint.get(request.endpoint or "")
        if limit is None:
            return
        authenticates = request.endpoint in _CLIENT_AUTH_ENDPOINTS
        limiter.hit(limit, caller(), and_check=(failures, claimed_client()) if authenticates else None)

    @app.after_request
    def _count_failures(response: Response) -> Response:
        if request.endpoint in _CLIENT_AUTH_ENDPOINTS and response.status_code in (400, 401):
            body = response.get_json(silent=True)
            if isinstance(body, dict) and body.get("error") == "invalid_client":
                limiter.record(failures, claimed_client())
        return response
