"""Typed, immutable settings: what the operator configured, after validation.

`gateway.settings.load` builds these from `gateway.yaml`, `idp_configs/*.yaml`
and client definitions; nothing else in the gateway reads configuration files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

ENV_DEVELOPMENT = "development"
ENV_PRODUCTION = "production"

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")

Localized = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """One e-service (OIDC relying party), as registered by the operator."""

    client_id: str
    redirect_uris: tuple[str, ...]
    auth_method: str
    display_name: Localized
    client_secret: str | None = None
    jwks: Mapping[str, object] | None = None
    jwks_uri: str | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ("openid",)
    subject_type: str = "pairwise"
    sector_identifier: str = ""
    accept_coordination_number: bool = False
    logo_uri: str | None = None
    default_acr_values: tuple[str, ...] = ()
    userinfo_signed_response_alg: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One upstream e-ID provider from `idp_configs/<id>.yaml`."""

    id: str
    entity_id: str
    display_name: Localized
    loas: tuple[str, ...]
    attribute_set: str
    kind: str = "saml"
    description: Localized = field(default_factory=dict)
    logo: str | None = None
    require_encryption: bool = True
    principal_selection: bool = False
    user_message: bool = False


@dataclass(frozen=True, slots=True)
class MetadataSource:
    """Where provider metadata comes from; a pinned certificate must sign aggregates."""

    file: Path | None = None
    url: str | None = None
    signing_cert: Path | None = None


@dataclass(frozen=True, slots=True)
class SamlSettings:
    """The gateway's SAML Service Provider towards the e-ID providers."""

    entity_id: str
    clock_skew: int = 60
    metadata: tuple[MetadataSource, ...] = ()


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long each piece of state lives, in seconds."""

    transaction: int = 600
    code: int = 60
    access_token: int = 600
    id_token: int = 300
    session_idle: int = 1800
    session_absolute: int = 3600


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway was configured with; built once at start."""

    source: str
    environment: str
    issuer: str
    keys_dir: Path
    store_url: str
    saml: SamlSettings
    secret_key: bytes | None = None
    store_prefix: str = "eidgw:"
    workers: int = 1
    providers: tuple[ProviderSettings, ...] = ()
    clients: tuple[ClientSettings, ...] = ()
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    acr_policy: str = "as-is"
    sandbox: bool = False

    @property
    def development(self) -> bool:
        """True for a developer's machine: sandbox, throwaway keys and http allowed."""
        return self.environment == ENV_DEVELOPMENT
