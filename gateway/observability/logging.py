"""Structured JSON logs, without personal data or secrets.

Every record is one JSON object on stderr with the event, the logger, and the
extra fields the caller gave. Fields whose names suggest secrets or personal
data are dropped by a deny-list, and `pseudonym` gives a stable, keyed,
non-reversible stand-in for a citizen so an operator can follow one person's
logins without the log ever holding a personal identity number.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import sys
import time
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_DENY = ("secret", "token", "password", "assertion", "saml", "attribute", "personal", "pnr", "code", "cookie")


def pseudonym(key: bytes, subject_key: str) -> str:
    """A short keyed hash of a citizen's identifier, for logs only."""
    return hmac.new(key, subject_key.encode(), hashlib.sha256).hexdigest()[:16]


@functools.lru_cache(maxsize=1024)
def _is_logged_field(name: str) -> bool:
    """Whether an attribute of a record goes into the JSON: not logging's own, not private, not deny-listed.

    Decided once per name (names come from the code, a few dozen in all): matching every field of every
    record against the deny-list cost more than the rest of formatting a record.
    """
    if name in _STANDARD or name.startswith("_"):
        return False
    lowered = name.lower()
    return not any(word in lowered for word in _DENY)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; message arguments are not interpolated into free text twice."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON with its safe extra fields."""
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if not _is_logged_field(name):
                continue
            entry[name] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info and record.levelno >= logging.ERROR:
            entry["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else "unknown"
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    """Send the gateway's logs to stderr as JSON; quiet libraries that log personal data."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pysaml2 logs NameIDs at INFO and whole documents at DEBUG; authlib logs tokens at DEBUG.
    for noisy in ("saml2", "authlib"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
