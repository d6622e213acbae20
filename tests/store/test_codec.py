"""Value objects survive the store as what they were, and foreign bytes are refused."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

import pytest

from gateway.model import AuthnResult
from gateway.model import Identity
from gateway.store.codec import CodecError
from gateway.store.codec import decode
from gateway.store.codec import encode


class Status(enum.Enum):
    STARTED = "started"
    AUTHENTICATED = "authenticated"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 3


@dataclass(frozen=True, slots=True)
class Inner:
    name: str
    weight: float


@dataclass(frozen=True, slots=True)
class Outer:
    status: Status
    level: Level
    inner: Inner
    maybe_inner: Inner | None
    pair: tuple[str, int]
    many: tuple[Inner, ...]
    tags: list[str]
    counts: dict[str, int]
    attributes: Mapping[str, tuple[str, ...]]
    flag: bool
    note: str | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)


AUTHN_RESULT = AuthnResult(
    issuer="https://idp.example.se",
    name_id="_a1b2",
    name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    loa="http://id.elegnamnden.se/loa/1.0/loa3",
    authn_instant=1_700_000_000,
    assertion_id="_assertion",
    attributes={"urn:oid:1.2.752.29.4.13": ("195001182046",), "urn:oid:2.5.4.4": ("Svensson", "Åström")},
    authenticating_authority=None,
)

IDENTITY = Identity(
    provider_id="bankid",
    issuer="https://idp.example.se",
    subject_key="195001182046",
    loa="http://id.elegnamnden.se/loa/1.0/loa3",
    authn_instant=1_700_000_000,
    attributes={"personalIdentityNumber": ("195001182046",), "givenName": ("Åsa",)},
    transaction_identifier="tid-1",
)

OUTER = Outer(
    status=Status.AUTHENTICATED,
    level=Level.HIGH,
    inner=Inner("a", 1.5),
    maybe_inner=Inner("b", 2.0),
    pair=("x", 7),
    many=(Inner("c", 0.0), Inner("d", -1.25)),
    tags=["t1", "t2"],
    counts={"n": 3},
    attributes={"sn": ("Svensson",)},
    flag=True,
    note=None,
)


@pytest.mark.parametrize("value", [AUTHN_RESULT, IDENTITY, OUTER], ids=["AuthnResult", "Identity", "Outer"])
def test_round_trip(value: object) -> None:
    restored = decode(type(value), encode(value))
    assert restored == value
    assert type(restored) is type(value)


def test_types_are_rebuilt_not_left_as_json() -> None:
    restored = decode(Outer, encode(OUTER))
    assert restored.status is Status.AUTHENTICATED
    assert restored.level is Level.HIGH
    assert isinstance(restored.inner, Inner)
    assert isinstance(restored.many, tuple)
    assert all(isinstance(item, Inner) for item in restored.many)
    assert restored.attributes["sn"] == ("Svensson",)
    assert isinstance(restored.inner.weight, float)


def test_envelope_names_version_and_class() -> None:
    envelope = json.loads(encode(IDENTITY))
    assert envelope["v"] == 1
    assert envelope["t"] == "Identity"
    assert envelope["d"]["attributes"]["givenName"] == ["Åsa"]


def test_enum_is_stored_by_value() -> None:
    assert json.loads(encode(OUTER))["d"]["status"] == "authenticated"


def test_lone_surrogate_is_refused() -> None:
    """UTF-8 cannot carry it; the request object check keeps any from reaching a record."""
    with pytest.raises(CodecError, match="surrogates"):
        encode(Inner("\ud800", 0.0))


def test_unknown_field_is_ignored() -> None:
    """A field added with a default by a newer gateway: one not yet upgraded reads the value without it."""
    assert decode(Identity, _with_data(IDENTITY, added_later="x")) == IDENTITY


def test_non_finite_float_is_refused_when_read_back() -> None:
    """JSON has no NaN: it is written as null, which a float field refuses."""
    with pytest.raises(CodecError, match="weight"):
        decode(Inner, encode(Inner("a", float("nan"))))


def test_missing_field_with_default_takes_the_default() -> None:
    envelope = json.loads(encode(OUTER))
    del envelope["d"]["extra"]
    assert decode(Outer, json.dumps(envelope).encode()) == OUTER


def _tampered(value: object, change: dict[str, object]) -> bytes:
    envelope = json.loads(encode(value))
    envelope.update(change)
    return json.dumps(envelope).encode()


def _with_data(value: object, **fields: object) -> bytes:
    envelope = json.loads(encode(value))
    envelope["d"].update(fields)
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"v": 1, "t": "Inner"}', id="no-data"),
        pytest.param(_tampered(IDENTITY, {"v": 2}), id="other-version"),
        pytest.param(_tampered(IDENTITY, {"v": True}), id="version-true"),
        pytest.param(_tampered(IDENTITY, {"t": "AuthnResult"}), id="other-class"),
        pytest.param(_tampered(IDENTITY, {"x": 1}), id="extra-envelope-key"),
        pytest.param(_with_data(IDENTITY, authn_instant="1700000000"), id="str-for-int"),
        pytest.param(_with_data(IDENTITY, authn_instant=True), id="bool-for-int"),
        pytest.param(_with_data(IDENTITY, attributes={"sn": "Svensson"}), id="str-for-tuple"),
        pytest.param(_with_data(IDENTITY, attributes=[["sn", ["x"]]]), id="list-for-mapping"),
        pytest.param(_with_data(IDENTITY, transaction_identifier=5), id="int-for-optional-str"),
    ],
)
def test_malformed_identity_is_refused(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode(Identity, data)


def test_missing_required_field_is_refused() -> None:
    envelope = json.loads(encode(IDENTITY))
    del envelope["d"]["subject_key"]
    with pytest.raises(CodecError, match="subject_key"):
        decode(Identity, json.dumps(envelope).encode())


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"status": "deleted"}, id="unknown-enum-member"),
        pytest.param({"level": 2}, id="unknown-int-enum-member"),
        pytest.param({"pair": ["x"]}, id="short-fixed-tuple"),
        pytest.param({"inner": {"name": "a"}}, id="nested-missing-field"),
        pytest.param({"counts": {"n": "3"}}, id="wrong-mapping-value"),
        pytest.param({"flag": 1}, id="int-for-bool"),
    ],
)
def test_malformed_nested_value_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(CodecError):
        decode(Outer, _with_data(OUTER, **fields))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("not a dataclass", id="str"),
        pytest.param(Inner, id="a-class"),
        pytest.param(Inner("a", object()), id="object-field"),
    ],
)
def test_unencodable_value_is_refused(value: object) -> None:
    with pytest.raises(CodecError):
        encode(value)
