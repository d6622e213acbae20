"""Cookies that bind server-side state to one browser.

The transaction cookie names the login this browser started, so a provider
response (which arrives as a cross-site POST without cookies) can only be
completed, at the same-site resume step, by that browser: a response injected
into another browser cannot log it in (design: the resume hop). The session
cookie names the SSO session. Both are signed (itsdangerous, which Flask
already depends on), HttpOnly, SameSite=Lax, and Secure outside development.

Outside development every cookie's name also carries the ``__Host-`` prefix (RFC 6265bis 4.1.3.2):
a browser then keeps it only if it is Secure, set by this host itself and for ``Path=/``, so a
sibling subdomain (another municipal service under the same parent domain) can neither plant a
transaction or session cookie nor shadow one. `Binder.wire_name` is the one place that decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer

TX_COOKIE = "eidgw_tx"
SESSION_COOKIE = "eidgw_sid"
HOST_PREFIX = "__Host-"


@dataclass(frozen=True, slots=True)
class CookieSpec:
    """How one cookie is written."""

    name: str
    value: str
    max_age: int
    secure: bool
    path: str = "/"


class Binder:
    """Signs and checks the values the gateway's cookies carry."""

    def __init__(self, key: bytes, *, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="eid-gateway cookie")
        self.secure = secure

    def wire_name(self, name: str) -> str:
        """The name in the browser: ``__Host-`` + ``name`` when cookies are Secure (see the module docstring)."""
        return HOST_PREFIX + name if self.secure else name

    def cookie(self, name: str, value: str, max_age: int) -> CookieSpec:
        """A signed cookie carrying ``value``, under its `wire_name`."""
        return CookieSpec(self.wire_name(name), self._serializer.dumps({"n": name, "v": value}), max_age, self.secure)

    def read(self, name: str, raw: str | None, max_age: int) -> str | None:
        """The value of a cookie we signed under this name, or None (absent, forged or too old)."""
        if not raw or len(raw) > 1024:
            return None
        try:
            data = self._serializer.loads(raw, max_age=max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("n") != name or not isinstance(data.get("v"), str):
            return None
        return str(data["v"])
