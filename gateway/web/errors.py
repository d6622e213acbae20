"""One place that turns every error into what its audience should see (style rule 5).

- `CitizenError`: a localized page with an incident ID that matches the log line;
- `RedirectError`: the OIDC error back to the client's redirect URI;
- `ClientError`: an OAuth JSON error (token, userinfo);
- `StoreUnavailable`: 503, as a page or as `temporarily_unavailable`;
- anything else: 500, with no detail but the incident ID.
Exception text never reaches a response.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask
from flask import Response
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException

from gateway.errors import CitizenError
from gateway.errors import ClientError
from gateway.errors import StoreUnavailable
from gateway.errors import UpstreamError
from gateway.oidc.requests import RedirectError
from gateway.oidc.userinfo import BearerError
from gateway.web.i18n import negotiate
from gateway.web.i18n import translate

log = logging.getLogger("gateway.errors")

MACHINE_PATHS = ("/token", "/userinfo", "/jwks", "/.well-known/")


def _language() -> str:
    ui_locales = request.args.get("ui_locales", "").split()
    accept = [lang for lang, _ in request.accept_languages]
    return negotiate(ui_locales, accept)


def citizen_page(code: str, status: int, *, continue_url: str | None = None) -> tuple[str, int]:
    """Render the error page for ``code`` and log it under a fresh incident ID."""
    incident = secrets.token_hex(6)
    lang = _language()
    html = render_template(
        "error.html",
        lang=lang,
        code=code,
        incident=incident,
        continue_url=continue_url,
        t=lambda key, **values: translate(lang, key, **values),
    )
    return html, status, {"X-Incident-Id": incident}  # type: ignore[return-value]


def _machine_request() -> bool:
    return request.path.startswith(MACHINE_PATHS)


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on ``app``."""

    @app.errorhandler(RedirectError)
    def _redirect(error: RedirectError) -> Response:
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
        log.error("store unavailable", extra={"reason": str(error)})
        if _machine_request():
            response = jsonify(error="temporarily_unavailable", error_description="try again later")
            response.status_code = 503
            response.headers["Retry-After"] = "5"
            return response
        html, status, headers = citizen_page("unavailable", 503)
        headers["Retry-After"] = "5"
        return html, status, headers

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        if _machine_request() or (request.method == "POST" and error.code != 404):
            response = jsonify(error="invalid_request", error_description=error.name)
            response.status_code = error.code or 400
            return response
        code = "not_found" if error.code == 404 else "internal"
        return citizen_page(code, error.code or 400)

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
