"""What one gateway process trusts and signs with right now, kept current by one background thread.

Every ``check_interval`` the thread (started by `create_app` in served processes only):

* looks at the keys directory (a few ``stat`` calls); when a rollover step changed it, reads the keys
  under the shared lock and hands them to the listeners (SP, OIDC signing keys);
* refreshes the metadata sources that are due (`MetadataRefresher`: one process across all of them
  fetches, under the store lock);
* reads each source's status from the store (one small read) and, when another process installed a
  new version, loads and verifies that version and hands it to the listeners;
* drops a copy whose ``validUntil`` has passed: it is no longer trusted, and `readiness` says so.

Requests never wait for any of this: listeners build a new SP snapshot aside and swap it in, in a
native thread under gevent (`run_cpu_bound`), so a worker keeps serving while a large aggregate loads. A
failure in one round is logged and the next round tries again; the last good state stays in force.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from gateway.errors import StoreUnavailable
from gateway.os_thread import run_cpu_bound
from gateway.trust.keystore import KeySet
from gateway.trust.keystore import load_keys
from gateway.trust.metadata import MetadataRefused
from gateway.trust.metadata import VerifiedMetadata
from gateway.trust.metadata import verify_metadata
from gateway.trust.metadata_fetch import FetchFailed
from gateway.trust.metadata_fetch import fetch
from gateway.trust.metadata_refresh import MetadataRefresher
from gateway.trust.metadata_refresh import Outcome
from gateway.trust.metadata_refresh import TrustedSource

log = logging.getLogger("gateway.trust")

MetadataListener = Callable[[tuple[VerifiedMetadata, ...]], None]
KeysListener = Callable[[KeySet], None]


def _keys_stamp(keys_dir: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Name, inode, size and mtime of every key file: changes with any rollover step, costs a few stats."""
    stamp = []
    try:
        entries = sorted(p for p in keys_dir.iterdir() if p.suffix in (".pem", ".crt"))
    except OSError:
        return ()
    for path in entries:
        try:
            info = path.stat()
        except OSError:
            continue
        stamp.append((path.name, info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def _identity(keys: KeySet) -> frozenset[tuple[str, str, str]]:
    return frozenset((k.role, k.stage, k.kid) for k in keys.keys)


class TrustRuntime:
    """This process's trusted metadata and keys; see the module docstring."""

    def __init__(
        self,
        *,
        refresher: MetadataRefresher,
        keys: KeySet,
        keys_dir: Path,
        configured_secret: bytes | None,
        metadata_interval: float,
        keys_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.refresher = refresher
        self.keys = keys
        self.keys_dir = keys_dir
        self._secret = configured_secret
        self._metadata_interval = metadata_interval
        self._keys_interval = keys_interval
        self._clock = clock
        self._keys_stamp = _keys_stamp(keys_dir)
        self._metadata_listeners: list[MetadataListener] = []
        self._keys_listeners: list[KeysListener] = []
        self.installed: dict[str, VerifiedMetadata] = {}
        self._next_metadata = 0.0
        self._next_keys = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def sources(self) -> tuple[TrustedSource, ...]:
        """The configured metadata sources."""
        return self.refresher.sources

    def on_metadata(self, listener: MetadataListener) -> None:
        """Call ``listener`` with every trusted document whenever the set changes."""
        self._metadata_listeners.append(listener)

    def on_keys(self, listener: KeysListener) -> None:
        """Call ``listener`` with the new key set after a rollover step."""
        self._keys_listeners.append(listener)

    def trusted(self) -> tuple[VerifiedMetadata, ...]:
        """The documents this process trusts now, in source order."""
        return tuple(self.installed[s.key] for s in self.sources if s.key in self.installed)

    # -- start --------------------------------------------------------------------------------

    def load_initial(self) -> tuple[VerifiedMetadata, ...]:
        """At start: refresh what is due, then take the installed copies (store, else disk cache, else the file)."""
        for source in self.sources:
            try:
                self.refresher.refresh(source, force=False)
            except StoreUnavailable:
                log.warning("metadata refresh skipped: store unavailable", extra={"source": source.label})
            metadata = self.refresher.installed(source) or self._read_local(source)
            if metadata is not None:
                self.installed[source.key] = metadata
                self.refresher.write_cache(source, metadata)
        self._next_metadata = self._clock() + self._metadata_interval
        self._next_keys = self._clock() + self._keys_interval
        return self.trusted()

    def _read_local(self, source: TrustedSource) -> VerifiedMetadata | None:
        """A file source read directly when the store has nothing and cannot be reached (single process)."""
        if source.source.file is None:
            return None
        settings = self.refresher.settings
        try:
            fetched = fetch(source.source, timeout=settings.timeout, max_bytes=settings.max_bytes)
            document, cert, now = fetched.document or b"", source.signing_cert(), self._clock()
            return run_cpu_bound(partial(verify_metadata, document, cert, now=now))
        except (FetchFailed, MetadataRefused, OSError) as exc:
            log.warning("metadata refused", extra={"source": source.label, "reason": str(exc)})
            return None

    def start(self) -> None:
        """Run `tick` in a daemon thread until the process ends."""
        if self._thread is not None:
            return
        interval = max(0.2, min(self._metadata_interval, self._keys_interval) / 2)

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                except Exception:
                    log.exception("trust refresh round failed")

        self._thread = threading.Thread(target=run, name="eid-gateway-trust", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (tests)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- one round ----------------------------------------------------------------------------

    def tick(self) -> None:
        """One round of key and metadata checks; see the module docstring."""
        with self._lock:
            now = self._clock()
            if now >= self._next_keys:
                self._next_keys = now + self._keys_interval
                self._check_keys()
            if now >= self._next_metadata:
                self._next_metadata = now + self._metadata_interval
                self._check_metadata(now)

    def _check_keys(self) -> None:
        stamp = _keys_stamp(self.keys_dir)
        if stamp == self._keys_stamp:
            return
        try:
            keys = load_keys(self.keys_dir, self._secret or self.keys.secret)
        except (OSError, ValueError) as exc:
            log.error("keys not reloaded", extra={"reason": type(exc).__name__})
            return
        self._keys_stamp = stamp
        if _identity(keys) == _identity(self.keys):
            return
        for listener in self._keys_listeners:
            run_cpu_bound(partial(listener, keys))
        self.keys = keys
        log.info(
            "keys reloaded",
            extra={"keys": ",".join(sorted(f"{k.role}/{k.stage}/{k.kid}" for k in keys.keys))},
        )

    def _check_metadata(self, now: float) -> None:
        changed: dict[str, VerifiedMetadata | None] = {}
        for source in self.sources:
            try:
                result = self.refresher.refresh(source, force=False)
                current = self.installed.get(source.key)
                if result.outcome in (Outcome.INSTALLED, Outcome.UNCHANGED) and result.metadata is not None:
                    if current is None or current.version != result.metadata.version:
                        changed[source.key] = result.metadata
                    continue
                status = result.status or self.refresher.status(source)
            except StoreUnavailable:
                log.warning("metadata check skipped: store unavailable", extra={"source": source.label})
                continue
            if status is not None and status.version and (current is None or current.version != status.version):
                metadata = self.refresher.installed(source)
                if metadata is not None and (current is None or metadata.version != current.version):
                    self.refresher.write_cache(source, metadata)
                    changed[source.key] = metadata
        for source in self.sources:
            current = changed.get(source.key, self.installed.get(source.key))
            if current is not None and current.expired(now):
                log.error("metadata expired: no longer trusted", extra={"source": source.label})
                changed[source.key] = None
        if changed:
            self._install(changed)

    def _install(self, changed: dict[str, VerifiedMetadata | None]) -> None:
        proposed = dict(self.installed)
        for key, metadata in changed.items():
            if metadata is None:
                proposed.pop(key, None)
            else:
                proposed[key] = metadata
        documents = tuple(proposed[s.key] for s in self.sources if s.key in proposed)
        try:
            for listener in self._metadata_listeners:
                run_cpu_bound(partial(listener, documents))
        except ValueError as exc:
            log.error("metadata not installed", extra={"reason": str(exc)})
            return
        self.installed = proposed
        for source in self.sources:
            if source.key in changed:
                metadata = changed[source.key]
                log.info(
                    "metadata now trusted" if metadata else "metadata removed",
                    extra={"source": source.label, "version": metadata.version[:16] if metadata else None},
                )

    # -- readiness ----------------------------------------------------------------------------

    def readiness(self, now: float | None = None) -> dict[str, str]:
        """Per source without a valid copy in this process, why; empty when every source is trusted."""
        now = self._clock() if now is None else now
        problems = {}
        for source in self.sources:
            metadata = self.installed.get(source.key)
            if metadata is None:
                problems[source.label] = "no valid metadata"
            elif metadata.expired(now):
                problems[source.label] = "validUntil has passed"
        return problems
