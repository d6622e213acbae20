"""One running gateway per test module (gunicorn + the shared Redis), with the peers and clients attacks need.

A module may set ``GATEWAY_WORKERS`` and ``GATEWAY_EXTRA`` (more gateway.yaml keys) to shape its gateway.
Peers: ``idp`` (loa3 and loa4), ``other`` (a second trusted provider, loa3) and ``plain`` (loa3, configured
with ``require_encryption: false``, so attacks on plaintext assertions reach the checks behind encryption).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import make_clients
from tests.integration.conftest import make_peers
from tests.integration.harness import RunningGateway
from tests.integration.harness import running_gateway


@pytest.fixture(scope="module")
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[RunningGateway]:
    """The gateway under attack in this module."""
    tmp = tmp_path_factory.mktemp("security")
    peers = make_peers(tmp, "idp", "other", "plain")
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
