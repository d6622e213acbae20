"""``python -m bench``: run the benchmark plan, print a Markdown table, write JSON.

The default plan takes about three minutes on a 2-core machine:

1. the crypto floor (`bench.floor`);
2. one gunicorn worker: cold logins with 1, 4 and 16 simultaneous users;
3. two workers: cold logins with 1, 4 and 16 users (the best is the peak), cold logins paced at
   70 % of that peak (32 users, open loop), SSO logins and token + userinfo alone;
4. two workers with 1,000 IdP entities in the federation metadata: cold logins with 1 and 16 users,
   to compare with the same runs against an aggregate of one.

Everything runs on 127.0.0.1 only and every run is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.floor import Floor
from bench.floor import measure
from bench.flows import Site
from bench.gateway import CLIENT_ID
from bench.gateway import IDP_ENTITY_ID
from bench.gateway import IDP_SSO_URL
from bench.gateway import REDIRECT_URI
from bench.gateway import ROOT
from bench.gateway import SCOPE
from bench.gateway import BenchGateway
from bench.gateway import GatewaySpec
from bench.gateway import cpu_seconds
from bench.gateway import find_redis_pid
from bench.idp import BenchIdP
from bench.idp import new_key_pair
from bench.load import COLD
from bench.load import SCENARIOS
from bench.load import SSO
from bench.load import TOKEN
from bench.load import drive
from bench.load import make_specs
from bench.profile import PySpy
from bench.profile import summarize
from bench.profile import summarize_samples
from bench.report import Row
from bench.report import row
from bench.report import table
from bench.report import write_json
from gateway.trust.certs import KeyPair

PACED_FRACTION = 0.7
PACED_USERS = 32
CODES_PER_USER = 300


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run against a started gateway; ``paced`` runs at 70 % of the peak found before."""

    scenario: str
    users: int
    paced: bool = False


@dataclass(frozen=True, slots=True)
class Stage:
    """One gateway configuration and the runs made against it."""

    gateway: GatewaySpec
    runs: tuple[Run, ...]


def plan(args: argparse.Namespace) -> list[Stage]:
    """The stages the options ask for."""
    users = [int(u) for u in args.users.split(",")]
    stages = []
    for workers in (int(w) for w in args.workers.split(",")):
        runs = [Run(COLD, u) for u in users]
        if workers == 2:
            runs += [Run(COLD, PACED_USERS, paced=True), Run(SSO, 8), Run(TOKEN, 8)]
        stages.append(Stage(GatewaySpec(workers=workers), tuple(runs)))
    if args.entities > 1:
        stages.append(Stage(GatewaySpec(workers=2, entities=args.entities), (Run(COLD, 1), Run(COLD, max(users)))))
    if args.only:
        wanted = set(args.only.split(","))
        stages = [Stage(s.gateway, tuple(r for r in s.runs if r.scenario in wanted)) for s in stages]
    return [s for s in stages if s.runs]


def _site(gateway: BenchGateway) -> Site:
    jwks = requests.get(f"{gateway.url}/jwks", headers=gateway.headers(), timeout=10).json()
    return Site(
        port=gateway.port,
        issuer=gateway.issuer,
        client_id=CLIENT_ID,
        client_secret=gateway.client_secret,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        jwks={key["kid"]: key for key in jwks["keys"] if key.get("kty") == "RSA"},
    )


def _redis_reader() -> Any:
    pid = find_redis_pid()
    return (lambda: cpu_seconds(pid)) if pid is not None else (lambda: None)


def run_stage(
    stage: Stage, args: argparse.Namespace, idp_key: KeyPair, workdir: Path, peak: dict[int, float]
) -> tuple[list[Row], Floor | None, BenchGateway]:
    """Start the stage's gateway, make its runs, stop it."""
    spec = stage.gateway
    name = f"w{spec.workers}-e{spec.entities}"
    shutil.rmtree(workdir / name, ignore_errors=True)
    profile_dir = workdir / name / "profiles" if args.profile else None
    gateway = BenchGateway(spec, workdir / name, redis_url=args.redis_url, idp_key=idp_key, profile_dir=profile_dir)
    rows: list[Row] = []
    floor = None
    print(f"== gateway: {spec.workers} worker(s), {spec.entities} metadata entit(y/ies)", file=sys.stderr)
    with gateway:
        site = _site(gateway)
        common = {
            "site": site,
            "idp_key": idp_key,
            "idp_entity_id": IDP_ENTITY_ID,
            "idp_sso_url": IDP_SSO_URL,
            "sp_metadata": gateway.sp_metadata,
        }
        if args.floor is None:
            idp = BenchIdP(idp_key, entity_id=IDP_ENTITY_ID, sso_url=IDP_SSO_URL, sp_metadata=gateway.sp_metadata)
            floor = measure(gateway.workdir / "keys", idp, idp_key.cert_pem, gateway.issuer + "/saml/metadata",
                            gateway.issuer + "/saml/acs")  # fmt: skip
            args.floor = floor
        redis_cpu = _redis_reader()
        for run in stage.runs:
            rate = None
            if run.paced:
                if spec.workers not in peak:
                    continue
                rate = peak[spec.workers] * PACED_FRACTION
            specs = make_specs(
                run.scenario, concurrency=run.users, processes=args.processes, duration=args.duration,
                warmup=args.warmup, rate=rate, codes=CODES_PER_USER if run.scenario == TOKEN else 0, common=common,
            )  # fmt: skip
            spy = None
            if args.py_spy:
                tag = f"{run.scenario}-u{run.users}{'-paced' if run.paced else ''}"
                spy = PySpy(args.py_spy, gateway.worker_pids(), gateway.workdir / "py-spy", tag)
            measured = drive(specs, gateway.cpu_seconds, redis_cpu, timeout=args.duration + 300)
            if spy is not None:
                summary = summarize_samples(spy.stop(), gateway.workdir / f"py-spy-{tag}.txt")
                print(f"   py-spy: {summary}", file=sys.stderr)
            result = row(run.scenario, spec.workers, spec.entities, run.users, rate, measured, args.floor)
            rows.append(result)
            if run.scenario == COLD and not run.paced and spec.entities == 1:
                peak[spec.workers] = max(peak.get(spec.workers, 0.0), result.ops_per_s)
            print(
                f"   {run.scenario:5} users={run.users:<3} rate={'max' if rate is None else round(rate)}: "
                f"{result.ops_per_s:7.1f} ops/s, gateway {result.gateway_cpu_ms_per_op:6.2f} ms CPU/op, "
                f"errors {sum(result.errors.values())}",
                file=sys.stderr,
            )
    return rows, floor, gateway


def targets(rows: list[Row], floor: Floor) -> list[str]:
    """The issue's targets, each with the number that decides it."""
    lines = []
    cold = [r for r in rows if r.scenario == "cold" and r.entities == 1 and r.target_rate is None]
    if cold:
        best_cpu = min(r.gateway_cpu_ms_per_op for r in cold)
        lines.append(f"- gateway CPU per cold login: {best_cpu:.2f} ms (target <= 10; floor {floor.total_ms:.2f} ms)")
        best = max(cold, key=lambda r: r.ops_per_s)
        lines.append(
            f"- peak: {best.ops_per_s:.1f} logins/s with {best.workers} worker(s), {best.users} users (target >= 100)"
        )
    for r in rows:
        if r.target_rate is not None:
            worst = max((r.latency_ms[leg]["p99"], leg) for leg in r.latency_ms if leg != "idp")
            lines.append(
                f"- at {r.target_rate:.0f} logins/s (70 % of peak), {r.workers} workers: worst leg p99 "
                f"{worst[0]:.1f} ms ({worst[1]}) (target < 50 ms)"
            )
    for big in (r for r in rows if r.entities > 1):
        same = [r for r in rows if r.entities == 1 and r.workers == big.workers and r.users == big.users]
        same = [r for r in same if r.scenario == big.scenario and r.target_rate is None]
        if same:
            base = same[0].gateway_cpu_ms_per_op
            change = (big.gateway_cpu_ms_per_op - base) / base * 100
            lines.append(
                f"- {big.entities} vs 1 metadata entities, {big.users} users: {big.gateway_cpu_ms_per_op:.2f} vs "
                f"{base:.2f} ms CPU/login ({change:+.1f} %, target within 10 %)"
            )
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description="Login benchmark for the e-ID gateway")
    parser.add_argument("--workers", default="1,2", help="gunicorn worker counts (default 1,2)")
    parser.add_argument("--users", default="1,4,16", help="simultaneous users for cold logins (default 1,4,16)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds measured per run (default 6)")
    parser.add_argument("--warmup", type=int, default=2, help="logins per user before the clock starts (default 2)")
    parser.add_argument("--processes", type=int, default=2, help="load processes (default 2)")
    parser.add_argument("--entities", type=int, default=1000, help="aggregate size to compare with 1 (0: skip)")
    parser.add_argument("--only", help="comma-separated scenarios to run: " + ",".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="short smoke run: 2 s per run, 2 workers, 1 and 8 users")
    parser.add_argument("--profile", action="store_true", help="cProfile every worker; summaries under var/bench")
    parser.add_argument("--py-spy", metavar="PATH", help="sample the workers with this py-spy binary during runs")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--json", type=Path, help="JSON output (default var/bench/results-<time>.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the plan; print the table and the targets; write JSON."""
    args = build_parser().parse_args(argv)
    if args.quick:
        args.duration, args.workers, args.users, args.entities = 2.0, "2", "1,8", 0
    host = urlsplit(args.redis_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("the benchmark only runs against a local Redis (127.0.0.1)", file=sys.stderr)
        return 2
    args.floor = None
    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    idp_key = new_key_pair("bench idp")
    rows: list[Row] = []
    peak: dict[int, float] = {}
    for stage in plan(args):
        stage_rows, _, gateway = run_stage(stage, args, idp_key, workdir, peak)
        rows += stage_rows
        if args.profile and gateway.profile_dir is not None:
            report = summarize(gateway.profile_dir, gateway.workdir / "profile.txt")
            print(f"   profile: {report}", file=sys.stderr)
    floor: Floor = args.floor
    print(table(rows, floor))
    print()
    print("Targets:")
    print("\n".join(targets(rows, floor)))
    path = args.json or workdir / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(path, rows, floor, {"seconds_total": round(time.time() - started, 1), "options": _options(args)})
    print(f"\nJSON: {path}  ({time.time() - started:.0f} s in all)", file=sys.stderr)
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "floor"}
