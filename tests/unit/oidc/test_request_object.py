"""Request object verification (OIDC Core 6.1, RFC 9101; Swedish OIDC profile 2.1.7), one test per rule."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jws
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey

from gateway.oidc.client_keys import ClientKeys
from gateway.oidc.request_object import InvalidRequestObject
from gateway.oidc.request_object import verify_request_object
from gateway.settings.schema import ClientSettings

ISSUER = "https://gw.example"
RSA = RSAKey.generate_key(2048, parameters={"kid": "r"})
EC = ECKey.generate_key("P-256", parameters={"kid": "e"})
CLIENT = ClientSettings(
    client_id="c", redirect_uris=("https://c.example/cb",), auth_method="private_key_jwt", display_name={},
    jwks={"keys": [RSA.as_dict(private=False), EC.as_dict(private=False)]},
)  # fmt: skip


def _token(key: Any = RSA, alg: str = "RS256", **claims: Any) -> str:
    body = {"iss": "c", "aud": ISSUER, "response_type": "code", "redirect_uri": "https://c.example/cb", **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid}, body, key, algorithms=[alg])


def _escaped_token(**claims: Any) -> str:
    """Signed over JSON with ASCII escapes, which can spell what UTF-8 cannot (a lone surrogate)."""
    body = {"iss": "c", "aud": ISSUER, "response_type": "code", "redirect_uri": "https://c.example/cb", **claims}
    return jws.serialize_compact({"alg": "RS256", "kid": RSA.kid}, json.dumps(body).encode("ascii"), RSA)


def _verify(token: str) -> dict[str, str]:
    return verify_request_object(token, CLIENT, ClientKeys(), issuer=ISSUER)


def test_parameters_come_back_as_strings() -> None:
    params = _verify(_token(max_age=60, claims={"id_token": {"acr": {"essential": True}}}, jti="x", exp=None))
    assert params["max_age"] == "60"
    assert params["claims"] == '{"id_token": {"acr": {"essential": true}}}'
    assert "iss" not in params
    assert "aud" not in params
    assert "jti" not in params


@pytest.mark.parametrize("aud", [ISSUER, f"{ISSUER}/authorize", [f"{ISSUER}/authorize", "https://other.example"]])
def test_audience_is_the_issuer_or_the_authorization_endpoint(aud: Any) -> None:
    assert _verify(_token(aud=aud))["response_type"] == "code"


def test_es256_is_accepted() -> None:
    assert _verify(_token(EC, "ES256"))["response_type"] == "code"


@pytest.mark.parametrize(
    ("token_factory", "message"),
    [
        (lambda: _token(aud="https://other.example"), "aud"),
        (lambda: _token(aud=f"{ISSUER}/token"), "aud"),
        (lambda: _token(iss="other"), "iss"),
        (lambda: _token(client_id="other"), "client_id"),
        (lambda: _token(exp=int(time.time()) - 120), "expired"),
        (lambda: _token(nbf=int(time.time()) + 600), "not yet valid"),
        (lambda: _token(iat=int(time.time()) + 600), "future"),
        (lambda: _token(exp="soon"), "number"),
        (lambda: _token(request="nested"), "request"),
        (lambda: _token(request_uri="urn:x"), "request"),
        (lambda: _token(prompt=["login"]), "type"),
        (lambda: _token(max_age=True), "type"),
        (lambda: _escaped_token(state="ok\ud800"), "Unicode text"),
        (lambda: _token(RSAKey.generate_key(2048, parameters={"kid": "r"})), "signature"),
        (lambda: _token(OctKey.generate_key(256, parameters={"kid": "r"}), "HS256"), "signed with one of"),
        (lambda: "x.y.z.w.v", "encrypted"),
        (lambda: "not-a-jwt", "compact"),
        (lambda: "e30.e30.", "signed with one of"),
    ],
    ids=["wrong-aud", "token-endpoint-aud", "wrong-iss", "client-id", "expired", "nbf", "iat", "exp-type", "nested",
         "nested-uri", "list", "bool", "lone-surrogate", "other-key", "hmac", "jwe", "garbage", "no-alg"],
)  # fmt: skip
def test_refused(token_factory: Any, message: str) -> None:
    with pytest.raises(InvalidRequestObject, match=message):
        _verify(token_factory())


def test_alg_none_is_refused() -> None:
    import base64
    import json

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none'})}.{part({'iss': 'c', 'aud': ISSUER})}."
    with pytest.raises(InvalidRequestObject, match="signed with one of"):
        _verify(token)


# --- encrypted request objects (Swedish OIDC profile 2.1.7) ---------------------------------------

GATEWAY_ENC = RSAKey.generate_key(2048, parameters={"kid": "gw-enc", "use": "enc", "alg": "RSA-OAEP"})


def _encrypt(inner: str, key: RSAKey = GATEWAY_ENC, alg: str = "RSA-OAEP", enc: str = "A256GCM") -> str:
    import warnings

    from joserfc import jwe

    with warnings.catch_warnings():  # joserfc warns when asked for RSA1_5, which one test needs
        warnings.simplefilter("ignore")
        return jwe.encrypt_compact(
            {"alg": alg, "enc": enc, "cty": "JWT", "kid": key.kid}, inner, key, algorithms=[alg, enc]
        )


def _verify_encrypted(token: str) -> dict[str, str]:
    return verify_request_object(token, CLIENT, ClientKeys(), issuer=ISSUER, decryption_keys=(GATEWAY_ENC,))


@pytest.mark.parametrize(
    ("alg", "enc"), [("RSA-OAEP", "A256GCM"), ("RSA-OAEP", "A128GCM"), ("RSA-OAEP", "A128CBC-HS256")]
)
def test_signed_then_encrypted_request_object_is_accepted(alg: str, enc: str) -> None:
    assert _verify_encrypted(_encrypt(_token(state="s1"), alg=alg, enc=enc))["state"] == "s1"


@pytest.mark.parametrize(
    ("token_factory", "message"),
    [
        (lambda: _encrypt(_token(), RSAKey.generate_key(2048, parameters={"kid": "gw-enc"})), "decrypt"),
        (lambda: _encrypt('{"iss": "c", "aud": "https://gw.example"}'), "signed JWT"),
        (lambda: _encrypt(_token(RSAKey.generate_key(2048, parameters={"kid": "r"}))), "signature"),
        (lambda: _encrypt(_token(), alg="RSA1_5", enc="A128GCM"), "decrypt"),
    ],
    ids=["other-key", "unsigned-inside", "inner-signed-by-stranger", "rsa1_5"],
)  # fmt: skip
def test_encrypted_request_object_refused(token_factory: Any, message: str) -> None:
    with pytest.raises(InvalidRequestObject, match=message):
        _verify_encrypted(token_factory())
