"""Typed, immutable settings: what the operator configured, after validation.

`gateway.settings.load` builds these from `gateway.yaml`, `idp_configs/*.yaml`
and client definitions; nothing else in the gateway reads configuration files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from gateway.settings.theme import Theme

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
    client_secret: str | None = field(default=None, repr=False)
    jwks: Mapping[str, object] | None = None
    jwks_uri: str | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    """Where `/logout` may send the browser afterwards, by exact string match (RP-Initiated Logout 1.0 3)."""
    backchannel_logout_uri: str | None = None
    """Where a logout token is POSTed when the citizen logs out (Back-Channel Logout 1.0 2.2); None: not told."""
    backchannel_logout_session_required: bool = False
    """The client needs `sid` in logout tokens (Back-Channel Logout 1.0 2.2); the gateway always sends it."""
    scopes: tuple[str, ...] = ("openid",)
    subject_type: str = "pairwise"
    sector_identifier: str = ""
    accept_coordination_number: bool = False
    logo_uri: str | None = None
    default_acr_values: tuple[str, ...] = ()
    userinfo_signed_response_alg: str | None = None
    id_token_signed_response_alg: str | None = None
    """RS256 or ES256 (OIDC Dynamic Client Registration 2); None: the gateway's default key's algorithm."""
    contacts: tuple[str, ...] = ()
    client_uri: str | None = None
    sp: str | None = None
    """The SAML SP entity (``saml.service_providers`` id) this client logs in through; None: the default one."""
    theme: Theme = field(default_factory=Theme)
    """Colours and logo on the citizen's pages for this e-service (`gateway.settings.theme`)."""
    written_in: tuple[str, str] = ("", "")
    """Where the operator registered the client: (file, key of its mapping there, "" for a whole file), for messages."""

    def config_key(self, name: str) -> str:
        """The key of this client's setting ``name``, as the operator wrote it in `written_in`'s file."""
        prefix = self.written_in[1]
        return f"{prefix}.{name}" if prefix else name


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
    logo: Path | None = None
    """A PNG or SVG file shown on the chooser (checked like a theme logo, `gateway.settings.theme`)."""
    require_encryption: bool = True
    principal_selection: bool | None = None
    """PSC 2: whether to send PrincipalSelection; None: as the provider's metadata says."""
    user_message: bool | None = None
    """UMSG 2: whether to send UserMessage; None: as the provider's metadata says (EC 6.4)."""
    countries: tuple[str, ...] = ()
    """eIDAS connector only: preselected countries (ISO 3166-1 alpha-2) sent as Scoping/IDPList (DP 5.3.2)."""
    country_hint: bool = False
    """eIDAS connector only: accept a proxy-service URI as the request's authnProvider to preselect a country."""


@dataclass(frozen=True, slots=True)
class MetadataSource:
    """Where provider metadata comes from; a pinned certificate must sign aggregates.

    ``name`` labels the source in status, metrics and audit events (default: from the file or URL).
    Without ``signing_cert`` the source is an unsigned local file, which only development allows.
    """

    file: Path | None = None
    url: str | None = None
    signing_cert: Path | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class MetadataRefresh:
    """How metadata is refreshed (SAML Metadata Interoperability profile; DP 2: consumed periodically).

    A document's ``cacheDuration`` sets the interval, bounded by ``min_interval`` and
    ``max_interval`` (seconds); ``default_interval`` applies without one, ``retry_interval`` after a
    failure. Every worker looks for a newer installed copy each ``check_interval`` seconds. A fetch
    gets ``timeout`` seconds and ``max_bytes`` bytes. Verified copies are kept in ``cache_dir`` as the
    last-known-good across restarts. Provider certificates expiring within ``expiry_warning_days`` are
    reported.
    """

    check_interval: int = 10
    default_interval: int = 3600
    min_interval: int = 300
    max_interval: int = 21600
    retry_interval: int = 60
    timeout: int = 10
    max_bytes: int = 20 * 1024 * 1024
    cache_dir: Path = Path("var/metadata-cache")
    expiry_warning_days: int = 30


@dataclass(frozen=True, slots=True)
class Logo:
    """An mdui:Logo: an https URL the IdPs can reach, with its size in pixels (DP 2.1.1.1, TAR 3.2)."""

    url: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Organization:
    """md:Organization (DP 2.1.1.1, TAR 3.1); ``number`` is the 10-digit organisation number (mdorgext)."""

    name: Localized
    display_name: Localized
    url: Localized
    number: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """One md:ContactPerson."""

    type: str
    company: str | None = None
    given_name: str | None = None
    surname: str | None = None
    email: tuple[str, ...] = ()
    phone: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SpMetadataSettings:
    """What the SP's metadata declares besides endpoints and keys (DP 2.1.2, EC, TAR 3).

    Entity categories are written as one ``http://macedir.org/entity-category`` attribute: the
    service entity categories, the service type (``public-sector-sp`` or ``private-sector-sp``) and
    the contract categories.
    """

    service_type: str | None = None
    entity_categories: tuple[str, ...] = ()
    contract_categories: tuple[str, ...] = ()
    display_name: Localized = field(default_factory=dict)
    description: Localized = field(default_factory=dict)
    logos: tuple[Logo, ...] = ()
    organization: Organization | None = None
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyRollover:
    """The gateway's own keys: how long a next key is published before it may become active, how long
    the previous one stays published and usable after, and how often workers look for key changes."""

    publish_before_activate: int = 86400
    grace_period: int = 86400
    check_interval: int = 10


@dataclass(frozen=True, slots=True)
class ServiceProviderSettings:
    """A further SAML SP entity of the gateway, chosen per client (``sp: <id>``).

    SAML has no per-request attribute selection: the attributes an IdP releases
    follow the SP's declared service entity categories, so an organisation that
    needs personal numbers for some e-services and organisational identities for
    others registers two SPs (TAR 3.4). ``attribute_set`` then replaces the
    provider's own set when the response is checked for required attributes.
    """

    id: str
    entity_id: str
    attribute_set: str | None = None
    entity_categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SamlSettings:
    """The gateway's SAML Service Provider towards the e-ID providers."""

    entity_id: str
    clock_skew: int = 60
    metadata: tuple[MetadataSource, ...] = ()
    service_providers: tuple[ServiceProviderSettings, ...] = ()
    """Further SP entities besides the default one (``entity_id``), one per attribute profile (TAR 3.4)."""
    metadata_refresh: MetadataRefresh = field(default_factory=MetadataRefresh)
    sp_metadata: SpMetadataSettings = field(default_factory=SpMetadataSettings)


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
class RateLimits:
    """Requests per caller address per minute, and failed client authentications per client and address
    per five minutes (`gateway.ratelimit`); 0 turns a limit off."""

    authorize: int = 600
    acs: int = 600
    token: int = 1200
    client_auth_failures: int = 20


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Who may read ``/metrics``: it names the providers and keys the gateway trusts, their expiry dates
    and refresh failures, which is reconnaissance for an attacker (`gateway.observability.health`).

    With a ``token`` a scraper must send ``Authorization: Bearer <token>`` (RFC 6750 2.1); without one,
    ``public`` serves the metrics to anyone, else they are not there (404). The loader makes ``public``
    the default in development only, so production denies by default.
    """

    token: bytes | None = field(default=None, repr=False)
    public: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway was configured with; built once at start."""

    source: str
    environment: str
    issuer: str
    keys_dir: Path
    store_url: str
    saml: SamlSettings
    secret_key: bytes | None = field(default=None, repr=False)
    store_prefix: str = "eidgw:"
    workers: int = 1
    providers: tuple[ProviderSettings, ...] = ()
    clients: tuple[ClientSettings, ...] = ()
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    acr_policy: str = "as-is"
    sandbox: bool = False
    sweden_connect: bool = False
    """Apply the Sweden Connect OIDC profile's stricter rules (SCOIDC 2.2-2.3, 3.2)."""
    key_rollover: KeyRollover = field(default_factory=KeyRollover)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @property
    def development(self) -> bool:
        """True for a developer's machine: sandbox, throwaway keys and http allowed."""
        return self.environment == ENV_DEVELOPMENT
