"""One running gateway per test module (gunicorn + the shared Redis), with the peers and clients attacks need.

A module may set ``GATEWAY_WORKERS`` and ``GATEWAY_EXTRA`` (more gateway.yaml keys) to shape its gateway.
Peers: ``idp`` (loa3 and loa4), ``other`` (a second trusted provider, loa3) and ``plain`` (loa3, configured
with ``require_encryption: false``, so attacks on plaintext assertions reach the checks behind encryption).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import make_clients
from tests.integration.harness import RunningGateway
from tests.integration.harness import running_gateway
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import LOA4
from tests.peers.saml_idp import PeerIdP


@pytest.fixture(scope="module")
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[RunningGateway]:
    """The gateway under attack in this module."""
    tmp = tmp_path_factory.mktemp("security")
    peers = {
        "idp": PeerIdP(tmp / "idp", entity_id="https://idp.test.example/idp", sso_url="https://idp.test.example/sso",
                       loas=(LOA3, LOA4)),
        "other": PeerIdP(tmp / "other", entity_id="https://other-idp.test.example/idp",
                         sso_url="https://other-idp.test.example/sso", loas=(LOA3,)),
        "plain": PeerIdP(tmp / "plain", entity_id="https://plain-idp.test.example/idp",
                         sso_url="https://plain-idp.test.example/sso", loas=(LOA3,)),
    }  # fmt: skip
    with running_gateway(
        tmp / "gateway",
        redis_url=redis_url,
        peers=peers,
        clients=make_clients(),
        workers=getattr(request.module, "GATEWAY_WORKERS", 1),
        extra=getattr(request.module, "GATEWAY_EXTRA", None),
        provider_options={"plain": {"require_encryption": False}},
    ) as running:
        yield running
