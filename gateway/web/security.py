"""Security headers on every response (OWASP secure headers; RFC 9700 4.16 on clickjacking).

A strict Content-Security-Policy: nothing inline (no script at all, styles only from our own
files), images only from the gateway, no framing (``frame-ancestors 'none'``), no ``<base>``.
``form-action`` lists exactly where a form on our pages may lead: the gateway itself and the SSO
origins of the configured providers, because browsers also check the redirect that follows a form
POST (the chooser's POST is answered with a 303 to the chosen provider). The origins are computed
from the providers' trusted metadata, at start and again after every metadata refresh, never a
blanket ``https:``. A page whose form is answered with a redirect to one e-service (the chooser's
cancel, the logout question) names that e-service's validated redirect URI with
`allow_form_redirect_to`, for that response only.

Also: no MIME sniffing, no referrer (URLs carry codes and state), and no caching of anything unless
a response says it may be cached (static files and logos, which carry no state).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Response
from flask import g
from flask import has_request_context


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or None for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def content_security_policy(form_action: Iterable[str] = ()) -> str:
    """The policy, with ``form_action`` origins allowed besides the gateway itself."""
    targets = " ".join(["'self'", *sorted({o for o in (origin(u) for u in form_action) if o})])
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        f"form-action {targets}; frame-ancestors 'none'; base-uri 'none'"
    )


def allow_form_redirect_to(url: str) -> None:
    """Let the forms of the response being made also lead to ``url``'s origin (besides the usual ones).

    For a form answered with a redirect to an e-service: browsers check ``form-action`` against that
    redirect too, so without this the citizen's browser would block the way back. ``url`` must be a
    URI already validated for the client (an exact registered redirect URI).
    """
    g.eidgw_form_targets = (*g.get("eidgw_form_targets", ()), url)


_DEFAULTS: tuple[tuple[str, str | None], ...] = (
    ("Content-Security-Policy", None),  # the policy: built per response (see SecurityHeaders.__call__)
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
"""The headers every response gets unless it sets them itself."""


class SecurityHeaders:
    """The ``after_request`` hook that sets the headers on every response.

    The CSP is built once and rebuilt only when the providers' SSO origins change (a metadata
    refresh calls `allow_forms_to`); the swap is one assignment, so a request always sees a
    whole policy.
    """

    def __init__(self, form_action: Iterable[str] = ()) -> None:
        self.allow_forms_to(form_action)

    def allow_forms_to(self, form_action: Iterable[str]) -> None:
        """Replace the origins forms may lead to (besides the gateway itself)."""
        targets = tuple(form_action)
        self._policy = (targets, content_security_policy(targets))

    def __call__(self, response: Response) -> Response:
        """Add the headers ``response`` does not set itself.

        The names present are read in one pass: werkzeug's ``Headers.setdefault`` and ``in`` scan the
        list and raise and catch a ``KeyError`` for every absent name, six times per response here.
        """
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        targets, policy = self._policy
        extra = g.get("eidgw_form_targets", ()) if has_request_context() else ()
        for name, value in _DEFAULTS:
            if name.lower() not in present:
                if value is None:  # the policy: per response when a page allowed one more form target
                    value = content_security_policy((*targets, *extra)) if extra else policy
                headers.add(name, value)
        return response
