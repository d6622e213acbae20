"""Refreshing federation metadata across every process: one fetch, verified, installed for all.

Each configured source has, in the shared store, its verified document and a small status record
(version, last success, last failure and why, next refresh, counters). Refreshing takes a lock in the
store (`add_if_absent`), so across all workers and hosts one process fetches while the others wait
for the next check; after taking the lock it reads the status again, so a process that lost the race
does not fetch a second time. A fetched document is installed only once `verify_metadata` accepts
it; on any failure the installed copy (the last-known-good) stays as it is and the failure is
recorded in the status, logged and counted. Every process then notices the new version in the
status (one small read per check) and installs the document itself, verifying it again: nothing read
back from the store or the disk is trusted unverified.

A verified copy is also written to ``cache_dir``, so a restart finds the last-known-good even when the
store was emptied or cannot be reached. The schedule follows the document's ``cacheDuration``,
bounded (`schedule`); a file source is also refreshed as soon as the file changes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from enum import StrEnum
from functools import partial
from pathlib import Path

from gateway.errors import StoreUnavailable
from gateway.observability.audit import Audit
from gateway.os_thread import run_cpu_bound
from gateway.settings.schema import MetadataRefresh
from gateway.settings.schema import MetadataSource
from gateway.store import keys as store_keys
from gateway.store.base import Store
from gateway.trust.metadata import MetadataRefused
from gateway.trust.metadata import VerifiedMetadata
from gateway.trust.metadata import diff
from gateway.trust.metadata import older_than
from gateway.trust.metadata import verify_metadata
from gateway.trust.metadata_fetch import FetchFailed
from gateway.trust.metadata_fetch import fetch

log = logging.getLogger("gateway.trust.metadata")

_RETENTION = 30 * 86400  # how long the store keeps a status, and a document without validUntil
_LOCK_MARGIN = 30
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Outcome(StrEnum):
    """What one refresh attempt did."""

    INSTALLED = "installed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source's shared refresh record; times are POSIX seconds."""

    version: str | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    failure_reason: str | None = None
    next_refresh: float = 0.0
    valid_until: float | None = None
    cache_duration: float | None = None
    entities: int = 0
    refreshes: int = 0
    failures: int = 0
    etag: str | None = None
    last_modified: str | None = None
    file_stamp: str | None = None

    def to_bytes(self) -> bytes:
        """JSON, for the store."""
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> SourceStatus | None:
        """The record, or None when absent or unreadable (then the source is simply due)."""
        if data is None:
            return None
        try:
            values = json.loads(data)
            return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """The outcome of one attempt, with the reason when it failed or was skipped."""

    source: TrustedSource
    outcome: Outcome
    reason: str = ""
    metadata: VerifiedMetadata | None = None
    status: SourceStatus | None = None


@dataclass(frozen=True, slots=True)
class TrustedSource:
    """A configured source with its stable identity.

    ``key`` is a digest of where the metadata comes from and which certificate must sign it, so a
    record in the store or on disk can never be taken for another source's, even after the
    operator edits the configuration.
    """

    source: MetadataSource
    key: str
    label: str

    @classmethod
    def of(cls, source: MetadataSource) -> TrustedSource:
        """Identify ``source``."""
        where = source.url or str(source.file)
        cert = hashlib.sha256(source.signing_cert.read_bytes()).hexdigest() if source.signing_cert else ""
        key = hashlib.sha256(json.dumps([where, cert]).encode()).hexdigest()[:32]
        label = source.name or _label(source)
        return cls(source=source, key=key, label=label)

    def signing_cert(self) -> bytes | None:
        """The pinned certificate, read at each use so a replaced file takes effect without a restart."""
        return self.source.signing_cert.read_bytes() if self.source.signing_cert else None


def _label(source: MetadataSource) -> str:
    if source.file is not None:
        return _SAFE.sub("-", source.file.stem).strip("-") or "metadata"
    from urllib.parse import urlsplit

    parts = urlsplit(source.url or "")
    return _SAFE.sub("-", f"{parts.hostname or ''}{parts.path}").strip("-") or "metadata"


def schedule(settings: MetadataRefresh, metadata: VerifiedMetadata, now: float) -> float:
    """When to refresh next: ``cacheDuration`` (else the default) within [min, max], and before half the
    remaining validity is gone, so a failing source has time to recover before its copy expires."""
    interval = metadata.cache_duration if metadata.cache_duration is not None else settings.default_interval
    interval = min(max(interval, settings.min_interval), settings.max_interval)
    if metadata.valid_until is not None:
        interval = min(interval, max((metadata.valid_until - now) / 2, settings.min_interval))
    return now + interval


class MetadataRefresher:
    """Fetch, verify and install metadata through the shared store; see the module docstring."""

    def __init__(
        self,
        sources: tuple[TrustedSource, ...],
        store: Store,
        settings: MetadataRefresh,
        audit: Audit,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = sources
        self.store = store
        self.settings = settings
        self.audit = audit
        self.clock = clock

    # -- status -------------------------------------------------------------------------------

    def status(self, source: TrustedSource) -> SourceStatus | None:
        """The shared status record (raises StoreUnavailable)."""
        return SourceStatus.from_bytes(self.store.get(store_keys.metadata_status(source.key)))

    def due(self, source: TrustedSource, status: SourceStatus | None) -> bool:
        """True when ``source`` should be fetched now."""
        if status is None or (status.version is None and status.last_failure is None):
            return True
        if source.source.file is not None and status.file_stamp != _file_stamp(source.source.file):
            return True
        return self.clock() >= status.next_refresh

    # -- refreshing ---------------------------------------------------------------------------

    def refresh_due(self) -> list[RefreshResult]:
        """Refresh every source that is due, each under its lock."""
        return [self.refresh(source, force=False) for source in self.sources]

    def refresh(self, source: TrustedSource, *, force: bool, allow_older: bool = False) -> RefreshResult:
        """Fetch and install ``source`` if due (or ``force``), holding its lock; never raises for a bad source.

        Whether it is due is read before the lock (one small read, so checking costs every worker
        little) and again after taking it, so a process that lost the race does not fetch again.
        A document older than the installed one is refused (`older_than`) unless ``allow_older``, the
        operator's explicit decision (``eid-gateway metadata refresh --allow-older``), which is audited.
        """
        if not force:
            status = self.status(source)
            if not self.due(source, status):
                return RefreshResult(source, Outcome.SKIPPED, "not due", status=status)
        lock = store_keys.lock(f"metadata-{source.key}")
        ttl = self.settings.timeout * 2 + _LOCK_MARGIN
        if not self.store.add_if_absent(lock, secrets.token_hex(8).encode(), ttl):
            return RefreshResult(source, Outcome.SKIPPED, "another process is refreshing this source")
        try:
            status = self.status(source)
            if not force and not self.due(source, status):
                return RefreshResult(source, Outcome.SKIPPED, "not due", status=status)
            return self._refresh_locked(source, status or SourceStatus(), allow_older)
        finally:
            self.store.delete(lock)

    def _refresh_locked(self, source: TrustedSource, status: SourceStatus, allow_older: bool) -> RefreshResult:
        now = self.clock()
        previous = self.installed(source)
        stamp = _file_stamp(source.source.file) if source.source.file is not None else None
        try:
            fetched = fetch(
                source.source,
                timeout=self.settings.timeout,
                max_bytes=self.settings.max_bytes,
                etag=status.etag if previous is not None else None,
                last_modified=status.last_modified if previous is not None else None,
            )
            if fetched.document is None and previous is not None:
                if previous.expired(now):
                    raise MetadataRefused("validUntil has passed")
                metadata = previous
            elif fetched.document is None:  # pragma: no cover - no validators are sent without a copy
                raise FetchFailed("not modified, but no copy is installed")
            else:
                cert = source.signing_cert()
                metadata = run_cpu_bound(partial(verify_metadata, fetched.document, cert, now=now))
                rollback = older_than(metadata, previous) if previous is not None else None
                if rollback is not None and not allow_older:
                    raise MetadataRefused(rollback)
                if rollback is not None:
                    self.audit.event("metadata rollback accepted", source=source.label, reason=rollback)
        except (FetchFailed, MetadataRefused, OSError) as exc:
            reason = getattr(exc, "reason", None) or f"cannot read the pinned certificate: {type(exc).__name__}"
            failed = replace(
                status,
                last_attempt=now,
                last_failure=now,
                failure_reason=reason,
                failures=status.failures + 1,
                next_refresh=now + min(self.settings.retry_interval, self.settings.max_interval),
            )
            self._put_status(source, failed)
            log.warning(
                "metadata refresh failed",
                extra={"source": source.label, "reason": reason, "kept_version": _short(status.version)},
            )
            return RefreshResult(source, Outcome.FAILED, reason)
        self.store.put(store_keys.metadata_document(source.key), metadata.document, _document_ttl(metadata, now))
        succeeded = replace(
            status,
            version=metadata.version,
            last_attempt=now,
            last_success=now,
            next_refresh=schedule(self.settings, metadata, now),
            valid_until=metadata.valid_until,
            cache_duration=metadata.cache_duration,
            entities=len(metadata.entities),
            refreshes=status.refreshes + 1,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            file_stamp=stamp,
        )
        self._put_status(source, succeeded)
        self.write_cache(source, metadata)
        if previous is not None and previous.version == metadata.version:
            return RefreshResult(source, Outcome.UNCHANGED, metadata=metadata)
        self._audit_change(source, previous, metadata)
        return RefreshResult(source, Outcome.INSTALLED, metadata=metadata)

    def _put_status(self, source: TrustedSource, status: SourceStatus) -> None:
        self.store.put(store_keys.metadata_status(source.key), status.to_bytes(), _RETENTION)

    # -- installed copies -----------------------------------------------------------------------

    def installed(self, source: TrustedSource) -> VerifiedMetadata | None:
        """The installed copy, verified again: from the store, else from the disk cache, else None."""
        try:
            document = self.store.get(store_keys.metadata_document(source.key))
        except StoreUnavailable:
            document = None
        if document is not None:
            metadata = self._verify_installed(source, document, "store")
            if metadata is not None:
                return metadata
        return self.cached(source)

    def cached(self, source: TrustedSource) -> VerifiedMetadata | None:
        """The copy in ``cache_dir``, if it still verifies."""
        try:
            document = self._cache_path(source).read_bytes()
        except OSError:
            return None
        return self._verify_installed(source, document, "disk cache")

    def _verify_installed(self, source: TrustedSource, document: bytes, where: str) -> VerifiedMetadata | None:
        try:
            cert, now = source.signing_cert(), self.clock()
            return run_cpu_bound(partial(verify_metadata, document, cert, now=now))
        except (MetadataRefused, OSError) as exc:
            log.warning(
                "installed metadata refused", extra={"source": source.label, "where": where, "reason": str(exc)}
            )
            return None

    def write_cache(self, source: TrustedSource, metadata: VerifiedMetadata) -> None:
        """Keep ``metadata`` on this host as the last-known-good (atomically: written aside, then renamed)."""
        path = self._cache_path(source)
        try:
            if path.is_file() and path.read_bytes() == metadata.document:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
            temporary.write_bytes(metadata.document)
            os.replace(temporary, path)
        except OSError as exc:
            log.warning("metadata cache not written", extra={"source": source.label, "reason": type(exc).__name__})

    def _cache_path(self, source: TrustedSource) -> Path:
        return self.settings.cache_dir / f"{source.label}-{source.key[:12]}.xml"

    # -- audit ----------------------------------------------------------------------------------

    def _audit_change(self, source: TrustedSource, old: VerifiedMetadata | None, new: VerifiedMetadata) -> None:
        """One event per entity added, removed or with changed keys, and one for the new version."""
        changes = diff(old, new)
        for entity in changes.added:
            self.audit.event(
                "metadata entity added",
                source=source.label,
                entity_id=entity.entity_id,
                fingerprints=_fingerprints(entity.fingerprints),
            )
        for entity in changes.removed:
            self.audit.event(
                "metadata entity removed",
                source=source.label,
                entity_id=entity.entity_id,
                fingerprints=_fingerprints(entity.fingerprints),
            )
        for before, after in changes.keys_changed:
            self.audit.event(
                "metadata entity keys changed",
                source=source.label,
                entity_id=after.entity_id,
                fingerprints_added=_fingerprints(after.fingerprints - before.fingerprints),
                fingerprints_removed=_fingerprints(before.fingerprints - after.fingerprints),
            )
        self.audit.event(
            "metadata installed",
            source=source.label,
            version=_short(new.version),
            previous_version=_short(old.version) if old else None,
            entities=len(new.entities),
            added=len(changes.added),
            removed=len(changes.removed),
            keys_changed=len(changes.keys_changed),
            valid_until=_iso(new.valid_until),
        )


def _document_ttl(metadata: VerifiedMetadata, now: float) -> float:
    if metadata.valid_until is None:
        return _RETENTION
    return max(metadata.valid_until - now, 1.0)


def _file_stamp(path: Path) -> str | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def _short(version: str | None) -> str | None:
    return version[:16] if version else None


def _fingerprints(values: frozenset[str]) -> str:
    return ",".join(sorted(values))


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
