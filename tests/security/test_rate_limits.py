"""Bursts beyond the rate limits, and client secret guessing (`gateway.ratelimit`).

The gateway here has low limits (GATEWAY_EXTRA). Attackers send from other loopback addresses (127.0.0.2
and up: Linux routes all of 127.0.0.0/8 to the loopback interface), so the well-behaved citizen and
e-service on 127.0.0.1 are measurably unaffected. Windows are aligned to the clock; each burst starts early
enough in its window to finish inside it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import full_login
from tests.integration.harness import query
from tests.security.attack import begin
from tests.security.attack import code_for
from tests.security.attack import error_code
from tests.security.attack import logged_in

pytestmark = pytest.mark.slow

LIMIT = 15
FAILURES = 4
GATEWAY_EXTRA = {
    "rate_limits": {"authorize": LIMIT, "acs": LIMIT, "token": LIMIT * 2, "client_auth_failures": FAILURES}
}


class _FromAddress(HTTPAdapter):
    """Connections from a given local address."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


def _fresh_window(seconds_needed: float = 5, window: int = 60) -> None:
    """Wait for the next window if this one ends too soon for a burst to fit in it."""
    left = window - time.time() % window
    if left < seconds_needed:
        time.sleep(left + 0.1)


def _throttled(response: requests.Response, window: int = 60) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window


def test_authorize_burst_gets_429_and_others_are_unaffected(gateway: RunningGateway) -> None:
    _fresh_window()
    attacker = _client_at("127.0.0.2")
    url = Rp.for_client(gateway, "basic-rp").authorization_url()
    answers = [attacker.get(url, allow_redirects=False, timeout=10) for _ in range(LIMIT + 3)]
    assert all(a.status_code == 200 for a in answers[:LIMIT]), [a.status_code for a in answers]
    for answer in answers[LIMIT:]:
        _throttled(answer)
        assert error_code(answer) == "unavailable"
    steps = begin(gateway)
    steps.respond()
    assert logged_in(steps)["sub"], "a citizen on another address logs in as usual"


def test_acs_burst_gets_429(gateway: RunningGateway) -> None:
    _fresh_window()
    attacker = _client_at("127.0.0.3")
    answers = [attacker.post(f"{gateway.url}/saml/acs", data={"RelayState": "x", "SAMLResponse": "eA=="},
                             allow_redirects=False, timeout=10) for _ in range(LIMIT + 2)]  # fmt: skip
    assert [a.status_code for a in answers[:LIMIT]] == [400] * LIMIT
    for answer in answers[LIMIT:]:
        _throttled(answer)


def test_logout_burst_counts_with_authorize(gateway: RunningGateway) -> None:
    """Each /logout without a valid hint stores a pending question, so it is limited as /authorize is."""
    _fresh_window()
    attacker = _client_at("127.0.0.7")
    answers = [attacker.get(f"{gateway.url}/logout", timeout=10) for _ in range(LIMIT + 2)]
    assert all(a.status_code == 200 for a in answers[:LIMIT]), [a.status_code for a in answers]
    for answer in answers[LIMIT:]:
        _throttled(answer)


def test_client_secret_guessing_is_locked_out_per_client_and_address(gateway: RunningGateway) -> None:
    """After a few wrong secrets from one address, that address may not try that client again this window,
    not even with the right secret (so a later success cannot confirm a guess); the real e-service, from its
    own address, still redeems its codes."""
    _fresh_window(window=300, seconds_needed=8)
    client = gateway.clients["basic-rp"]
    attacker = _client_at("127.0.0.4")
    guess = {"grant_type": "authorization_code", "code": "c" * 43, "redirect_uri": client.redirect_uri,
             "code_verifier": "v" * 43}  # fmt: skip
    wrong = [attacker.post(f"{gateway.url}/token", data=guess, auth=(client.client_id, f"guess-{i}"), timeout=10)
             for i in range(FAILURES)]  # fmt: skip
    assert [(w.status_code, w.json()["error"]) for w in wrong] == [(401, "invalid_client")] * FAILURES
    steps = code_for(gateway)
    data = {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
            "redirect_uri": client.redirect_uri, "code_verifier": steps.rp.verifier}  # fmt: skip
    locked = attacker.post(f"{gateway.url}/token", data=data, auth=(client.client_id, client.secret or ""), timeout=10)
    _throttled(locked, window=300)
    assert locked.json()["error"] == "temporarily_unavailable"
    assert locked.headers["Cache-Control"] == "no-store"
    legitimate = requests.post(f"{gateway.url}/token", data=data, auth=(client.client_id, client.secret or ""),
                               timeout=10)  # fmt: skip
    assert legitimate.status_code == 200, legitimate.text
    other_client = attacker.post(f"{gateway.url}/token", data=guess, auth=("post-rp", "guess"), timeout=10)
    assert other_client.status_code == 401, "the lock is per client: another client's failures count apart"


def test_secret_guessing_at_par_counts_with_the_token_endpoint(gateway: RunningGateway) -> None:
    """Pushed authorization requests authenticate the client too: guesses there use up the same allowance."""
    _fresh_window(window=300, seconds_needed=8)
    client = gateway.clients["post-rp"]
    attacker = _client_at("127.0.0.6")
    wrong = [attacker.post(f"{gateway.url}/par", data={"client_id": client.client_id, "client_secret": f"guess-{i}"},
                           timeout=10) for i in range(FAILURES)]  # fmt: skip
    assert [(w.status_code, w.json()["error"]) for w in wrong] == [(401, "invalid_client")] * FAILURES
    right = {"grant_type": "authorization_code", "code": "x", "client_id": client.client_id,
             "client_secret": client.secret or ""}  # fmt: skip
    locked = attacker.post(f"{gateway.url}/token", data=right, timeout=10)
    _throttled(locked, window=300)


def test_token_burst_gets_429_and_nothing_is_lost_for_others(gateway: RunningGateway) -> None:
    """A misbehaving e-service (authenticated, hammering with dead codes) is slowed down; another on its own
    address completes its logins."""
    _fresh_window()
    noisy = _client_at("127.0.0.5")
    client = gateway.clients["basic-rp"]
    data = {"grant_type": "authorization_code", "code": "x" * 43, "redirect_uri": client.redirect_uri,
            "code_verifier": "v" * 43}  # fmt: skip
    answers = [noisy.post(f"{gateway.url}/token", data=data, auth=(client.client_id, client.secret or ""), timeout=10)
               for _ in range(LIMIT * 2 + 2)]  # fmt: skip
    assert [a.json()["error"] for a in answers[: LIMIT * 2]] == ["invalid_grant"] * LIMIT * 2
    for answer in answers[LIMIT * 2 :]:
        _throttled(answer)
        assert answer.json()["error"] == "temporarily_unavailable"
    _, token = full_login(gateway, "post-rp", "idp")
    assert token["access_token"]
