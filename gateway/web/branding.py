"""Logos and per-e-service theme CSS, served by the gateway from what the configuration names.

Read once at start from the files `gateway.settings` validated (type, size, contrast). Serving them
from the gateway keeps the CSP at ``img-src 'self'`` and ``style-src 'self'`` (a theme cannot be an
inline style), and means the citizen's browser contacts no third party on the way to their e-ID.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import url_for

from gateway.settings.schema import ClientSettings
from gateway.settings.schema import ProviderSettings
from gateway.settings.theme import LOGO_TYPES
from gateway.settings.theme import Theme
from gateway.settings.theme import darker
from gateway.settings.theme import readable_on

EXTENSION_KEY: Final = "eid_gateway_branding"

blueprint = Blueprint("branding", __name__, url_prefix="/branding")


@dataclass(frozen=True, slots=True)
class Asset:
    """One file to serve, held in memory."""

    body: bytes
    mimetype: str


@dataclass(frozen=True, slots=True)
class ClientBrand:
    """How the citizen's pages show one e-service: its name (per language) and theme URLs."""

    names: dict[str, str]
    logo_url: str | None
    css_url: str | None

    def name(self, language: str) -> str:
        """The display name in ``language``, else Swedish, else any."""
        return self.names.get(language) or self.names.get("sv") or next(iter(self.names.values()), "")


def theme_css(theme: Theme) -> str:
    """CSS custom properties that `gateway.css` reads; colours were checked for contrast at load."""
    lines = []
    if theme.primary:
        lines += [f"--primary: {theme.primary};", f"--primary-hover: {darker(theme.primary)};"]
        lines += [f"--primary-text: {readable_on(theme.primary)};"]
    if theme.header:
        lines += [f"--header-bg: {theme.header};", f"--header-text: {theme.header_text};"]
    return ":root {\n  " + "\n  ".join(lines) + "\n}\n" if lines else ""


class Branding:
    """The logos and theme CSS of every provider and client, loaded once."""

    def __init__(self, providers: Iterable[ProviderSettings], clients: Iterable[ClientSettings]) -> None:
        self.provider_logos: dict[str, Asset] = {}
        self.client_logos: dict[str, Asset] = {}
        self.client_css: dict[str, str] = {}
        self.client_names: dict[str, dict[str, str]] = {}
        for provider in providers:
            if provider.logo is not None:
                self.provider_logos[provider.id] = _asset(provider.logo.read_bytes(), provider.logo.suffix)
        for client in clients:
            self.client_names[client.client_id] = dict(client.display_name)
            if client.theme.logo is not None:
                logo = client.theme.logo
                self.client_logos[client.client_id] = _asset(logo.read_bytes(), logo.suffix)
            css = theme_css(client.theme)
            if css:
                self.client_css[client.client_id] = css

    def provider_logo_url(self, provider_id: str) -> str | None:
        """Where the chooser loads a provider's logo from (None: it shows a generic e-ID symbol)."""
        if provider_id not in self.provider_logos:
            return None
        return url_for("branding.provider_logo", provider_id=provider_id)

    def client(self, client_id: str) -> ClientBrand:
        """The e-service's name and theme; an unknown client is shown by its id, unthemed."""
        return ClientBrand(
            names=self.client_names.get(client_id) or {"sv": client_id},
            logo_url=url_for("branding.client_logo", client_id=client_id) if client_id in self.client_logos else None,
            css_url=url_for("branding.client_theme", client_id=client_id) if client_id in self.client_css else None,
        )


def _asset(body: bytes, suffix: str) -> Asset:
    return Asset(body, LOGO_TYPES[suffix.lower()])


def init_app(app: Flask, providers: Iterable[ProviderSettings], clients: Iterable[ClientSettings]) -> None:
    """Load the branding of ``providers`` and ``clients`` and mount its routes."""
    app.extensions[EXTENSION_KEY] = Branding(providers, clients)
    app.register_blueprint(blueprint)


def branding() -> Branding:
    """The app's branding (for views)."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _serve(asset: Asset | None) -> Response:
    if asset is None:
        abort(404)
    response = Response(asset.body, mimetype=asset.mimetype)
    # An SVG opened on its own (not as an <img>) must not run script or load anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@blueprint.get("/provider/<provider_id>/logo")
def provider_logo(provider_id: str) -> Response:
    """A provider's logo."""
    return _serve(branding().provider_logos.get(provider_id))


@blueprint.get("/client/<client_id>/logo")
def client_logo(client_id: str) -> Response:
    """An e-service's logo."""
    return _serve(branding().client_logos.get(client_id))


@blueprint.get("/client/<client_id>/theme.css")
def client_theme(client_id: str) -> Response:
    """An e-service's colours as CSS custom properties."""
    css = branding().client_css.get(client_id)
    if css is None:
        abort(404)
    return Response(css, mimetype="text/css")
