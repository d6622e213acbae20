"""Languages: the order of choice, and catalogues that are complete, consistent and compiled.

The catalogues are gettext files: every msgid the code and templates use must be in every language's
`.po`, translated (the source language, English, excepted), with the same placeholders, and the
committed `.mo` must be what the `.po` compiles to, so a fresh clone shows the texts that were
reviewed. After changing a text, `scripts/i18n` refreshes all of it.
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from gateway.web.i18n import SOURCE_LANGUAGE
from gateway.web.i18n import TRANSLATIONS_DIR
from gateway.web.i18n import LanguageChoice
from gateway.web.i18n import choose_language
from gateway.web.i18n import language_name
from gateway.web.i18n import languages

ROOT = Path(__file__).resolve().parents[3]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_the_order_of_choice() -> None:
    assert choose_language("en", ["sv"], "sv", ["sv"]) == LanguageChoice("en", "switch")
    assert choose_language(None, ["en-GB", "sv"], "sv", ["sv"]) == LanguageChoice("en", "ui_locales")
    assert choose_language(None, ["de"], "en", ["sv"]) == LanguageChoice("en", "cookie")
    assert choose_language(None, [], None, ["de-DE", "en-US", "sv"]) == LanguageChoice("en", "browser")
    assert choose_language("fr", ["de"], "xx", ["fi"]) == LanguageChoice("sv", "default")


def test_languages_come_from_the_catalogue_folder() -> None:
    assert languages()[0] == "sv"
    assert set(languages()) == {p.name for p in TRANSLATIONS_DIR.iterdir() if p.is_dir()}
    assert language_name("en") == "English"
    assert language_name("sv") == "Svenska"


def _used_msgids() -> set[str]:
    method_map = [("gateway/**.py", "python"), ("gateway/web/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(language: str):  # type: ignore[no-untyped-def]
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.mark.parametrize("language", languages())
def test_every_text_in_use_is_in_the_catalogue_and_translated(language: str) -> None:
    used = _used_msgids()
    assert len(used) > 50
    catalogue = _catalogue(language)
    ids = {m.id for m in catalogue if m.id}
    assert used - ids == set(), f"run scripts/i18n: not in {language}/messages.po"
    assert ids - used == set(), f"run scripts/i18n: unused entries in {language}/messages.po"
    assert [m.id for m in catalogue if m.id and m.fuzzy] == []
    if language != SOURCE_LANGUAGE:
        assert [m.id for m in catalogue if m.id and not m.string] == [], f"untranslated in {language}"
    for message in catalogue:
        if message.id and message.string:
            assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(message.id)), message.id


@pytest.mark.parametrize("language", languages())
def test_the_committed_mo_is_the_compiled_po(language: str) -> None:
    compiled = BytesIO()
    write_mo(compiled, _catalogue(language))
    compiled.seek(0)
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        committed = read_mo(handle)
    fresh = read_mo(compiled)
    assert {m.id: m.string for m in committed if m.id} == {m.id: m.string for m in fresh if m.id}, (
        "run scripts/i18n to compile the catalogues"
    )
