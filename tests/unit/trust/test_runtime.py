"""One process's trust: not ready without valid metadata, new versions taken up, expired copies dropped."""

from __future__ import annotations

import ast
import datetime
import shutil
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app import create_app
from gateway.settings.load import load_settings
from gateway.store import keys as store_keys
from gateway.trust.certs import KeyPair
from gateway.trust.keystore import generate_keys
from tests.gevent_child import TICKER
from tests.gevent_child import run_under_gevent
from tests.peers.federation import FederationCA
from tests.peers.federation import aggregate
from tests.peers.federation import feed
from tests.peers.federation import sign
from tests.peers.saml_idp import PeerIdP


@pytest.fixture(scope="module")
def signer() -> KeyPair:
    return FederationCA.create().issue_signer()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One set of gateway keys for every app here (RSA 3072 is slow to make)."""
    folder = tmp_path_factory.mktemp("keys")
    generate_keys(folder)
    return folder


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> PeerIdP:
    return PeerIdP(tmp_path_factory.mktemp("peer"), entity_id="https://idp.test.example/idp")


def _config(tmp_path: Path, keys: Path, signer: KeyPair, url: str, **refresh: Any) -> Path:
    shutil.copytree(keys, tmp_path / "keys")
    (tmp_path / "signer.crt").write_bytes(signer.cert_pem)
    (tmp_path / "idp_configs").mkdir(exist_ok=True)
    provider = {"id": "idp", "entity_id": "https://idp.test.example/idp", "display_name": "IdP",
                "loas": ["http://id.elegnamnden.se/loa/1.0/loa3"]}  # fmt: skip
    (tmp_path / "idp_configs" / "idp.yaml").write_text(yaml.safe_dump(provider), encoding="utf-8")
    config = {
        "environment": "development",
        "sandbox": False,
        "keys_dir": "keys",
        "providers": ["idp"],
        "saml": {
            "metadata": [{"url": url, "signing_cert": "signer.crt", "name": "federation"}],
            "metadata_refresh": {"check_interval": 1, "min_interval": 1, "timeout": 5, **refresh},
        },
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_not_ready_without_valid_metadata_then_ready_once_it_verifies(
    tmp_path: Path, keys: Path, signer: KeyPair, peer: PeerIdP
) -> None:
    good = sign(aggregate([peer.metadata_xml()]), signer)
    with feed(good.replace(b"idp.test.example", b"idp.test.examplf", 1)) as server:
        app = create_app(load_settings(_config(tmp_path, keys, signer, server.url, retry_interval=1)))
        client = app.test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["metadata"] == {"federation": "no valid metadata"}
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'eid_gateway_metadata_valid{source="federation"} 0.0' in metrics
        assert 'eid_gateway_metadata_provider_present{provider="idp",source="federation"} 0.0' in metrics

        server.document = good
        trust = app.extensions["eid_gateway"].trust
        # Make the retry due now instead of sleeping for retry_interval.
        source = trust.sources[0]
        status = trust.refresher.status(source)
        trust.refresher.store.put(
            store_keys.metadata_status(source.key), replace(status, next_refresh=0.0).to_bytes(), 60
        )
        trust._next_metadata = 0
        trust.tick()
        assert client.get("/readyz").status_code == 200
        assert app.extensions["eid_gateway"].login.sp.knows("https://idp.test.example/idp")
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'eid_gateway_metadata_valid{source="federation"} 1.0' in metrics
        assert 'eid_gateway_metadata_refresh_failures_total{source="federation"} 1.0' in metrics


def test_an_expired_copy_stops_being_trusted(tmp_path: Path, keys: Path, signer: KeyPair, peer: PeerIdP) -> None:
    short = sign(aggregate([peer.metadata_xml()], valid_for=datetime.timedelta(seconds=30)), signer)
    with feed(short) as server:
        app = create_app(load_settings(_config(tmp_path, keys, signer, server.url)))
    trust = app.extensions["eid_gateway"].trust
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    installed = trust.trusted()[0]
    assert installed.valid_until is not None
    later = installed.valid_until + 1
    trust._clock = lambda: later
    trust.refresher.clock = lambda: later
    trust._next_metadata = 0
    trust.tick()  # the feed is gone: the refresh fails, and the copy has expired
    assert client.get("/readyz").status_code == 503
    assert not app.extensions["eid_gateway"].login.sp.knows("https://idp.test.example/idp")


_SERVING_WHILE_REBUILDING = TICKER + textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from gateway.trust.keystore import load_keys
    from gateway.trust.metadata_refresh import MetadataRefresher
    from gateway.trust.rollover import rollover
    from gateway.trust.runtime import TrustRuntime

    keys_dir = Path(sys.argv[1])
    refresher = MetadataRefresher((), store=None, settings=None, audit=None)
    runtime = TrustRuntime(
        refresher=refresher, keys=load_keys(keys_dir, None), keys_dir=keys_dir, configured_secret=None,
        metadata_interval=3600, keys_interval=0,
    )
    rebuilt = []


    def rebuild_like_a_large_aggregate(keys) -> None:
        busy_for(0.3)
        rebuilt.append(sorted(key.stage for key in keys.keys if key.role == "oidc-signing"))


    runtime.on_keys(rebuild_like_a_large_aggregate)
    rollover(keys_dir, "oidc-signing", kind="ec")
    ticks, _ = ticks_during(runtime.tick)
    print(repr((ticks, rebuilt)))
    """
)


def test_a_worker_keeps_serving_while_the_trust_runtime_rebuilds(tmp_path: Path) -> None:
    """Under the gevent worker the runtime's thread is a greenlet; its listeners must not stall the requests."""
    generate_keys(tmp_path, kind="ec")
    ticks, rebuilt = ast.literal_eval(run_under_gevent(_SERVING_WHILE_REBUILDING, str(tmp_path)))
    assert rebuilt == [["active", "next"]]
    assert ticks >= 10, ticks
