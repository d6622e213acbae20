"""Rules that span several settings, and what production refuses.

Production must never run with development conveniences: the sandbox, the
in-process store (which cannot be shared between workers), generated keys or a
plain-http issuer. Each refusal names the file and key to change.
"""

from __future__ import annotations

from gateway.errors import Problem
from gateway.settings.schema import Settings


def check_settings(settings: Settings) -> list[Problem]:
    """Every cross-field problem in ``settings`` (empty when valid)."""
    file = settings.source
    problems: list[Problem] = []
    memory = settings.store_url.startswith("memory://")
    if memory and settings.workers > 1:
        problems.append(
            Problem(file, "store.url", "the in-process store cannot be shared by several workers: use redis://")
        )
    seen: set[str] = set()
    for index, client in enumerate(settings.clients):
        if client.client_id in seen:
            problems.append(Problem(file, f"clients[{index}].client_id", f"{client.client_id!r} is registered twice"))
        seen.add(client.client_id)
        for uri in client.redirect_uris:
            if "#" in uri:
                problems.append(Problem(file, f"clients[{index}].redirect_uris", "must not contain a fragment"))
            elif not settings.development and not uri.startswith("https://"):
                problems.append(Problem(file, f"clients[{index}].redirect_uris", f"{uri} must use https"))
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
        for name in ("oidc-signing.pem", "saml-signing.pem", "saml-encryption.pem"):
            if not (settings.keys_dir / name).is_file():
                problems.append(
                    Problem(
                        file,
                        "keys_dir",
                        f"{settings.keys_dir / name} is missing: run `eid-gateway keys generate`",
                    )
                )
    return problems
