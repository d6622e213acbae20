"""The same login with two gunicorn workers, each hop forced onto the other worker.

Each step of the login is served by a different process: the other worker is
paused (SIGSTOP) while one works, so nothing a step needs can come from the
memory of the process that served the step before. Every connection is closed
after its request, so no kept-alive connection pins a client to one worker.
"""

from __future__ import annotations

import requests

from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import only_worker


def test_each_step_of_a_login_on_another_worker(gateway_two_workers: RunningGateway) -> None:
    gateway = gateway_two_workers
    first, second = gateway.workers()[:2]
    browser = requests.Session()
    browser.headers["Connection"] = "close"
    rp = Rp.for_client(gateway, "basic-rp")
    rp.session.headers["Connection"] = "close"
    steps = LoginSteps(browser, rp, gateway.peers["idp"])

    with only_worker(first, [first, second]):
        started = steps.start(**{"https://id.oidc.se/param/authnProvider": steps.peer.entity_id})
        assert started.status_code == 302, started.text
    steps.respond()
    with only_worker(second, [first, second]):
        assert steps.post_to_acs().status_code == 303
    with only_worker(first, [first, second]):
        assert steps.resume().status_code == 302
    with only_worker(second, [first, second]):
        token = rp.fetch_token(steps.callback_url)
        claims = rp.verify_id_token(token["id_token"])
    with only_worker(first, [first, second]):
        info = requests.get(
            f"{gateway.url}/userinfo",
            headers={"Authorization": f"Bearer {token['access_token']}", "Connection": "close"},
            timeout=10,
        )
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"]
