"""Rules that span several settings, and what production refuses.

Production must never run with development conveniences: the sandbox, the
in-process store (which cannot be shared between workers), generated keys or a
plain-http issuer. Each refusal names the file and key to change.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.errors import Problem
from gateway.mapping.attributes import load_profiles
from gateway.settings.schema import ClientSettings
from gateway.settings.schema import Settings
from gateway.store import check_store_url


def _at(client: ClientSettings, name: str, message: str) -> Problem:
    """A problem with ``client``'s setting ``name``, located where the operator wrote the client."""
    return Problem(client.written_in[0], client.config_key(name), message)


def check_settings(settings: Settings) -> list[Problem]:
    """Every cross-field problem in ``settings`` (empty when valid)."""
    file = settings.source
    problems: list[Problem] = []
    memory = settings.store_url.startswith("memory://")
    store_url_problem = check_store_url(settings.store_url)
    if store_url_problem:
        problems.append(Problem(file, "store.url", store_url_problem))
    if memory and settings.workers > 1:
        problems.append(
            Problem(file, "store.url", "the in-process store cannot be shared by several workers: use redis://")
        )
    seen: set[str] = set()
    for client in settings.clients:
        if client.client_id in seen:
            problems.append(_at(client, "client_id", f"{client.client_id!r} is registered twice"))
        seen.add(client.client_id)
        for uri in client.redirect_uris:
            if "#" in uri:
                problems.append(_at(client, "redirect_uris", "must not contain a fragment"))
            elif not settings.development and not uri.startswith("https://"):
                problems.append(_at(client, "redirect_uris", f"{uri} must use https"))
        if client.jwks_uri and not settings.development and not client.jwks_uri.startswith("https://"):
            # The client's signing keys: fetched over plain http they could be swapped in transit.
            problems.append(_at(client, "jwks_uri", "must use https"))
        problems.extend(_check_logout_uris(settings, client))
    problems.extend(_check_service_providers(settings))
    problems.extend(_check_signing_algs(settings))
    if not settings.development:
        problems.extend(_check_trust(settings))
    if settings.sweden_connect:
        problems.extend(_check_sweden_connect(settings))
    if not settings.development:
        if settings.sandbox:
            problems.append(Problem(file, "sandbox", "the sandbox provider is for development only"))
        if memory:
            problems.append(Problem(file, "store.url", "production needs a shared store: use redis://"))
        if not settings.issuer.startswith("https://"):
            problems.append(Problem(file, "issuer", "production needs an https issuer"))
        if settings.secret_key is None:
            problems.append(Problem(file, "secret_key", "is required in production (use !env or !envfile)"))
        if not settings.providers:
            problems.append(Problem(file, "providers", "production needs at least one e-ID provider"))
        for name in ("oidc-signing.pem", "saml-signing.pem", "saml-encryption.pem", "oidc-encryption.pem"):
            if not (settings.keys_dir / name).is_file():
                problems.append(
                    Problem(
                        file,
                        "keys_dir",
                        f"{settings.keys_dir / name} is missing: run `eid-gateway keys generate`",
                    )
                )
    return problems


_ALG_SETTINGS = ("id_token_signed_response_alg", "userinfo_signed_response_alg")


def _check_signing_algs(settings: Settings) -> list[Problem]:
    """Every algorithm a client asks tokens to be signed with has a key in ``keys_dir``.

    RS256 comes from an RSA ``oidc-signing`` key, ES256 from ``oidc-signing-ec`` or an EC ``oidc-signing``.
    A directory without keys yet is not judged: the first start (development) or `keys generate` makes
    every role.
    """
    wanted = [(client, name, getattr(client, name)) for client in settings.clients for name in _ALG_SETTINGS]
    wanted = [(client, name, alg) for client, name, alg in wanted if alg is not None]
    primary = settings.keys_dir / "oidc-signing.pem"
    if not wanted or not primary.is_file():
        return []
    try:
        primary_is_ec = isinstance(
            serialization.load_pem_private_key(primary.read_bytes(), None), ec.EllipticCurvePrivateKey
        )
    except (OSError, ValueError):
        return []  # reported where the keys are loaded, with the file named
    available = {"ES256" if primary_is_ec else "RS256"}
    if (settings.keys_dir / "oidc-signing-ec.pem").is_file():
        available.add("ES256")
    fix = {
        "ES256": f"needs the oidc-signing-ec key: run `eid-gateway keys generate --dir {settings.keys_dir}` "
        "(it adds missing keys and changes none)",
        "RS256": "needs an RSA oidc-signing key, and this one is EC",
    }
    return [_at(client, name, f"{alg} {fix[alg]}") for client, name, alg in wanted if alg not in available]


def _check_logout_uris(settings: Settings, client: ClientSettings) -> list[Problem]:
    """A client's logout URIs: no fragment, https outside development.

    `post_logout_redirect_uris` follow the redirect URIs' rule (RP-Initiated Logout 1.0 3.1). The
    `backchannel_logout_uri` receives logout tokens, which name the citizen's session: Back-Channel
    Logout 1.0 2.2 says it SHOULD use https and MAY use http where the OP allows, which only
    development does; a fragment is never sent, so one would only mislead.
    """
    problems: list[Problem] = []
    named = [("post_logout_redirect_uris", uri) for uri in client.post_logout_redirect_uris]
    if client.backchannel_logout_uri is not None:
        named.append(("backchannel_logout_uri", client.backchannel_logout_uri))
    for name, uri in named:
        if "#" in uri:
            problems.append(_at(client, name, "must not contain a fragment"))
        elif name == "backchannel_logout_uri" and not uri.startswith(("https://", "http://")):
            problems.append(_at(client, name, f"{uri} must be an http(s) URL: the gateway POSTs to it"))
        elif not settings.development and not uri.startswith("https://"):
            problems.append(_at(client, name, f"{uri} must use https"))
    return problems


def _check_service_providers(settings: Settings) -> list[Problem]:
    """SP entities must be distinct, name known attribute sets, and be the ones clients refer to."""
    file = settings.source
    problems: list[Problem] = []
    known_sets = load_profiles().attribute_sets
    entity_ids = {settings.saml.entity_id}
    for index, sp in enumerate(settings.saml.service_providers):
        key = f"saml.service_providers[{index}]"
        if sp.entity_id in entity_ids:
            problems.append(Problem(file, f"{key}.entity_id", f"{sp.entity_id} is used by another SP entity"))
        entity_ids.add(sp.entity_id)
        if sp.attribute_set is not None and sp.attribute_set not in known_sets:
            problems.append(Problem(file, f"{key}.attribute_set", f"must be one of {', '.join(known_sets)}"))
    sp_ids = {sp.id for sp in settings.saml.service_providers}
    for client in settings.clients:
        if client.sp is not None and client.sp not in sp_ids:
            problems.append(_at(client, "sp", f"{client.sp!r} is not in saml.service_providers"))
    return problems


def _check_sweden_connect(settings: Settings) -> list[Problem]:
    """The Sweden Connect OIDC profile's rules that configuration decides.

    SCOIDC 2.3.1: clients authenticate with private_key_jwt only (mTLS is not
    offered); SCOIDC 3.2: client metadata MUST include contacts, client_name#sv
    and #en, logo_uri and client_uri; SCOIDC 2.2.1 (and TAR 2.2): sessions last
    at most 60 minutes.
    """
    file = settings.source
    problems: list[Problem] = []
    if settings.lifetimes.session_absolute > 3600:
        problems.append(Problem(file, "lifetimes.session_absolute", "must be at most 3600 in Sweden Connect mode"))
    for client in settings.clients:
        if client.auth_method != "private_key_jwt":
            problems.append(_at(client, "token_endpoint_auth_method", "must be private_key_jwt in Sweden Connect mode"))
        for lang in ("sv", "en"):
            if not client.display_name.get(lang):
                problems.append(_at(client, f"client_name#{lang}", "is required in Sweden Connect mode"))
        for name in ("contacts", "logo_uri", "client_uri"):
            if not getattr(client, name):
                problems.append(_at(client, name, "is required in Sweden Connect mode"))
    return problems


def _check_trust(settings: Settings) -> list[Problem]:
    """Production trusts only signed metadata over https, and publishes SP metadata the federation accepts.

    DP 2: metadata signature MUST verify before use, so every source needs its pinned certificate.
    TAR 3.1, 3.2, 3.5.2 and DP 2.1.1.1: the SP metadata names its organisation, has a Swedish display
    name and a logo in mdui:UIInfo, and declares public- or private-sector service type.
    """
    file = settings.source
    problems: list[Problem] = []
    for index, source in enumerate(settings.saml.metadata):
        key = f"saml.metadata[{index}]"
        if source.signing_cert is None:
            problems.append(
                Problem(file, f"{key}.signing_cert", "production trusts only signed metadata: pin the signer's cert")
            )
        if source.url is not None and not source.url.startswith("https://"):
            problems.append(Problem(file, f"{key}.url", "production fetches metadata over https only"))
    info = settings.saml.sp_metadata
    key = "saml.sp_metadata"
    if info.service_type is None:
        problems.append(Problem(file, f"{key}.service_type", "is required: public-sector-sp or private-sector-sp"))
    if not info.display_name.get("sv"):
        problems.append(Problem(file, f"{key}.display_name", "needs a Swedish name (sv) for mdui:UIInfo"))
    if not info.logos:
        problems.append(Problem(file, f"{key}.logos", "needs at least one logo for mdui:UIInfo"))
    if info.organization is None:
        problems.append(Problem(file, f"{key}.organization", "is required (name, display_name, url, number)"))
    return problems
