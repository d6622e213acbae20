"""Turn measured runs into rows: throughput, CPU per operation, latency percentiles, errors; table and JSON."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.floor import Floor
from bench.load import Measured

LEGS = ("authorize", "authorize_sso", "acs", "token", "userinfo")
"""Gateway legs, in login order; ``idp`` (the harness's own IdP) is reported apart."""


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile in milliseconds (NIST: the smallest value with ``fraction`` at or below it)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] * 1000


@dataclass
class Row:
    """One run, as reported."""

    scenario: str
    workers: int
    entities: int
    users: int
    target_rate: float | None
    ops: int
    seconds: float
    ops_per_s: float
    gateway_cpu_ms_per_op: float
    floor_ratio: float
    harness_cpu_ms_per_op: float
    redis_cpu_ms_per_op: float | None
    other_load_cores: float
    """CPU cores used meanwhile by processes that are neither the gateway, the harness nor Redis."""
    steal_percent: float
    """Share of the machine's CPU time the hypervisor gave to other guests meanwhile: stalls no code can avoid."""
    busy_percent: float
    """Share of the machine's CPU time in use meanwhile, by anyone: how near saturation a tail was measured."""
    worker_wait_percent: float
    """Share of the run a gateway worker spent ready to run but waiting for a CPU (the master's and the
    workers' waits over the number of workers): the part of the latency tail that is the machine's, not
    the gateway's code."""
    latency_ms: dict[str, dict[str, float]]
    errors: dict[str, int]
    error_examples: dict[str, str]
    setup_errors: int
    group: str = ""
    """Runs made to be compared with each other (``entities``: 1 vs N metadata entities, alternating)."""
    attempts: int = 1
    """How many times the run was made: again while other processes loaded the machine (`--busy`), or,
    for a paced run, while the peak moved across it (`--drift`)."""
    peak_before: float | None = None
    """Paced runs: logins/s of the short peak run just before, of which the rate is 70 %."""
    peak_after: float | None = None
    """Paced runs: logins/s of the short peak run just after."""

    @property
    def peak_drift(self) -> float:
        """How much the peak moved across a paced run, as a share of the peak before it (0 for other runs)."""
        if not self.peak_before or self.peak_after is None:
            return 0.0
        return abs(self.peak_after - self.peak_before) / self.peak_before


def row(
    scenario: str,
    workers: int,
    entities: int,
    users: int,
    rate: float | None,
    measured: Measured,
    floor: Floor,
    group: str = "",
) -> Row:
    """Summarize one measured run; the floor is a cold login's, or the ID token's for token-only work."""
    result = measured.result
    ops = max(result.completed, 1)
    cpu_ms = measured.gateway_cpu * 1000 / ops
    floor_ms = floor.total_ms if scenario == "cold" else floor.token_ms
    cores = os.cpu_count() or 1
    other = measured.machine_busy - measured.gateway_cpu - result.harness_cpu - (measured.redis_cpu or 0.0)
    latency = {
        leg: {
            "p50": round(percentile(samples, 0.50), 2),
            "p90": round(percentile(samples, 0.90), 2),
            "p99": round(percentile(samples, 0.99), 2),
            "n": len(samples),
        }
        for leg, samples in result.legs.items()
    }
    return Row(
        scenario=scenario,
        workers=workers,
        entities=entities,
        users=users,
        target_rate=round(rate, 1) if rate else None,
        ops=result.completed,
        seconds=round(measured.elapsed, 2),
        ops_per_s=round(result.completed / measured.elapsed, 1) if measured.elapsed > 0 else 0.0,
        gateway_cpu_ms_per_op=round(cpu_ms, 2),
        floor_ratio=round(cpu_ms / floor_ms, 1),
        harness_cpu_ms_per_op=round(result.harness_cpu * 1000 / ops, 2),
        redis_cpu_ms_per_op=None if measured.redis_cpu is None else round(measured.redis_cpu * 1000 / ops, 2),
        other_load_cores=round(max(0.0, other) / measured.elapsed, 2) if measured.elapsed > 0 else 0.0,
        steal_percent=round(100 * measured.steal / (measured.elapsed * cores), 1) if measured.elapsed > 0 else 0.0,
        # The counters are read a moment after the last login ends, so a saturated run can show just over 100.
        busy_percent=min(100, round(100 * measured.machine_busy / (measured.elapsed * cores or 1))),
        worker_wait_percent=round(100 * measured.gateway_wait / (measured.elapsed * workers or 1), 1),
        latency_ms=latency,
        errors=dict(result.errors),
        error_examples=dict(result.examples),
        setup_errors=result.setup_errors,
        group=group,
    )


def _legs(latency: dict[str, dict[str, float]]) -> str:
    parts = []
    for leg in LEGS:
        if leg in latency:
            values = latency[leg]
            parts.append(f"{leg} {values['p50']:.1f}/{values['p90']:.1f}/{values['p99']:.1f}")
    return "; ".join(parts)


def table(rows: list[Row], floor: Floor) -> str:
    """A Markdown table of every run, then the floor."""
    lines = [
        "| scenario | workers | entities | users | rate | ops/s | gateway CPU ms/op | x floor | harness ms/op "
        "| redis ms/op | other load | steal | machine busy | worker wait | latency p50/p90/p99 ms per leg | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        redis = "-" if r.redis_cpu_ms_per_op is None else f"{r.redis_cpu_ms_per_op:.2f}"
        rate = "max" if r.target_rate is None else f"{r.target_rate:.0f}/s"
        if r.peak_before is not None and r.peak_after is not None:
            rate += f" (peak {r.peak_before:.0f} → {r.peak_after:.0f})"
        errors = ", ".join(f"{stage}: {count}" for stage, count in r.errors.items()) or "0"
        if r.setup_errors:
            errors += f" (setup: {r.setup_errors})"
        lines.append(
            f"| {r.scenario} | {r.workers} | {r.entities} | {r.users} | {rate} | {r.ops_per_s:.1f} "
            f"| {r.gateway_cpu_ms_per_op:.2f} | {r.floor_ratio:.1f} | {r.harness_cpu_ms_per_op:.2f} | {redis} "
            f"| {r.other_load_cores:.2f}{f' ({r.attempts} runs)' if r.attempts > 1 else ''} | {r.steal_percent:.1f} % "
            f"| {r.busy_percent:.0f} % | {r.worker_wait_percent:.1f} % | {_legs(r.latency_ms)} | {errors} |"
        )
    lines.append("")
    lines.append(
        "ops: cold and SSO logins (authorize to userinfo), or token + userinfo pairs. CPU columns are per op: the "
        "gateway's (gunicorn master + workers), the harness's (RP + IdP processes) and Redis's own. Other load: "
        "cores used meanwhile by everything else on the machine (a busy run is made again, the quietest kept). "
        "Steal: share of the machine's CPU time the hypervisor gave to other guests during the run; a vCPU "
        "taken away stalls whatever ran on it, which shows in the latency tail. Machine busy: share of the "
        "machine's CPU time in use during the run, by anyone; the nearer 100 %, the longer the queues behind the "
        "latency tail. "
        "Worker wait: share of the run a gateway worker spent ready to run but waiting for a CPU (kernel "
        "schedstat; per worker, the master's share included), latency that is the machine's, not the code's. "
        "x floor: gateway CPU per op / crypto floor (of a cold login; of the ID token for SSO and token). "
        "Paced runs: 70 % of the peak (logins/s) of a short back-to-back run just before, and that peak just after."
    )
    lines.append("")
    lines.append("Crypto floor on this machine (median ms per operation):")
    lines.append("")
    for name, ms in floor.operations.items():
        lines.append(f"- {name}: {ms:.3f}")
    lines.append(f"- **cold login total: {floor.total_ms:.2f} ms**; token + userinfo: {floor.token_ms:.2f} ms")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(path: Path, rows: list[Row], floor: Floor, extra: dict[str, Any]) -> None:
    """Everything in one JSON document."""
    document = {
        "machine": machine(),
        "floor_ms": {**floor.operations, "cold_login_total": floor.total_ms, "token_userinfo": floor.token_ms},
        "runs": [asdict(r) for r in rows],
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
