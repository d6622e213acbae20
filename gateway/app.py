"""`create_app`: the composition root, the only place that wires the parts together.

Everything expensive happens here, once per process: reading keys, parsing
metadata, building the pysaml2 SP and the authlib server. Requests then only
use what was built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask import Response
from flask import jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.errors import StoreUnavailable
from gateway.login import views as login_views
from gateway.login.binding import Binder
from gateway.login.flow import LoginServices
from gateway.observability.audit import Audit
from gateway.oidc import views as oidc_views
from gateway.oidc.clients import ClientRegistry
from gateway.oidc.server import GatewayAuthorizationServer
from gateway.oidc.server import OidcContext
from gateway.providers.registry import ProviderRegistry
from gateway.saml import views as saml_views
from gateway.saml.replay import ReplayGuard
from gateway.saml.sp import ServiceProvider
from gateway.saml.sp_metadata import sp_metadata_xml
from gateway.settings.schema import Settings
from gateway.store import open_store
from gateway.store.base import Store
from gateway.store.records import RecordStore
from gateway.store.sealed import Sealer
from gateway.trust.keystore import derive
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.signing_keys import SigningKeys
from gateway.web.errors import register_error_handlers
from gateway.web.security import add_security_headers

MAX_REQUEST_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class Services:
    """What the views reach through `current_app.extensions["eid_gateway"]`."""

    settings: Settings
    store: Store
    login: LoginServices
    signing_keys: SigningKeys
    sandbox: Any


def _metadata_documents(settings: Settings) -> list[str]:
    documents = []
    for source in settings.saml.metadata:
        if source.file is not None:
            documents.append(source.file.read_text(encoding="utf-8"))
    return documents


def create_app(settings: Settings) -> Flask:
    """Build the gateway for ``settings``."""
    if settings.development:
        # authlib refuses http:// URLs otherwise; production refuses an http issuer in config check.
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
        generate_keys(settings.keys_dir)
    keys = load_keys(settings.keys_dir, settings.secret_key)
    store = open_store(settings.store_url, settings.store_prefix)
    records = RecordStore(store, Sealer.from_secret(keys.secret))

    providers = list(settings.providers)
    clients = list(settings.clients)
    metadata = _metadata_documents(settings)
    sandbox = None
    if settings.sandbox:
        from gateway.sandbox import Sandbox

        sandbox = Sandbox.build(settings.issuer, settings.keys_dir, keys.secret)
        providers.append(sandbox.provider)
        clients.append(sandbox.client)
        metadata.append(sandbox.idp.metadata_xml())

    signing_keys = SigningKeys(keys)
    context = OidcContext(
        issuer=settings.issuer,
        store=store,
        records=records,
        lifetimes=settings.lifetimes,
        signing_keys=signing_keys,
        pairwise_key=derive(keys.secret, "pairwise subject"),
        clients=ClientRegistry(clients),
    )
    sp = ServiceProvider(
        entity_id=settings.saml.entity_id,
        base_url=settings.issuer,
        keys=keys,
        metadata_xml=metadata,
        clock_skew=settings.saml.clock_skew,
    )
    login = LoginServices(
        settings=settings,
        records=records,
        oidc=GatewayAuthorizationServer(context),
        sp=sp,
        providers=ProviderRegistry(providers),
        replay=ReplayGuard(store),
        binder=Binder(derive(keys.secret, "cookies"), secure=not settings.development),
        audit=Audit(derive(keys.secret, "log pseudonyms")),
    )

    app = Flask(__name__, static_folder="web/static", template_folder="web/templates")
    app.config.update(
        ISSUER=settings.issuer,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        TRAP_HTTP_EXCEPTIONS=False,
        PROPAGATE_EXCEPTIONS=False,
    )
    app.extensions["eid_gateway"] = Services(settings, store, login, signing_keys, sandbox)
    app.register_blueprint(oidc_views.blueprint)
    app.register_blueprint(login_views.blueprint)
    app.register_blueprint(saml_views.blueprint)
    if sandbox is not None:
        sandbox.attach(app, sp_metadata_xml(sp))
    _register_health(app, store)
    register_error_handlers(app)
    app.after_request(add_security_headers)
    if not settings.development:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0)  # type: ignore[method-assign]
    return app


def _register_health(app: Flask, store: Store) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            store.ping()
        except StoreUnavailable:
            return jsonify(status="unavailable", store="down"), 503
        return jsonify(status="ready"), 200


def keys_path(settings: Settings) -> Path:
    """Where the gateway's keys are read from."""
    return settings.keys_dir
