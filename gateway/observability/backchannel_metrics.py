"""Prometheus counters of back-channel logout notifications, per e-service and outcome.

The counts live in the shared store (`gateway.oidc.backchannel`), so every worker reports the same
numbers for the whole deployment, read when Prometheus scrapes, like `gateway.observability.metrics`.
A failing e-service shows as a rising ``outcome="failed"`` count; the log line says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from gateway.errors import StoreUnavailable
from gateway.observability.metrics import PREFIX

log = logging.getLogger(__name__)

Counts = Callable[[], list[tuple[str, str, int]]]
"""``(client_id, outcome, count)`` for each e-service with a back-channel logout URI."""


class BackchannelCollector(Collector):
    """``eid_gateway_backchannel_logouts_total{client, outcome}``, read at scrape time."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        """One sample per client and outcome; none while the store does not answer."""
        family = CounterMetricFamily(
            f"{PREFIX}_backchannel_logouts", "Back-channel logout notifications sent", labels=["client", "outcome"]
        )
        try:
            counts = self.counts()
        except StoreUnavailable:
            log.warning("back-channel logout counts unavailable for metrics")
            counts = []
        for client_id, outcome, count in counts:
            family.add_metric([client_id, outcome], float(count))
        yield family
