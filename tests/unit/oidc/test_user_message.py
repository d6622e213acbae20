"""The userMessage request parameter (OSRPAR 2.1): what is accepted, how languages are labelled, what is refused."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.oidc.user_message import InvalidUserMessage
from gateway.oidc.user_message import parse_user_message


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def test_untagged_message_takes_the_page_language_and_comes_first() -> None:
    parsed = parse_user_message(json.dumps({"message#en": _b64("Hi"), "message": _b64("Hej")}), "sv")
    assert parsed.messages == (("sv", _b64("Hej")), ("en", _b64("Hi")))
    assert parsed.mime_type == "text/plain"


def test_a_tagged_message_in_the_page_language_wins_over_the_untagged_one() -> None:
    parsed = parse_user_message(json.dumps({"message": _b64("default"), "message#sv": _b64("svenska")}), "sv")
    assert parsed.messages == (("sv", _b64("svenska")),)


def test_markdown_is_accepted() -> None:
    parsed = parse_user_message(json.dumps({"message": _b64("**x**"), "mime_type": "text/markdown"}), "en")
    assert parsed.mime_type == "text/markdown"


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        json.dumps(["x"]),
        json.dumps({}),
        json.dumps({"mime_type": "text/plain"}),
        json.dumps({"message": _b64("x"), "mime_type": "text/html"}),
        json.dumps({"message": "***"}),
        json.dumps({"message": base64.b64encode(b"\xff\xfe").decode()}),
        json.dumps({"message": _b64("   ")}),
        json.dumps({"message": _b64("x" * 3000)}),
        json.dumps({"message": 5}),
        json.dumps({"message#": _b64("x")}),
        json.dumps({"message#s v": _b64("x")}),
        json.dumps({"title": _b64("x")}),
    ],
    ids=["not-json", "array", "empty", "no-message", "html", "not-base64", "not-utf8", "blank", "too-long",
         "number", "empty-tag", "bad-tag", "unknown-member"],
)  # fmt: skip
def test_malformed_values_are_refused(value: str) -> None:
    with pytest.raises(InvalidUserMessage):
        parse_user_message(value, "sv")
