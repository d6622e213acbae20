"""gunicorn entry point: `gateway.wsgi:app`, configured from EID_GATEWAY_CONFIG (or development defaults)."""

from __future__ import annotations

import os

from gateway.app import create_app
from gateway.observability.logging import configure
from gateway.settings.load import load_settings

configure(os.environ.get("EID_GATEWAY_LOG_LEVEL", "INFO"))
# background: this process serves, so it keeps its metadata and keys current (gateway.trust.runtime).
app = create_app(load_settings(bind=os.environ.get("EID_GATEWAY_BIND", "127.0.0.1:8000")), background=True)
