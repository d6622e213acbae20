"""RP-Initiated Logout 1.0: the end-session request, the id_token_hint check, and where the browser may go."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.errors import CitizenError
from gateway.model import Identity
from gateway.oidc import id_token
from gateway.oidc.clients import ClientRegistry
from gateway.oidc.logout import EndSessionRequest
from gateway.oidc.logout import IdTokenHint
from gateway.oidc.logout import logout_target
from gateway.oidc.logout import parse_end_session
from gateway.oidc.logout import verify_id_token_hint
from gateway.oidc.records import AuthenticatedUser
from gateway.settings.schema import ClientSettings
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.rollover import activate
from gateway.trust.rollover import rollover
from gateway.trust.signing_keys import SigningKeys

ISSUER = "https://login.example"
CLIENT = ClientSettings(
    client_id="rp",
    redirect_uris=("https://rp.example/cb",),
    auth_method="client_secret_basic",
    display_name={"sv": "RP"},
    client_secret="s" * 32,
    post_logout_redirect_uris=("https://rp.example/bye", "https://rp.example/bye?x=1"),
    sector_identifier="rp.example",
)
OTHER = ClientSettings(
    client_id="other", redirect_uris=("https://other.example/cb",), auth_method="client_secret_basic",
    display_name={"sv": "Other"}, client_secret="s" * 32, sector_identifier="other.example",
)  # fmt: skip
CLIENTS = ClientRegistry([CLIENT, OTHER])


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    directory = tmp_path_factory.mktemp("keys")
    generate_keys(directory)
    return SigningKeys(load_keys(directory, b"x" * 32))


def _user() -> AuthenticatedUser:
    identity = Identity(
        provider_id="idp",
        issuer="https://idp.example",
        subject_key="pnr:199203102380",
        loa="http://id.elegnamnden.se/loa/1.0/loa3",
        authn_instant=1,
    )
    return AuthenticatedUser(identity=identity, sid="sid-1", acr="http://id.elegnamnden.se/loa/1.0/loa3", auth_time=1)


def _id_token(keys: SigningKeys, *, lifetime: int = 300, issuer: str = ISSUER) -> str:
    return id_token.id_token(
        issuer=issuer, client=CLIENT, user=_user(), scope="openid", nonce="n", claims_request="", lifetime=lifetime,
        pairwise_key=b"k" * 32, keys=keys,
    )  # fmt: skip


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _refused(call: object) -> str:
    with pytest.raises(CitizenError) as raised:
        call()  # type: ignore[operator]
    assert raised.value.code == "logout_refused"
    return raised.value.detail


def test_an_id_token_we_issued_is_a_valid_hint(keys: SigningKeys) -> None:
    hint = verify_id_token_hint(_id_token(keys), issuer=ISSUER, keys=keys)
    assert hint == IdTokenHint(client_id="rp", sid="sid-1", sub=hint.sub)
    assert hint.sub == id_token.subject_for(CLIENT, _user(), b"k" * 32)


def test_an_expired_id_token_is_still_a_valid_hint(keys: SigningKeys) -> None:
    token = _id_token(keys, lifetime=300)
    claims = jwt.decode(token, keys.active_key).claims
    expired = id_token.sign({**claims, "exp": int(time.time()) - 3600, "iat": int(time.time()) - 3900}, keys)
    assert verify_id_token_hint(expired, issuer=ISSUER, keys=keys).sid == "sid-1"


def test_a_hint_signed_by_another_key_is_refused(keys: SigningKeys) -> None:
    claims = jwt.decode(_id_token(keys), keys.active_key).claims
    stranger = RSAKey.generate_key(2048)
    # The same kid as ours: only the signature can tell.
    forged = jwt.encode({"alg": "RS256", "kid": keys.kid, "typ": "JWT"}, claims, stranger)
    assert "signature" in _refused(lambda: verify_id_token_hint(forged, issuer=ISSUER, keys=keys))
    unknown_kid = jwt.encode({"alg": "RS256", "kid": "someone-else"}, claims, stranger)
    assert "key" in _refused(lambda: verify_id_token_hint(unknown_kid, issuer=ISSUER, keys=keys))


def test_a_hint_with_alg_none_is_refused(keys: SigningKeys) -> None:
    claims = jwt.decode(_id_token(keys), keys.active_key).claims
    unsigned = f"{_b64({'alg': 'none', 'kid': keys.kid, 'typ': 'JWT'})}.{_b64(claims)}."
    assert "alg" in _refused(lambda: verify_id_token_hint(unsigned, issuer=ISSUER, keys=keys))
    # Our own signature with the header's alg swapped: the key's algorithm decides, never the header.
    _header, payload, signature = _id_token(keys).split(".")
    swapped = f"{_b64({'alg': 'HS256', 'kid': keys.kid})}.{payload}.{signature}"
    assert "alg" in _refused(lambda: verify_id_token_hint(swapped, issuer=ISSUER, keys=keys))


def test_a_hint_from_another_issuer_is_refused(keys: SigningKeys) -> None:
    token = _id_token(keys, issuer="https://evil.example")
    assert "issuer" in _refused(lambda: verify_id_token_hint(token, issuer=ISSUER, keys=keys))


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "é.é.é", "e30.e30.", "x" * 100 + ".y.z"])
def test_an_unparsable_hint_is_refused(keys: SigningKeys, junk: str) -> None:
    _refused(lambda: verify_id_token_hint(junk, issuer=ISSUER, keys=keys))


def test_a_logout_token_or_a_token_without_sid_is_not_a_hint(keys: SigningKeys) -> None:
    claims = jwt.decode(_id_token(keys), keys.active_key).claims
    assert "typ" in _refused(
        lambda: verify_id_token_hint(id_token.sign(claims, keys, typ="logout+jwt"), issuer=ISSUER, keys=keys)
    )
    without_sid = id_token.sign({k: v for k, v in claims.items() if k != "sid"}, keys)
    assert "sid" in _refused(lambda: verify_id_token_hint(without_sid, issuer=ISSUER, keys=keys))


def test_a_hint_signed_by_the_previous_key_verifies_after_a_rollover(tmp_path: Path) -> None:
    generate_keys(tmp_path)
    keys = SigningKeys(load_keys(tmp_path, b"x" * 32))
    old_token, old_kid = _id_token(keys), keys.kid
    rollover(tmp_path, "oidc-signing")
    activate(tmp_path, "oidc-signing", wait=0, now=time.time() + 1)
    keys.install(load_keys(tmp_path, b"x" * 32))
    assert keys.kid != old_kid  # the token's key is now the previous one, still published
    assert verify_id_token_hint(old_token, issuer=ISSUER, keys=keys).client_id == "rp"


def test_parameters_are_single_bounded_and_empty_means_absent() -> None:
    parsed = parse_end_session({"client_id": ["rp"], "state": [""], "ui_locales": ["en sv"]})
    assert parsed == EndSessionRequest(client_id="rp", ui_locales=("en", "sv"))
    assert "more than once" in _refused(lambda: parse_end_session({"state": ["a", "b"]}))
    assert "too long" in _refused(lambda: parse_end_session({"post_logout_redirect_uri": ["x" * 3000]}))


def test_a_registered_post_logout_redirect_uri_gets_state_appended() -> None:
    hint = IdTokenHint(client_id="rp", sid="s", sub="u")
    request = EndSessionRequest(post_logout_redirect_uri="https://rp.example/bye", state="a b&c")
    assert logout_target(CLIENTS, request, hint).url == "https://rp.example/bye?state=a+b%26c"
    with_query = EndSessionRequest(post_logout_redirect_uri="https://rp.example/bye?x=1", state="s1")
    assert logout_target(CLIENTS, with_query, hint).url == "https://rp.example/bye?x=1&state=s1"
    by_client_id = EndSessionRequest(client_id="rp", post_logout_redirect_uri="https://rp.example/bye")
    assert logout_target(CLIENTS, by_client_id, None).url == "https://rp.example/bye"


@pytest.mark.parametrize(
    "uri", ["https://rp.example/bye/", "https://RP.example/bye", "https://rp.example/bye?y=2", "https://evil.example/"]
)
def test_any_other_post_logout_redirect_uri_is_dropped(uri: str) -> None:
    target = logout_target(CLIENTS, EndSessionRequest(client_id="rp", post_logout_redirect_uri=uri, state="s"), None)
    assert (target.client_id, target.url) == ("rp", None)


def test_no_redirect_without_a_known_client() -> None:
    request = EndSessionRequest(post_logout_redirect_uri="https://rp.example/bye")
    assert logout_target(CLIENTS, request, None).url is None
    unknown = EndSessionRequest(client_id="nobody", post_logout_redirect_uri="https://rp.example/bye")
    assert logout_target(CLIENTS, unknown, None).url is None
    # Registered by another client than the one asking.
    other = EndSessionRequest(client_id="other", post_logout_redirect_uri="https://rp.example/bye")
    assert logout_target(CLIENTS, other, None).url is None


def test_client_id_must_be_the_hints_audience() -> None:
    hint = IdTokenHint(client_id="rp", sid="s", sub="u")
    request = EndSessionRequest(client_id="other", post_logout_redirect_uri="https://rp.example/bye")
    assert "aud" in _refused(lambda: logout_target(CLIENTS, request, hint))
    assert logout_target(CLIENTS, EndSessionRequest(client_id="rp"), hint).client_id == "rp"
