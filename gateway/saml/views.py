"""SAML endpoints that are not part of a login: the SP metadata at a stable URL."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app

from gateway.saml.sp import METADATA_PATH
from gateway.saml.sp_metadata import sp_metadata_xml

blueprint = Blueprint("saml", __name__)


@blueprint.get(METADATA_PATH)
def metadata() -> Response:
    """The SP's metadata, for the federation operator and the providers."""
    services = current_app.extensions["eid_gateway"]
    return Response(sp_metadata_xml(services.login.sp), content_type="application/samlmetadata+xml")


@blueprint.get(f"{METADATA_PATH}/<sp_id>")
def metadata_of(sp_id: str) -> Response:
    """The metadata of a further SP entity (`saml.service_providers`, one per attribute profile)."""
    sp = current_app.extensions["eid_gateway"].login.service_providers.get(sp_id)
    if sp is None:
        abort(404)
    return Response(sp_metadata_xml(sp), content_type="application/samlmetadata+xml")
