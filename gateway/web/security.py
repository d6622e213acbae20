"""Security headers on every response (OWASP secure headers; RFC 9700 4.16 on clickjacking).

A strict Content-Security-Policy (no inline script or style, no framing),
no MIME sniffing, no referrer (URLs carry codes and state), and no caching of
anything that carries login state.
"""

from __future__ import annotations

from flask import Response

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' https: http:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def add_security_headers(response: Response) -> Response:
    """Set the headers every response carries."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response
