"""Health, readiness and metrics endpoints for the platform that runs the gateway.

``/healthz``: the process answers. ``/readyz``: this worker can serve logins: the store answers and
every configured metadata source has a verified, unexpired copy in force (a gateway that trusts no
provider must not take traffic). ``/metrics``: Prometheus text (`gateway.observability.metrics`);
restrict it to the monitoring network at the reverse proxy, as it names providers and key ids.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import generate_latest

from gateway.errors import StoreUnavailable

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
    """Prometheus exposition of the trust facts."""
    registry = current_app.extensions["eid_gateway"].metrics
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
