"""Versioned JSON <-> frozen dataclasses, the one way value objects become store bytes.

JSON, not pickle: a value read back from Redis is data, never code, so a
writable Redis cannot become code execution in the gateway. msgspec does the
work in C: it encodes dataclasses, enums (by value), tuples and mappings, and
decodes by the dataclass's own annotations, so nested value objects, tuples and
enums come back as what they were, not as dicts and lists, and data of another
shape is refused rather than misread (no bool for an int, no str for a tuple).
A class's own ``__post_init__`` checks run on decoding too. The envelope
``{"v": 1, "t": <class name>, "d": {...}}`` lets a reader refuse a value written
for another class or by an incompatible version instead of misreading it.

A field added with a default is a compatible change both ways: old values
decode with the default, and a gateway not yet upgraded ignores the field it
does not know while both versions serve. Anything else bumps ``VERSION``.

Supported field types are msgspec's: str, int, float, bool, None, enums,
nested dataclasses, tuples, lists, ``dict[str, X]`` / ``Mapping[str, X]`` and
unions msgspec can tell apart (``X | None``). Annotations must resolve at
module level (no classes local to a function). Encoding goes by the values'
runtime types, not the annotations, which mypy holds the values to (an int
key of a ``dict[str, X]`` would be written as its digits). Strings must be
Unicode text that UTF-8 can carry: a lone surrogate is refused when encoding.
Numbers must be finite: msgspec writes NaN and infinity as null, which a
``float`` field refuses when it is read back (and a ``float | None`` field
would read as None), so no record stores a computed float.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any
from typing import Literal
from typing import TypeVar

import msgspec

VERSION = 1

_T = TypeVar("_T")
_ENCODER = msgspec.json.Encoder()
_LITERAL: Any = Literal  # subscripted with values known only at run time


class CodecError(ValueError):
    """A value cannot be encoded, or stored bytes are not a valid encoding of the requested class."""


def encode(obj: object) -> bytes:
    """Serialize a dataclass instance into the versioned envelope."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise CodecError("only dataclass instances can be encoded")
    try:
        return _ENCODER.encode({"v": VERSION, "t": type(obj).__name__, "d": obj})
    except (TypeError, ValueError, OverflowError) as exc:  # UnicodeEncodeError is a ValueError
        raise CodecError(f"cannot encode {type(obj).__name__}: {exc}") from None


def decode(cls: type[_T], data: bytes) -> _T:
    """Rebuild an instance of ``cls``; raise `CodecError` unless ``data`` is a valid envelope for it."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise CodecError("only dataclasses can be decoded")
    try:
        envelope = _decoder(cls).decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:  # ValidationError is a DecodeError
        raise CodecError(f"stored value is not a valid {cls.__name__}: {exc}") from None
    value: _T = envelope.d
    return value


@functools.cache
def _decoder(cls: type) -> msgspec.json.Decoder[Any]:
    """The decoder of ``cls``'s envelope, built once per class: the version and the class name are literals,
    so a value of another version or class is refused by the same pass that reads it, before its data."""
    envelope = msgspec.defstruct(
        f"{cls.__name__}Envelope",
        [("v", _LITERAL[VERSION]), ("t", _LITERAL[cls.__name__]), ("d", cls)],
        forbid_unknown_fields=True,
    )
    return msgspec.json.Decoder(envelope)
