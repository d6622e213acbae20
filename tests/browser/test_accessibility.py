"""axe-core scans of the citizen's pages: the chooser, the logout pages and every error page, in Swedish and
English, at phone (375 px) and desktop (1280 px) widths, with zero violations of WCAG 2.0/2.1 A and AA and
axe's best practices.

axe is injected with Playwright's add_script_tag, which the page's CSP would refuse (no inline or
foreign script), so these contexts alone bypass the CSP; the journey tests run under the real one.
Error pages are opened through the sandbox's preview route, which renders them with the same code as
a real error (the journey tests reach real ones).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import pytest
from playwright.sync_api import Page

from gateway.web.error_pages import PAGES
from tests.browser.conftest import AXE
from tests.browser.conftest import require
from tests.browser.conftest import start_login

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
LOCALES = {"sv": "sv-SE", "en": "en-GB"}
WIDTHS = (375, 1280)


def at_each_width(page: Page) -> dict[int, list[dict[str, Any]]]:
    """The page's violations at each of ``WIDTHS`` (the same document, resized: layout is what changes)."""
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        violations = axe_violations(page)
        if violations:
            found[width] = violations
    return found


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe on the page as it stands; each violation with its rule, impact and first targets."""
    require(AXE.is_file(), f"{AXE} (npm ci --prefix tests/browser)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations.map(v => ({
                rule: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }""",
        TAGS,
    )


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_chooser_has_no_violations(new_page: Callable[..., Page], lang: str) -> None:
    page = new_page(locale=LOCALES[lang], bypass_csp=True)
    start_login(page)
    assert page.get_attribute("html", "lang") == lang
    assert at_each_width(page) == {}
    # The chooser after "Continue" without a choice shows an error message: scanned too.
    page.locator("button[type=submit]").first.click()
    page.wait_for_selector("#choice-error")
    assert at_each_width(page) == {}


def _violations(page: Page, lang: str, pages: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """axe's findings at each width on every ``(path, h1 attribute, its value)``; the value proves the page."""
    found = {}
    for path, attribute, marker in pages:
        page.goto(path)
        assert page.get_attribute("h1", attribute) == marker
        assert page.get_attribute("html", "lang") == lang
        violations = at_each_width(page)
        if violations:
            found[path] = violations
    return found


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_error_page_has_no_violations(new_page: Callable[..., Page], lang: str) -> None:
    page = new_page(locale=LOCALES[lang], bypass_csp=True)
    assert _violations(page, lang, ((f"/sandbox/error-pages/{code}", "data-error", code) for code in PAGES)) == {}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_sandbox_and_demo_pages_have_no_violations(new_page: Callable[..., Page], lang: str) -> None:
    page = new_page(locale=LOCALES[lang], bypass_csp=True)
    page.goto("/")
    assert at_each_width(page) == {}
    start_login(page)
    page.locator("input[value=sandbox]").check()
    page.locator("button[type=submit]").first.click()
    page.wait_for_url("**/sandbox/idp/sso?**")
    assert at_each_width(page) == {}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_logout_pages_have_no_violations(new_page: Callable[..., Page], lang: str) -> None:
    """The logout question, "you are logged out" and "you are still logged in" (their errors are above)."""
    page = new_page(locale=LOCALES[lang], bypass_csp=True)
    pages = (("/logout", "confirm"), ("/logout/done", "done"), ("/logout/done?stayed=1", "stayed"))
    assert _violations(page, lang, ((path, "data-logout", marker) for path, marker in pages)) == {}


def test_the_scan_reports_a_violation(new_page: Callable[..., Page]) -> None:
    """The check can fail: an unlabeled field added to the chooser is reported."""
    page = new_page(bypass_csp=True)
    start_login(page)
    page.evaluate("document.querySelector('form').append(document.createElement('input'))")
    assert "label" in {v["rule"] for v in axe_violations(page)}
