"""`python -m bench` end to end: a short plan against real gunicorn gateways and Redis.

The harness is how every performance claim of the project is made (bench/README.md), so the plan it
runs is checked here, shortened, not its numbers: every scenario completes logins that its relying
party verified (ID token signature, nonce, userinfo subject), the CPU it reports is the gateway
workers', the 1 vs N entities runs alternate in ABBA order, the targets are reported from the runs,
and the Redis keys it made are gone afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import redis

from bench.gateway import ROOT

pytestmark = pytest.mark.slow


def _bench_keys(redis_url: str) -> set[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return set(client.scan_iter(match="bench:*", count=1000))
    finally:
        client.close()


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> dict[str, Any]:
    """The JSON and stdout of one short run of the whole plan (both worker counts' scenarios, 3 entities)."""
    workdir = tmp_path_factory.mktemp("bench")
    keys_before = _bench_keys(redis_url)
    command = [
        sys.executable, "-m", "bench", "--workers", "2", "--users", "2", "--duration", "0.5", "--warmup", "1",
        "--entities", "3", "--wait", "0", "--retries", "0", "--redis-url", redis_url,
        "--workdir", str(workdir), "--json", str(workdir / "out.json"),
    ]  # fmt: skip
    done = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return {
        "json": json.loads((workdir / "out.json").read_text()),
        "stdout": done.stdout,
        "left_keys": _bench_keys(redis_url) - keys_before,
        "workdir": workdir,
    }


def test_every_run_completed_verified_logins_without_errors(bench_run: dict[str, Any]) -> None:
    runs = bench_run["json"]["runs"]
    assert runs
    for run in runs:
        assert run["ops"] > 0, run
        assert run["errors"] == {}, run["error_examples"]
        assert run["setup_errors"] == 0, run


def test_the_plan_has_every_scenario_with_its_legs(bench_run: dict[str, Any]) -> None:
    runs = bench_run["json"]["runs"]
    legs = {run["scenario"]: set(run["latency_ms"]) for run in runs}
    assert legs["cold"] == {"authorize", "idp", "acs", "token", "userinfo"}
    assert legs["sso"] == {"authorize_sso", "token", "userinfo"}
    assert legs["token"] == {"token", "userinfo"}
    paced = [run for run in runs if run["target_rate"] is not None]
    assert len(paced) == 3
    for run in paced:  # 70 % of the peak measured just before it, and that peak measured again after
        assert run["target_rate"] == pytest.approx(0.7 * run["peak_before"], abs=0.1)
        assert run["peak_after"] > 0


def test_reported_cpu_is_the_gateway_workers_own(bench_run: dict[str, Any]) -> None:
    """A cold login makes the floor's private-key operations in a worker: less would mean the workers went uncounted."""
    document = bench_run["json"]
    floor = document["floor_ms"]
    for run in document["runs"]:
        least = floor["cold_login_total"] if run["scenario"] == "cold" else floor["token_userinfo"]
        assert run["gateway_cpu_ms_per_op"] > least, run
        assert run["harness_cpu_ms_per_op"] > 0, run


def test_entities_runs_alternate_in_abba_order(bench_run: dict[str, Any]) -> None:
    compared = [run["entities"] for run in bench_run["json"]["runs"] if run["group"] == "entities"]
    assert compared == [1, 3, 3, 1, 1, 3, 3, 1]


def test_targets_are_reported_from_the_runs(bench_run: dict[str, Any]) -> None:
    runs = bench_run["json"]["runs"]
    plain_cold = [r for r in runs if r["scenario"] == "cold" and not r["group"] and r["target_rate"] is None]
    best = min(r["gateway_cpu_ms_per_op"] for r in plain_cold)
    stdout = bench_run["stdout"]
    assert f"- gateway CPU per cold login: {best:.2f} ms (target <= 10;" in stdout
    assert "- at 70 % of peak, 2 workers: worst leg p99" in stdout
    assert "- 3 vs 1 metadata entities (alternating runs, mean of 4):" in stdout


def test_files_stay_in_the_workdir_and_redis_keys_are_removed(bench_run: dict[str, Any]) -> None:
    assert bench_run["left_keys"] == set()
    names = {path.name for path in bench_run["workdir"].iterdir()}
    assert {"w2-e1", "w2-e1-entities", "w2-e3-entities", "out.json"} <= names
