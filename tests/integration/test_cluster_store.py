"""The gateway with its store on a Redis Cluster: two gunicorn workers, a private three-node cluster.

The contract suite runs on the cluster store too (tests/store/test_contract.py); this shows the gateway's
own key shapes and multi-key steps work when the keys of one login land on different nodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.integration.conftest import make_clients
from tests.integration.conftest import make_peers
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import full_login
from tests.integration.harness import running_gateway
from tests.redis_processes import client


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, redis_cluster_url: str) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("cluster")
    with running_gateway(
        tmp / "gateway", redis_url=redis_cluster_url, peers=make_peers(tmp, "idp"), clients=make_clients(), workers=2
    ) as running:
        yield running


def _userinfo(gateway: RunningGateway, access_token: str) -> requests.Response:
    return requests.get(f"{gateway.url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=5)


def test_logins_sso_and_logout_work_with_the_keys_spread_over_the_nodes(
    gateway: RunningGateway, redis_cluster_ports: list[int]
) -> None:
    steps, first = full_login(gateway, "basic-rp", "idp")
    assert _userinfo(gateway, first["access_token"]).json()["sub"]
    post = Rp.for_client(gateway, "post-rp")
    answered = steps.browser.get(post.authorization_url(), allow_redirects=False, timeout=10)
    second = post.fetch_token(answered.headers["Location"])  # answered from the SSO session
    assert _userinfo(gateway, second["access_token"]).status_code == 200
    for _ in range(5):
        full_login(gateway, "basic-rp", "idp")

    holding = [port for port in redis_cluster_ports if any(client(port).scan_iter(match=f"{gateway.prefix}*"))]
    assert len(holding) >= 2, holding  # the gateway's keys are spread over the nodes, not kept in one slot

    logout = steps.browser.get(f"{gateway.url}/logout", params={"id_token_hint": first["id_token"]}, timeout=10)
    assert logout.status_code == 200
    assert _userinfo(gateway, first["access_token"]).status_code == 401
    assert _userinfo(gateway, second["access_token"]).status_code == 401
