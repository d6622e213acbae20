"""The `https://id.oidc.se/param/userMessage` request parameter (OSRPAR 2.1), parsed once at the edge.

The value is a JSON object: `message` and/or `message#<lang>` members, each
the base64 encoding of a UTF-8 text, and an optional `mime_type`. The OP
"must refuse" a MIME type it does not support (OSRPAR 2.1), so anything but
`text/plain` and `text/markdown` (the two the SAML UserMessage extension
allows, UMSG 2) is an `invalid_request`. The untagged message takes the
language of the citizen's pages and comes first, so a provider that finds no
message in the citizen's language shows it (UMSG 2: "else the first").
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Final

from gateway.model import UserMessage

PARAMETER: Final = "https://id.oidc.se/param/userMessage"
MIME_TYPES: Final = ("text/plain", "text/markdown")
MAX_MESSAGE_BYTES: Final = 2048
"""A message shown in an e-ID app before authentication; BankID's userVisibleData is bounded too."""

_LANG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")


class InvalidUserMessage(ValueError):
    """The parameter is malformed; the message becomes the `error_description`."""


def parse_user_message(text: str, default_language: str) -> UserMessage:
    """A :class:`UserMessage` from the parameter's JSON text; ``default_language`` labels the untagged message."""
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidUserMessage("userMessage is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidUserMessage("userMessage must be a JSON object")
    mime_type = value.get("mime_type", "text/plain")
    if mime_type not in MIME_TYPES:
        raise InvalidUserMessage(f"userMessage mime_type must be one of {', '.join(MIME_TYPES)}")
    tagged: dict[str, str] = {}
    untagged: str | None = None
    for name, encoded in value.items():
        if name == "mime_type":
            continue
        base, hashed, lang = name.partition("#")
        if base != "message" or (hashed and not _LANG.fullmatch(lang)):
            raise InvalidUserMessage(f"userMessage has an unknown member {name[:40]!r}")
        _check_encoded(encoded)
        if lang:
            tagged[lang.lower()] = encoded
        else:
            untagged = encoded
    messages: list[tuple[str, str]] = []
    if untagged is not None and default_language not in tagged:
        messages.append((default_language, untagged))
    messages.extend(tagged.items())
    if not messages:
        raise InvalidUserMessage("userMessage has no message")
    return UserMessage(messages=tuple(messages), mime_type=mime_type)


def _check_encoded(encoded: object) -> None:
    """Base64 of non-empty UTF-8 text, within the size bound."""
    if not isinstance(encoded, str):
        raise InvalidUserMessage("userMessage messages must be base64 strings")
    try:
        decoded = base64.b64decode(encoded, validate=True)
        text = decoded.decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidUserMessage("userMessage messages must be base64 of UTF-8 text") from None
    if not text.strip() or len(decoded) > MAX_MESSAGE_BYTES:
        raise InvalidUserMessage("userMessage message is empty or too long")
