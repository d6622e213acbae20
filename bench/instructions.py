"""Instructions per cold login, counted by valgrind: a measure of the application that this VM's noise cannot move.

``python -m bench --in-process N --instructions`` runs the `bench.inprocess` logins again under
valgrind's callgrind tool. On this shared VM the same code's CPU time per login moves by tens of
percent within minutes (neighbours' cache and memory traffic), which hides any change smaller than
that; the number of instructions the application executes does not move (two runs of one tree agree
to 0.01 %), so a change to the application is judged by the instructions it removes.

How only the application is counted: the in-process meter calls the WSGI application through
``contextvars.Context.run`` when this mode is on (``COUNT_ENV``), and callgrind starts with
collection off and toggles it on entry to and exit from that C function (``context_run``), then
dumps the counts after each call. So set-up, warm-up, the RP and the IdP are not counted, and each
dump is one request, which the meter's list of counted requests names in order.

What it does not see: time in the kernel (system calls, waking Redis), cache misses and the cost of
an instruction, which all differ between machines. And valgrind runs OpenSSL's generic big-number
code, not the native MULX/ADX one, so the three RSA private-key operations count about 30 M
instructions each where they take under 1 ms natively: the report therefore shows the RSA
arithmetic apart from the rest, and "without RSA" is the number to compare.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

COUNT_ENV = "EID_BENCH_COUNT_INSTRUCTIONS"
CALLS_FILE = "counted-requests.txt"
OUT_FILE = "callgrind.out"
# OpenSSL's big-number kernels (RSA private-key operations), whatever library they are linked into.
_RSA_ARITHMETIC = re.compile(r"^(bn_|__bn_|mul4x_|sqr8x_|sqrx8x_|mulx4x_|bn\d|BN_)")


@dataclass(slots=True)
class Counts:
    """Instructions of one callgrind dump: in all, the RSA arithmetic among them, and the rest by shared object."""

    total: int = 0
    rsa: int = 0
    by_object: Counter[str] = field(default_factory=Counter)


def parse_dump(text: str) -> Counts:
    """The self cost (event ``Ir``) of every function in one callgrind file, summed by object.

    The format (valgrind's callgrind-format docs): ``ob=``/``fn=`` set the current object and
    function, names are compressed to ``(id)`` after their first use, and each cost line is
    ``<position> <Ir>``, except the line after ``calls=``, which is the inclusive cost of a call and
    already counted in the callee.
    """
    counts = Counts()
    names: dict[str, str] = {}
    obj = function = ""
    skip_next = False
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        head = line[0]
        if head.isdigit() or head in "+-*":
            if skip_next:
                skip_next = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                cost = int(parts[1])
                counts.total += cost
                if _RSA_ARITHMETIC.match(function):
                    counts.rsa += cost
                else:
                    counts.by_object[obj] += cost
            continue
        key, _, value = line.partition("=")
        if key in ("ob", "fn"):
            name = _name(value, names)
            if key == "ob":
                obj = Path(name).name
            else:
                function = name
        elif key == "calls":
            skip_next = True
    return counts


def _name(value: str, names: dict[str, str]) -> str:
    """Resolve callgrind's name compression: ``(3) /lib/x.so`` defines id 3, a later ``(3)`` reuses it."""
    match = re.match(r"\((\d+)\)\s*(.*)", value)
    if not match:
        return value
    ident, name = match.groups()
    if name:
        names[ident] = name
    return names.get(ident, name)


def run(logins: int, workdir: Path, redis_url: str) -> str:
    """Run ``logins`` in-process cold logins under callgrind; return the report."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind on PATH (Debian: apt-get install valgrind)")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict and set iteration order in every run
    env[COUNT_ENV] = str(workdir / CALLS_FILE)
    command = [
        valgrind,
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=context_run",
        "--dump-after=context_run",
        "--compress-strings=no",  # otherwise a dump may name a function by an id defined in an earlier dump
        f"--callgrind-out-file={workdir / OUT_FILE}",
        sys.executable,
        "-m",
        "bench",
        "--in-process",
        str(logins),
        "--redis-url",
        redis_url,
    ]
    print(f"   running {logins} cold logins under callgrind (about 10 s each)...", file=sys.stderr)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the counted run failed:\n{result.stderr[-3000:]}")
    routes = (workdir / CALLS_FILE).read_text(encoding="utf-8").split("\n")[:-1]
    dumps = sorted(workdir.glob(f"{OUT_FILE}.*"), key=lambda path: int(path.suffix[1:]))
    if not dumps and routes:
        raise SystemExit(
            f"callgrind wrote no dumps for {len(routes)} counted requests: {sys.executable} has no symbol"
            " context_run (a stripped interpreter, such as Debian's). Count with a venv of a Python built"
            " with symbols, e.g. pyenv's: <that venv>/bin/python -m bench --in-process N --instructions"
        )
    if len(dumps) < len(routes):
        raise SystemExit(f"callgrind wrote {len(dumps)} dumps for {len(routes)} counted requests")
    per_route: dict[str, list[Counts]] = defaultdict(list)
    for route, dump in zip(routes, dumps, strict=False):
        per_route[route].append(parse_dump(dump.read_text(encoding="utf-8", errors="replace")))
    return report(per_route, logins)


def report(per_route: dict[str, list[Counts]], logins: int) -> str:
    """Per request and per cold login, in millions of instructions, with and without the RSA arithmetic."""
    lines = [f"Instructions (callgrind), {logins} cold logins in one process, PYTHONHASHSEED=0:", ""]
    lines.append("| request | M instructions (median) | without RSA arithmetic |")
    lines.append("|---|---:|---:|")
    everything = Counts()
    for route, samples in per_route.items():
        totals = [sample.total for sample in samples]
        without = [sample.total - sample.rsa for sample in samples]
        lines.append(f"| {route} | {statistics.median(totals) / 1e6:.2f} | {statistics.median(without) / 1e6:.2f} |")
        for sample in samples:
            everything.total += sample.total
            everything.rsa += sample.rsa
            everything.by_object.update(sample.by_object)
    per_login = everything.total / logins / 1e6
    without_rsa = (everything.total - everything.rsa) / logins / 1e6
    lines.append(f"| **per cold login** | **{per_login:.2f}** | **{without_rsa:.2f}** |")
    lines += ["", "Per cold login, M instructions: the RSA arithmetic, then the rest by shared object:", ""]
    lines.append(f"- RSA arithmetic (OpenSSL big numbers): {everything.rsa / logins / 1e6:.2f}")
    for name, cost in everything.by_object.most_common(12):
        lines.append(f"- {name or '(unknown)'}: {cost / logins / 1e6:.2f}")
    return "\n".join(lines)
