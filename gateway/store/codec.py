"""Versioned JSON <-> frozen dataclasses, the one way value objects become store bytes.

JSON, not pickle: a value read back from Redis is data, never code, so a
writable Redis cannot become code execution in the gateway. Types come back
from the dataclass's own annotations (`typing.get_type_hints`), so nested value
objects, tuples and enums are rebuilt as what they were, not left as dicts and
lists. The envelope ``{"v": 1, "t": <class name>, "d": {...}}`` lets a reader
refuse a value written for another class or by an incompatible version
instead of misreading it. A field added with a default is a compatible change
(old values decode with the default); anything else bumps ``VERSION``.

Supported field types: str, int, float, bool, None, enum.Enum subclasses (by
value), nested dataclasses, ``tuple[X, ...]``, fixed ``tuple[X, Y]``,
``list[X]``, ``dict[str, X]`` / ``Mapping[str, X]`` and ``X | None``/unions of these.
Annotations must resolve at module level (no classes local to a function).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

VERSION = 1

_T = TypeVar("_T")
_SCALARS = (str, int, float, bool)


class CodecError(ValueError):
    """A value cannot be encoded, or stored bytes are not a valid encoding of the requested class."""


def encode(obj: object) -> bytes:
    """Serialize a dataclass instance into the versioned envelope."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise CodecError("only dataclass instances can be encoded")
    envelope = {"v": VERSION, "t": type(obj).__name__, "d": _dump(obj)}
    try:
        # ASCII escapes keep any Python string, even a lone surrogate, round-trippable.
        text = json.dumps(envelope, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except ValueError:
        raise CodecError("value cannot be represented as JSON (NaN or infinity)") from None
    return text.encode("ascii")


def decode(cls: type[_T], data: bytes) -> _T:
    """Rebuild an instance of ``cls``; raise `CodecError` unless ``data`` is a valid envelope for it."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise CodecError("only dataclasses can be decoded")
    try:
        envelope = json.loads(data)
    except (ValueError, RecursionError):
        raise CodecError("stored value is not JSON") from None
    if not isinstance(envelope, dict) or set(envelope) != {"v", "t", "d"}:
        raise CodecError("stored value is not a codec envelope")
    if envelope["v"] != VERSION or isinstance(envelope["v"], bool):
        raise CodecError("stored value has an unsupported codec version")
    if envelope["t"] != cls.__name__:
        raise CodecError("stored value was written for another class")
    return typing.cast("_T", _load_dataclass(cls, envelope["d"]))


def _dump(value: object) -> Any:
    """Turn a supported value into plain JSON data, keyed on its runtime type."""
    if isinstance(value, enum.Enum):
        return _dump(value.value)
    if value is None or isinstance(value, _SCALARS):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_dump(item) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise CodecError("mapping keys must be str")
        return {key: _dump(item) for key, item in value.items()}
    raise CodecError(f"cannot encode a value of type {type(value).__name__}")


def _load_dataclass(cls: type, data: object) -> object:
    """Build ``cls`` from a dict, each field by its annotation; defaults fill missing fields."""
    if not isinstance(data, dict):
        raise CodecError(f"{cls.__name__}: expected an object")
    hints, fields = _fields_of(cls)
    unknown = set(data) - set(fields)
    if unknown:
        raise CodecError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _load(hints[name], data[name])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise CodecError(f"{cls.__name__}: missing field {name!r}")
    try:
        return cls(**kwargs)
    except CodecError:
        raise
    except (TypeError, ValueError):
        # The class's own validation refused the stored data.
        raise CodecError(f"{cls.__name__}: stored fields were refused") from None


@functools.cache
def _fields_of(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """``cls``'s resolved annotations and init fields, computed once per class.

    `typing.get_type_hints` evaluates every annotation string on each call; done per decode, it was
    most of the cost of reading a record. Classes are immutable definitions, so the result never changes.
    """
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if f.init}


def _load(tp: Any, value: object) -> Any:
    """Rebuild ``value`` as annotation ``tp``, refusing data of another shape."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _load_union(typing.get_args(tp), value)
    if origin is tuple:
        return _load_tuple(typing.get_args(tp), value)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        return [_load(item_tp, item) for item in _expect(list, value)]
    if origin in (dict, Mapping):
        key_tp, item_tp = typing.get_args(tp)
        if key_tp is not str:
            raise CodecError("only str-keyed mappings are supported")
        return {key: _load(item_tp, item) for key, item in _expect(dict, value).items()}
    if tp is type(None):
        if value is not None:
            raise CodecError("expected null")
        return None
    if isinstance(tp, type):
        return _load_class(tp, value)
    raise CodecError(f"unsupported annotation {tp!r}")


def _load_class(tp: type, value: object) -> Any:
    """Rebuild a scalar, enum or nested dataclass."""
    if issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise CodecError(f"{tp.__name__}: unknown member") from None
    if dataclasses.is_dataclass(tp):
        return _load_dataclass(tp, value)
    if tp is bool:
        return _expect(bool, value)
    if tp is int:
        if isinstance(value, bool):
            raise CodecError("expected int")
        return _expect(int, value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CodecError("expected float")
        return float(value)
    if tp is str:
        return _expect(str, value)
    raise CodecError(f"unsupported type {tp.__name__}")


def _load_union(options: tuple[Any, ...], value: object) -> Any:
    """The first option that accepts ``value`` wins, so list the narrower type first."""
    for option in options:
        try:
            return _load(option, value)
        except CodecError:
            continue
    raise CodecError("value matches no option of a union")


def _load_tuple(args: tuple[Any, ...], value: object) -> tuple[Any, ...]:
    """``tuple[X, ...]`` is homogeneous; ``tuple[X, Y]`` has exactly those items."""
    items = _expect(list, value)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_load(args[0], item) for item in items)
    if not args or len(items) != len(args):
        raise CodecError("tuple has the wrong length")
    return tuple(_load(arg, item) for arg, item in zip(args, items, strict=True))


def _expect(tp: type[_T], value: object) -> _T:
    if not isinstance(value, tp):
        raise CodecError(f"expected {tp.__name__}")
    return value
