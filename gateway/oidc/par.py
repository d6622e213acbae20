"""Pushed authorization requests (RFC 9126): the e-service POSTs its request first and gets a `request_uri`.

The push is client-authenticated like the token endpoint (RFC 9126 2), so the
parameters are known to come from the client, never from the browser. They
are validated exactly as at `/authorize` (a request object inside is verified
here), and errors are JSON (RFC 9126 2.3), not redirects. The validated
parameters are sealed in the store for 60 seconds under the hash of a random
`request_uri` (RFC 9126 2.2, 7.1), and `/authorize` takes them once
(`gateway.oidc.requests`): a second use, another client or a late use fails.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from typing import Final

from authlib.oauth2 import OAuth2Error

from gateway.errors import CitizenError
from gateway.errors import ClientError
from gateway.oidc.grants import CodeGrant
from gateway.oidc.records import PushedRequest
from gateway.oidc.request_object import InvalidRequestObject
from gateway.oidc.requests import REQUEST_URI_PREFIX
from gateway.oidc.requests import RedirectError
from gateway.oidc.requests import request_object_parameters
from gateway.oidc.requests import validate_authorization
from gateway.oidc.server import GatewayAuthorizationServer
from gateway.store import keys as store_keys

PAR_LIFETIME: Final = 60
"""RFC 9126 2.2 suggests a short lifetime; the design's state table says 60 s."""

_CLIENT_AUTH_FIELDS: Final = ("client_assertion", "client_assertion_type", "client_secret")


@dataclass(frozen=True, slots=True)
class PushedUri:
    """The answer to a push (RFC 9126 2.2)."""

    request_uri: str
    expires_in: int


def push(server: GatewayAuthorizationServer, http_request: Any) -> PushedUri:
    """Authenticate the client, validate its request and store it; `ClientError` (JSON) on any failure."""
    oauth_request = server.create_oauth2_request(http_request)
    try:
        client = server.authenticate_client(oauth_request, CodeGrant.TOKEN_ENDPOINT_AUTH_METHODS, endpoint="par")
    except OAuth2Error as error:
        raise ClientError(error.error, error.description or "", status=error.status_code or 401) from None
    form = http_request.form
    params: dict[str, str] = {}
    for name in form:
        if len(form.getlist(name)) > 1:
            raise ClientError("invalid_request", f"parameter {name[:40]} is repeated")
        if name not in _CLIENT_AUTH_FIELDS:
            params[name] = form[name]
    if params.get("client_id", client.client_id) != client.client_id:
        raise ClientError("invalid_request", "client_id differs from the authenticated client")
    if "request_uri" in params:
        raise ClientError("invalid_request", "request_uri must not be pushed (RFC 9126 2.1)")
    if "request" in params:
        try:
            params = request_object_parameters(server, client, params["request"])
        except InvalidRequestObject as exc:
            raise ClientError("invalid_request_object", str(exc)) from None
    params["client_id"] = client.client_id
    try:
        validated = validate_authorization(server, client, params)
    except RedirectError as error:
        raise ClientError(error.error, error.description) from None
    except CitizenError:
        raise ClientError("invalid_request", "redirect_uri is missing or not registered for the client") from None
    request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
    record = PushedRequest(client_id=client.client_id, params=validated.params)
    server.context.records.put(store_keys.par(request_uri), record, PAR_LIFETIME)
    return PushedUri(request_uri=request_uri, expires_in=PAR_LIFETIME)
