"""Builds the authlib AuthorizationServer with the grant, extensions and client-auth methods we allow.

Explicit wiring (style rule 7): one grant (authorization code), PKCE S256
required, OpenID Connect with our ID token, RFC 9207 `iss`, and exactly three
client authentication methods; `none` is never registered. Requests are built
from the Flask request a view passes in, or from stored parameters at the
resume step (authlib's Flask integration reads the global request instead).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode
from flask import Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.oidc import access_tokens
from gateway.oidc import id_token
from gateway.oidc.client_keys import ClientKeys
from gateway.oidc.client_keys import ClientKeysUnavailable
from gateway.oidc.clients import PRIVATE_KEY_JWT
from gateway.oidc.clients import Client
from gateway.oidc.clients import ClientRegistry
from gateway.oidc.grants import CodeGrant
from gateway.oidc.pkce import RequiredS256
from gateway.oidc.records import RedeemedCode
from gateway.oidc.records import TokenRecord
from gateway.oidc.request_object import SIGNING_ALGS
from gateway.settings.schema import Lifetimes
from gateway.store import keys as store_keys
from gateway.store.base import Store
from gateway.store.records import RecordStore
from gateway.trust.signing_keys import SigningKeys

# authlib logs issued tokens at DEBUG ("Issue token %r to %r"); never let that through.
logging.getLogger("authlib").setLevel(logging.WARNING)

CLIENT_ASSERTION_ALGS = list(SIGNING_ALGS)


@dataclass(frozen=True, slots=True)
class OidcContext:
    """What the grant and extensions need from the rest of the gateway."""

    issuer: str
    store: Store
    records: RecordStore
    lifetimes: Lifetimes
    signing_keys: SigningKeys
    pairwise_key: bytes
    clients: ClientRegistry
    sweden_connect: bool = False
    """Sweden Connect OIDC profile mode: private_key_jwt only (SCOIDC 2.3.1), signed UserInfo always."""
    client_keys: ClientKeys = field(default_factory=ClientKeys)

    @property
    def token_endpoint(self) -> str:
        """An audience value (besides the issuer) a client assertion may name."""
        return f"{self.issuer}/token"

    @property
    def par_endpoint(self) -> str:
        """RFC 9126 2: the PAR endpoint URL is also an accepted client assertion audience."""
        return f"{self.issuer}/par"


class GatewayOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """OpenID Connect on the code grant, with our ID token (adds `sid`, pairwise `sub`)."""

    def __init__(self, context: OidcContext) -> None:
        super().__init__(require_nonce=False)
        self.context = context

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Nonce replay is the RP's check (OIDC Core 3.1.3.7); the OP only echoes it."""
        return False

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        """Our ID token, signed with the active key."""
        code = request.authorization_code
        return id_token.id_token(
            issuer=self.context.issuer,
            client=request.client.settings,
            user=request.user,
            scope=code.scope,
            nonce=code.nonce,
            claims_request=code.claims_request,
            lifetime=self.context.lifetimes.id_token,
            pairwise_key=self.context.pairwise_key,
            keys=self.context.signing_keys,
        )


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 client authentication, registered under its OIDC name `private_key_jwt`.

    Only asymmetric algorithms are accepted (no `none`, no HMAC: algorithm
    confusion), `aud` must be the token endpoint or the issuer (Swedish OIDC
    profile 3.1.1), and each `jti` is used once (a replay guard in the store).
    """

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, context: OidcContext) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.context = context

    def get_audiences(self) -> list[str]:
        """The token endpoint URL, the issuer, and the PAR endpoint URL (RFC 9126 2)."""
        return [self.context.token_endpoint, self.context.issuer, self.context.par_endpoint]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        """The client's registered keys: `jwks`, or `jwks_uri` through the bounded cache."""
        try:
            return self.context.client_keys.key_set(client.settings)
        except ClientKeysUnavailable as exc:
            raise InvalidClientError(description="the client's keys are unavailable") from exc

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        """Decode with an explicit algorithm allow-list."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=CLIENT_ASSERTION_ALGS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="client assertion did not verify") from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Set-if-absent until the assertion expires: a second use is refused."""
        if not isinstance(jti, str) or not jti:
            return False
        ttl = max(1.0, float(claims.get("exp", 0)) - time.time() + 60)
        return self.context.store.add_if_absent(store_keys.jti(claims["sub"], jti), b"1", ttl)


class GatewayIssuer(IssuerParameter):  # type: ignore[misc]
    """RFC 9207: `iss` in every authorization response."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        """Our issuer identifier."""
        return self.issuer


class GatewayAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's server, framework-free except for building requests and responses."""

    def __init__(self, context: OidcContext) -> None:
        super().__init__(scopes_supported=None)
        self.context = context
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [RequiredS256(required=True), GatewayOpenIDCode(context)])
        self.register_extension(GatewayIssuer(context.issuer))
        self.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(context))

    def query_client(self, client_id: str) -> Client | None:
        """A registered client, or None."""
        return self.context.clients.get(client_id)

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Client:
        """authlib's client authentication; in Sweden Connect mode only private_key_jwt (SCOIDC 2.3.1)."""
        if self.context.sweden_connect:
            methods = [m for m in methods if m == PRIVATE_KEY_JWT]
        return super().authenticate_client(request, methods, endpoint)  # type: ignore[no-any-return]

    def _generate_token(
        self, grant_type: str, client: Client, user: Any = None, scope: Any = None, **_: Any
    ) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "access_token": access_tokens.new_token(user.sid, client.get_client_id()),
            "expires_in": self.context.lifetimes.access_token,
            "scope": scope,
        }

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store the access token's hash (never the token) and mark the code redeemed."""
        lifetime = self.context.lifetimes.access_token
        token_hash = store_keys.digest(token["access_token"])
        code = request.authorization_code
        record = TokenRecord(
            client_id=request.client.get_client_id(),
            scope=code.scope,
            claims_request=code.claims_request,
            user=request.user,
            expires_at=int(time.time()) + lifetime,
        )
        with self.context.records.batch():  # both records in one round trip to the store
            self.context.records.put(store_keys.access_token(token_hash), record, lifetime)
            self.context.records.put(
                store_keys.code_used(request.code_hash), RedeemedCode(access_token_hashes=(token_hash,)), lifetime
            )

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """Use an already-built request as is; otherwise wrap the Flask request the view passed."""
        if isinstance(request, OAuth2Request):
            return request
        return FlaskOAuth2Request(request)

    def create_json_request(self, request: Any) -> Any:
        """Not used: no endpoint of ours takes JSON."""
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        """A Flask response; token responses are never cached (RFC 6749 5.1)."""
        payload = json.dumps(body) if isinstance(body, dict) else body
        response = Response(payload, status=status, headers=headers)
        if isinstance(body, dict):
            response.headers["Content-Type"] = "application/json"
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals are not used."""

    def rebuild_request(self, params: dict[str, str]) -> OAuth2Request:
        """An authorization request from the parameters validated and stored at `/authorize`.

        authlib reads the parameters from the payload alone and the URI only for its https check, so
        the URI is the endpoint's without a query: encoding the parameters into it cost as much as
        the rest of the rebuild.
        """
        request = OAuth2Request("GET", f"{self.context.issuer}/authorize")
        request.payload = BasicOAuth2Payload(dict(params))
        return request
