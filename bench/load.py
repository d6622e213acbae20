"""Drive one run: load processes full of simulated users, a synchronized start, exact CPU accounting.

A run has three phases. Setup and warm-up (each user logs in a few times, or mints the codes it will
redeem) happen before the clock starts. Then every load process waits on one barrier with the
parent; the parent reads the gateway's CPU counters while the gateway is idle and releases everyone
at once. Each user works until the deadline (or its codes run out) and finishes the login in hand;
when all have reported, the gateway is idle again and the parent reads the counters a second time.
So all CPU between the two readings belongs to the operations counted, and none outside them.

Load runs in separate processes (``spawn``): the RP and the IdP are never in the gateway's process,
and several processes keep the harness's threads from waiting on one GIL, which would add the
harness's own delays to the latencies it reports. With ``rate`` set, users start
logins on a fixed schedule (open loop, for latency at a given throughput) instead of back to back.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from bench.flows import Code
from bench.flows import Recorder
from bench.flows import Site
from bench.flows import StepFailed
from bench.flows import User
from bench.idp import BenchIdP
from gateway.trust.certs import KeyPair

COLD = "cold"
SSO = "sso"
TOKEN = "token"  # noqa: S105 - a scenario name, not a secret
SCENARIOS = (COLD, SSO, TOKEN)


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """What one load process does."""

    scenario: str
    site: Site
    idp_key: KeyPair
    idp_entity_id: str
    idp_sso_url: str
    sp_metadata: bytes
    users: int
    """Users (threads) in this process."""
    total_users: int
    first_user: int
    duration: float
    warmup: int
    rate: float | None = None
    """Logins per second over all processes, or None for back to back."""
    codes: int = 0
    """Codes each user mints before the clock starts (token scenario)."""
    nice: int = 0
    """Niceness the process adds to its own before starting its users (`--nice`)."""


@dataclass
class LoadResult:
    """What one load process reports."""

    legs: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    completed: int = 0
    started: float = 0.0
    finished: float = 0.0
    harness_cpu: float = 0.0
    setup_errors: int = 0


def _user_loop(
    spec: LoadSpec, index: int, idp: BenchIdP, ready: threading.Barrier, go: threading.Event, out: list[Any]
) -> None:
    setup = Recorder()
    user = User(spec.site, idp, setup)
    codes: list[Code] = []
    setup_errors = 0
    try:
        for _ in range(spec.warmup + (1 if spec.scenario != COLD else 0)):
            try:
                user.redeem(user.cold_login())
            except Exception:  # noqa: BLE001 - counted; the run reports setup errors
                setup_errors += 1
        if spec.scenario == TOKEN:
            for _ in range(spec.codes):
                try:
                    codes.append(user.sso_login())
                except Exception:  # noqa: BLE001 - counted; the run reports setup errors
                    setup_errors += 1
    finally:
        ready.wait()
    go.wait()
    rec = Recorder()
    user.rec = rec
    start_at: float = out[0]
    deadline = start_at + spec.duration
    interval = spec.total_users / spec.rate if spec.rate else 0.0
    next_start = start_at + (spec.first_user + index) / spec.rate if spec.rate else start_at
    while True:
        if spec.rate:
            if next_start >= deadline:
                break
            delay = next_start - time.time()
            if delay > 0:
                time.sleep(delay)
            next_start += interval
        elif time.time() >= deadline:
            break
        if spec.scenario == TOKEN and not codes:
            break
        try:
            if spec.scenario == COLD:
                user.redeem(user.cold_login())
            elif spec.scenario == SSO:
                user.redeem(user.sso_login())
            else:
                user.redeem(codes.pop())
            rec.completed += 1
        except StepFailed as failure:
            rec.error(failure)
        except Exception as exc:  # noqa: BLE001 - a harness bug must show up as a counted error, not a hang
            rec.error(StepFailed("harness", type(exc).__name__))
    user.close()
    out.append((rec, setup_errors, time.time()))


def run_process(spec: LoadSpec, barrier: Any, go_time: Any, queue: Any) -> None:
    """Entry point of one load process (spawned)."""
    if spec.nice:
        os.nice(spec.nice)
    idp = BenchIdP(spec.idp_key, entity_id=spec.idp_entity_id, sso_url=spec.idp_sso_url, sp_metadata=spec.sp_metadata)
    ready = threading.Barrier(spec.users + 1)
    go = threading.Event()
    outputs: list[list[Any]] = [[0.0] for _ in range(spec.users)]
    threads = []
    for index in range(spec.users):
        out = outputs[index]
        thread = threading.Thread(target=_user_loop, args=(spec, index, idp, ready, go, out), daemon=True)
        threads.append(thread)
        thread.start()
    ready.wait()
    barrier.wait()  # every process is warm
    barrier.wait()  # the parent has read the CPU counters and set the start time
    start_at = go_time.value
    for out in outputs:
        out[0] = start_at
    cpu_before = time.process_time()
    go.set()
    for thread in threads:
        thread.join()
    result = LoadResult(started=start_at, harness_cpu=time.process_time() - cpu_before)
    for out in outputs:
        rec, setup_errors, finished = out[1]
        result.setup_errors += setup_errors
        result.completed += rec.completed
        result.finished = max(result.finished, finished)
        for leg, samples in rec.legs.items():
            result.legs.setdefault(leg, []).extend(samples)
        for stage, count in rec.errors.items():
            result.errors[stage] = result.errors.get(stage, 0) + count
        for stage, example in rec.examples.items():
            result.examples.setdefault(stage, example)
    queue.put(result)


@dataclass
class Measured:
    """One run, merged over load processes, with the gateway's CPU over exactly the measured phase."""

    result: LoadResult
    gateway_cpu: float
    redis_cpu: float | None
    elapsed: float
    machine_busy: float
    """CPU seconds every process on the machine used meanwhile (/proc/stat), to see others' load."""
    steal: float = 0.0
    """CPU seconds the hypervisor gave to other guests meanwhile, summed over CPUs (/proc/stat)."""
    gateway_wait: float = 0.0
    """Seconds the gateway's processes spent ready to run but waiting for a CPU, summed over them."""


def _cpu_times() -> list[int]:
    """The machine's CPU time since boot, in clock ticks, from the first line of /proc/stat (proc(5))."""
    from pathlib import Path

    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot: user, nice, system, irq and softirq time."""
    user, nice, system, _idle, _iowait, irq, softirq, _steal = _cpu_times()
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def machine_steal_seconds() -> float:
    """CPU seconds since boot during which a virtual CPU was ready but the hypervisor ran another guest."""
    return _cpu_times()[7] / os.sysconf("SC_CLK_TCK")


def drive(
    specs: list[LoadSpec],
    read_gateway_cpu: Any,
    read_gateway_wait: Any,
    read_redis_cpu: Any,
    timeout: float,
) -> Measured:
    """Run one load process per spec and measure the gateway between the synchronized start and the end."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(specs) + 1)
    go_time = context.Value("d", 0.0)
    queue = context.Queue()
    processes = [context.Process(target=run_process, args=(spec, barrier, go_time, queue)) for spec in specs]
    for process in processes:
        process.start()
    try:
        barrier.wait(timeout=timeout)
        time.sleep(0.3)  # let the last warm-up requests' tails finish in the gateway
        cpu_before = read_gateway_cpu()
        wait_before = read_gateway_wait()
        redis_before = read_redis_cpu()
        busy_before = machine_busy_seconds()
        steal_before = machine_steal_seconds()
        go_time.value = time.time() + 0.05
        barrier.wait(timeout=30)
        results = [queue.get(timeout=timeout) for _ in processes]
        cpu_after = read_gateway_cpu()
        wait_after = read_gateway_wait()
        redis_after = read_redis_cpu()
        busy_after = machine_busy_seconds()
        steal_after = machine_steal_seconds()
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    merged = LoadResult(started=go_time.value)
    for result in results:
        merged.completed += result.completed
        merged.finished = max(merged.finished, result.finished)
        merged.harness_cpu += result.harness_cpu
        merged.setup_errors += result.setup_errors
        for leg, samples in result.legs.items():
            merged.legs.setdefault(leg, []).extend(samples)
        for stage, count in result.errors.items():
            merged.errors[stage] = merged.errors.get(stage, 0) + count
        for stage, example in result.examples.items():
            merged.examples.setdefault(stage, example)
    redis_cpu = None if redis_before is None or redis_after is None else redis_after - redis_before
    return Measured(
        merged,
        cpu_after - cpu_before,
        redis_cpu,
        merged.finished - merged.started,
        busy_after - busy_before,
        steal_after - steal_before,
        wait_after - wait_before,
    )


def split(total: int, parts: int) -> list[int]:
    """``total`` users over ``parts`` processes, as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def make_specs(
    scenario: str,
    *,
    concurrency: int,
    processes: int,
    duration: float,
    warmup: int,
    rate: float | None,
    codes: int,
    common: dict[str, Any],
) -> list[LoadSpec]:
    """Load specs for ``concurrency`` users spread over ``processes`` load processes."""
    specs = []
    first = 0
    for users in split(concurrency, min(processes, concurrency)):
        specs.append(
            LoadSpec(
                scenario=scenario, users=users, total_users=concurrency, first_user=first, duration=duration,
                warmup=warmup, rate=rate, codes=codes, **common,
            )
        )  # fmt: skip
        first += users
    return specs
