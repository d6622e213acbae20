"""The demo e-service: an OpenID Connect relying party that logs in through the gateway and shows the claims.

A developer who starts the gateway in development wants to see a whole login without writing a
client. This page is that client, and it behaves as a careful e-service should, so it also shows
what one must do (OIDC Core 3.1; RFC 9700): the code flow with PKCE S256, ``state`` and ``nonce``
bound to the browser in a signed cookie, the ``iss`` response parameter checked (RFC 9207), the code
exchanged at the token endpoint over real HTTP with ``client_secret_basic``, the ID token's signature
checked against the published JWKS and its ``iss``/``aud``/``nonce``/``exp`` validated (OIDC Core
3.1.3.7), and the UserInfo ``sub`` compared with the ID token's (OIDC Core 5.3.4).

It talks to the gateway only over HTTP, as a separate e-service would, which works because the
gateway runs under gunicorn's gevent worker: the token request is served while this one waits. The
claims it shows are kept in a signed cookie: acceptable for a development-only page, never for a real
e-service.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Final
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response as BaseResponse

from gateway.settings.schema import ClientSettings
from gateway.settings.theme import Theme
from gateway.web.branding import branding
from gateway.web.i18n import page_language

log = logging.getLogger(__name__)

CLIENT_ID: Final = "sandbox-demo"
CALLBACK_PATH: Final = "/demo/callback"
SCOPES: Final = (
    "openid",
    "https://id.oidc.se/scope/naturalPersonNumber",
    "https://id.oidc.se/scope/naturalPersonInfo",
)
ID_TOKEN_ALGORITHMS: Final = ("RS256", "PS256", "ES256")
"""What the gateway may sign ID tokens with (its discovery document); never ``none`` or HMAC."""

HTTP_TIMEOUT: Final = 10
CLOCK_LEEWAY: Final = 60

LOGIN_COOKIE: Final = "eidgw_demo_login"
LOGIN_COOKIE_PATH: Final = "/demo"
LOGIN_MAX_AGE: Final = 600
CLAIMS_COOKIE: Final = "eidgw_demo"
CLAIMS_MAX_AGE: Final = 3600

_OAUTH_ERROR: Final = re.compile(r"[a-z_]{1,64}")
DEMO_COLOUR: Final = "#00677f"
"""The demo's theme colour (tests check it passes the same contrast rule as configured themes)."""


def demo_client(base_url: str, secret: str) -> ClientSettings:
    """The demo e-service's registration, as an operator would write it for a real one."""
    redirect_uri = base_url + CALLBACK_PATH
    return ClientSettings(
        client_id=CLIENT_ID,
        redirect_uris=(redirect_uri,),
        post_logout_redirect_uris=(base_url + "/",),
        auth_method="client_secret_basic",
        display_name={"sv": "Demotjänst", "en": "Demo e-service"},
        # Shows what an e-service's theme looks like on the chooser (contrast-checked as config would be).
        theme=Theme(primary=DEMO_COLOUR, logo=Path(__file__).with_name("demo-service.svg")),
        client_secret=secret,
        scopes=SCOPES,
        subject_type="pairwise",
        # What the settings loader derives for a client without one: the redirect URI's host.
        sector_identifier=urlsplit(redirect_uri).hostname or "",
    )


class DemoError(Exception):
    """A login the demo could not complete.

    ``reason`` is for the log; ``code`` is shown on the page, and is either an OAuth error code the
    gateway sent or ``invalid_response``, never library or exception text.
    """

    def __init__(self, reason: str, code: str = "invalid_response") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class DemoClaims:
    """What the demo learned about the citizen: the verified ID token's claims and UserInfo's."""

    id_token: Mapping[str, Any]
    userinfo: Mapping[str, Any]


def rows(claims: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Claims as sorted (name, text) rows; objects and lists (``address``...) shown as JSON."""
    return [
        (name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for name, value in sorted(claims.items())
    ]


@dataclass(frozen=True, slots=True)
class DemoRP:
    """The demo e-service's configuration and the two halves of its login."""

    base_url: str
    client: ClientSettings
    cookie_key: bytes

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies whenever the gateway is served over https."""
        return self.base_url.startswith("https://")

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.cookie_key, salt=f"eid-gateway sandbox demo {purpose}")

    def _session(self) -> OAuth2Session:
        session = OAuth2Session(
            client_id=self.client.client_id,
            client_secret=self.client.client_secret,
            token_endpoint_auth_method=self.client.auth_method,
            scope=" ".join(self.client.scopes),
            redirect_uri=self.client.redirect_uris[0],
            code_challenge_method="S256",
            default_timeout=HTTP_TIMEOUT,
        )
        # The gateway calls itself: a proxy from the environment must not sit in between.
        session.trust_env = False
        return session

    def start_login(self) -> tuple[str, str]:
        """The authorization request URL and the signed cookie that binds it to this browser.

        ``state`` (RFC 6749 10.12), ``nonce`` (OIDC Core 3.1.2.1) and the PKCE verifier (RFC 7636
        4.1) are fresh per login and known only to this browser's cookie.
        """
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self.base_url + "/authorize", state=state, code_verifier=verifier, nonce=nonce
            )
        cookie = self._serializer("login").dumps({"state": state, "nonce": nonce, "verifier": verifier})
        return url, cookie

    def finish_login(self, login_cookie: str | None, params: Mapping[str, str]) -> DemoClaims:
        """Check the authorization response, redeem the code, verify the ID token, call UserInfo."""
        pending = self._pending(login_cookie)
        if not hmac.compare_digest(params.get("state", ""), pending["state"]):
            raise DemoError("state does not match this browser's login")
        if params.get("iss") != self.base_url:
            raise DemoError("iss response parameter missing or not the gateway (RFC 9207)")
        if "error" in params:
            error = params["error"]
            raise DemoError("the gateway returned an error", error if _OAUTH_ERROR.fullmatch(error) else "")
        code = params.get("code")
        if not code:
            raise DemoError("no code in the authorization response")
        try:
            with self._session() as session:
                token = session.fetch_token(self.base_url + "/token", code=code, code_verifier=pending["verifier"])
                id_token = self._verify_id_token(session, str(token["id_token"]), pending["nonce"])
                userinfo = self._userinfo(session)
        except (requests.RequestException, AuthlibBaseError, JoseError, KeyError, TypeError, ValueError) as exc:
            raise DemoError(f"token, JWKS or UserInfo step failed: {type(exc).__name__}") from None
        if userinfo.get("sub") != id_token.get("sub"):
            raise DemoError("UserInfo sub differs from the ID token's (OIDC Core 5.3.4)")
        return DemoClaims(id_token=id_token, userinfo=userinfo)

    def _pending(self, login_cookie: str | None) -> dict[str, str]:
        if not login_cookie:
            raise DemoError("no login cookie: the login was not started in this browser")
        try:
            data = self._serializer("login").loads(login_cookie, max_age=LOGIN_MAX_AGE)
        except BadSignature:
            raise DemoError("login cookie forged or expired") from None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("state", "nonce", "verifier")):
            raise DemoError("login cookie malformed")
        return data

    def _verify_id_token(self, session: OAuth2Session, id_token: str, nonce: str) -> dict[str, Any]:
        """Signature by a key from the gateway's JWKS, then iss, aud, nonce, exp (OIDC Core 3.1.3.7)."""
        response = session.get(self.base_url + "/jwks", withhold_token=True)
        response.raise_for_status()
        keys = KeySet.import_key_set(response.json())
        token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY,
            iss={"essential": True, "value": self.base_url},
            aud={"essential": True, "value": self.client.client_id},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(token.claims)
        return dict(token.claims)

    def _userinfo(self, session: OAuth2Session) -> dict[str, Any]:
        """UserInfo as JSON (the demo registers no signed UserInfo), with the access token as Bearer."""
        response = session.get(self.base_url + "/userinfo")
        response.raise_for_status()
        if response.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise ValueError("UserInfo is not JSON")
        claims = response.json()
        if not isinstance(claims, dict):
            raise TypeError("UserInfo is not a JSON object")
        return claims

    def claims_cookie(self, claims: DemoClaims) -> str:
        """The signed cookie value that carries ``claims`` to the demo page (development only)."""
        return self._serializer("claims").dumps({"id_token": dict(claims.id_token), "userinfo": dict(claims.userinfo)})

    def read_claims(self, raw: str | None) -> DemoClaims | None:
        """The claims from a cookie this demo signed, or None (absent, forged or too old)."""
        if not raw:
            return None
        try:
            data = self._serializer("claims").loads(raw, max_age=CLAIMS_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        id_token, userinfo = data.get("id_token"), data.get("userinfo")
        if not isinstance(id_token, dict) or not isinstance(userinfo, dict):
            return None
        return DemoClaims(id_token=id_token, userinfo=userinfo)


# -- routes ----------------------------------------------------------------------------------------

blueprint = Blueprint("demo", __name__)


def _demo() -> DemoRP:
    return current_app.extensions["eid_gateway"].sandbox.demo  # type: ignore[no-any-return]


def _page(*, claims: DemoClaims | None = None, error: str | None = None, status: int = 200) -> BaseResponse:
    brand = branding().client(CLIENT_ID)
    html = render_template(
        "demo.html",
        brand_name=brand.name(page_language()),
        brand_logo=brand.logo_url,
        theme_css=brand.css_url,
        id_token_rows=rows(claims.id_token) if claims else [],
        userinfo_rows=rows(claims.userinfo) if claims else [],
        logged_in=claims is not None,
        error=error,
    )
    return Response(html, status=status)


@blueprint.get("/")
def index() -> BaseResponse:
    """The demo e-service's start page: a login button, and the claims after a login."""
    demo = _demo()
    return _page(claims=demo.read_claims(request.cookies.get(CLAIMS_COOKIE)))


@blueprint.get("/demo/login")
def login() -> BaseResponse:
    """Start a login: bind state, nonce and verifier to the browser, then go to the gateway."""
    demo = _demo()
    url, cookie = demo.start_login()
    response = redirect(url, 302)
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_MAX_AGE,
        path=LOGIN_COOKIE_PATH,
        secure=demo.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    return response


@blueprint.get(CALLBACK_PATH)
def callback() -> BaseResponse:
    """The redirect URI: finish the login and show the claims, or say that it failed."""
    demo = _demo()
    response: BaseResponse
    try:
        claims = demo.finish_login(request.cookies.get(LOGIN_COOKIE), request.args.to_dict(flat=True))
    except DemoError as error:
        log.warning("demo login failed", extra={"reason": error.reason})
        response = _page(error=error.code or "invalid_response", status=400)
    else:
        response = redirect(url_for("demo.index"), 303)
        response.set_cookie(
            CLAIMS_COOKIE,
            demo.claims_cookie(claims),
            max_age=CLAIMS_MAX_AGE,
            path="/",
            secure=demo.secure_cookies,
            httponly=True,
            samesite="Lax",
        )
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_COOKIE_PATH)
    return response


@blueprint.post("/demo/logout")
def logout() -> BaseResponse:
    """Forget the demo's claims, then log out at the gateway too (OpenID Connect RP-Initiated Logout).

    The demo keeps no ID token to send as ``id_token_hint``, so the gateway asks the citizen first,
    ends the SSO session and sends the browser back to the registered ``post_logout_redirect_uri``.
    """
    demo = _demo()
    query = urlencode({"client_id": CLIENT_ID, "post_logout_redirect_uri": demo.base_url + "/"})
    response = redirect(f"{demo.base_url}/logout?{query}", 303)
    response.delete_cookie(CLAIMS_COOKIE, path="/")
    return response
