"""Faults: the store going away, hanging or coming back; workers dying; requests beyond the limits.

The gateway here runs two gunicorn workers on a private redis-server this module starts on a free port, so
stopping, pausing and restarting it disturbs no other test. The contract under test (design, "State"): a
store failure is a clean 503 page for the citizen or ``temporarily_unavailable`` for an e-service, within
a bounded time, never a half-made session; and the gateway recovers by itself when the store returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import pytest
import redis
import requests

from tests.integration.conftest import make_clients
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import full_login
from tests.integration.harness import only_worker
from tests.integration.harness import query
from tests.integration.harness import start_gateway
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP
from tests.security.attack import ATTACKER_PNR
from tests.security.attack import PNR_CLAIM
from tests.security.attack import StoreWatch
from tests.security.attack import begin
from tests.security.attack import error_code
from tests.security.attack import free_loopback_port
from tests.security.attack import logged_in
from tests.security.attack import token_request

pytestmark = pytest.mark.slow

REDIS_SERVER = "/usr/bin/redis-server"
BOUND = 3.0
"""Seconds a request may take while the store hangs (socket timeout 0.5 s, one retry, some slack)."""


class PrivateRedis:
    """A redis-server of this module's own, which tests may stop, pause and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_loopback_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @contextmanager
    def down(self) -> Iterator[None]:
        """Killed (all data lost, as after a crash without persistence), then started again."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    @contextmanager
    def hung(self) -> Iterator[None]:
        """Frozen (SIGSTOP): connections open but nothing answers, as with a stuck server or network."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, private_redis: PrivateRedis) -> Iterator[RunningGateway]:
    """Two workers on the private Redis (this module's own ``gateway``, replacing the package's)."""
    tmp = tmp_path_factory.mktemp("faults")
    peers = {"idp": PeerIdP(tmp / "idp", entity_id="https://idp.test.example/idp",
                            sso_url="https://idp.test.example/sso", loas=(LOA3,))}  # fmt: skip
    running = start_gateway(tmp / "gateway", redis_url=private_redis.url, prefix=f"test:{uuid4().hex}:", peers=peers,
                            clients=make_clients(), workers=2)  # fmt: skip
    try:
        yield running
    finally:
        running.stop()


def _timed(call: object) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()  # type: ignore[operator]
    return response, time.monotonic() - started


def _unavailable_page(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert error_code(response) == "unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert "Set-Cookie" not in response.headers


def _unavailable_json(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"].isdigit()


def _ready(gateway: RunningGateway) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{gateway.url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("the gateway did not become ready again")


# --- the store stopped --------------------------------------------------------------------------------


def test_store_down_at_authorize_is_a_clean_503_page(gateway: RunningGateway, private_redis: PrivateRedis) -> None:
    steps_url = begin(gateway).rp.authorization_url()
    with private_redis.down():
        private_redis.stop()
        response, elapsed = _timed(lambda: requests.get(steps_url, allow_redirects=False, timeout=10))
    _unavailable_page(response)
    assert elapsed < BOUND


def test_store_down_at_token_and_userinfo_is_temporarily_unavailable(
    gateway: RunningGateway, private_redis: PrivateRedis
) -> None:
    client = gateway.clients["basic-rp"]
    data = {"grant_type": "authorization_code", "code": "x" * 43, "redirect_uri": client.redirect_uri,
            "code_verifier": "v" * 43}  # fmt: skip
    with private_redis.down():
        private_redis.stop()
        token, elapsed = _timed(lambda: token_request(gateway, data, (client.client_id, client.secret or "")))
        userinfo = requests.get(f"{gateway.url}/userinfo", headers={"Authorization": "Bearer x"}, timeout=10)
        ready = requests.get(f"{gateway.url}/readyz", timeout=10)
    _unavailable_json(token)
    assert token.headers["Cache-Control"] == "no-store"
    assert elapsed < BOUND
    _unavailable_json(userinfo)
    assert ready.status_code == 503


def test_store_stopped_mid_login_leaves_no_session_and_recovers_without_restart(
    gateway: RunningGateway, private_redis: PrivateRedis
) -> None:
    """The store dies between the upstream redirect and the ACS; it comes back empty. The citizen gets a
    503 page, nothing half-made survives, and the next login works with the same gunicorn processes."""
    workers = gateway.workers()
    steps = begin(gateway)
    posted = steps.respond()
    with private_redis.down():
        private_redis.stop()
        acs, elapsed = _timed(lambda: steps.browser.post(posted.acs_url, data=posted.form(), allow_redirects=False,
                                                          timeout=10))  # fmt: skip
    _unavailable_page(acs)
    assert elapsed < BOUND
    watch = StoreWatch(gateway, private_redis.url)
    assert not {key for key in watch.current() if key.startswith(("sess:", "code:", "at:"))}
    again = steps.browser.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
    assert again.status_code == 400
    assert error_code(again) == "expired"
    _, token = full_login(gateway, "basic-rp", "idp")
    assert token["access_token"]
    assert gateway.workers() == workers, "recovered without restarting a worker"


@contextmanager
def _refusing_writes_to_transactions(server: PrivateRedis) -> Iterator[None]:
    """Redis ACL: reads of every key, writes of every key but login transactions, so the store fails in the
    middle of the ACS's writes (after its claim and replay marker, at the transaction)."""
    admin = redis.Redis(port=server.port, socket_timeout=2)
    writable = [f"~*:{family}:*" for family in ("sess", "lock", "replay", "rate", "code", "at", "jti", "par")]
    admin.execute_command("ACL", "SETUSER", "default", "resetkeys", "%R~*", *writable)
    try:
        yield
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "resetkeys", "~*")
        admin.close()


def test_store_failing_between_the_acs_writes_leaves_no_session(
    gateway: RunningGateway, private_redis: PrivateRedis
) -> None:
    """The ACS's outcome is one write: when it fails, the citizen sees a 503 page and no SSO session exists
    for the identity the response carried (a session written first would outlive the failed login)."""
    steps = begin(gateway)
    posted = steps.respond()
    watch = StoreWatch(gateway, private_redis.url)
    with _refusing_writes_to_transactions(private_redis):
        acs = requests.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
    _unavailable_page(acs)
    assert "sess" not in watch.new(), watch.new()


def test_store_hanging_mid_login_is_bounded_and_the_login_completes_after(
    gateway: RunningGateway, private_redis: PrivateRedis
) -> None:
    """A frozen store: each request fails within the bound instead of tying up a worker; once it thaws,
    the very same login (its state intact) completes."""
    steps = begin(gateway)
    posted = steps.respond()
    with private_redis.hung():
        acs, elapsed = _timed(lambda: steps.browser.post(posted.acs_url, data=posted.form(), allow_redirects=False,
                                                          timeout=10))  # fmt: skip
        health, health_elapsed = _timed(lambda: requests.get(f"{gateway.url}/healthz", timeout=10))
    _unavailable_page(acs)
    assert elapsed < BOUND
    assert health.status_code == 200, "the process itself stays responsive"
    assert health_elapsed < 1
    assert logged_in(steps)[PNR_CLAIM] == ATTACKER_PNR


# --- workers dying -----------------------------------------------------------------------------------------


def test_workers_killed_mid_login_the_login_completes_on_their_replacements(gateway: RunningGateway) -> None:
    """Every worker that served the first hops is killed (SIGKILL); the login finishes on new processes,
    since nothing of it lived in a worker's memory."""
    steps = begin(gateway)
    posted = steps.respond()
    before = gateway.workers()
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and set(gateway.workers()) & set(before):
        time.sleep(0.1)
    _ready(gateway)
    assert not set(gateway.workers()) & set(before)
    assert logged_in(steps, posted)[PNR_CLAIM] == ATTACKER_PNR


def test_response_replayed_to_the_other_worker_is_refused(gateway: RunningGateway) -> None:
    """The ACS on worker A accepts the response; the same POST to worker B finds the login claimed."""
    first, second = gateway.workers()[:2]
    steps = begin(gateway)
    posted = steps.respond()
    fresh = {"Connection": "close"}  # a new connection each time, so the frozen worker holds none of them
    with only_worker(first, [first, second]):
        accepted = requests.post(posted.acs_url, data=posted.form(), headers=fresh, allow_redirects=False, timeout=10)
    with only_worker(second, [first, second]):
        replay = requests.post(posted.acs_url, data=posted.form(), headers=fresh, allow_redirects=False, timeout=10)
    assert accepted.status_code == 303
    assert replay.status_code == 400
    assert error_code(replay) == "expired"
    steps.resume_url = gateway.url + accepted.headers["Location"]
    assert steps.resume().status_code == 302, "the replay did not disturb the real login"


# --- limits of requests ----------------------------------------------------------------------------------


def test_request_body_beyond_the_limit(gateway: RunningGateway) -> None:
    """512 kB is the most any endpoint reads (app.MAX_REQUEST_BYTES); a 1 MB token request is cut off."""
    response = requests.post(f"{gateway.url}/token", data={"x": "y" * 1_048_576}, timeout=10)
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_chunked_body_is_refused(gateway: RunningGateway) -> None:
    """Without Content-Length (chunked) the size limit could only cut the body short, handling a truncated
    request as if complete; such bodies are refused with 411 Length Required instead."""

    def chunks() -> Iterator[bytes]:
        yield b"SAMLResponse="
        for _ in range(64):
            yield b"A" * 16384

    response = requests.post(
        f"{gateway.url}/saml/acs", data=chunks(), timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert response.status_code == 411


def test_header_beyond_the_limit(gateway: RunningGateway) -> None:
    response = requests.get(f"{gateway.url}/authorize", headers={"X-Big": "a" * 9000}, timeout=10)
    assert response.status_code == 431


def test_too_many_headers(gateway: RunningGateway) -> None:
    response = requests.get(f"{gateway.url}/authorize", headers={f"X-H{i}": "1" for i in range(120)}, timeout=10)
    assert response.status_code == 431


def test_request_line_beyond_the_limit(gateway: RunningGateway) -> None:
    with socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(b"GET /authorize?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status_line = sock.recv(200).split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"414"), status_line


def test_over_long_parameter_goes_back_to_the_client(gateway: RunningGateway) -> None:
    """A parameter over 4096 characters inside an otherwise fine request: invalid_request, redirected."""
    rp_steps = begin(gateway)
    url = rp_steps.rp.authorization_url(login_hint="h" * 5000)
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["Location"]


# --- races across workers ----------------------------------------------------------------------------------


def _together(count: int, call: object) -> list[requests.Response]:
    """``call`` from ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def run() -> requests.Response:
        barrier.wait()
        return call()  # type: ignore[operator,no-any-return]

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: run(), range(count)))


def test_one_response_posted_concurrently_completes_one_login(gateway: RunningGateway) -> None:
    """Eight simultaneous POSTs of one response, spread over both workers: exactly one is processed."""
    steps = begin(gateway)
    posted = steps.respond()
    results = _together(8, lambda: requests.post(posted.acs_url, data=posted.form(), allow_redirects=False,
                                                 headers={"Connection": "close"}, timeout=10))  # fmt: skip
    statuses = sorted(r.status_code for r in results)
    assert statuses == [303] + [400] * 7, statuses
    assert all(error_code(r) == "expired" for r in results if r.status_code == 400)
    steps.resume_url = gateway.url + next(r for r in results if r.status_code == 303).headers["Location"]
    assert steps.resume().status_code == 302


def test_a_response_posted_again_after_the_first_is_refused_and_the_login_still_completes(
    gateway: RunningGateway,
) -> None:
    """The replay must not take the finished login away from the browser that is about to resume it."""
    steps = begin(gateway)
    posted = steps.respond()
    first = requests.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
    assert first.status_code == 303
    again = requests.post(posted.acs_url, data=posted.form(), allow_redirects=False, timeout=10)
    assert again.status_code == 400
    assert error_code(again) == "expired"
    steps.resume_url = gateway.url + first.headers["Location"]
    assert steps.resume().status_code == 302
    assert "id_token" in steps.rp.fetch_token(steps.callback_url)


def test_one_code_redeemed_concurrently_issues_one_token(gateway: RunningGateway) -> None:
    steps = begin(gateway)
    steps.respond()
    logged = steps.post_to_acs()
    assert logged.status_code == 303
    assert steps.resume().status_code == 302
    client = steps.rp.client
    data = {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
            "redirect_uri": client.redirect_uri, "code_verifier": steps.rp.verifier}  # fmt: skip
    results = _together(8, lambda: token_request(gateway, data, (client.client_id, client.secret or "")))
    assert sorted(r.status_code for r in results) == [200] + [400] * 7
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code == 400)


# --- a slow store --------------------------------------------------------------------------------------------


class DelayingProxy:
    """A TCP proxy in front of Redis that holds every client->server chunk for ``delay`` seconds."""

    def __init__(self, upstream_port: int) -> None:
        self.delay = 0.0
        self._upstream = upstream_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, delayed: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if delayed and self.delay:
                    time.sleep(self.delay)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._closed.set()
        self._server.close()


@pytest.fixture(scope="module")
def slow_store(
    tmp_path_factory: pytest.TempPathFactory, private_redis: PrivateRedis
) -> Iterator[tuple[RunningGateway, DelayingProxy]]:
    proxy = DelayingProxy(private_redis.port)
    tmp = tmp_path_factory.mktemp("slow")
    peers = {"idp": PeerIdP(tmp / "idp", entity_id="https://idp.test.example/idp",
                            sso_url="https://idp.test.example/sso", loas=(LOA3,))}  # fmt: skip
    running = start_gateway(tmp / "gateway", redis_url=f"redis://127.0.0.1:{proxy.port}/0", peers=peers,
                            prefix=f"test:{uuid4().hex}:", clients=make_clients())  # fmt: skip
    try:
        yield running, proxy
    finally:
        running.stop()
        proxy.close()


def test_slow_store_within_the_timeout_still_logs_in(slow_store: tuple[RunningGateway, DelayingProxy]) -> None:
    """100 ms per store command (a congested network): slower, but every login still completes."""
    gateway, proxy = slow_store
    proxy.delay = 0.1
    try:
        _, token = full_login(gateway, "basic-rp", "idp")
    finally:
        proxy.delay = 0.0
    assert token["access_token"]


def test_slow_store_beyond_the_timeout_fails_fast(slow_store: tuple[RunningGateway, DelayingProxy]) -> None:
    """2 s per command: the request gives up after the socket timeout instead of waiting for the store."""
    gateway, proxy = slow_store
    url = Rp.for_client(gateway, "basic-rp").authorization_url()
    proxy.delay = 2.0
    try:
        response, elapsed = _timed(lambda: requests.get(url, allow_redirects=False, timeout=10))
    finally:
        proxy.delay = 0.0
    _unavailable_page(response)
    assert elapsed < BOUND
