"""The sandbox IdP's one page: verify the AuthnRequest, then let the developer pick a test person.

Also a preview of every citizen error page (`/sandbox/error-pages/<code>`), rendered by the same
code as a real error, so designers, translators and the accessibility scan can see each one.

The page works without JavaScript and without inline script or style (the gateway's CSP forbids
both): each test identity is its own HTML form that POSTs a pre-made, signed SAML Response to the
SP's ACS (the HTTP-POST binding, saml-bindings 3.5, with a button instead of the usual auto-submit).
"""

from __future__ import annotations

import logging
from typing import Any
from typing import Final

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template
from flask import request

from gateway.sandbox.idp import SSO_PATH
from gateway.sandbox.idp import SandboxIdP
from gateway.sandbox.idp import SandboxOffer
from gateway.sandbox.idp import SandboxRequestError
from gateway.web.error_pages import PAGES
from gateway.web.errors import citizen_page
from gateway.web.i18n import page_language
from gateway.web.security import allow_form_redirect_to

log = logging.getLogger(__name__)

blueprint = Blueprint("sandbox", __name__)

ERROR_PREVIEW_PATH: Final = "/sandbox/error-pages"
PREVIEW_STATUS: Final = {"unavailable": 503, "internal": 500, "not_found": 404}


def _idp() -> SandboxIdP:
    return current_app.extensions["eid_gateway"].sandbox.idp  # type: ignore[no-any-return]


def _page(offer: SandboxOffer | None, status: int) -> Response:
    services = current_app.extensions["eid_gateway"]
    provider = services.sandbox.provider
    html = render_template(
        "sandbox_idp.html",
        brand_name=provider.display_name.get(page_language()) or provider.display_name["sv"],
        offer=offer,
    )
    # The forms here POST to the ACS, which redirects (via resume) to the e-service: browsers check
    # form-action along that chain, so this page must allow the clients' origins.
    for client in services.login.oidc.context.clients:
        for uri in client.settings.redirect_uris:
            allow_form_redirect_to(uri)
    return Response(html, status=status)


@blueprint.get(ERROR_PREVIEW_PATH + "/<code>")
def error_page_preview(code: str) -> Any:
    """The citizen error page for ``code``, exactly as a real one (and logged like one)."""
    if code not in PAGES:
        abort(404)
    html, status, headers = citizen_page(code, PREVIEW_STATUS.get(code, 400))
    log.info("error page preview", extra={"error": code, "incident": headers["X-Incident-Id"]})
    return html, status, headers


@blueprint.get(SSO_PATH)
def sso() -> Response:
    """SingleSignOnService, HTTP-Redirect binding: the gateway's signed AuthnRequest arrives here."""
    if any(len(values) > 1 for values in request.args.listvalues()):
        log.warning("sandbox IdP refused a request", extra={"reason": "a query parameter occurs twice"})
        return _page(None, 400)
    try:
        offer = _idp().offer(request.args.to_dict(flat=True))
    except SandboxRequestError as error:
        log.warning("sandbox IdP refused a request", extra={"reason": str(error)})
        return _page(None, 400)
    return _page(offer, 200)
