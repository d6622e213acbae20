"""One place that turns every error into what its audience should see (style rule 5).

- `CitizenError`: a localized page with an incident ID that matches the log line;
- `RedirectError`: the OIDC error back to the client's redirect URI;
- `ClientError`: an OAuth JSON error (token, userinfo);
- `StoreUnavailable`: 503, as a page or as `temporarily_unavailable`;
- anything else: 500, with no detail but the incident ID.
Exception text never reaches a response.

Every page shows an incident ID that is also in the log line about it, so support can find what
happened without the citizen reading out anything technical. The page's language switch re-renders
the same page (same incident ID) from a signed, short-lived token rather than repeating the request,
which may have been a POST or a step that cannot run twice (the resume step).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from gateway.errors import CitizenError
from gateway.errors import ClientError
from gateway.errors import RateLimited
from gateway.errors import StoreUnavailable
from gateway.errors import UpstreamError
from gateway.oidc.requests import RedirectError
from gateway.oidc.userinfo import BearerError
from gateway.web.error_pages import error_page
from gateway.web.i18n import set_switch_target

log = logging.getLogger("gateway.errors")

MACHINE_PATHS = ("/token", "/par", "/userinfo", "/jwks", "/.well-known/")
VIEW_PATH = "/error"
VIEW_MAX_AGE = 3600
"""How long an error page can be shown again in another language."""

blueprint = Blueprint("citizen_error", __name__)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.extensions["eid_gateway_error_key"], salt="eid-gateway error page")


def _render(code: str, status: int, incident: str, continue_url: str | None) -> tuple[str, int, dict[str, str]]:
    token = _serializer().dumps({"c": code, "s": status, "i": incident, "u": continue_url})
    set_switch_target(url_for("citizen_error.show", e=token))
    html = render_template("error.html", code=code, page=error_page(code), incident=incident, continue_url=continue_url)
    return html, status, {"X-Incident-Id": incident}


def citizen_page(code: str, status: int, *, continue_url: str | None = None) -> tuple[str, int, dict[str, str]]:
    """Render the error page for ``code`` under a fresh incident ID; the caller logs that ID."""
    return _render(code, status, secrets.token_hex(6), continue_url)


@blueprint.get(VIEW_PATH)
def show() -> Any:
    """The same error page again (same code, incident ID and way back), in the language asked for."""
    try:
        data = _serializer().loads(request.args.get("e", ""), max_age=VIEW_MAX_AGE)
    except BadSignature:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not isinstance(data.get("i"), str):
        html, status, headers = citizen_page("not_found", 404)
        log.info("error page link invalid or expired", extra={"incident": headers["X-Incident-Id"]})
        return html, status, headers
    continue_url = data.get("u") if isinstance(data.get("u"), str) else None
    return _render(data["c"], int(data.get("s") or 400), data["i"], continue_url)


def _machine_request() -> bool:
    return request.path.startswith(MACHINE_PATHS)


def register_error_handlers(app: Flask, signing_key: bytes) -> None:
    """Install the handlers on ``app``; ``signing_key`` signs the pages' language-switch links."""
    app.extensions["eid_gateway_error_key"] = signing_key
    app.register_blueprint(blueprint)

    @app.errorhandler(RedirectError)
    def _redirect(error: RedirectError) -> BaseResponse:
        from gateway.login.flow import redirect_for

        log.info(
            "authorization error returned to client",
            extra={"error": error.error, "reason": error.description},
        )
        return redirect(redirect_for(error, app.config["ISSUER"]), 302)

    @app.errorhandler(BearerError)
    def _bearer(error: BearerError) -> Response:
        response = jsonify(error=error.error, error_description=error.description)
        response.status_code = error.status
        response.headers["WWW-Authenticate"] = f'Bearer error="{error.error}"'
        return response

    @app.errorhandler(ClientError)
    def _client(error: ClientError) -> Response:
        response = jsonify(error=error.error, error_description=error.description)
        response.status_code = error.status
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CitizenError)
    def _citizen(error: CitizenError) -> Any:
        html, status, headers = citizen_page(
            error.code,
            error.status,
            continue_url=error.continue_url if isinstance(error, UpstreamError) else None,
        )
        log.warning(
            "login stopped",
            extra={"error": error.code, "reason": error.detail, "incident": headers["X-Incident-Id"]},
        )
        return html, status, headers

    @app.errorhandler(StoreUnavailable)
    def _store(error: StoreUnavailable) -> Any:
        if _machine_request():
            log.error("store unavailable", extra={"reason": str(error)})
            response = jsonify(error="temporarily_unavailable", error_description="try again later")
            response.status_code = 503
            response.headers["Retry-After"] = "5"
            return response
        html, status, headers = citizen_page("unavailable", 503)
        log.error("store unavailable", extra={"reason": str(error), "incident": headers["X-Incident-Id"]})
        headers["Retry-After"] = "5"
        return html, status, headers

    @app.errorhandler(RateLimited)
    def _rate_limited(error: RateLimited) -> Any:
        log.warning("rate limit exceeded", extra={"limit": error.limit})
        retry_after = str(error.retry_after)
        if _machine_request():
            response = jsonify(error="temporarily_unavailable", error_description="rate limit exceeded")
            response.status_code = 429
            response.headers["Retry-After"] = retry_after
            response.headers["Cache-Control"] = "no-store"
            return response
        html, status, headers = citizen_page("unavailable", 429)
        headers["Retry-After"] = retry_after
        return html, status, headers

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        if _machine_request() or (request.method == "POST" and error.code != 404):
            response = jsonify(error="invalid_request", error_description=error.name)
            response.status_code = error.code or 400
            return response
        code = "not_found" if error.code == 404 else "internal"
        html, status, headers = citizen_page(code, error.code or 400)
        log.info("page error", extra={"error": code, "status": status, "incident": headers["X-Incident-Id"]})
        return html, status, headers

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        html, status, headers = citizen_page("internal", 500)
        log.error(
            "unexpected error",
            extra={"exception_type": type(error).__name__, "incident": headers["X-Incident-Id"]},
            exc_info=False,
        )
        if _machine_request():
            response = jsonify(error="server_error", error_description=f"incident {headers['X-Incident-Id']}")
            response.status_code = 500
            return response
        return html, status, headers
