"""The federation operator of the metadata tests: a CA and the metadata signer it issued (made once per module)."""

from __future__ import annotations

import pytest

from gateway.trust.certs import KeyPair
from tests.peers.federation import FederationCA


@pytest.fixture(scope="module")
def ca() -> FederationCA:
    return FederationCA.create()


@pytest.fixture(scope="module")
def signer(ca: FederationCA) -> KeyPair:
    return ca.issue_signer()
