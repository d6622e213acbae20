"""Languages of the citizen's pages: gettext catalogues (Flask-Babel) and the choice between them.

Every text a page shows comes from `web/translations/<lang>/LC_MESSAGES/messages.po` (compiled to the
`.mo` beside it, which is committed so that a fresh clone and an installed wheel both work; a test
keeps the two in step). The msgids are English, the source language; Swedish is the default page
language. The set of languages is read from that folder, so a third language is one more catalogue,
not a code change (README, "Translations").

A page's language is the first of (OIDC Core 3.1.2.1 for ``ui_locales``):

1. ``lang`` in the query: the citizen used the language switch on the page;
2. ``ui_locales`` in the query: the e-service's wish for this login;
3. the language cookie, which remembers 1 (for a year) or 2 (for the browser session), so the pages
   after the chooser (the provider's sandbox page, an error page at resume) keep the language;
4. the browser's Accept-Language;
5. Swedish.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

from babel import Locale
from flask import Flask
from flask import Response
from flask import g
from flask import request
from flask_babel import Babel
from flask_babel import get_locale

TRANSLATIONS_DIR: Final = Path(__file__).parent / "translations"
DEFAULT_LANGUAGE: Final = "sv"
SOURCE_LANGUAGE: Final = "en"
"""The language of the msgids: its catalogue may leave every msgstr empty."""

LANG_COOKIE: Final = "eidgw_lang"
SWITCH_COOKIE_MAX_AGE: Final = 365 * 24 * 3600
MAX_TAG_LENGTH: Final = 35


@functools.cache
def languages() -> tuple[str, ...]:
    """The page languages: Swedish first, then every other catalogue folder that has a compiled catalogue."""
    found = sorted(p.parent.parent.name for p in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.mo"))
    return (DEFAULT_LANGUAGE, *(lang for lang in found if lang != DEFAULT_LANGUAGE))


def language_name(code: str) -> str:
    """The language's own name for itself ("svenska" -> "Svenska", "English"), for the switch."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def negotiate(tags: Sequence[str], supported: Sequence[str] | None = None) -> str | None:
    """The first of ``tags`` (BCP 47, e.g. ``en-GB``) whose primary language is supported, else None."""
    supported = supported if supported is not None else languages()
    for tag in tags:
        base = tag[:MAX_TAG_LENGTH].replace("_", "-").split("-")[0].strip().lower()
        if base in supported:
            return base
    return None


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """The page language and where it came from (``switch``, ``ui_locales``, ``cookie``, ``browser``, ``default``)."""

    language: str
    source: str


def choose_language(
    switch: str | None, ui_locales: Sequence[str], cookie: str | None, accept_language: Sequence[str]
) -> LanguageChoice:
    """Apply the order in the module docstring to one request's values."""
    for source, tags in (
        ("switch", [switch] if switch else []),
        ("ui_locales", ui_locales),
        ("cookie", [cookie] if cookie else []),
        ("browser", accept_language),
    ):
        language = negotiate(tags)
        if language is not None:
            return LanguageChoice(language, source)
    return LanguageChoice(DEFAULT_LANGUAGE, "default")


def _select() -> str:
    choice = choose_language(
        request.args.get("lang"),
        request.args.get("ui_locales", "").split(),
        request.cookies.get(LANG_COOKIE),
        [tag for tag, _ in request.accept_languages],
    )
    g.eidgw_language = choice
    return choice.language


def page_language() -> str:
    """The language of the page being rendered."""
    return str(get_locale() or DEFAULT_LANGUAGE)


def set_switch_target(url: str) -> None:
    """Where this page's language switch links go (plus ``lang=``): a URL that shows the same page again.

    A page that sets none gets a switch only when it answers a GET, which can be repeated; a POST's
    page must name a GET that re-renders it (the chooser and the error pages do).
    """
    g.eidgw_switch_target = url


def _switch_links() -> list[dict[str, object]]:
    target = g.get("eidgw_switch_target")
    if target is None and request.method == "GET":
        args = {k: v for k, v in request.args.items() if k != "lang"}
        target = request.path + (f"?{urlencode(args)}" if args else "")
    if target is None:
        return []
    separator = "&" if "?" in target else "?"
    current = page_language()
    return [
        {
            "code": code,
            "name": language_name(code),
            "url": f"{target}{separator}lang={code}",
            "current": code == current,
        }
        for code in languages()
    ]


def _remember(response: Response) -> Response:
    """Keep a switched (or e-service-requested) language for the pages that follow."""
    choice: LanguageChoice | None = g.get("eidgw_language")
    if choice is not None and choice.source in ("switch", "ui_locales"):
        response.set_cookie(
            LANG_COOKIE,
            choice.language,
            max_age=SWITCH_COOKIE_MAX_AGE if choice.source == "switch" else None,
            path="/",
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


def init_app(app: Flask) -> None:
    """Install Flask-Babel with our language choice, the template helpers and the language cookie."""
    Babel(
        app,
        default_locale=DEFAULT_LANGUAGE,
        locale_selector=_select,
        default_translation_directories=str(TRANSLATIONS_DIR),
    )

    @app.context_processor
    def _helpers() -> dict[str, object]:
        return {"page_lang": page_language, "language_links": _switch_links}

    app.after_request(_remember)
