"""Refreshing through the shared store: last-known-good on failure, one fetch under the lock, a bounded schedule."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.observability.audit import Audit
from gateway.settings.schema import MetadataRefresh
from gateway.settings.schema import MetadataSource
from gateway.store import keys as store_keys
from gateway.store.redis_store import RedisStore
from gateway.trust.certs import KeyPair
from gateway.trust.metadata import verify_metadata
from gateway.trust.metadata_refresh import MetadataRefresher
from gateway.trust.metadata_refresh import Outcome
from gateway.trust.metadata_refresh import TrustedSource
from gateway.trust.metadata_refresh import schedule
from tests.peers.federation import FederationCA
from tests.peers.federation import FeedServer
from tests.peers.federation import aggregate
from tests.peers.federation import feed
from tests.peers.federation import sign
from tests.peers.saml_idp import PeerIdP


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> PeerIdP:
    return PeerIdP(tmp_path_factory.mktemp("peer"), entity_id="https://a.test.example/idp")


def _source(tmp_path: Path, signer: KeyPair, url: str) -> TrustedSource:
    cert = tmp_path / "signer.crt"
    cert.write_bytes(signer.cert_pem)
    return TrustedSource.of(MetadataSource(url=url, signing_cert=cert, name="federation"))


def _refresher(tmp_path: Path, store: RedisStore, source: TrustedSource, **settings: object) -> MetadataRefresher:
    refresh = MetadataRefresh(cache_dir=tmp_path / "cache", timeout=5, **settings)  # type: ignore[arg-type]
    return MetadataRefresher((source,), store, refresh, Audit(b""))


def test_bad_documents_leave_the_last_known_good_in_force(
    tmp_path: Path,
    redis_store: RedisStore,
    ca: FederationCA,
    signer: KeyPair,
    peer: PeerIdP,
    make_redis_store: Callable[[], RedisStore],
) -> None:
    good = sign(aggregate([peer.metadata_xml()]), signer)
    entities = [peer.metadata_xml()]
    bad = {
        "one byte changed": good.replace(b"idp.test.example/sso", b"idp.test.examplf/sso", 1),
        "signed by another key": sign(aggregate(entities), ca.issue_signer("other")),
        "expired": sign(aggregate(entities, valid_for=datetime.timedelta(seconds=-1)), signer),
        "unsigned": aggregate(entities).encode(),
    }
    with feed(good) as server:
        source = _source(tmp_path, signer, server.url)
        refresher = _refresher(tmp_path, redis_store, source)
        first = refresher.refresh(source, force=True)
        assert first.outcome is Outcome.INSTALLED
        assert first.metadata is not None
        version = first.metadata.version
        for case, document in bad.items():
            server.document = document
            result = refresher.refresh(source, force=True)
            assert result.outcome is Outcome.FAILED, case
            status = refresher.status(source)
            assert status is not None
            assert status.version == version, case
            assert status.failure_reason == result.reason
            installed = refresher.installed(source)
            assert installed is not None
            assert installed.version == version, case
            assert refresher.cached(source) is not None
            assert refresher.cached(source).version == version  # type: ignore[union-attr]
        status = refresher.status(source)
        assert status is not None
        assert (status.refreshes, status.failures) == (1, len(bad))
        assert server.requests == 1 + len(bad)


def test_a_copy_tampered_with_in_the_store_is_not_trusted_and_the_disk_cache_is(
    tmp_path: Path, redis_store: RedisStore, signer: KeyPair, peer: PeerIdP
) -> None:
    good = sign(aggregate([peer.metadata_xml()]), signer)
    with feed(good) as server:
        source = _source(tmp_path, signer, server.url)
        refresher = _refresher(tmp_path, redis_store, source)
        assert refresher.refresh(source, force=True).outcome is Outcome.INSTALLED
    key = store_keys.metadata_document(source.key)
    redis_store.put(key, good.replace(b"a.test.example", b"evil.example", 1), 60)
    installed = refresher.installed(source)
    assert installed is not None
    assert installed.document == good  # from the disk cache, after the store's copy failed verification
    (tmp_path / "cache").joinpath(next(p.name for p in (tmp_path / "cache").iterdir())).write_bytes(b"<x/>")
    assert refresher.installed(source) is None


def test_processes_refreshing_at_once_fetch_once(
    tmp_path: Path, make_redis_store: Callable[[], RedisStore], redis_url: str, signer: KeyPair, peer: PeerIdP
) -> None:
    """Each "process" has its own store connection; only the lock in Redis is shared."""
    first = make_redis_store()
    good = sign(aggregate([peer.metadata_xml()]), signer)
    with FeedServer(good, delay=0.5) as server:
        source = _source(tmp_path, signer, server.url)
        prefix = first._prefix
        refreshers = [_refresher(tmp_path / str(i), RedisStore(redis_url, prefix=prefix), source) for i in range(4)]
        barrier = threading.Barrier(len(refreshers))
        outcomes: list[Outcome] = []

        def run(refresher: MetadataRefresher) -> None:
            barrier.wait()
            outcomes.append(refresher.refresh(source, force=False).outcome)

        threads = [threading.Thread(target=run, args=(r,)) for r in refreshers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert server.requests == 1
        assert sorted(outcomes) == sorted([Outcome.INSTALLED] + [Outcome.SKIPPED] * 3)
        # Later callers see the refresh done and not due: still one fetch.
        assert refreshers[0].refresh(source, force=False).outcome is Outcome.SKIPPED
        assert server.requests == 1
        for refresher in refreshers:
            installed = refresher.installed(source)
            assert installed is not None
            assert installed.document == good
            refresher.store.close()  # type: ignore[attr-defined]  # the fixture closes only its own


@pytest.mark.parametrize(
    ("cache_duration", "valid_for", "expected"),
    [
        ("PT1S", datetime.timedelta(days=7), 300),  # below the minimum: the minimum
        ("P30D", datetime.timedelta(days=365), 21600),  # above the maximum: the maximum
        ("PT2H", datetime.timedelta(days=7), 7200),  # within bounds: as the federation says
        (None, datetime.timedelta(days=7), 3600),  # none: the default
        ("PT6H", datetime.timedelta(hours=4), 7200),  # before half the remaining validity is gone
    ],
)
def test_cache_duration_is_honoured_within_bounds(
    cache_duration: str | None, valid_for: datetime.timedelta, expected: float, signer: KeyPair, peer: PeerIdP
) -> None:
    now = time.time()
    document = sign(aggregate([peer.metadata_xml()], cache_duration=cache_duration, valid_for=valid_for), signer)
    metadata = verify_metadata(document, signer.cert_pem, now=now)
    assert schedule(MetadataRefresh(), metadata, now) - now == pytest.approx(expected, abs=2)


def test_a_change_is_audited_with_fingerprints(
    tmp_path: Path, redis_store: RedisStore, signer: KeyPair, peer: PeerIdP, caplog: pytest.LogCaptureFixture
) -> None:
    with feed(sign(aggregate([peer.metadata_xml()]), signer)) as server:
        source = _source(tmp_path, signer, server.url)
        refresher = _refresher(tmp_path, redis_store, source)
        refresher.refresh(source, force=True)
        rekeyed = PeerIdP(tmp_path / "rekeyed", entity_id=peer.entity_id)
        other = PeerIdP(tmp_path / "other", entity_id="https://other.test.example/idp")
        server.document = sign(aggregate([rekeyed.metadata_xml(), other.metadata_xml()]), signer)
        with caplog.at_level(logging.INFO, logger="gateway.audit"):
            assert refresher.refresh(source, force=True).outcome is Outcome.INSTALLED
    events = {r.getMessage(): r for r in caplog.records if r.name == "gateway.audit"}
    changed = events["metadata entity keys changed"]
    old_fp = verify_metadata(sign(aggregate([peer.metadata_xml()]), signer), signer.cert_pem, now=time.time())
    assert changed.entity_id == peer.entity_id  # type: ignore[attr-defined]
    assert changed.fingerprints_removed == ",".join(sorted(old_fp.entities[0].fingerprints))  # type: ignore[attr-defined]
    assert changed.fingerprints_added.startswith("signing:")  # type: ignore[attr-defined]
    assert events["metadata entity added"].entity_id == other.entity_id  # type: ignore[attr-defined]
    assert events["metadata installed"].added == 1  # type: ignore[attr-defined]


def _published(peer: PeerIdP, signer: KeyPair, *, hours_ago: float, valid_for_days: float = 7) -> bytes:
    """The federation's aggregate as published ``hours_ago``, valid for ``valid_for_days`` from now."""
    now = datetime.datetime.now(datetime.UTC)
    document = aggregate(
        [peer.metadata_xml()],
        valid_for=datetime.timedelta(days=valid_for_days),
        published=now - datetime.timedelta(hours=hours_ago),
    )
    return sign(document, signer)


def test_an_older_publication_is_refused_as_a_rollback(
    tmp_path: Path, redis_store: RedisStore, signer: KeyPair, peer: PeerIdP, caplog: pytest.LogCaptureFixture
) -> None:
    """An earlier aggregate, still signed and still valid, must not replace a newer one (replay, stale mirror)."""
    newer, older = _published(peer, signer, hours_ago=1), _published(peer, signer, hours_ago=30, valid_for_days=8)
    with feed(newer) as server:
        source = _source(tmp_path, signer, server.url)
        refresher = _refresher(tmp_path, redis_store, source)
        installed = refresher.refresh(source, force=True)
        assert installed.outcome is Outcome.INSTALLED
        assert installed.metadata is not None
        server.document = older
        refused = refresher.refresh(source, force=True)
        assert refused.outcome is Outcome.FAILED
        assert "rollback" in (refused.reason or "")
        current = refresher.installed(source)
        assert current is not None
        assert current.version == installed.metadata.version
        # The operator, having checked with the federation, may install it anyway: audited.
        with caplog.at_level(logging.INFO, logger="gateway.audit"):
            accepted = refresher.refresh(source, force=True, allow_older=True)
        assert accepted.outcome is Outcome.INSTALLED
        assert accepted.metadata is not None
        assert accepted.metadata.version != installed.metadata.version
    events = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert "metadata rollback accepted" in events


def test_a_newer_publication_is_installed_even_with_an_earlier_valid_until(
    tmp_path: Path, redis_store: RedisStore, signer: KeyPair, peer: PeerIdP
) -> None:
    """The publication instant orders documents that state one; validUntil only orders those that do not."""
    first, second = _published(peer, signer, hours_ago=2, valid_for_days=8), _published(peer, signer, hours_ago=1)
    with feed(first) as server:
        source = _source(tmp_path, signer, server.url)
        refresher = _refresher(tmp_path, redis_store, source)
        assert refresher.refresh(source, force=True).outcome is Outcome.INSTALLED
        server.document = second
        assert refresher.refresh(source, force=True).outcome is Outcome.INSTALLED


def test_without_publication_info_an_earlier_valid_until_is_a_rollback(
    tmp_path: Path, redis_store: RedisStore, signer: KeyPair, peer: PeerIdP
) -> None:
    longer = sign(aggregate([peer.metadata_xml()], valid_for=datetime.timedelta(days=8)), signer)
    shorter = sign(aggregate([peer.metadata_xml()], valid_for=datetime.timedelta(days=7)), signer)
    with feed(longer) as server:
        source = _source(tmp_path, signer, server.url)
        refresher = _refresher(tmp_path, redis_store, source)
        assert refresher.refresh(source, force=True).outcome is Outcome.INSTALLED
        server.document = shorter
        result = refresher.refresh(source, force=True)
        assert result.outcome is Outcome.FAILED
        assert "validUntil" in (result.reason or "")
