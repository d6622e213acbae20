"""The README's first command: `eid-gateway serve` with no configuration gives a working sandbox login.

Runs the real console script (gunicorn, development defaults, in-process store, sandbox provider,
demo e-service) in an empty directory, and clicks through the demo as a newcomer would.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.harness import free_port


@pytest.fixture(scope="module")
def dev_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("quickstart")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EID_GATEWAY_")}
    script = Path(sys.executable).with_name("eid-gateway")
    with (workdir / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(script), "serve", "--bind", f"127.0.0.1:{port}"], cwd=workdir, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, (workdir / "serve.log").read_text()
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            pytest.fail((workdir / "serve.log").read_text())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (workdir / "var" / "dev-keys" / "oidc-signing.pem").stat().st_mode & 0o077 == 0


def _forms(page: str) -> list[tuple[str, dict[str, str], str]]:
    """(action, hidden fields, button text) of each form on ``page``."""
    forms = []
    for action, body in re.findall(r'<form method="post" action="([^"]+)">(.*?)</form>', page, re.S):
        fields = {n: html.unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', body)}
        button = re.search(r"<button[^>]*>(.*?)</button>", body, re.S)
        forms.append((html.unescape(action), fields, button.group(1) if button else ""))
    return forms


def test_demo_login_through_the_sandbox(dev_gateway: str) -> None:
    browser = requests.Session()
    home = browser.get(f"{dev_gateway}/", timeout=10)
    assert home.status_code == 200
    # the demo's "Log in" button -> gateway /authorize -> the only provider, the sandbox
    idp_page = browser.get(f"{dev_gateway}/demo/login", timeout=10)
    assert idp_page.status_code == 200
    assert idp_page.url.startswith(f"{dev_gateway}/sandbox/idp/sso")
    action, fields, _ = next(f for f in _forms(idp_page.text) if "199203102380" in f[2])
    done = browser.post(action, data=fields, timeout=10)
    assert done.status_code == 200
    assert done.url == f"{dev_gateway}/"
    assert "199203102380" in done.text
    assert "http://id.elegnamnden.se/loa/1.0/loa3" in done.text


def test_the_demos_log_out_ends_the_gateway_session_too(dev_gateway: str) -> None:
    """The demo's "Log out" goes through the gateway's end_session_endpoint: asked, then back to the demo."""
    browser = requests.Session()
    idp_page = browser.get(f"{dev_gateway}/demo/login", timeout=10)
    action, fields, _ = next(f for f in _forms(idp_page.text) if "199203102380" in f[2])
    home = browser.post(action, data=fields, timeout=10)
    assert "199203102380" in home.text
    sso = browser.get(f"{dev_gateway}/demo/login", timeout=10)
    assert sso.url == f"{dev_gateway}/", "a second login is answered from the gateway's session"
    logout_action, logout_fields, _ = next(f for f in _forms(sso.text) if f[0].endswith("/demo/logout"))
    asked = browser.post(f"{dev_gateway}{logout_action}", data=logout_fields, timeout=10)
    assert asked.status_code == 200
    assert asked.url.startswith(f"{dev_gateway}/logout?")
    form = re.search(r'<form[^>]*method="post" action="([^"]+)"', asked.text)
    assert form, asked.text
    confirm_action = html.unescape(form.group(1))
    confirm_fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', asked.text))
    back = browser.post(f"{dev_gateway}{confirm_action}", data={**confirm_fields, "action": "logout"}, timeout=15)
    assert back.url == f"{dev_gateway}/"
    assert "199203102380" not in back.text
    again = browser.get(f"{dev_gateway}/demo/login", timeout=10)
    assert again.url.startswith(f"{dev_gateway}/sandbox/idp/sso"), "the gateway session is gone"


def test_cancel_in_the_sandbox_reaches_the_demo_as_access_denied(dev_gateway: str) -> None:
    browser = requests.Session()
    idp_page = browser.get(f"{dev_gateway}/demo/login", timeout=10)
    action, fields, _ = _forms(idp_page.text)[-1]
    done = browser.post(action, data=fields, timeout=10)
    assert done.url.startswith(f"{dev_gateway}/demo/callback?error=access_denied&state=")
    assert "access_denied" in done.text


def test_pages_carry_the_security_headers(dev_gateway: str) -> None:
    response = requests.get(f"{dev_gateway}/", timeout=10)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
