"""The attacker's toolkit: drive one login to the hop under attack, forge what arrives there, judge the outcome.

Every test in this package attacks a running gateway (gunicorn + Redis) over HTTP. These helpers keep each
test to the attack itself: `begin` starts a login and stops at the upstream redirect, `refused` and
`logged_in` state the two outcomes exactly (status, error code on the citizen page, code or no code, what
the store holds afterwards), and the XML functions rearrange a signed SAML Response the way signature
wrapping attacks do, without disturbing the octets the signature covers.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import redis
import requests
from lxml import etree

from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import query
from tests.peers.saml_idp import PeerIdP
from tests.peers.saml_idp import PostedResponse
from tests.peers.saml_idp import ReceivedRequest

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": NS_SAMLP, "saml": NS_SAML, "ds": NS_DS}

PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
ATTACKER_PNR = "199203102380"
"""The identity the attacker really has at the provider (Skatteverket test number, the peer's default)."""
VICTIM_PNR = "191212121212"
"""The identity the attacker wants to log in as (Skatteverket's published test number for Tolvan Tolvansson)."""
VICTIM = {"personalIdentityNumber": (VICTIM_PNR,), "givenName": ("Tolvan",), "sn": ("Tolvansson",),
          "displayName": ("Tolvan Tolvansson",), "dateOfBirth": ("1912-12-12",)}  # fmt: skip


# --- the login, hop by hop -----------------------------------------------------------------------


def begin(gateway: RunningGateway, provider_id: str = "idp", client_id: str = "basic-rp", **extra: str) -> LoginSteps:
    """A login that has reached the provider: the browser holds the AuthnRequest redirect."""
    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, client_id), gateway.peers[provider_id])
    started = steps.start(**{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id, **extra})
    assert started.status_code == 302, started.text
    assert steps.upstream_url.startswith(steps.peer.sso_url), steps.upstream_url
    return steps


def received(steps: LoginSteps) -> ReceivedRequest:
    """The AuthnRequest as the provider received it."""
    return steps.peer.receive(steps.upstream_url)


def error_code(response: requests.Response) -> str:
    """The citizen page's error code (``data-error``), which the page shows in words."""
    match = re.search(r'data-error="([a-z_]+)"', response.text)
    assert match, f"no error page ({response.status_code}): {response.text[:500]}"
    return match.group(1)


def refused(
    steps: LoginSteps, expected: str, posted: PostedResponse | None = None, *, reason: str | None = None
) -> None:
    """The ACS refused the response: the citizen sees ``expected``, the e-service gets no code, nothing stays.

    Checked: the ACS answers 303 to resume, resume shows a 400 page with ``expected`` and no redirect, the
    transaction is consumed (a second resume says ``expired``), and no SSO session, code or access token
    was written. With ``reason``, the refusal the gateway logged for this login must mention it, so a test
    cannot pass because its forgery broke on something else (malformed XML, say).
    """
    watch = StoreWatch(steps.rp.gateway)
    if posted is not None:
        steps.posted = posted
    acs = steps.post_to_acs()
    assert acs.status_code == 303, acs.text
    page = steps.resume()
    assert page.status_code == 400, page.text
    assert error_code(page) == expected
    assert "Location" not in page.headers
    assert steps.rp.client.redirect_uri not in page.headers.get("Location", "")
    again = steps.browser.get(steps.resume_url, allow_redirects=False, timeout=10)
    assert again.status_code == 400
    assert error_code(again) == "expired"
    assert watch.new() <= {"rate"}, watch.new()
    assert not watch.gone_except("tx", "rate")
    if reason is not None:
        logged = refusal_reason(steps.rp.gateway, query(steps.resume_url)["tx"])
        assert reason in logged, logged


def refusal_reason(gateway: RunningGateway, tx: str) -> str:
    """Why the gateway refused the upstream response of login ``tx``, from its JSON log (operators see this)."""
    for line in gateway.log_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == "upstream response refused" and entry.get("tx") == tx:
            return str(entry.get("reason", ""))
    raise AssertionError(f"no refusal logged for transaction {tx}")


def logged_in(steps: LoginSteps, posted: PostedResponse | None = None) -> dict[str, Any]:
    """The ACS accepted the response and the e-service got tokens; returns the ID token and userinfo claims.

    The ACS claim on the login is released when the code is issued: no ``lock`` key is left behind.
    """
    if posted is not None:
        steps.posted = posted
    watch = StoreWatch(steps.rp.gateway)
    acs = steps.post_to_acs()
    assert acs.status_code == 303, acs.text
    resumed = steps.resume()
    assert resumed.status_code == 302, resumed.text
    assert "lock" not in watch.new(), watch.new()
    assert "code" in query(steps.callback_url), steps.callback_url
    token = steps.rp.fetch_token(steps.callback_url)
    claims = steps.rp.verify_id_token(token["id_token"])
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    userinfo = requests.get(f"{steps.rp.gateway.url}/userinfo", headers=bearer, timeout=10).json()
    return {**claims, **userinfo}


PERSONAL_DATA = {
    "the attacker's personal identity number": ATTACKER_PNR,
    "the victim's personal identity number": VICTIM_PNR,
    "a family name": "Testsson",
    "another family name": "Tolvansson",
    "a date of birth": "1992-03-10",
}


def assert_log_is_clean(gateway: RunningGateway, **secrets_seen: str) -> None:
    """The gateway's log holds no personal data of the test identities and none of ``secrets_seen``."""
    log = gateway.log_text()
    for what, value in {**PERSONAL_DATA, **secrets_seen}.items():
        assert value not in log, f"{what} found in the gateway log"
    assert "PRIVATE KEY" not in log
    for client in gateway.clients.values():
        assert not client.secret or client.secret not in log, f"the secret of {client.client_id} is in the log"


def token_request(
    gateway: RunningGateway, data: dict[str, str], auth: tuple[str, str] | None = None, **kwargs: Any
) -> requests.Response:
    """POST /token with ``data`` (form-encoded)."""
    return requests.post(f"{gateway.url}/token", data=data, auth=auth, timeout=10, **kwargs)


def code_for(gateway: RunningGateway, client_id: str = "basic-rp", **extra: str) -> LoginSteps:
    """A login through to the redirect back to the e-service: ``steps.callback_url`` holds a fresh code."""
    steps = begin(gateway, client_id=client_id, **extra)
    steps.respond()
    assert steps.post_to_acs().status_code == 303
    assert steps.resume().status_code == 302
    assert "code" in query(steps.callback_url)
    return steps


# --- the store ------------------------------------------------------------------------------------


class StoreWatch:
    """The gateway's keys in Redis before an attack, to compare with what is there after it.

    Keys are grouped by their first segment (``tx``, ``sess``, ``code``, ``at``, ``replay``, ``rate``,
    ``jti``), which `gateway.store.keys` defines.
    """

    def __init__(self, gateway: RunningGateway, redis_url: str | None = None) -> None:
        self._client = redis.Redis.from_url(redis_url or gateway_redis_url(gateway), socket_timeout=2)
        self._prefix = gateway.prefix
        self.before = self.current()

    def current(self) -> set[str]:
        """Every key under the gateway's prefix, prefix removed."""
        found = self._client.scan_iter(match=f"{self._prefix}*", count=1000)
        return {key.decode()[len(self._prefix) :] for key in found}

    def new(self) -> set[str]:
        """The families of keys written since the watch began."""
        return {key.split(":", 1)[0] for key in self.current() - self.before}

    def gone_except(self, *families: str) -> set[str]:
        """Keys that disappeared, other than of ``families``."""
        return {key for key in self.before - self.current() if key.split(":", 1)[0] not in families}

    def ttl(self, key: str) -> int:
        """Seconds to live of a key under the prefix (-1: none, -2: absent)."""
        return int(self._client.ttl(self._prefix + key))


def gateway_redis_url(gateway: RunningGateway) -> str:
    """The store URL the gateway was configured with."""
    import yaml

    config = yaml.safe_load((gateway.workdir / "gateway.yaml").read_text(encoding="utf-8"))
    return str(config["store"]["url"])


# --- SAML documents --------------------------------------------------------------------------------


def with_xml(posted: PostedResponse, xml: str | bytes) -> PostedResponse:
    """``posted`` carrying another document as its SAMLResponse."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return replace(posted, saml_response=base64.b64encode(data).decode("ascii"))


def without_declaration(xml: str) -> str:
    """The document without its XML declaration, ready to be spliced into another."""
    xml = xml.strip()
    if xml.startswith("<?xml"):
        xml = xml[xml.index("?>") + 2 :].lstrip()
    return xml


def parse(xml: str | bytes) -> etree._Element:
    """Parse a document the way an attacker's tool would (no entities, no network)."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def serialize(element: etree._Element) -> str:
    """An element as text."""
    return etree.tostring(element, encoding="unicode")


def splice(host: etree._Element, parent: etree._Element, index: int, fragment: str) -> str:
    """``host`` as text with ``fragment`` inserted verbatim as child ``index`` of ``parent``.

    Signed octets survive only as text: moving a signed element between lxml trees may rewrite its
    namespace prefixes, which changes its canonical form. (The peer IdP does the same, `_splice`.)
    """
    marker = f"splice-{secrets.token_hex(8)}"
    parent.insert(index, etree.Comment(marker))
    return serialize(host).replace(f"<!--{marker}-->", without_declaration(fragment))


def signature_of(xml: str) -> etree._Element:
    """The enveloped ds:Signature of the document's root."""
    root = parse(xml)
    signature = root.find("ds:Signature", NS)
    assert signature is not None, "the document has no enveloped signature"
    return signature


def unsigned(xml: str) -> str:
    """The document with the root's enveloped signature removed (its digest does not cover it anyway)."""
    root = parse(xml)
    signature = root.find("ds:Signature", NS)
    if signature is not None:
        root.remove(signature)
    return serialize(root)


def after_issuer(element: etree._Element) -> int:
    """The child index right after ``saml:Issuer``, where the schema puts ds:Signature and Extensions."""
    issuer = element.find("saml:Issuer", NS)
    return element.index(issuer) + 1 if issuer is not None else 0


def fresh_id() -> str:
    """A new xs:ID."""
    return "_" + secrets.token_hex(20)


# --- listeners that must never be called -------------------------------------------------------------


@dataclass
class Tripwire:
    """A local HTTP server that records every request; a gateway that fetches from it has been tricked."""

    url: str
    hits: list[str]
    server: ThreadingHTTPServer


@contextmanager
def tripwire() -> Iterator[Tripwire]:
    """Serve on a free loopback port for the duration of the block."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()
            self.wfile.write(b'<!ENTITY % x "y">')

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Tripwire(f"http://127.0.0.1:{server.server_address[1]}", hits, server)
    finally:
        server.shutdown()
        server.server_close()


def free_loopback_port() -> int:
    """A TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peer(gateway: RunningGateway, provider_id: str) -> PeerIdP:
    """The peer IdP registered as ``provider_id``."""
    return gateway.peers[provider_id]
