"""Prometheus metrics for what the gateway trusts: metadata sources, provider certificates, own keys.

Counters of refreshes and failures and the last success and failure times live in the shared store
(`gateway.trust.metadata_refresh`), so whichever worker answers a scrape reports the same numbers for
the whole deployment; whether a valid copy is installed is this worker's own fact. Everything is read
when Prometheus scrapes (a custom collector), so no worker keeps metric state and gunicorn needs no
multiprocess mode.

Who may scrape is `scrape_access`: the metrics name the providers and keys the gateway trusts and when
they expire, so production serves them only to a scraper with the configured bearer token, or to anyone
when the operator says so (`MetricsSettings`).
"""

from __future__ import annotations

import enum
import hmac
import logging
import time
from collections.abc import Callable
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.registry import CollectorRegistry

from gateway.errors import StoreUnavailable
from gateway.settings.schema import MetricsSettings
from gateway.settings.schema import ProviderSettings
from gateway.trust.rollover import KeyStatus
from gateway.trust.runtime import TrustRuntime
from gateway.trust.status import report

log = logging.getLogger(__name__)
PREFIX = "eid_gateway"


class TrustCollector(Collector):
    """Reads the trust facts at scrape time; see the module docstring."""

    def __init__(
        self,
        runtime: TrustRuntime,
        providers: tuple[ProviderSettings, ...],
        key_status: Callable[[], list[KeyStatus]],
        *,
        window_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.providers = providers
        self.key_status = key_status
        self.window_days = window_days
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """One family per fact, labelled by source, provider or key."""
        now = self.clock()
        labels = ["source"]
        valid = GaugeMetricFamily(f"{PREFIX}_metadata_valid", "1 while this worker trusts a valid copy", labels=labels)
        until = GaugeMetricFamily(f"{PREFIX}_metadata_valid_until_timestamp_seconds", "validUntil", labels=labels)
        entities = GaugeMetricFamily(f"{PREFIX}_metadata_entities", "Entities in the trusted copy", labels=labels)
        success = GaugeMetricFamily(
            f"{PREFIX}_metadata_last_success_timestamp_seconds", "Last successful refresh", labels=labels
        )
        failure = GaugeMetricFamily(
            f"{PREFIX}_metadata_last_failure_timestamp_seconds", "Last failed refresh", labels=labels
        )
        next_refresh = GaugeMetricFamily(
            f"{PREFIX}_metadata_next_refresh_timestamp_seconds", "Next scheduled refresh", labels=labels
        )
        refreshes = CounterMetricFamily(f"{PREFIX}_metadata_refreshes", "Successful refreshes", labels=labels)
        failures = CounterMetricFamily(f"{PREFIX}_metadata_refresh_failures", "Failed refreshes", labels=labels)
        present = GaugeMetricFamily(
            f"{PREFIX}_metadata_provider_present",
            "1 when the source describes the configured provider as an IdP",
            labels=["source", "provider"],
        )
        expiry = GaugeMetricFamily(
            f"{PREFIX}_provider_certificate_expiring_timestamp_seconds",
            "notAfter of provider certificates expiring within the warning window",
            labels=["provider", "use", "fingerprint"],
        )
        for source in self.runtime.sources:
            installed = self.runtime.installed.get(source.key)
            try:
                status = self.runtime.refresher.status(source)
            except StoreUnavailable:
                status = None
            facts = report(source, status, installed, self.providers, window_days=self.window_days, now=now)
            valid.add_metric([source.label], 1.0 if installed is not None and not installed.expired(now) else 0.0)
            if installed is not None:
                entities.add_metric([source.label], float(len(installed.entities)))
                if installed.valid_until is not None:
                    until.add_metric([source.label], installed.valid_until)
            if status is not None:
                for family, value in (
                    (success, status.last_success),
                    (failure, status.last_failure),
                    (next_refresh, status.next_refresh),
                ):
                    if value:
                        family.add_metric([source.label], value)
                refreshes.add_metric([source.label], float(status.refreshes))
                failures.add_metric([source.label], float(status.failures))
            for provider in facts.providers_found:
                present.add_metric([source.label, provider], 1.0)
            for provider in facts.providers_missing:
                present.add_metric([source.label, provider], 0.0)
            for cert in facts.expiring:
                expiry.add_metric([cert.provider, cert.use, cert.fingerprint[:16]], cert.not_after)
        yield from (valid, until, entities, success, failure, next_refresh, refreshes, failures, present, expiry)
        yield from self._keys()

    def _keys(self) -> Iterator[GaugeMetricFamily]:
        labels = ["role", "stage", "kid"]
        created = GaugeMetricFamily(f"{PREFIX}_key_created_timestamp_seconds", "When the key was made", labels=labels)
        since = GaugeMetricFamily(
            f"{PREFIX}_key_stage_since_timestamp_seconds", "Since when the key is at this stage", labels=labels
        )
        try:
            statuses = self.key_status()
        except (OSError, ValueError):
            log.warning("key status unavailable for metrics")
            statuses = []
        for key in statuses:
            created.add_metric([key.role, key.stage, key.kid], key.created)
            since.add_metric([key.role, key.stage, key.kid], key.since)
        yield created
        yield since


def build_registry(collector: TrustCollector) -> CollectorRegistry:
    """A registry of the gateway's own metrics only (no per-process defaults that differ by worker)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


class Scrape(enum.Enum):
    """What a request for /metrics gets."""

    SERVE = "serve"
    HIDDEN = "hidden"
    """No token configured and not public: answered as if there were no such page (404)."""
    NO_CREDENTIALS = "no bearer token"
    WRONG_CREDENTIALS = "wrong bearer token"


def scrape_access(access: MetricsSettings, authorization: str | None) -> Scrape:
    """Decide on one scrape from the settings and the request's ``Authorization`` header.

    The token is an RFC 6750 bearer token (2.1, ``Bearer`` compared case-insensitively as an auth-scheme,
    RFC 9110 11.1) and is compared in constant time, so response timing does not reveal how much of a guess
    was right.
    """
    if access.token is None:
        return Scrape.SERVE if access.public else Scrape.HIDDEN
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return Scrape.NO_CREDENTIALS
    if hmac.compare_digest(presented.strip().encode("utf-8", "replace"), access.token):
        return Scrape.SERVE
    return Scrape.WRONG_CREDENTIALS
