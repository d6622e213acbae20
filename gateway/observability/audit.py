"""Audit events: who logged in where, when, how, as structured log records under `gateway.audit`.

A citizen appears only as a keyed pseudonym (`observability.logging.pseudonym`),
never by personal identity number or name, so the audit trail can follow one
person across logins without holding personal data.
"""

from __future__ import annotations

import logging

from gateway.model import Identity
from gateway.observability.logging import pseudonym

_log = logging.getLogger("gateway.audit")


class Audit:
    """Writes audit events; holds the pseudonym key."""

    def __init__(self, pseudonym_key: bytes) -> None:
        self._key = pseudonym_key

    def event(self, name: str, **fields: str | int | None) -> None:
        """One audit event with its safe fields."""
        _log.info(name, extra={"audit": True, **{k: v for k, v in fields.items() if v is not None}})

    def citizen(self, identity: Identity) -> str:
        """The pseudonym that stands for this citizen in every log line."""
        return pseudonym(self._key, identity.subject_key)
