"""The benchmark's arithmetic: nearest-rank percentiles, peak drift, and which runs decide each target."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.cli import targets
from bench.floor import Floor
from bench.report import Row
from bench.report import percentile

FLOOR = Floor(operations={"RSA sign: ID token (RS256)": 1.0, "RSA-OAEP unwrap: assertion key": 1.0})


def _row(**fields: Any) -> Row:
    values: dict[str, Any] = {
        "scenario": "cold", "workers": 2, "entities": 1, "users": 4, "target_rate": None, "ops": 100,
        "seconds": 1.0, "ops_per_s": 100.0, "gateway_cpu_ms_per_op": 9.0, "floor_ratio": 4.5,
        "harness_cpu_ms_per_op": 2.0, "redis_cpu_ms_per_op": 0.5, "other_load_cores": 0.0, "steal_percent": 0.0,
        "busy_percent": 70.0, "worker_wait_percent": 5.0, "errors": {}, "error_examples": {}, "setup_errors": 0,
        "latency_ms": {"authorize": {"p99": 5.0}, "acs": {"p99": 10.0}, "idp": {"p99": 500.0}},
    }  # fmt: skip
    values.update(fields)
    return Row(**values)


def test_percentile_is_the_nearest_rank_in_milliseconds() -> None:
    seconds = [i / 1000 for i in range(100, 0, -1)]  # 1..100 ms, in reverse order
    assert percentile(seconds, 0.50) == pytest.approx(50.0)
    assert percentile(seconds, 0.99) == pytest.approx(99.0)
    assert percentile(seconds[:10], 0.99) == pytest.approx(100.0)  # 10 samples: the largest is the 99th percentile
    assert percentile([0.003], 0.5) == pytest.approx(3.0)
    assert math.isnan(percentile([], 0.99))


def test_peak_drift_is_the_move_across_a_paced_run_relative_to_the_peak_before() -> None:
    assert _row(peak_before=200.0, peak_after=170.0).peak_drift == pytest.approx(0.15)
    assert _row(peak_before=200.0, peak_after=230.0).peak_drift == pytest.approx(0.15)
    assert _row().peak_drift == 0.0


def test_cpu_and_peak_come_from_the_plain_back_to_back_cold_runs_only() -> None:
    rows = [
        _row(workers=1, gateway_cpu_ms_per_op=8.5, ops_per_s=120.0),
        _row(workers=2, gateway_cpu_ms_per_op=9.5, ops_per_s=150.0),
        _row(target_rate=100.0, gateway_cpu_ms_per_op=7.0, ops_per_s=100.0, peak_before=150.0, peak_after=150.0),
        _row(group="entities", gateway_cpu_ms_per_op=6.0, ops_per_s=300.0),
        _row(scenario="sso", gateway_cpu_ms_per_op=3.0, ops_per_s=400.0),
    ]
    lines = targets(rows, FLOOR)
    assert lines[0] == "- gateway CPU per cold login: 8.50 ms (target <= 10; floor 2.00 ms)"
    assert lines[1] == "- peak: 150.0 logins/s with 2 worker(s), 4 users (target >= 100)"


def test_paced_target_is_the_median_of_each_runs_worst_gateway_leg() -> None:
    """The harness's own IdP leg never counts, however slow."""
    paced = [
        _row(
            target_rate=100.0,
            peak_before=140.0,
            peak_after=141.0,
            latency_ms={"acs": {"p99": p99}, "idp": {"p99": 900.0}},
        )
        for p99 in (30.0, 80.0, 45.0)
    ]
    (line,) = targets(paced, FLOOR)
    assert line.startswith("- at 70 % of peak, 2 workers: worst leg p99 45.0 ms, the median of 3 runs: 30.0 ms (acs,")
    assert line.endswith("(target < 50 ms)")


def test_entities_compare_the_means_of_each_side() -> None:
    rows = [
        _row(group="entities", entities=n, gateway_cpu_ms_per_op=cpu)
        for n, cpu in ((1, 8.0), (1000, 9.0), (1000, 9.4), (1, 8.4))
    ]
    (line,) = targets(rows, FLOOR)
    assert line == (
        "- 1000 vs 1 metadata entities (alternating runs, mean of 2): 9.20 vs 8.20 ms CPU/login "
        "(+12.2 %, target within 10 %)"
    )
