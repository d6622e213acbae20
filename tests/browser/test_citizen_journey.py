"""A citizen's login in a real browser: clicking, switching language, keyboard only, small screens.

Each test starts at the demo e-service's page and goes through the gateway's chooser and the
sandbox e-ID back to the demo, which shows the claims it verified. Pages run under the real CSP
(no bypass here), and any console error, a CSP violation included, fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.conftest import start_login

TEST_PERSON = "199203102380"
LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"


def site_origin(page: Page) -> str:
    """The gateway's own origin (in development the sandbox IdP lives there too)."""
    return re.match(r"https?://[^/]+", page.url).group(0)  # type: ignore[union-attr]


def _claims_shown(page: Page) -> None:
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("table").first).to_contain_text(TEST_PERSON)
    expect(page.locator("table").first).to_contain_text(LOA3)


def test_full_login_by_clicking_through_the_chooser(new_page: Callable[..., Page]) -> None:
    page = new_page()
    chooser = start_login(page)
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("heading", level=1)).to_have_text("Välj e-legitimation")
    expect(page.get_by_text("Logga in på Demotjänst")).to_be_visible()
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(2)
    # The other provider's SSO origin comes from its metadata into the CSP (the chooser POST redirects there).
    form_action = chooser.headers["content-security-policy"].split("form-action")[1].split(";")[0].split()
    assert sorted(form_action) == sorted(["'self'", "https://idp.freja-test.example", site_origin(page)])
    assert chooser.headers["cache-control"] == "no-store"

    page.get_by_label("Test-e-legitimation (sandlåda)").check()
    page.get_by_role("button", name="Fortsätt").click()
    page.wait_for_url(re.compile(r"/sandbox/idp/sso\?"))
    page.get_by_role("button", name=re.compile(TEST_PERSON)).click()

    _claims_shown(page)
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_language_switch_keeps_the_login_and_carries_on(new_page: Callable[..., Page]) -> None:
    page = new_page(locale="sv-SE")
    start_login(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Välj e-legitimation")
    page.get_by_role("navigation", name="Språk").get_by_role("link", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your e-ID")
    expect(page.get_by_text("Log in to Demo e-service")).to_be_visible()
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Svenska")  # the way back

    page.get_by_label("Test e-ID (sandbox)").check()
    page.get_by_role("button", name="Continue").click()
    # The choice is remembered (cookie) past the chooser: the provider's page is in English too.
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox e-ID (test only)")
    page.get_by_role("button", name=re.compile(TEST_PERSON)).click()
    _claims_shown(page)
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    assert page.console_errors == []  # type: ignore[attr-defined]


def _tab_to(page: Page, matches: str, limit: int = 15) -> None:
    """Press Tab until the focused element matches the CSS selector ``matches``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(selector) => document.activeElement.matches(selector)", matches):
            return
    pytest.fail(f"{matches} never received focus by Tab")


def _focus_is_visible(page: Page, element: str = "document.activeElement") -> None:
    style = page.evaluate(
        f"""() => {{ const s = getComputedStyle({element});
                    return {{outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow}}; }}"""
    )
    assert (style["outline"] != "none" and style["width"] >= 2) or style["shadow"] != "none", style


def test_keyboard_only_login(new_page: Callable[..., Page]) -> None:
    page = new_page(width=375, locale="sv-SE")
    page.goto("/")
    _tab_to(page, "button")
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/authorize\?"))

    _tab_to(page, "input[type=radio]")
    _focus_is_visible(page, "document.activeElement.closest('.choice')")
    # Arrow keys move through the radio group; pick the sandbox wherever it is in the list.
    for _ in range(3):
        if page.evaluate("document.activeElement.value") == "sandbox":
            break
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == "sandbox"
    assert page.evaluate("document.activeElement.checked")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "remember"
    _focus_is_visible(page)
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    _focus_is_visible(page)
    page.screenshot(path=str(SCREENSHOTS / "chooser-keyboard-focus-sv-375.png"), full_page=True)
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/sandbox/idp/sso\?"))
    _tab_to(page, "button")
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    _claims_shown(page)

    # The choice was remembered: the next login preselects it, says so, and offers to forget it.
    # (Without the SSO session, which would otherwise skip the chooser altogether.)
    page.context.clear_cookies(name="eidgw_sid")
    _tab_to(page, "form[action='/demo/login'] button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/authorize\?"))
    expect(page.get_by_label(re.compile("Test-e-legitimation"))).to_be_checked()
    expect(page.get_by_text("Senast använd")).to_be_visible()
    _tab_to(page, "form.forget button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/login/choose\?"))
    expect(page.get_by_text("Senast använd")).to_have_count(0)
    expect(page.get_by_role("radio", checked=True)).to_have_count(0)
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_cancel_by_keyboard_goes_back_to_the_e_service(new_page: Callable[..., Page]) -> None:
    page = new_page(width=320, locale="sv-SE")
    start_login(page)
    expect(page.get_by_role("button", name="Avbryt")).to_be_visible()
    _tab_to(page, "form.cancel button")
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/demo/callback\?error=access_denied&"))
    expect(page.get_by_text("access_denied")).to_be_visible()
    assert not [e for e in page.console_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]


def test_continue_without_a_choice_explains_what_to_do(new_page: Callable[..., Page]) -> None:
    page = new_page(locale="en")
    start_login(page)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your e-ID")
    expect(page).to_have_title(re.compile(r"^Error: "))
    group = page.get_by_role("group")
    expect(group).to_have_accessible_description(re.compile("Choose an e-ID to continue"))
    page.get_by_label("Test e-ID (sandbox)").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/sandbox/idp/sso\?"))


def test_chooser_fits_every_width_and_200_percent_zoom(new_page: Callable[..., Page]) -> None:
    """320 px phones to desktop; 640 CSS px is a 1280 px window at 200 % zoom (WCAG 1.4.4, 1.4.10)."""
    page = new_page(locale="sv-SE")
    start_login(page)
    for width in (320, 375, 640, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"horizontal scrolling at {width} px"
        for element in (
            page.get_by_role("button", name="Fortsätt"),
            page.get_by_role("button", name="Avbryt"),
            page.locator(".choice").first,
        ):
            box = element.bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= width, f"cut off at {width} px"


def test_chooser_screenshots(new_page: Callable[..., Page]) -> None:
    """For a reviewer's eyes: test-artifacts/screenshots/chooser-<lang>-<width>.png (sv and en, 375 and 1280)."""
    page = new_page(locale="sv-SE")
    start_login(page)
    for lang in ("sv", "en"):
        if lang != "sv":
            page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", lang)
        for width in (375, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            path = SCREENSHOTS / f"chooser-{lang}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 10_000


def test_error_page_language_switch_keeps_the_incident(new_page: Callable[..., Page]) -> None:
    page = new_page(locale="sv-SE")
    response = page.goto("/login/resume?tx=not-this-browsers")
    assert response is not None
    assert response.status == 400
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_attribute("data-error", "session_mismatch")
    incident = page.locator(".incident code").inner_text()
    page.get_by_role("link", name="English").click()
    expect(heading).to_have_text("The login could not continue")
    expect(page.locator(".incident code")).to_have_text(incident)
    page.screenshot(path=str(SCREENSHOTS / "error-session_mismatch-en-1280.png"), full_page=True)


def test_other_provider_is_offered_with_its_help_text(new_page: Callable[..., Page]) -> None:
    page = new_page(locale="en")
    start_login(page)
    radio = page.get_by_role("radio", name="Freja+ (test)")
    expect(radio).to_have_accessible_description("Identify yourself with the Freja app on your phone.")
