"""Health, readiness and metrics endpoints for the platform that runs the gateway.

``/healthz``: the process answers. ``/readyz``: this worker can serve logins: the store answers and
every configured metadata source has a verified, unexpired copy in force (a gateway that trusts no
provider must not take traffic). ``/metrics``: Prometheus text (`gateway.observability.metrics`), for
a scraper with the configured bearer token, else 401; without a token configured, open in development
or with ``metrics.public``, and 404 otherwise (`gateway.observability.metrics.scrape_access`). The probes
stay open: they say only whether this worker can serve.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import generate_latest

from gateway.errors import StoreUnavailable
from gateway.observability.metrics import Scrape
from gateway.observability.metrics import scrape_access

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is alive."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the store answers and every metadata source is trusted."""
    services = current_app.extensions["eid_gateway"]
    try:
        services.store.ping()
    except StoreUnavailable:
        return jsonify(status="unavailable", store="down"), 503
    problems = services.trust.readiness()
    if problems:
        return jsonify(status="unavailable", metadata=problems), 503
    return jsonify(status="ready"), 200


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of the trust facts, to whom `scrape_access` allows."""
    services = current_app.extensions["eid_gateway"]
    access = scrape_access(services.settings.metrics, request.headers.get("Authorization"))
    if access is Scrape.HIDDEN:
        abort(404)
    if access is not Scrape.SERVE:
        log.info("metrics request refused", extra={"reason": access.value})
        return Response(
            "a bearer token is required\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},  # RFC 6750 3
            content_type="text/plain; charset=utf-8",
        )
    return Response(generate_latest(services.metrics), content_type=CONTENT_TYPE_LATEST)
