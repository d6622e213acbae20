"""Theming: WCAG contrast arithmetic, and a colour that would break contrast is a Problem(file, key)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.errors import ConfigError
from gateway.sandbox.demo_rp import DEMO_COLOUR
from gateway.settings.load import load_settings
from gateway.settings.theme import BLACK
from gateway.settings.theme import WHITE
from gateway.settings.theme import Theme
from gateway.settings.theme import colour_problem
from gateway.settings.theme import contrast
from gateway.settings.theme import darker
from gateway.web.branding import theme_css

SECRET = "s" * 40


def test_contrast_matches_wcag_reference_values() -> None:
    assert contrast(WHITE, BLACK) == pytest.approx(21.0)
    assert contrast("#767676", WHITE) == pytest.approx(4.54, abs=0.01)  # the classic AA grey
    assert contrast("#777777", WHITE) == pytest.approx(4.48, abs=0.01)
    assert contrast("#123456", "#123456") == pytest.approx(1.0)


@pytest.mark.parametrize(("colour", "ok"), [("#767676", True), ("#777777", False), ("#1d4f91", True),
                                            ("#ffcc00", False), ("red", False), ("#12345", False)])  # fmt: skip
def test_primary_colour_needs_aa_contrast_with_white(colour: str, ok: bool) -> None:
    assert (colour_problem(colour) is None) is ok


def test_shipped_colours_pass_the_rule() -> None:
    assert colour_problem(DEMO_COLOUR) is None
    assert colour_problem(darker(DEMO_COLOUR)) is None


def test_header_text_is_whichever_of_black_and_white_reads_better() -> None:
    assert Theme(header="#ffdd00").header_text == BLACK
    assert Theme(header="#002b45").header_text == WHITE
    for grey in range(256):
        background = f"#{grey:02x}{grey:02x}{grey:02x}"
        assert contrast(background, Theme(header=background).header_text) >= 4.5


def test_theme_css_sets_only_what_was_configured() -> None:
    assert theme_css(Theme()) == ""
    css = theme_css(Theme(primary="#1d4f91", header="#ffdd00"))
    assert "--primary: #1d4f91;" in css
    assert "--header-bg: #ffdd00;" in css
    assert "--header-text: #000000;" in css


def _config(tmp_path: Path, theme: dict) -> Path:
    config = {
        "clients": [
            {"client_id": "bygglov", "redirect_uris": ["https://bygglov.example/cb"],
             "token_endpoint_auth_method": "client_secret_basic", "client_secret": SECRET, "theme": theme}
        ]
    }  # fmt: skip
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_low_contrast_theme_is_a_problem_naming_file_and_key(tmp_path: Path) -> None:
    path = _config(tmp_path, {"primary": "#ffcc00", "header": "yellow", "logo": "missing.svg", "font": "x"})
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = {p.key: p for p in caught.value.problems}
    assert {"clients[0].theme.primary", "clients[0].theme.header", "clients[0].theme.logo",
            "clients[0].theme.font"} <= set(problems)  # fmt: skip
    assert all(p.file == str(path) for p in problems.values())
    assert "4.5:1" in problems["clients[0].theme.primary"].message


def test_valid_theme_is_loaded_with_its_logo(tmp_path: Path) -> None:
    (tmp_path / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    settings = load_settings(_config(tmp_path, {"primary": "#1D4F91", "header": "#FFFFFF", "logo": "logo.svg"}))
    theme = next(c for c in settings.clients if c.client_id == "bygglov").theme
    assert theme == Theme(primary="#1d4f91", header="#ffffff", logo=tmp_path / "logo.svg")


def test_logo_must_be_small_png_or_svg(tmp_path: Path) -> None:
    (tmp_path / "logo.gif").write_bytes(b"GIF89a")
    (tmp_path / "big.png").write_bytes(b"\x89PNG" + b"0" * 300_000)
    for name in ("logo.gif", "big.png"):
        with pytest.raises(ConfigError) as caught:
            load_settings(_config(tmp_path, {"logo": name}))
        assert [p.key for p in caught.value.problems] == ["clients[0].theme.logo"]
