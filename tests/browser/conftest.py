"""Browser tests: Debian's headless Chromium, driven by Playwright for Python, against the real gateway.

The gateway runs under gunicorn (as in tests/integration) with the development sandbox (its test
IdP and demo e-service) plus one more provider, a pysaml2 peer IdP known only through its metadata.
So the demo's login shows the chooser with two e-IDs, and the CSP's form-action must list a foreign
SSO origin computed from that metadata. Only the sandbox is ever clicked through.

Chromium is `/usr/bin/chromium` (`scripts/test` installs it with apt-get); Playwright's own browser
download cannot work on these machines and is never used. axe-core comes from npm into
`tests/browser/node_modules` (`scripts/test` runs `npm ci`). Without either, the tests are skipped
with a banner at the end of the run; with CI=true they fail instead, since CI always has both.
Screenshots go to `test-artifacts/screenshots/` (git-ignored; README).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
import redis
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import Response
from playwright.sync_api import sync_playwright

from tests.integration.harness import ROOT
from tests.integration.harness import RunningGateway
from tests.integration.harness import start_gateway
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import PeerIdP

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
OTHER_PROVIDER = "freja-test"
OTHER_SSO = "https://idp.freja-test.example/sso"

_missing: list[str] = []


def require(condition: bool, what: str) -> None:
    """Skip (loudly) or, on CI, fail when a browser-test prerequisite is missing."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: CI must run the browser tests (see scripts/test)", pytrace=False)
    _missing.append(what)
    pytest.skip(what)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A banner nobody can miss when browser tests did not run."""
    if _missing:
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN", red=True, bold=True)
        for what in sorted(set(_missing)):
            terminalreporter.write_line(f"  missing: {what}", red=True, bold=True)
        terminalreporter.write_line(
            "  run ./scripts/test as root (it installs chromium with apt-get and axe-core with npm)"
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run."""
    require(CHROMIUM.is_file(), f"{CHROMIUM} (Debian package chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    """The gateway with the sandbox and a second provider, under gunicorn, on Redis."""
    tmp = tmp_path_factory.mktemp("browser")
    prefix = f"test:{uuid4().hex}:"
    peer = PeerIdP(tmp / "peer", entity_id="https://idp.freja-test.example/idp", sso_url=OTHER_SSO, loas=(LOA3,))
    gateway = start_gateway(
        tmp / "gateway",
        redis_url=redis_url,
        prefix=prefix,
        peers={OTHER_PROVIDER: peer},
        clients={},
        extra={"sandbox": True},
        provider_options={
            OTHER_PROVIDER: {
                "display_name": {"sv": "Freja+ (test)", "en": "Freja+ (test)"},
                "description": {
                    "sv": "Legitimera dig med Freja-appen i din mobil.",
                    "en": "Identify yourself with the Freja app on your phone.",
                },
            }
        },
    )
    try:
        yield gateway
    finally:
        gateway.stop()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def new_page(browser: Browser, site: RunningGateway) -> Iterator[Callable[..., Page]]:
    """Open pages in fresh browser contexts (own cookies), closed after the test.

    ``locale`` sets Accept-Language; ``width`` the viewport; ``bypass_csp`` only for injecting axe.
    Every page records CSP violations and other console errors in ``page.console_errors``.
    """
    contexts = []

    def open_page(*, locale: str = "sv-SE", width: int = 1280, height: int = 900, bypass_csp: bool = False) -> Page:
        context = browser.new_context(
            base_url=site.url,
            locale=locale,
            viewport={"width": width, "height": height},
            bypass_csp=bypass_csp,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.console_errors = errors  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()


def start_login(page: Page) -> Response:
    """From the demo e-service's page to the chooser, by clicking its login button; the chooser's response."""
    page.goto("/")
    with page.expect_response(lambda response: "/authorize?" in response.url) as chooser:
        page.get_by_role("button", name=re.compile(r"^(Logga in|Log in)$")).click()
    page.wait_for_url(re.compile(r"/authorize\?"))
    return chooser.value
