"""Back-Channel Logout 1.0: the logout token, and notifications that never hold the citizen for long."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from joserfc import jwt

from gateway.model import Identity
from gateway.oidc import backchannel
from gateway.oidc import id_token
from gateway.oidc.clients import ClientRegistry
from gateway.oidc.records import AuthenticatedUser
from gateway.oidc.server import OidcContext
from gateway.settings.schema import ClientSettings
from gateway.settings.schema import Lifetimes
from gateway.store.memory_store import MemoryStore
from gateway.store.records import RecordStore
from gateway.store.sealed import Sealer
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.signing_keys import SigningKeys
from tests.peers.logout_receiver import LogoutReceiver
from tests.peers.logout_receiver import down_url

ISSUER = "https://login.example"
PAIRWISE_KEY = b"p" * 32
USER = AuthenticatedUser(
    identity=Identity(
        provider_id="idp", issuer="https://idp.example", subject_key="pnr:199203102380",
        loa="http://id.elegnamnden.se/loa/1.0/loa3", authn_instant=1,
    ),
    sid="the-sid", acr="http://id.elegnamnden.se/loa/1.0/loa3", auth_time=1,
)  # fmt: skip


def _client(client_id: str, uri: str | None, **extra: object) -> ClientSettings:
    return ClientSettings(
        client_id=client_id, redirect_uris=(f"https://{client_id}.example/cb",), auth_method="client_secret_basic",
        display_name={"sv": client_id}, client_secret="s" * 32, sector_identifier=f"{client_id}.example",
        backchannel_logout_uri=uri, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    directory = tmp_path_factory.mktemp("keys")
    generate_keys(directory)
    return SigningKeys(load_keys(directory, b"x" * 32))


def _context(keys: SigningKeys, *clients: ClientSettings) -> OidcContext:
    store = MemoryStore()
    return OidcContext(
        issuer=ISSUER, store=store, records=RecordStore(store, Sealer.from_secret(b"s" * 32)), lifetimes=Lifetimes(),
        signing_keys=keys, pairwise_key=PAIRWISE_KEY, clients=ClientRegistry(clients),
    )  # fmt: skip


def test_the_logout_token_is_typed_signed_like_an_id_token_and_has_the_claims_of_section_2_4(
    keys: SigningKeys,
) -> None:
    client = _client("rp", "https://rp.example/bcl")
    now = int(time.time())
    token = backchannel.logout_token(
        issuer=ISSUER, client=client, user=USER, pairwise_key=PAIRWISE_KEY, keys=keys, now=now
    )
    decoded = jwt.decode(token, keys.active_key, algorithms=[keys.alg])
    assert decoded.header == {"alg": keys.alg, "kid": keys.kid, "typ": "logout+jwt"}
    claims = decoded.claims
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "jti", "sid", "events"}  # never a nonce
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "rp"
    assert claims["sid"] == "the-sid"
    assert claims["sub"] == id_token.subject_for(client, USER, PAIRWISE_KEY)  # the pairwise sub rp received
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert (claims["iat"], claims["exp"]) == (now, now + 120)
    again = backchannel.logout_token(issuer=ISSUER, client=client, user=USER, pairwise_key=PAIRWISE_KEY, keys=keys,
                                     now=now)  # fmt: skip
    assert jwt.decode(again, keys.active_key).claims["jti"] != claims["jti"]


def test_each_client_gets_its_own_pairwise_sub(keys: SigningKeys) -> None:
    tokens = {
        c.client_id: backchannel.logout_token(
            issuer=ISSUER, client=c, user=USER, pairwise_key=PAIRWISE_KEY, keys=keys, now=1
        )
        for c in (_client("one", "https://one.example/bcl"), _client("two", "https://two.example/bcl"))
    }
    subs = {jwt.decode(t, keys.active_key).claims["sub"] for t in tokens.values()}
    assert len(subs) == 2


def test_notifications_go_to_clients_with_a_uri_and_outcomes_are_counted(keys: SigningKeys) -> None:
    with LogoutReceiver() as ok, LogoutReceiver(status=500) as broken, LogoutReceiver(status=302) as redirecting:
        context = _context(
            keys,
            _client("ok", ok.url),
            _client("broken", broken.url),
            _client("redirecting", redirecting.url),
            _client("down", down_url()),
            _client("silent", None),
        )
        named = ["ok", "broken", "redirecting", "down", "silent", "ok", "gone"]
        deliveries = backchannel.notify(context, USER, named, retry_delays=())
        outcomes = {d.client_id: (d.outcome, d.detail) for d in deliveries}
        assert outcomes == {
            "ok": ("delivered", "200"),
            "broken": ("failed", "500"),
            "redirecting": ("failed", "302"),
            "down": ("failed", "ConnectionError"),
        }
        assert len(ok.posts) == 1  # once, though named twice
        post = ok.posts[0]
        assert post.content_type == "application/x-www-form-urlencoded"
        assert list(post.form) == ["logout_token"]
        assert jwt.decode(post.form["logout_token"][0], keys.active_key).claims["aud"] == "ok"
        assert redirecting.gets == 0  # the redirect was not followed
    counts = {(client, outcome): n for client, outcome, n in backchannel.counts(context)}
    assert counts[("ok", "delivered")] == 1
    assert counts[("ok", "failed")] == 0
    assert counts[("broken", "failed")] == counts[("down", "failed")] == counts[("redirecting", "failed")] == 1
    assert ("silent", "failed") not in counts


def test_a_slow_client_times_out_on_its_own(keys: SigningKeys) -> None:
    with LogoutReceiver(delay=3) as slow, LogoutReceiver() as fast:
        context = _context(keys, _client("slow", slow.url), _client("fast", fast.url))
        began = time.monotonic()
        deliveries = backchannel.notify(context, USER, ["slow", "fast"], timeout=0.5, deadline=2.0, retry_delays=())
        assert time.monotonic() - began < 1.5
    assert {d.client_id: (d.outcome, d.detail) for d in deliveries} == {
        "slow": ("failed", "ReadTimeout"),
        "fast": ("delivered", "200"),
    }


def test_the_citizen_waits_no_longer_than_the_deadline(keys: SigningKeys) -> None:
    with LogoutReceiver(delay=3) as slow:
        context = _context(keys, _client("slow", slow.url))
        began = time.monotonic()
        deliveries = backchannel.notify(context, USER, ["slow"], timeout=10, deadline=0.5)
        assert time.monotonic() - began < 1.0
        assert deliveries == []  # still running: it logs and counts itself when it ends
        assert len(slow.posts) == 1


def test_a_failure_that_may_pass_is_retried_with_the_same_token_and_counted_once(keys: SigningKeys) -> None:
    with LogoutReceiver(statuses=[503, 500]) as restarting, LogoutReceiver(status=400) as refusing:
        context = _context(keys, _client("restarting", restarting.url), _client("refusing", refusing.url))
        deliveries = backchannel.notify(context, USER, ["restarting", "refusing"], retry_delays=(0.05, 0.05, 0.05))
        assert {d.client_id: (d.outcome, d.detail) for d in deliveries} == {
            "restarting": ("failed", "503"),  # what the citizen's request saw: the first attempt
            "refusing": ("failed", "400"),
        }
        _wait_until(lambda: len(restarting.posts) == 3)
        time.sleep(0.3)  # room for a wrong fourth attempt, or a retry of the 400
    assert len(restarting.posts) == 3
    assert len({post.form["logout_token"][0] for post in restarting.posts}) == 1
    assert len(refusing.posts) == 1  # "the logout failed" is the e-service's answer, not an outage
    counts = {(client, outcome): n for client, outcome, n in backchannel.counts(context)}
    assert counts[("restarting", "delivered")] == 1
    assert counts[("restarting", "failed")] == 0
    assert counts[("refusing", "failed")] == 1


def test_retries_end_after_the_last_delay_and_the_failure_is_counted(keys: SigningKeys) -> None:
    context = _context(keys, _client("down", down_url()))
    deliveries = backchannel.notify(context, USER, ["down"], retry_delays=(0.05, 0.05))
    assert [(d.outcome, d.detail) for d in deliveries] == [("failed", "ConnectionError")]
    _wait_until(lambda: {(c, o): n for c, o, n in backchannel.counts(context)}[("down", "failed")] == 1)


def test_retries_fit_in_the_logout_tokens_lifetime() -> None:
    worst_case = sum(backchannel.RETRY_DELAYS) + 2 * backchannel.TIMEOUT * (len(backchannel.RETRY_DELAYS) + 1)
    assert worst_case < backchannel.TOKEN_LIFETIME


def _wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
