"""Machine endpoints for e-services: discovery, JWKS, PAR, token, userinfo (parse, call, respond)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from gateway.oidc.discovery import provider_metadata
from gateway.oidc.par import push
from gateway.oidc.userinfo import bearer_token
from gateway.oidc.userinfo import userinfo

blueprint = Blueprint("oidc", __name__)


def _services() -> Any:
    return current_app.extensions["eid_gateway"]


def _cors(response: Response) -> Response:
    """Public documents may be read from browsers anywhere; they hold nothing secret."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """OpenID Provider metadata."""
    services = _services()
    providers = services.login.providers
    document = provider_metadata(
        services.settings.issuer,
        providers.acr_values_supported(services.settings.acr_policy),
        services.signing_keys.algs,
        sweden_connect=services.settings.sweden_connect,
        user_message_supported=providers.any_user_message(),
    )
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return _cors(response)


@blueprint.get("/jwks")
def jwks() -> Response:
    """The public keys that verify our tokens (next, active and previous)."""
    response = jsonify(_services().signing_keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return _cors(response)


@blueprint.post("/par")
def par() -> Response:
    """Pushed authorization request (RFC 9126 2)."""
    pushed = push(_services().login.oidc, request)
    response = jsonify(request_uri=pushed.request_uri, expires_in=pushed.expires_in)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/token")
def token() -> Response:
    """Code for tokens (RFC 6749 4.1.3)."""
    response: Response = _services().login.oidc.create_token_response(request)
    return response


@blueprint.route("/userinfo", methods=["GET", "POST"])
def userinfo_endpoint() -> Response:
    """Claims for an access token (OIDC Core 5.3)."""
    result = userinfo(_services().login.oidc.context, bearer_token(request.headers.get("Authorization")))
    if result.jwt is not None:
        response = Response(result.jwt, content_type="application/jwt")
    else:
        response = jsonify(result.claims)
    response.headers["Cache-Control"] = "no-store"
    return response
