"""The same login with two gunicorn workers, each hop forced onto the other worker.

Each step of the login is served by a different process: the other worker is
paused (SIGSTOP) while one works, so nothing a step needs can come from the
memory of the process that served the step before. Every connection is closed
after its request, so no kept-alive connection pins a client to one worker.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway


def _workers(gateway: RunningGateway) -> list[int]:
    master = gateway.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@contextmanager
def _only(worker: int, all_workers: list[int]) -> Iterator[None]:
    """Pause every worker but ``worker`` for the duration."""
    paused = [pid for pid in all_workers if pid != worker]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


def test_each_step_of_a_login_on_another_worker(gateway_two_workers: RunningGateway) -> None:
    gateway = gateway_two_workers
    deadline = time.monotonic() + 10
    while len(_workers(gateway)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    first, second = _workers(gateway)[:2]
    browser = requests.Session()
    browser.headers["Connection"] = "close"
    rp = Rp.for_client(gateway, "basic-rp")
    rp.session.headers["Connection"] = "close"
    steps = LoginSteps(browser, rp, gateway.peers["idp"])

    with _only(first, [first, second]):
        started = steps.start(**{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id})
        assert started.status_code == 302, started.text
    steps.respond()
    with _only(second, [first, second]):
        assert steps.post_to_acs().status_code == 303
    with _only(first, [first, second]):
        assert steps.resume().status_code == 302
    with _only(second, [first, second]):
        token = rp.fetch_token(steps.callback_url)
        claims = rp.verify_id_token(token["id_token"])
    with _only(first, [first, second]):
        info = requests.get(
            f"{gateway.url}/userinfo",
            headers={"Authorization": f"Bearer {token['access_token']}", "Connection": "close"},
            timeout=10,
        )
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"]
