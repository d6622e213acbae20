"""Every error a citizen can meet has its own page text, and pages never show internal detail."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.saml import acs
from gateway.web.error_pages import GENERIC
from gateway.web.error_pages import PAGES
from gateway.web.error_pages import error_page

ROOT = Path(__file__).resolve().parents[3]
RAISERS = {"CitizenError", "UpstreamError"}


def _codes_raised_in_gateway() -> set[str]:
    """String codes passed to CitizenError/UpstreamError (first argument), and acs._fail (second)."""
    codes = set()
    for path in (ROOT / "gateway").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            position = 0 if name in RAISERS else 1 if name == "_fail" else None
            if position is None:
                continue
            args = [*node.args, *(k.value for k in node.keywords if k.arg == "code")]
            candidates = args[position : position + 1] + [k.value for k in node.keywords if k.arg == "code"]
            codes |= {a.value for a in candidates if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return codes


def test_every_code_raised_has_its_own_page() -> None:
    raised = _codes_raised_in_gateway() | {page for page, _ in acs._STATUS_ERRORS.values()}
    assert {"expired", "unknown_client", "loa_not_met", "cancelled"} <= raised  # the scan finds them
    assert raised - set(PAGES) == set()


def test_pages_the_error_mapping_renders_itself_exist() -> None:
    assert {"unavailable", "internal", "not_found"} <= set(PAGES)


def test_an_unknown_code_gets_the_generic_page() -> None:
    assert error_page("something_new") is GENERIC
