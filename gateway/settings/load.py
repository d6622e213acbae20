"""Load `gateway.yaml`, provider files and client files into `Settings`.

Every problem is collected as a `Problem(file, key, message)` and reported
together, so an operator fixes a configuration in one pass rather than one
error per restart. YAML is read with the safe loader; `!env NAME` and
`!envfile NAME` pull secrets from the environment (or a file it names), so no
secret needs to live in the configuration file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError
from gateway.errors import Problem
from gateway.mapping.attributes import load_profiles
from gateway.settings.schema import AUTH_METHODS
from gateway.settings.schema import ENV_DEVELOPMENT
from gateway.settings.schema import ENV_PRODUCTION
from gateway.settings.schema import ClientSettings
from gateway.settings.schema import Contact
from gateway.settings.schema import KeyRollover
from gateway.settings.schema import Lifetimes
from gateway.settings.schema import Logo
from gateway.settings.schema import MetadataRefresh
from gateway.settings.schema import MetadataSource
from gateway.settings.schema import MetricsSettings
from gateway.settings.schema import Organization
from gateway.settings.schema import ProviderSettings
from gateway.settings.schema import RateLimits
from gateway.settings.schema import SamlSettings
from gateway.settings.schema import ServiceProviderSettings
from gateway.settings.schema import Settings
from gateway.settings.schema import SpMetadataSettings
from gateway.settings.theme import Theme
from gateway.settings.theme import colour_problem
from gateway.settings.theme import logo_problem
from gateway.settings.theme import parse_colour

CONFIG_ENV = "EID_GATEWAY_CONFIG"
_SOURCE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_CONTACT_TYPES = ("technical", "support", "administrative", "billing", "other")
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # b64token, RFC 6750 2.1
METRICS_TOKEN_MIN_LENGTH = 32
DEFAULT_BIND = "127.0.0.1:8000"
_MISSING = object()


class _Loader(yaml.SafeLoader):
    """Safe YAML loader with `!env` and `!envfile` tags."""


def _env(loader: _Loader, node: yaml.Node) -> str:
    name = loader.construct_scalar(node)  # type: ignore[arg-type]
    value = os.environ.get(str(name))
    if value is None:
        raise yaml.constructor.ConstructorError(None, None, f"environment variable {name} is not set", node.start_mark)
    return value


def _envfile(loader: _Loader, node: yaml.Node) -> str:
    path = _env(loader, node)
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read the file named by {node.value}: {exc.strerror}", node.start_mark
        ) from None


_Loader.add_constructor("!env", _env)
_Loader.add_constructor("!envfile", _envfile)


class Reader:
    """Typed access to one YAML mapping that records problems instead of raising."""

    def __init__(self, data: Any, file: str, problems: list[Problem], prefix: str = "") -> None:
        self.file = file
        self.problems = problems
        self.prefix = prefix
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.problem("", "must be a mapping")
            data = {}
        self.data: Mapping[str, Any] = data

    def key(self, name: str) -> str:
        """The dotted key path, as shown to the operator."""
        return f"{self.prefix}.{name}" if self.prefix and name else (self.prefix or name)

    def problem(self, name: str, message: str) -> None:
        """Record one problem at ``name`` within this mapping."""
        self.problems.append(Problem(self.file, self.key(name), message))

    def has(self, name: str) -> bool:
        """True when the operator set ``name``."""
        return name in self.data

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        """The value as parsed, or ``default``; a problem if required and absent."""
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            self.problem(name, "is required")
            return None
        return default

    def text(self, name: str, default: Any = _MISSING) -> Any:
        """A non-empty string."""
        value = self.raw(name, default)
        if value is None or value is default:
            return value
        if not isinstance(value, str) or not value.strip():
            self.problem(name, "must be a non-empty string")
            return None if default is _MISSING else default
        return value.strip()

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        """An integer within bounds."""
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, "must be an integer")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.problem(name, f"must be {bound}")
            return default
        return int(value)

    def flag(self, name: str, default: bool) -> bool:
        """A YAML boolean."""
        value = self.raw(name, default)
        if not isinstance(value, bool):
            self.problem(name, "must be true or false")
            return default
        return value

    def choice(self, name: str, options: tuple[str, ...], default: Any = _MISSING) -> Any:
        """One of ``options``."""
        value = self.text(name, default)
        if value is not None and value not in options:
            self.problem(name, f"must be one of {', '.join(options)}")
            return None if default is _MISSING else default
        return value

    def strings(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A list of non-empty strings (a single string is accepted as a list of one)."""
        value = self.raw(name, default)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            self.problem(name, "must be a list of strings")
            return default
        return tuple(value)

    def localized(self, name: str, default: Any = _MISSING) -> dict[str, str]:
        """A text per language (``{sv: ..., en: ...}``); a plain string serves every language."""
        value = self.raw(name, default)
        if value is None or value is default:
            return dict(value or {})
        if isinstance(value, str):
            return {"sv": value, "en": value}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.problem(name, "must be a string or a mapping of language to string")
            return {}
        if "sv" not in value:
            self.problem(name, "needs a Swedish text (sv)")
        return dict(value)

    def child(self, name: str) -> Reader:
        """A reader for a nested mapping."""
        return Reader(self.data.get(name), self.file, self.problems, self.key(name))

    def items(self, name: str) -> Iterator[Reader]:
        """Readers for each mapping in a list."""
        value = self.raw(name, [])
        if not isinstance(value, list):
            self.problem(name, "must be a list")
            return
        for index, item in enumerate(value):
            yield Reader(item, self.file, self.problems, f"{self.key(name)}[{index}]")

    def unknown(self, known: set[str]) -> None:
        """Flag keys nobody reads: a typo must not silently fall back to a default."""
        for name in self.data:
            if name not in known:
                self.problem(str(name), "is not a known setting")


def read_yaml(path: Path, problems: list[Problem]) -> Any:
    """Parse one YAML file, recording a problem (with the line) when it cannot be read."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except OSError as exc:
        problems.append(Problem(str(path), "", f"cannot be read: {exc.strerror}"))
    except yaml.MarkedYAMLError as exc:
        line = f"line {exc.problem_mark.line + 1}: " if exc.problem_mark else ""
        problems.append(Problem(str(path), "", f"{line}{exc.problem or exc}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(str(path), "", f"is not valid YAML: {exc}"))
    return None


def _client(reader: Reader) -> ClientSettings | None:
    reader.unknown(
        {
            "client_id", "redirect_uris", "token_endpoint_auth_method", "client_secret", "jwks", "jwks_uri",
            "client_name", "post_logout_redirect_uris", "scopes", "subject_type", "sector_identifier",
            "accept_coordination_number", "logo_uri", "default_acr_values", "userinfo_signed_response_alg",
            "id_token_signed_response_alg",
            "client_name#sv", "client_name#en", "contacts", "client_uri", "sp", "theme",
            "backchannel_logout_uri", "backchannel_logout_session_required",
        }
    )  # fmt: skip
    client_id = reader.text("client_id")
    redirect_uris = reader.strings("redirect_uris")
    if not redirect_uris:
        reader.problem("redirect_uris", "needs at least one exact redirect URI")
    auth_method = reader.choice("token_endpoint_auth_method", AUTH_METHODS, "private_key_jwt")
    secret = reader.text("client_secret", None)
    jwks = reader.raw("jwks", None)
    jwks_uri = reader.text("jwks_uri", None)
    if auth_method in ("client_secret_basic", "client_secret_post"):
        if not secret:
            reader.problem("client_secret", f"is required with {auth_method}")
        elif len(secret) < 32:
            reader.problem("client_secret", "must be at least 32 characters")
    if auth_method == "private_key_jwt" and not (jwks or jwks_uri):
        reader.problem("jwks", "or jwks_uri is required with private_key_jwt")
    if jwks is not None and not (isinstance(jwks, Mapping) and isinstance(jwks.get("keys"), list)):
        reader.problem("jwks", "must be a JWK set: a mapping with a list of keys")
        jwks = None
    subject_type = reader.choice("subject_type", ("pairwise", "public"), "pairwise")
    sector = reader.text("sector_identifier", "")
    if not sector and redirect_uris:
        from urllib.parse import urlsplit

        sector = urlsplit(redirect_uris[0]).hostname or ""
    if client_id is None or auth_method is None:
        return None
    display_name = reader.localized("client_name", {})
    # OIDC Registration 2.1 language-tagged names; SCOIDC 3.2 asks for client_name#sv and #en.
    for lang in ("sv", "en"):
        tagged = reader.text(f"client_name#{lang}", None)
        if tagged:
            display_name[lang] = tagged
    return ClientSettings(
        client_id=client_id,
        redirect_uris=redirect_uris,
        auth_method=auth_method,
        display_name=display_name,
        client_secret=secret,
        jwks=jwks,
        jwks_uri=jwks_uri,
        post_logout_redirect_uris=reader.strings("post_logout_redirect_uris"),
        backchannel_logout_uri=reader.text("backchannel_logout_uri", None),
        backchannel_logout_session_required=reader.flag("backchannel_logout_session_required", False),
        scopes=reader.strings("scopes", ("openid",)),
        subject_type=subject_type or "pairwise",
        sector_identifier=sector,
        accept_coordination_number=reader.flag("accept_coordination_number", False),
        logo_uri=reader.text("logo_uri", None),
        default_acr_values=reader.strings("default_acr_values"),
        userinfo_signed_response_alg=reader.choice("userinfo_signed_response_alg", ("RS256", "ES256"), None),
        id_token_signed_response_alg=reader.choice("id_token_signed_response_alg", ("RS256", "ES256"), None),
        contacts=reader.strings("contacts"),
        client_uri=reader.text("client_uri", None),
        sp=reader.text("sp", None),
        theme=_theme(reader.child("theme")),
        written_in=(reader.file, reader.prefix),
    )


def _file_path(reader: Reader, name: str) -> Path | None:
    """A file named at ``name``, relative to the YAML file that names it; checked as a logo."""
    value = reader.text(name, None)
    if value is None:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = Path(reader.file).parent.resolve() / path
    problem = logo_problem(path)
    if problem:
        reader.problem(name, problem)
        return None
    return path


def _theme(reader: Reader) -> Theme:
    """An e-service's colours and logo; a colour that would break WCAG contrast is a problem here."""
    reader.unknown({"primary", "header", "logo"})
    primary = reader.raw("primary", None)
    if primary is not None and (problem := colour_problem(primary)):
        reader.problem("primary", problem)
        primary = None
    header = reader.raw("header", None)
    if header is not None and (not isinstance(header, str) or parse_colour(header) is None):
        reader.problem("header", "must be a colour written #rrggbb")
        header = None
    return Theme(
        primary=primary.lower() if isinstance(primary, str) else None,
        header=header.lower() if isinstance(header, str) else None,
        logo=_file_path(reader, "logo"),
    )


def load_provider(path: Path, federation: str, problems: list[Problem]) -> ProviderSettings | None:
    """One provider file; ``entity_id`` may be a string or one per federation environment."""
    reader = Reader(read_yaml(path, problems), str(path), problems)
    reader.unknown(
        {
            "id", "kind", "entity_id", "display_name", "description", "logo", "loas", "attribute_set",
            "require_encryption", "principal_selection", "user_message", "countries", "country_hint",
        }
    )  # fmt: skip
    provider_id = reader.text("id", path.stem)
    entity = reader.raw("entity_id")
    if isinstance(entity, Mapping):
        entity = entity.get(federation)
        if not isinstance(entity, str):
            reader.problem("entity_id", f"has no entity ID for the federation {federation!r}")
    elif not isinstance(entity, str) and entity is not None:
        reader.problem("entity_id", "must be a string or a mapping of federation to string")
        entity = None
    loas = reader.strings("loas")
    if not loas:
        reader.problem("loas", "must list at least one level of assurance URI")
    kind = reader.choice("kind", ("saml",), "saml")
    attribute_set = reader.text("attribute_set", "pnr-01")
    if attribute_set is not None and attribute_set not in load_profiles().attribute_sets:
        reader.problem("attribute_set", f"must be one of {', '.join(load_profiles().attribute_sets)}")
    if provider_id is None or not isinstance(entity, str):
        return None
    return ProviderSettings(
        id=provider_id,
        kind=kind or "saml",
        entity_id=entity,
        display_name=reader.localized("display_name"),
        description=reader.localized("description", {}),
        logo=_file_path(reader, "logo"),
        loas=loas,
        attribute_set=attribute_set or "pnr-01",
        require_encryption=reader.flag("require_encryption", True),
        principal_selection=reader.flag("principal_selection", False) if reader.has("principal_selection") else None,
        user_message=reader.flag("user_message", False) if reader.has("user_message") else None,
        countries=_countries(reader),
        country_hint=reader.flag("country_hint", False),
    )


def _countries(reader: Reader) -> tuple[str, ...]:
    """ISO 3166-1 alpha-2 codes, upper-cased (REG 3.1.9.1 compares them case-insensitively)."""
    countries = reader.strings("countries")
    if not all(len(c) == 2 and c.isascii() and c.isalpha() for c in countries):
        reader.problem("countries", "must be ISO 3166-1 alpha-2 country codes, such as DE or NO")
        return ()
    return tuple(c.upper() for c in countries)


def _service_providers(saml: Reader) -> tuple[ServiceProviderSettings, ...]:
    """Further SP entities, one per attribute profile (TAR 3.4); ids and entity IDs must be unique."""
    found: list[ServiceProviderSettings] = []
    for item in saml.items("service_providers"):
        item.unknown({"id", "entity_id", "attribute_set", "entity_categories"})
        sp_id = item.text("id")
        entity_id = item.text("entity_id")
        if sp_id == "default":
            item.problem("id", "`default` names the SP of saml.entity_id; choose another id")
        if sp_id and any(sp.id == sp_id for sp in found):
            item.problem("id", f"{sp_id!r} is used twice")
        if sp_id and entity_id:
            found.append(
                ServiceProviderSettings(
                    id=sp_id,
                    entity_id=entity_id,
                    attribute_set=item.text("attribute_set", None),
                    entity_categories=item.strings("entity_categories"),
                )
            )
    return tuple(found)


def _metadata_sources(reader: Reader, base: Path) -> tuple[MetadataSource, ...]:
    sources = []
    names: set[str] = set()
    for item in reader.items("metadata"):
        item.unknown({"file", "url", "signing_cert", "name"})
        file = item.text("file", None)
        url = item.text("url", None)
        cert = item.text("signing_cert", None)
        name = item.text("name", "")
        if bool(file) == bool(url):
            item.problem("", "needs exactly one of file or url")
        if url and not cert:
            item.problem("signing_cert", "is required for metadata fetched from a URL")
        if url and not url.startswith(("https://", "http://")):
            item.problem("url", "must be an http(s) URL")
        if name and not _SOURCE_NAME.fullmatch(name):
            item.problem("name", "may hold only letters, digits, '.', '_' and '-'")
        if name and name in names:
            item.problem("name", f"{name!r} names two sources")
        names.add(name)
        source = MetadataSource(
            file=(base / file) if file else None,
            url=url,
            signing_cert=(base / cert) if cert else None,
            name=name,
        )
        for path, key in ((source.file, "file"), (source.signing_cert, "signing_cert")):
            if path is not None and not path.is_file():
                item.problem(key, f"names {path}, which does not exist")
        if (
            source.signing_cert is not None
            and source.signing_cert.is_file()
            and not _is_certificate(source.signing_cert)
        ):
            item.problem("signing_cert", "is not a PEM certificate")
        sources.append(source)
    return tuple(sources)


def _is_certificate(path: Path) -> bool:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def _metadata_refresh(reader: Reader, base: Path) -> MetadataRefresh:
    """Refresh bounds (seconds); see `MetadataRefresh`."""
    reader.unknown(set(MetadataRefresh.__dataclass_fields__))
    defaults = MetadataRefresh()
    refresh = MetadataRefresh(
        check_interval=reader.integer("check_interval", defaults.check_interval, minimum=1, maximum=3600),
        default_interval=reader.integer("default_interval", defaults.default_interval, minimum=1, maximum=7 * 86400),
        min_interval=reader.integer("min_interval", defaults.min_interval, minimum=1, maximum=7 * 86400),
        max_interval=reader.integer("max_interval", defaults.max_interval, minimum=1, maximum=7 * 86400),
        retry_interval=reader.integer("retry_interval", defaults.retry_interval, minimum=1, maximum=86400),
        timeout=reader.integer("timeout", defaults.timeout, minimum=1, maximum=300),
        max_bytes=reader.integer("max_bytes", defaults.max_bytes, minimum=1024, maximum=1024**3),
        cache_dir=base / reader.text("cache_dir", str(defaults.cache_dir)),
        expiry_warning_days=reader.integer(
            "expiry_warning_days", defaults.expiry_warning_days, minimum=0, maximum=3650
        ),
    )
    if refresh.min_interval > refresh.max_interval:
        reader.problem("min_interval", "must not be larger than max_interval")
    return refresh


def _sp_metadata(reader: Reader) -> SpMetadataSettings:
    """What the SP metadata declares (DP 2.1.2, TAR 3); URIs and the organisation number are checked here."""
    reader.unknown(
        {
            "service_type", "entity_categories", "contract_categories", "display_name", "description", "logos",
            "organization", "contacts",
        }
    )  # fmt: skip
    service_type = reader.choice("service_type", ("public-sector-sp", "private-sector-sp"), None)
    categories = {name: reader.strings(name) for name in ("entity_categories", "contract_categories")}
    for name, values in categories.items():
        if any(not v.startswith(("http://", "https://", "urn:")) for v in values):
            reader.problem(name, "must be URIs")
    logos = []
    for item in reader.items("logos"):
        item.unknown({"url", "width", "height"})
        url = item.text("url")
        if url and not url.startswith(("https://", "http://")):
            item.problem("url", "must be an http(s) URL the providers can reach")
        width = item.integer("width", 0, minimum=1, maximum=4096)
        height = item.integer("height", 0, minimum=1, maximum=4096)
        if url:
            logos.append(Logo(url=url, width=width, height=height))
    organization = None
    if reader.has("organization"):
        org = reader.child("organization")
        org.unknown({"name", "display_name", "url", "number"})
        number = org.text("number", None)
        if number is not None and not (len(number) == 10 and number.isdigit()):
            org.problem("number", "must be the 10-digit organisation number without hyphen (TAR 3.1)")
        organization = Organization(
            name=org.localized("name"),
            display_name=org.localized("display_name"),
            url=org.localized("url"),
            number=number,
        )
    contacts = []
    for item in reader.items("contacts"):
        item.unknown({"type", "company", "given_name", "surname", "email", "phone"})
        contact_type = item.choice("type", _CONTACT_TYPES)
        emails = item.strings("email")
        if any("@" not in e for e in emails):
            item.problem("email", "must be e-mail addresses")
        if contact_type:
            contacts.append(
                Contact(
                    type=contact_type,
                    company=item.text("company", None),
                    given_name=item.text("given_name", None),
                    surname=item.text("surname", None),
                    email=emails,
                    phone=item.strings("phone"),
                )
            )
    return SpMetadataSettings(
        service_type=service_type,
        entity_categories=categories["entity_categories"],
        contract_categories=categories["contract_categories"],
        display_name=reader.localized("display_name", {}),
        description=reader.localized("description", {}),
        logos=tuple(logos),
        organization=organization,
        contacts=tuple(contacts),
    )


def _key_rollover(reader: Reader) -> KeyRollover:
    """Rollover waits (seconds); see `KeyRollover`."""
    reader.unknown(set(KeyRollover.__dataclass_fields__))
    defaults = KeyRollover()
    return KeyRollover(
        publish_before_activate=reader.integer(
            "publish_before_activate", defaults.publish_before_activate, minimum=0, maximum=90 * 86400
        ),
        grace_period=reader.integer("grace_period", defaults.grace_period, minimum=0, maximum=90 * 86400),
        check_interval=reader.integer("check_interval", defaults.check_interval, minimum=1, maximum=3600),
    )


def _metrics(reader: Reader, development: bool) -> MetricsSettings:
    """Who may read /metrics (see `MetricsSettings`): a scraper with the token, anyone, or nobody.

    Without ``token`` and ``public`` the metrics are open in development only. The token is sent as an
    RFC 6750 bearer token, so it must be one (b64token syntax), and long enough not to be guessed.
    """
    reader.unknown({"token", "public"})
    token = reader.text("token", None)
    if token is not None and len(token) < METRICS_TOKEN_MIN_LENGTH:
        reader.problem("token", f"must be at least {METRICS_TOKEN_MIN_LENGTH} characters (`openssl rand -base64 32`)")
        token = None
    elif token is not None and not _BEARER_TOKEN.fullmatch(token):
        reader.problem("token", "may hold only letters, digits and -._~+/ (then =), as a bearer token (RFC 6750 2.1)")
        token = None
    if reader.has("public"):
        public = reader.flag("public", False)
        if public and reader.has("token"):
            reader.problem("public", "cannot go with a token: either scrapers send the token or anyone may read")
    else:
        public = development and not reader.has("token")
    return MetricsSettings(token=token.encode() if token else None, public=public)


def load_settings(path: str | os.PathLike[str] | None = None, *, bind: str = DEFAULT_BIND) -> Settings:
    """Read the configuration, or the development defaults when there is no file.

    Raises `ConfigError` with every problem found.
    """
    problems: list[Problem] = []
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        data: Any = {}
        file = "<development defaults>"
        base = Path.cwd()
    else:
        config_path = Path(path)
        data = read_yaml(config_path, problems)
        file = str(config_path)
        base = config_path.parent.resolve()
        if problems:
            raise ConfigError(problems)
    reader = Reader(data, file, problems)
    reader.unknown(
        {
            "environment", "issuer", "secret_key", "keys_dir", "store", "workers", "saml", "providers_dir",
            "providers", "federation", "clients", "clients_dir", "lifetimes", "acr_policy", "sandbox",
            "rate_limits",
            "sweden_connect", "key_rollover", "metrics",
        }
    )  # fmt: skip
    environment = reader.choice("environment", (ENV_DEVELOPMENT, ENV_PRODUCTION), ENV_DEVELOPMENT)
    development = environment == ENV_DEVELOPMENT
    issuer = reader.text("issuer", f"http://{bind}" if development else _MISSING)
    if issuer:
        issuer = issuer.rstrip("/")
        if not issuer.startswith(("https://", "http://")):
            reader.problem("issuer", "must be an http(s) URL")
    secret = reader.text("secret_key", None)
    if secret is not None and len(secret) < 32:
        reader.problem("secret_key", "must be at least 32 characters")
    store = reader.child("store")
    store.unknown({"url", "prefix"})
    saml = reader.child("saml")
    saml.unknown({"entity_id", "clock_skew", "metadata", "service_providers", "metadata_refresh", "sp_metadata"})
    federation = reader.choice("federation", ("production", "qa", "sandbox"), "production")
    lifetimes_reader = reader.child("lifetimes")
    lifetimes_reader.unknown(set(Lifetimes.__dataclass_fields__))
    defaults = Lifetimes()
    lifetimes = Lifetimes(
        **{
            name: lifetimes_reader.integer(name, getattr(defaults, name), minimum=1, maximum=86400)
            for name in Lifetimes.__dataclass_fields__
        }
    )
    rate_reader = reader.child("rate_limits")
    rate_reader.unknown(set(RateLimits.__dataclass_fields__))
    rate_defaults = RateLimits()
    rate_limits = RateLimits(
        **{
            name: rate_reader.integer(name, getattr(rate_defaults, name), minimum=0, maximum=1_000_000)
            for name in RateLimits.__dataclass_fields__
        }
    )
    providers = _providers(reader, base, federation or "production", problems)
    clients = tuple(c for c in (_client(r) for r in reader.items("clients")) if c is not None)
    clients += _clients_from_dir(reader, base, problems)
    settings = Settings(
        source=file,
        environment=environment or ENV_DEVELOPMENT,
        issuer=issuer or "",
        keys_dir=base / reader.text("keys_dir", "var/keys" if not development else "var/dev-keys"),
        store_url=store.text("url", "memory://" if development else _MISSING) or "",
        store_prefix=store.text("prefix", "eidgw:"),
        saml=SamlSettings(
            entity_id=saml.text("entity_id", f"{issuer}/saml/metadata"),
            clock_skew=saml.integer("clock_skew", 60, maximum=300),
            metadata=_metadata_sources(saml, base),
            service_providers=_service_providers(saml),
            metadata_refresh=_metadata_refresh(saml.child("metadata_refresh"), base),
            sp_metadata=_sp_metadata(saml.child("sp_metadata")),
        ),
        secret_key=secret.encode() if secret else None,
        workers=reader.integer("workers", 1, minimum=1, maximum=64),
        providers=providers,
        clients=clients,
        lifetimes=lifetimes,
        rate_limits=rate_limits,
        acr_policy=reader.choice("acr_policy", ("as-is", "uncertified"), "as-is"),
        sandbox=reader.flag("sandbox", development),
        sweden_connect=reader.flag("sweden_connect", False),
        key_rollover=_key_rollover(reader.child("key_rollover")),
        metrics=_metrics(reader.child("metrics"), development),
    )
    from gateway.settings.checks import check_settings

    problems.extend(check_settings(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def _providers(reader: Reader, base: Path, federation: str, problems: list[Problem]) -> tuple[ProviderSettings, ...]:
    directory = base / reader.text("providers_dir", "idp_configs")
    enabled = reader.strings("providers")
    found: dict[str, ProviderSettings] = {}
    for name in enabled:
        path = directory / f"{name}.yaml"
        if not path.is_file():
            reader.problem("providers", f"names {name!r}, but {path} does not exist")
            continue
        provider = load_provider(path, federation, problems)
        if provider is not None:
            if provider.id in found:
                problems.append(Problem(str(path), "id", f"{provider.id!r} is used by two providers"))
            found[provider.id] = provider
    return tuple(found.values())


def _clients_from_dir(reader: Reader, base: Path, problems: list[Problem]) -> tuple[ClientSettings, ...]:
    directory = reader.text("clients_dir", None)
    if directory is None:
        return ()
    path = base / directory
    if not path.is_dir():
        reader.problem("clients_dir", f"names {path}, which is not a directory")
        return ()
    clients = []
    for file in sorted(path.glob("*.yaml")):
        client = _client(Reader(read_yaml(file, problems), str(file), problems))
        if client is not None:
            clients.append(client)
    return tuple(clients)
