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
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

VERSION = 1

_T = TypeVar("_T")
_SCALARS = (str, int, float, bool)
_PLAIN = frozenset({str, int, float, bool, type(None)})


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
    """Turn a supported value into plain JSON data, keyed on its runtime type.

    The exact built-in scalars, most of any record, are settled by one set lookup before the
    isinstance chain; a record's fields are dumped about thirty times per login.
    """
    kind: type = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, enum.Enum):
        return _dump(value.value)
    if isinstance(value, _SCALARS):
        return value
    names = _field_names(kind)
    if names is not None:
        return {name: _dump(getattr(value, name)) for name in names}
    if isinstance(value, (tuple, list)):
        return [_dump(item) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise CodecError("mapping keys must be str")
        return {key: _dump(item) for key, item in value.items()}
    raise CodecError(f"cannot encode a value of type {kind.__name__}")


def _load_dataclass(cls: type, data: object) -> object:
    """Build ``cls`` from a dict, each field by its annotation; defaults fill missing fields."""
    if not isinstance(data, dict):
        raise CodecError(f"{cls.__name__}: expected an object")
    fields = _fields_of(cls)
    unknown = data.keys() - fields.keys()
    if unknown:
        raise CodecError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, (load, required) in fields.items():
        if name in data:
            kwargs[name] = load(data[name])
        elif required:
            raise CodecError(f"{cls.__name__}: missing field {name!r}")
    try:
        return cls(**kwargs)
    except CodecError:
        raise
    except (TypeError, ValueError):
        # The class's own validation refused the stored data.
        raise CodecError(f"{cls.__name__}: stored fields were refused") from None


_Loader = Callable[[object], Any]


@functools.cache
def _fields_of(cls: type) -> dict[str, tuple[_Loader, bool]]:
    """``cls``'s init fields: each one's loader (from its resolved annotation) and whether it is required.

    Computed once per class: `typing.get_type_hints` evaluates every annotation string on each call, and
    walking an annotation (`_loader`) for every stored value was most of the cost of reading a record.
    Classes are immutable definitions, so the result never changes.
    """
    hints = typing.get_type_hints(cls)
    return {
        f.name: (_loader(hints[f.name]), f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
        if f.init
    }


@functools.cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """The names of dataclass ``kind``'s fields, in order, or None for any other type; once per type."""
    if not dataclasses.is_dataclass(kind):
        return None
    return tuple(f.name for f in dataclasses.fields(kind))


def _load(tp: Any, value: object) -> Any:
    """Rebuild ``value`` as annotation ``tp``, refusing data of another shape."""
    return _loader(tp)(value)


@functools.cache
def _loader(tp: Any) -> _Loader:
    """The function that rebuilds values of annotation ``tp``, made once per annotation."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return functools.partial(_load_union, tuple(_loader(option) for option in args))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return functools.partial(_load_homogeneous_tuple, _loader(args[0]))
        return functools.partial(_load_fixed_tuple, tuple(_loader(arg) for arg in args))
    if origin is list:
        return functools.partial(_load_list, _loader(args[0]))
    if origin in (dict, Mapping):
        if args[0] is not str:
            raise CodecError("only str-keyed mappings are supported")
        return functools.partial(_load_dict, _loader(args[1]))
    if tp is type(None):
        return _load_none
    if isinstance(tp, type):
        return _class_loader(tp)
    raise CodecError(f"unsupported annotation {tp!r}")


def _class_loader(tp: type) -> _Loader:
    """The loader of a scalar, enum or nested dataclass."""
    if issubclass(tp, enum.Enum):
        return functools.partial(_load_enum, tp)
    if dataclasses.is_dataclass(tp):
        return functools.partial(_load_dataclass, tp)
    scalars: dict[type, _Loader] = {bool: _load_bool, int: _load_int, float: _load_float, str: _load_str}
    if tp in scalars:
        return scalars[tp]
    raise CodecError(f"unsupported type {tp.__name__}")


def _load_enum(tp: type[enum.Enum], value: object) -> enum.Enum:
    try:
        return tp(value)
    except ValueError:
        raise CodecError(f"{tp.__name__}: unknown member") from None


def _load_none(value: object) -> None:
    if value is not None:
        raise CodecError("expected null")


def _load_bool(value: object) -> bool:
    return _expect(bool, value)


def _load_int(value: object) -> int:
    if isinstance(value, bool):
        raise CodecError("expected int")
    return _expect(int, value)


def _load_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodecError("expected float")
    return float(value)


def _load_str(value: object) -> str:
    return _expect(str, value)


def _load_list(item: _Loader, value: object) -> list[Any]:
    return [item(element) for element in _expect(list, value)]


def _load_dict(item: _Loader, value: object) -> dict[str, Any]:
    return {key: item(element) for key, element in _expect(dict, value).items()}


def _load_union(options: tuple[_Loader, ...], value: object) -> Any:
    """The first option that accepts ``value`` wins, so list the narrower type first."""
    for option in options:
        try:
            return option(value)
        except CodecError:
            continue
    raise CodecError("value matches no option of a union")


def _load_homogeneous_tuple(item: _Loader, value: object) -> tuple[Any, ...]:
    """``tuple[X, ...]``: any length, every item an X."""
    return tuple(item(element) for element in _expect(list, value))


def _load_fixed_tuple(items: tuple[_Loader, ...], value: object) -> tuple[Any, ...]:
    """``tuple[X, Y]``: exactly those items."""
    elements = _expect(list, value)
    if not items or len(elements) != len(items):
        raise CodecError("tuple has the wrong length")
    return tuple(load(element) for load, element in zip(items, elements, strict=True))


def _expect(tp: type[_T], value: object) -> _T:
    if not isinstance(value, tp):
        raise CodecError(f"expected {tp.__name__}")
    return value
