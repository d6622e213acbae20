"""`create_app`: the composition root, the only place that wires the parts together.

Everything expensive happens here, once per process: reading keys, parsing
metadata, building the pysaml2 SP and the authlib server. Requests then only
use what was built. What changes while the gateway runs (verified metadata,
the gateway's keys after a rollover step) is rebuilt off the request path by
`gateway.trust.runtime`, whose background thread a served process starts
(``background=True``, from `gateway.wsgi`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask
from flask import abort
from flask import request
from prometheus_client.registry import CollectorRegistry
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import ratelimit
from gateway.heap import freeze_long_lived
from gateway.login import views as login_views
from gateway.login.binding import Binder
from gateway.login.flow import LoginServices
from gateway.observability import health
from gateway.observability.audit import Audit
from gateway.observability.backchannel_metrics import BackchannelCollector
from gateway.observability.metrics import TrustCollector
from gateway.observability.metrics import build_registry
from gateway.oidc import backchannel
from gateway.oidc import views as oidc_views
from gateway.oidc.clients import ClientRegistry
from gateway.oidc.server import GatewayAuthorizationServer
from gateway.oidc.server import OidcContext
from gateway.providers.registry import ProviderRegistry
from gateway.saml import views as saml_views
from gateway.saml.idp_metadata import idp_capabilities
from gateway.saml.replay import ReplayGuard
from gateway.saml.sp import ServiceProvider
from gateway.saml.sp_metadata import sp_metadata_xml
from gateway.settings.schema import ProviderSettings
from gateway.settings.schema import Settings
from gateway.store import open_store
from gateway.store.base import Store
from gateway.store.records import RecordStore
from gateway.store.sealed import Sealer
from gateway.trust.keystore import KeySet
from gateway.trust.keystore import derive
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.metadata import VerifiedMetadata
from gateway.trust.metadata_refresh import MetadataRefresher
from gateway.trust.metadata_refresh import TrustedSource
from gateway.trust.rollover import describe_keys
from gateway.trust.runtime import TrustRuntime
from gateway.trust.signing_keys import SigningKeys
from gateway.web import branding
from gateway.web import i18n
from gateway.web.errors import register_error_handlers
from gateway.web.security import SecurityHeaders

MAX_REQUEST_BYTES = 512 * 1024


def _require_length() -> None:
    """Refuse a body sent without Content-Length (chunked) with 411 (RFC 9110 15.5.12).

    Flask enforces MAX_REQUEST_BYTES on a chunked body only by cutting it short (werkzeug's LimitedStream
    stops reading at the limit), so an oversized request would be handled as if it ended there. Browsers,
    OIDC client libraries and reverse proxies all send the length of a form post.
    """
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        abort(411)


@dataclass(frozen=True, slots=True)
class Services:
    """What the views reach through `current_app.extensions["eid_gateway"]`."""

    settings: Settings
    store: Store
    login: LoginServices
    signing_keys: SigningKeys
    sandbox: Any
    trust: TrustRuntime | None = None
    metrics: CollectorRegistry | None = None


def _trust_runtime(settings: Settings, store: Store, keys: KeySet, audit: Audit) -> TrustRuntime:
    """Metadata sources and key rollover for this process (`gateway.trust`)."""
    refresh = settings.saml.metadata_refresh
    sources = tuple(TrustedSource.of(source) for source in settings.saml.metadata)
    return TrustRuntime(
        refresher=MetadataRefresher(sources, store, refresh, audit),
        keys=keys,
        keys_dir=settings.keys_dir,
        configured_secret=settings.secret_key,
        metadata_interval=refresh.check_interval,
        keys_interval=settings.key_rollover.check_interval,
    )


def create_app(settings: Settings, *, background: bool = False) -> Flask:
    """Build the gateway for ``settings``; ``background`` starts the trust refresh thread (served processes)."""
    if settings.development:
        # authlib refuses http:// URLs otherwise; production refuses an http issuer in config check.
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
        generate_keys(settings.keys_dir)
    keys = load_keys(settings.keys_dir, settings.secret_key)
    store = open_store(settings.store_url, settings.store_prefix)
    records = RecordStore(store, Sealer.from_secret(keys.secret))

    providers = list(settings.providers)
    clients = list(settings.clients)
    audit = Audit(derive(keys.secret, "log pseudonyms"))
    trust = _trust_runtime(settings, store, keys, audit)
    trusted = trust.load_initial()
    built_in: list[str] = []  # metadata made in this process (the sandbox IdP), trusted as it is
    sandbox = None
    if settings.sandbox:
        from gateway.sandbox import Sandbox

        sandbox = Sandbox.build(settings.issuer, settings.keys_dir, keys.secret)
        providers.append(sandbox.provider)
        clients.append(sandbox.client)
        built_in.append(sandbox.idp.metadata_xml())
    metadata = [m.text for m in trusted] + built_in

    signing_keys = SigningKeys(keys)
    context = OidcContext(
        issuer=settings.issuer,
        store=store,
        records=records,
        lifetimes=settings.lifetimes,
        signing_keys=signing_keys,
        pairwise_key=derive(keys.secret, "pairwise subject"),
        clients=ClientRegistry(clients),
        sweden_connect=settings.sweden_connect,
    )
    sp = ServiceProvider(
        entity_id=settings.saml.entity_id,
        base_url=settings.issuer,
        keys=keys,
        metadata_xml=metadata,
        clock_skew=settings.saml.clock_skew,
        metadata_info=settings.saml.sp_metadata,
    )
    # One further SP entity per attribute profile, chosen per client (TAR 3.4; `saml.service_providers`).
    service_providers = {
        extra.id: ServiceProvider(
            entity_id=extra.entity_id,
            base_url=settings.issuer,
            keys=keys,
            metadata_xml=metadata,
            clock_skew=settings.saml.clock_skew,
            metadata_info=replace(
                settings.saml.sp_metadata,
                entity_categories=extra.entity_categories or settings.saml.sp_metadata.entity_categories,
            ),
        )
        for extra in settings.saml.service_providers
    }
    login = LoginServices(
        settings=settings,
        records=records,
        oidc=GatewayAuthorizationServer(context),
        sp=sp,
        # Read through `sp.client` on each use: a metadata refresh replaces the client.
        providers=ProviderRegistry(providers, lambda entity_id: idp_capabilities(sp.client.metadata, entity_id)),
        replay=ReplayGuard(store),
        binder=Binder(derive(keys.secret, "cookies"), secure=not settings.development),
        audit=audit,
        service_providers=service_providers,
    )
    headers = SecurityHeaders(_sso_urls(sp, providers))
    _follow_trust(trust, (sp, *service_providers.values()), signing_keys, built_in)
    # After the SPs have their new metadata (listeners run in registration order), so may the CSP.
    trust.on_metadata(lambda _trusted: headers.allow_forms_to(_sso_urls(sp, providers)))

    app = Flask(__name__, static_folder="web/static", template_folder="web/templates")
    app.config.update(
        ISSUER=settings.issuer,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        TRAP_HTTP_EXCEPTIONS=False,
        PROPAGATE_EXCEPTIONS=False,
    )
    collector = TrustCollector(
        trust,
        tuple(providers),
        lambda: describe_keys(trust.keys),
        window_days=settings.saml.metadata_refresh.expiry_warning_days,
    )
    registry = build_registry(collector)
    registry.register(BackchannelCollector(lambda: backchannel.counts(context)))
    app.extensions["eid_gateway"] = Services(
        settings, store, login, signing_keys, sandbox, trust=trust, metrics=registry
    )
    app.register_blueprint(oidc_views.blueprint)
    app.register_blueprint(login_views.blueprint)
    app.register_blueprint(saml_views.blueprint)
    if sandbox is not None:
        sandbox.attach(app, sp_metadata_xml(sp))
        # The sandbox IdP encrypts to the SP's published keys: follow a key rollover like a real IdP.
        trust.on_keys(lambda _keys: sandbox.idp.trust_sp(sp_metadata_xml(sp)))
    app.register_blueprint(health.blueprint)
    i18n.init_app(app)
    branding.init_app(app, providers, clients)
    register_error_handlers(app, derive(keys.secret, "error pages"))
    app.after_request(headers)
    ratelimit.install(app, ratelimit.RateLimiter(store), settings.rate_limits)
    app.before_request(_require_length)
    if not settings.development:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0)  # type: ignore[method-assign]
    if background:
        # A served process: what it holds now lives as long as it does, until the trust runtime replaces it.
        trust.on_metadata(lambda _trusted: freeze_long_lived())
        trust.on_keys(lambda _keys: freeze_long_lived())
        freeze_long_lived()
        trust.start()
    return app


def _follow_trust(
    trust: TrustRuntime,
    sps: tuple[ServiceProvider, ...],
    signing_keys: SigningKeys,
    built_in: list[str],
) -> None:
    """Rebuild the SPs and the token signing keys when trusted metadata or the gateway's keys change."""

    def install_metadata(trusted: tuple[VerifiedMetadata, ...]) -> None:
        documents = [m.text for m in trusted] + built_in
        expected = {e.entity_id for m in trusted for e in m.entities if e.idp}
        for each in sps:
            each.install_metadata(documents, expected)

    def install_keys(keys: KeySet) -> None:
        signing_keys.install(keys)
        for each in sps:
            each.install_keys(keys)

    trust.on_metadata(install_metadata)
    trust.on_keys(install_keys)


def _sso_urls(sp: ServiceProvider, providers: list[ProviderSettings]) -> list[str]:
    """The providers' SSO endpoints from trusted metadata: where the chooser's form may lead (CSP form-action)."""
    return [sp.sso_redirect_url(p.entity_id) for p in providers if sp.knows(p.entity_id)]


def keys_path(settings: Settings) -> Path:
    """Where the gateway's keys are read from."""
    return settings.keys_dir
