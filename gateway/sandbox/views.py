"""The sandbox IdP's one page: verify the AuthnRequest, then let the developer pick a test person.

The page works without JavaScript and without inline script or style (the gateway's CSP forbids
both): each test identity is its own HTML form that POSTs a pre-made, signed SAML Response to the
SP's ACS (the HTTP-POST binding, saml-bindings 3.5, with a button instead of the usual auto-submit).
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import render_template
from flask import request

from gateway.sandbox.idp import SSO_PATH
from gateway.sandbox.idp import SandboxIdP
from gateway.sandbox.idp import SandboxOffer
from gateway.sandbox.idp import SandboxRequestError
from gateway.web.i18n import negotiate
from gateway.web.i18n import translate

log = logging.getLogger(__name__)

blueprint = Blueprint("sandbox", __name__)


def _idp() -> SandboxIdP:
    return current_app.extensions["eid_gateway"].sandbox.idp  # type: ignore[no-any-return]


def _page(offer: SandboxOffer | None, status: int) -> Response:
    lang = negotiate([], [lang for lang, _ in request.accept_languages])
    html = render_template(
        "sandbox_idp.html",
        lang=lang,
        t=lambda key, **values: translate(lang, key, **values),
        offer=offer,
    )
    return Response(html, status=status)


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
