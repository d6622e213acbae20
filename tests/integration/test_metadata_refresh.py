"""Federation metadata in a running gateway: one fetch for all workers, changes taken up without a restart.

The gateway runs under gunicorn with two workers and trusts one source: a signed aggregate served by a
local feed server that counts requests. Each check below is made against each worker alone (the other
one paused), so a worker that kept old metadata cannot hide behind one that took up the new.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.trust.certs import KeyPair
from gateway.trust.certs import generate_key_pair
from tests.integration.conftest import make_clients
from tests.integration.harness import ROOT
from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import only_worker
from tests.integration.harness import running_gateway
from tests.peers.federation import FederationCA
from tests.peers.federation import FeedServer
from tests.peers.federation import aggregate
from tests.peers.federation import sign
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP

pytestmark = pytest.mark.slow

ENTITY_ID = "https://idp.test.example/idp"
SSO_URL = "https://idp.test.example/sso"


class Federation:
    """The signer, the feed, and the IdP as the aggregate currently describes it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.signer = FederationCA.create().issue_signer()
        self.cert_path = folder / "federation-signer.crt"
        self.cert_path.write_bytes(self.signer.cert_pem)
        self.old_key = generate_key_pair("idp key 1")
        self.new_key = generate_key_pair("idp key 2")
        self.peer = PeerIdP(folder / "idp", entity_id=ENTITY_ID, sso_url=SSO_URL, loas=(LOA3,), key_pair=self.old_key)

    def aggregate_with(self, key: KeyPair) -> bytes:
        described = PeerIdP(self.folder / f"idp-{key.cert_pem[-40:-30].hex()}", entity_id=ENTITY_ID, sso_url=SSO_URL,
                            loas=(LOA3,), key_pair=key)  # fmt: skip
        return sign(aggregate([described.metadata_xml()], cache_duration="PT1H"), self.signer)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    return Federation(tmp_path_factory.mktemp("federation"))


@pytest.fixture(scope="module")
def feed_server(federation: Federation) -> Iterator[FeedServer]:
    # The delay makes the two workers' start-up refreshes overlap.
    with FeedServer(federation.aggregate_with(federation.old_key), delay=1.5) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, federation: Federation, feed_server: FeedServer
) -> Iterator[RunningGateway]:
    extra = {
        "saml": {
            "metadata": [{"url": feed_server.url, "signing_cert": str(federation.cert_path), "name": "federation"}],
            "metadata_refresh": {"check_interval": 1, "min_interval": 1, "retry_interval": 1, "timeout": 10},
        },
    }
    with running_gateway(
        tmp_path_factory.mktemp("gw-md"), redis_url=redis_url, peers={"idp": federation.peer},
        clients=make_clients(), workers=2, extra=extra,
    ) as running:  # fmt: skip
        yield running


def _get(gateway: RunningGateway, path: str) -> requests.Response:
    return requests.get(f"{gateway.url}{path}", headers={"Connection": "close"}, timeout=10)


def _eventually(check, timeout: float = 8.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def _login_accepted(gateway: RunningGateway, peer: PeerIdP, key: KeyPair) -> bool:
    """Start a login and answer it with a response signed by ``key``: did the e-service get a code?"""
    browser = requests.Session()
    browser.headers["Connection"] = "close"
    steps = LoginSteps(browser, Rp.for_client(gateway, "basic-rp"), peer)
    started = steps.start(**{"https://id.oidc.se/param/authnProvider": ENTITY_ID})
    assert started.status_code == 302, started.text
    steps.respond(signing_key=key)
    if steps.post_to_acs().status_code != 303:
        return False
    return steps.resume().status_code == 302 and "code=" in steps.callback_url


def _cli(gateway: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(gateway.workdir / "gateway.yaml"), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


def _metric(text: str, name: str) -> float:
    match = re.search(rf'^{name}\{{source="federation"\}} (\S+)$', text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_two_workers_starting_together_fetch_once_and_both_trust_it(
    gateway: RunningGateway, feed_server: FeedServer
) -> None:
    workers = gateway.workers()
    for worker in workers:
        with only_worker(worker, workers):
            _eventually(lambda: _get(gateway, "/readyz").status_code == 200)
    assert feed_server.requests == 1


def test_a_provider_key_change_takes_effect_in_every_worker_without_restart(
    gateway: RunningGateway, federation: Federation, feed_server: FeedServer
) -> None:
    workers = gateway.workers()
    peer = federation.peer
    for worker in workers:
        with only_worker(worker, workers):
            assert not _login_accepted(gateway, peer, federation.new_key)  # not in metadata yet
    fetched = feed_server.requests
    feed_server.document = federation.aggregate_with(federation.new_key)

    refreshed = _cli(gateway, "metadata", "refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "installed" in refreshed.stdout
    assert '"metadata entity keys changed"' in refreshed.stderr  # the audit event, with fingerprints
    assert feed_server.requests == fetched + 1

    for worker in workers:
        with only_worker(worker, workers):
            _eventually(lambda: _login_accepted(gateway, peer, federation.new_key))
            assert not _login_accepted(gateway, peer, federation.old_key)
    assert feed_server.requests == fetched + 1  # the workers took the new copy from the store, not the feed


def test_a_bad_aggregate_is_refused_and_the_last_known_good_stays(
    gateway: RunningGateway, federation: Federation, feed_server: FeedServer
) -> None:
    good = federation.aggregate_with(federation.new_key)
    feed_server.document = good.replace(b"idp.test.example/sso", b"idp.test.examplf/sso", 1)
    failures_before = _metric(_get(gateway, "/metrics").text, "eid_gateway_metadata_refresh_failures_total")

    refreshed = _cli(gateway, "metadata", "refresh")
    assert refreshed.returncode == 1
    assert "signature does not verify" in refreshed.stdout
    assert '"metadata refresh failed"' in refreshed.stderr

    status = _cli(gateway, "metadata", "status")
    assert status.returncode == 0, status.stdout
    assert "signature does not verify" in status.stdout
    assert "found idp" in status.stdout

    metrics = _get(gateway, "/metrics").text
    # At least the command's failure; the workers retry on their own after retry_interval and fail too.
    assert _metric(metrics, "eid_gateway_metadata_refresh_failures_total") >= failures_before + 1
    assert _metric(metrics, "eid_gateway_metadata_valid") == 1.0
    workers = gateway.workers()
    for worker in workers:
        with only_worker(worker, workers):
            assert _get(gateway, "/readyz").status_code == 200
            assert _login_accepted(gateway, federation.peer, federation.new_key)
    feed_server.document = good
