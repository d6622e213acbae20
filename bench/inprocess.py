"""The gateway application's own CPU per cold login, per request, in one process: a low-noise breakdown.

``python -m bench --in-process N`` builds the gateway exactly as `bench.gateway` configures it
(production settings, Redis store, signed federation metadata) but calls the WSGI application
directly instead of through gunicorn, and drives N cold logins one after another with the same
`bench.flows.User` (RP and IdP checks included). Around each call into the application it reads the
thread's CPU clock (``time.thread_time``), so what is summed is the application's CPU alone: Flask,
authlib, pysaml2, the store client, the crypto. The HTTP server (gunicorn's parsing, poller and
socket writes), the network and the harness are left out, and nothing runs concurrently, so runs
of the same code agree to a few percent even on a noisy VM, where the gunicorn runs of `bench.cli`
vary by ±10 %. Use it to compare changes to the application; use the full benchmark for what a
deployment sees. ``--profile`` adds a cProfile of the application calls only, summarised in the report and
saved whole as ``profile.pstats`` in the work directory (``var/bench/in-process``) for pstats' callers.

The per-request lines name the route each request hit, e.g. ``POST /saml/acs``.
"""

from __future__ import annotations

import contextlib
import contextvars
import cProfile
import io
import json
import os
import pstats
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.flows import PROXY_HEADERS
from bench.flows import Recorder
from bench.flows import Reply
from bench.flows import Site
from bench.flows import User
from bench.gateway import CLIENT_ID
from bench.gateway import IDP_ENTITY_ID
from bench.gateway import IDP_SSO_URL
from bench.gateway import REDIRECT_URI
from bench.gateway import SCOPE
from bench.gateway import BenchGateway
from bench.gateway import GatewaySpec
from bench.idp import BenchIdP
from bench.idp import new_key_pair
from bench.instructions import COUNT_ENV

PROFILE_FILE = "profile.pstats"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Meter:
    """Thread CPU seconds spent inside the application, by request line; optionally profiled."""

    def __init__(self, app: WSGIApp, profile: bool) -> None:
        self.app = app
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.profiler = cProfile.Profile(time.thread_time) if profile else None
        self.counting = False
        # Under `bench.instructions`: counted calls go through Context.run, which callgrind's collection
        # toggles on, and their routes are written in order, one per line, to name its dumps.
        calls_file = os.environ.get(COUNT_ENV)
        self.counted_calls = open(calls_file, "w", encoding="utf-8") if calls_file else None  # noqa: SIM115

    def call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run one request through the application; return status, headers and body."""
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = int(status.split()[0]), headers

        if self.profiler is not None and self.counting:
            self.profiler.enable()
        route = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
        start = time.thread_time()
        if self.counted_calls is not None and self.counting:
            body = contextvars.copy_context().run(self._respond, environ, start_response)
            self.counted_calls.write(route + "\n")
            self.counted_calls.flush()
        else:
            body = self._respond(environ, start_response)
        spent = time.thread_time() - start
        if self.profiler is not None and self.counting:
            self.profiler.disable()
        if self.counting:
            self.cpu[route].append(spent)
        return captured["status"], captured["headers"], body

    def _respond(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> bytes:
        result = self.app(environ, start_response)
        try:
            return b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


class InProcessConnection:
    """A `bench.flows.Sender` that hands each request to the application in this thread."""

    def __init__(self, meter: _Meter, host: str) -> None:
        self._meter = meter
        self._host = host

    def send(self, method: str, path: str, headers: dict[str, str], body: str | None = None) -> Reply:
        """Build the WSGI environ gunicorn would, call the application, read the whole response."""
        target = urlsplit(path)
        data = (body or "").encode("utf-8")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": target.path,
            "QUERY_STRING": target.query,
            "SERVER_NAME": self._host.split(":")[0],
            "SERVER_PORT": self._host.split(":")[1],
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": self._host,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if data:
            environ["CONTENT_LENGTH"] = str(len(data))
        for name, value in {**PROXY_HEADERS, **headers}.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        status, response_headers, content = self._meter.call(environ)
        cookies: dict[str, str] = {}
        location = ""
        for name, value in response_headers:
            if name.lower() == "set-cookie":
                cookie, _, rest = value.partition("=")
                cookies[cookie.strip()] = rest.partition(";")[0]
            elif name.lower() == "location":
                location = value
        return Reply(status, location, cookies, content)

    def close(self) -> None:
        """Nothing to release."""


def run(logins: int, workdir: Path, redis_url: str, *, profile: bool = False, warmup: int = 20) -> str:
    """Drive ``logins`` cold logins (after ``warmup``) through the application; return the report."""
    if os.environ.get(COUNT_ENV):
        warmup = min(warmup, 5)  # under valgrind every login is slow; five build every per-thread cache
    idp_key = new_key_pair("bench idp")
    gateway = BenchGateway(GatewaySpec(workers=1), workdir, redis_url=redis_url, idp_key=idp_key)
    os.environ["EID_GATEWAY_CONFIG"] = str(gateway.write_config())
    os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
    from gateway.app import create_app
    from gateway.observability.logging import configure
    from gateway.settings.load import load_settings

    # Logs as `gateway.wsgi` configures them in production (INFO, JSON, audit events), into a file here.
    log_file = (workdir / "gateway.log").open("a", encoding="utf-8")
    with contextlib.redirect_stderr(log_file):
        configure("INFO")
    app = create_app(load_settings(bind=f"127.0.0.1:{gateway.port}"), background=False)
    meter = _Meter(app, profile)
    host = f"127.0.0.1:{gateway.port}"
    probe = InProcessConnection(meter, host)
    sp_metadata = probe.send("GET", "/saml/metadata", {}).body
    jwks = json.loads(probe.send("GET", "/jwks", {}).body)
    site = Site(
        port=gateway.port, issuer=gateway.issuer, client_id=CLIENT_ID, client_secret=gateway.client_secret,
        redirect_uri=REDIRECT_URI, scope=SCOPE,
        jwks={key["kid"]: key for key in jwks["keys"] if key.get("kty") == "RSA"},
    )  # fmt: skip
    idp = BenchIdP(idp_key, entity_id=IDP_ENTITY_ID, sso_url=IDP_SSO_URL, sp_metadata=sp_metadata)
    user = User(site, idp, Recorder(), connect=lambda _port: InProcessConnection(meter, host))
    try:
        for _ in range(warmup):
            user.redeem(user.cold_login())
        meter.counting = True
        for _ in range(logins):
            user.redeem(user.cold_login())
    finally:
        gateway.stop()
        log_file.close()
        if meter.counted_calls is not None:
            meter.counted_calls.close()
    if meter.profiler is not None:
        meter.profiler.dump_stats(workdir / PROFILE_FILE)  # for pstats' callers and callees
    return _report(meter, logins)


def _report(meter: _Meter, logins: int) -> str:
    lines = [f"Application CPU (thread clock), {logins} cold logins, one process, no server:", ""]
    lines.append("| request | median ms | mean ms |")
    lines.append("|---|---:|---:|")
    total = 0.0
    for route, samples in meter.cpu.items():
        total += sum(samples)
        lines.append(f"| {route} | {statistics.median(samples) * 1000:.2f} | {statistics.fmean(samples) * 1000:.2f} |")
    lines.append(f"| **per cold login** | | **{total / logins * 1000:.2f}** |")
    if meter.profiler is not None:
        buffer = io.StringIO()
        stats = pstats.Stats(meter.profiler, stream=buffer)
        stats.strip_dirs().sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        lines += ["", "cProfile of the application calls (cumulative; cProfile inflates pure Python):", "```"]
        lines += [buffer.getvalue().strip(), "```", f"Whole profile: {PROFILE_FILE} in the work directory."]
    return "\n".join(lines)
