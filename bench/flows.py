"""One simulated citizen: a browser, the e-service (OIDC RP) and the IdP, stepping through a login.

Each `User` holds two kept-alive HTTP connections to the gateway, as a browser and an e-service
backend (behind the "TLS proxy", see `bench.gateway`) would, and times each gateway leg from request
sent to response read:

* ``authorize``: GET /authorize until the 302 to the IdP (cold) or to the e-service with a code (SSO);
* ``acs``: POST /saml/acs plus the same-site GET /login/resume until the 302 with the code;
* ``token``: POST /token (client_secret_basic, PKCE S256); ``userinfo``: GET /userinfo.

The RP checks what a real one checks (``state``, ``iss``, the ID token's RS256 signature against the
JWKS, ``iss``, ``aud``, ``nonce``, and that userinfo's ``sub`` is the ID token's), so a gateway that
answered fast but wrong would show up as errors, not as speed. The IdP's own time is recorded as
``idp`` (harness work, not gateway work).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.idp import BenchIdP

TX_COOKIE = "__Host-eidgw_tx"  # production settings: Secure cookies carry the __Host- prefix
SESSION_COOKIE = "__Host-eidgw_sid"
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}


class StepFailed(Exception):
    """A step of a login did not produce what it must; ``stage`` names the step."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


@dataclass
class Recorder:
    """Latency samples per leg and error counts per stage, for one thread."""

    legs: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    completed: int = 0

    def leg(self, name: str, seconds: float) -> None:
        """One sample of leg ``name``."""
        self.legs.setdefault(name, []).append(seconds)

    def error(self, failure: StepFailed) -> None:
        """Count a failed login under its stage, keeping one example reason."""
        self.errors[failure.stage] = self.errors.get(failure.stage, 0) + 1
        self.examples.setdefault(failure.stage, failure.reason[:200])


@dataclass(frozen=True, slots=True)
class Reply:
    """A response, read completely."""

    status: int
    location: str
    cookies: dict[str, str]
    body: bytes


class Sender(Protocol):
    """Sends one request to the gateway: a `Connection`, or the in-process one of `bench.inprocess`."""

    def send(self, method: str, path: str, headers: dict[str, str], body: str | None = None) -> Reply:
        """One request, answered completely."""

    def close(self) -> None:
        """Release the connection."""


class ConnectionDropped(ConnectionError):
    """The server closed the connection before answering (an idle kept-alive connection, typically)."""


class Connection:
    """A kept-alive HTTP/1.1 connection to the gateway on a plain socket (reopened after any failure).

    The harness shares the cores with the gateway, so its own cost per request is capacity the gateway
    does not get: ``http.client`` spent about 230 µs of CPU per request (most of it parsing headers
    through the email package), this about a fifth of that. It reads what gunicorn writes: a status
    line, headers, and a body framed by Content-Length or chunked encoding, or ended by the close.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._sock: socket.socket | None = None
        self._buffer = b""

    def send(self, method: str, path: str, headers: dict[str, str], body: str | None = None) -> Reply:
        """One request; a kept-alive connection the server closed while idle is retried once, fresh."""
        fields = {"Host": f"127.0.0.1:{self.port}", **PROXY_HEADERS, **headers}
        payload = body.encode("utf-8") if body is not None else b""
        if body is not None:
            fields["Content-Length"] = str(len(payload))
        lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in fields.items()), "", ""]
        request = "\r\n".join(lines).encode("latin-1") + payload
        for attempt in (1, 2):
            reused = self._sock is not None
            if self._sock is None:
                self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._buffer = b""
            try:
                self._sock.sendall(request)
                reply, keep = self._read_reply(method)
            except (ConnectionDropped, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            except (OSError, ValueError):
                self.close()
                raise
            if not keep:
                self.close()
            return reply
        raise AssertionError("unreachable")

    def _read_reply(self, method: str) -> tuple[Reply, bool]:
        """The next response on the connection, and whether the connection stays open after it."""
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        version, status_text, _ = (status_line + " ").split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x status line: {status_line[:60]!r}")
        status = int(status_text)
        values: dict[str, str] = {}
        cookies: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie, _, _ = value.partition(";")
                cookie_name, _, cookie_value = cookie.partition("=")
                cookies[cookie_name.strip()] = cookie_value
            else:
                values[name] = value
        keep = values.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif values.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        elif "content-length" in values:
            body = self._read_exactly(int(values["content-length"]))
        else:
            body, keep = self._read_to_close(), False
        return Reply(status, values.get("location", ""), cookies, body), keep

    def _fill(self) -> bool:
        """Read more from the socket into the buffer; False at end of stream."""
        assert self._sock is not None
        data = self._sock.recv(65536)
        self._buffer += data
        return bool(data)

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker)) < 0:
            if not self._fill():
                if self._buffer:
                    raise ValueError("connection closed inside a response")
                raise ConnectionDropped("connection closed before a response")
        found, self._buffer = self._buffer[:end], self._buffer[end + len(marker) :]
        return found

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise ValueError("connection closed inside a body")
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._read_until(b"\r\n").partition(b";")[0], 16):
            parts.append(self._read_exactly(size))
            self._read_exactly(2)
        while self._read_until(b"\r\n"):  # trailer fields, up to the empty line
            pass
        return b"".join(parts)

    def _read_to_close(self) -> bytes:
        while self._fill():
            pass
        found, self._buffer = self._buffer, b""
        return found

    def close(self) -> None:
        """Drop the connection."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buffer = b""


def _address() -> str:
    """A random address in 10.0.0.0/8, for one simulated citizen or e-service backend."""
    return "10." + ".".join(str(b) for b in secrets.token_bytes(3))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rsa_public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    """An RSA JWK (RFC 7518 6.3.1) as a cryptography public key."""
    n = int.from_bytes(_b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(_b64url_decode(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


@dataclass(frozen=True, slots=True)
class Site:
    """What every simulated user needs to know about the gateway under test."""

    port: int
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str
    jwks: dict[str, dict[str, Any]]
    """RSA JWKs by kid, from /jwks."""


@dataclass(frozen=True, slots=True)
class Code:
    """An authorization code and what the RP keeps to redeem it."""

    code: str
    verifier: str
    nonce: str


class User:
    """A citizen's browser plus the e-service's client, with their cookies and connections."""

    def __init__(
        self, site: Site, idp: BenchIdP, recorder: Recorder, connect: Callable[[int], Sender] | None = None
    ) -> None:
        self.site = site
        self.idp = idp
        self.rec = recorder
        self.browser = (connect or Connection)(site.port)
        self.backend = (connect or Connection)(site.port)
        self.cookies: dict[str, str] = {}
        # Behind the proxy, the gateway sees each citizen's own address (rate limits count per address):
        # every login comes from a new one, the e-service's backend from one address of its own.
        self._citizen = {"X-Forwarded-For": _address()}
        self._service = {"X-Forwarded-For": _address()}
        self._keys = {kid: rsa_public_key(jwk) for kid, jwk in site.jwks.items()}
        basic = f"{site.client_id}:{site.client_secret}".encode()
        self._basic = "Basic " + base64.b64encode(basic).decode("ascii")

    def close(self) -> None:
        """Close both connections."""
        self.browser.close()
        self.backend.close()

    def forget_session(self) -> None:
        """A new browser: no gateway cookies."""
        self.cookies.clear()

    def _timed(self, leg: str, stage: str, call: Callable[[], Reply]) -> Reply:
        start = time.perf_counter()
        try:
            reply = call()
        except (ValueError, OSError) as exc:
            raise StepFailed(stage, f"{type(exc).__name__}") from None
        self.rec.leg(leg, time.perf_counter() - start)
        return reply

    def _browser_get(self, path: str) -> Reply:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply = self.browser.send("GET", path, {**self._citizen, "Cookie": cookie} if cookie else self._citizen)
        self._keep(reply)
        return reply

    def _keep(self, reply: Reply) -> None:
        for name, value in reply.cookies.items():
            if value and value != '""':
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)

    def _authorize(self, leg: str) -> tuple[Reply, str, str, str]:
        state, nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        self._citizen = {"X-Forwarded-For": _address()}
        challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.site.client_id,
                "redirect_uri": self.site.redirect_uri,
                "scope": self.site.scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        reply = self._timed(leg, "authorize", lambda: self._browser_get(f"/authorize?{query}"))
        if reply.status != 302:
            raise StepFailed("authorize", f"status {reply.status}")
        return reply, state, nonce, verifier

    def _code_from(self, location: str, state: str, stage: str) -> str:
        if not location.startswith(self.site.redirect_uri + "?"):
            raise StepFailed(stage, "not redirected to the e-service")
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if "code" not in params:
            raise StepFailed(stage, f"error {params.get('error')}")
        if params.get("state") != state or params.get("iss") != self.site.issuer:
            raise StepFailed(stage, "state or iss mismatch")
        return params["code"]

    def cold_login(self) -> Code:
        """authorize -> IdP -> ACS -> resume, in a browser without a gateway session; returns the code."""
        self.forget_session()
        reply, state, nonce, verifier = self._authorize("authorize")
        start = time.perf_counter()
        try:
            request = self.idp.receive(reply.location)
            saml_response = self.idp.respond(request)
        except Exception as exc:  # noqa: BLE001 - any IdP refusal is one counted error
            raise StepFailed("idp", type(exc).__name__) from None
        self.rec.leg("idp", time.perf_counter() - start)
        # What urlencode makes of base64, without its per-character loop (a login's largest client cost).
        form_value = saml_response.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        body = f"SAMLResponse={form_value}&RelayState={quote(request.relay_state, safe='')}"
        acs_path = urlsplit(request.acs_url).path
        form = {**self._citizen, "Content-Type": "application/x-www-form-urlencoded"}
        start = time.perf_counter()
        try:
            # Cross-site POST: a SameSite=Lax browser sends no gateway cookies with it.
            posted = self.browser.send("POST", acs_path, form, body)
            if posted.status != 303 or not posted.location.startswith("/login/resume"):
                raise StepFailed("acs", f"status {posted.status}")
            resumed = self._browser_get(posted.location)
        except (ValueError, OSError) as exc:
            raise StepFailed("acs", type(exc).__name__) from None
        if resumed.status != 302:
            raise StepFailed("resume", f"status {resumed.status}")
        self.rec.leg("acs", time.perf_counter() - start)
        return Code(self._code_from(resumed.location, state, "resume"), verifier, nonce)

    def sso_login(self, leg: str = "authorize_sso") -> Code:
        """authorize with an SSO session cookie: the gateway answers with a code at once."""
        if SESSION_COOKIE not in self.cookies:
            raise StepFailed("authorize", "no SSO session cookie")
        reply, state, nonce, verifier = self._authorize(leg)
        return Code(self._code_from(reply.location, state, "authorize"), verifier, nonce)

    def redeem(self, code: Code) -> None:
        """token + userinfo, checked as an RP checks them."""
        body = urlencode(
            {
                "grant_type": "authorization_code",
                "code": code.code,
                "redirect_uri": self.site.redirect_uri,
                "code_verifier": code.verifier,
            }
        )
        headers = {**self._service, "Authorization": self._basic, "Content-Type": "application/x-www-form-urlencoded"}
        reply = self._timed("token", "token", lambda: self.backend.send("POST", "/token", headers, body))
        if reply.status != 200:
            raise StepFailed("token", f"status {reply.status}")
        tokens = json.loads(reply.body)
        claims = self._verify_id_token(tokens.get("id_token", ""), code.nonce)
        bearer = {**self._service, "Authorization": f"Bearer {tokens.get('access_token', '')}"}
        reply = self._timed("userinfo", "userinfo", lambda: self.backend.send("GET", "/userinfo", bearer))
        if reply.status != 200:
            raise StepFailed("userinfo", f"status {reply.status}")
        if json.loads(reply.body).get("sub") != claims.get("sub"):
            raise StepFailed("userinfo", "sub differs from the ID token's")

    def _verify_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = json.loads(_b64url_decode(header_b64))
            key = self._keys[header["kid"]]
            if header.get("alg") != "RS256":
                raise ValueError("alg")
            key.verify(
                _b64url_decode(signature_b64),
                f"{header_b64}.{payload_b64}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            claims: dict[str, Any] = json.loads(_b64url_decode(payload_b64))
        except Exception as exc:  # noqa: BLE001 - any malformed or unverifiable token is one counted error
            raise StepFailed("id_token", type(exc).__name__) from None
        if claims.get("iss") != self.site.issuer or claims.get("aud") != self.site.client_id:
            raise StepFailed("id_token", "iss or aud mismatch")
        if claims.get("nonce") != nonce or claims.get("exp", 0) < time.time():
            raise StepFailed("id_token", "nonce mismatch or expired")
        return claims
