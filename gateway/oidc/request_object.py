"""Request objects passed by value (OIDC Core 6.1, RFC 9101; Swedish OIDC profile 2.1.7).

The client signs its authorization request parameters as a JWT with one of
its registered keys; the gateway verifies it and then uses only the
parameters inside (RFC 9101 6.3: nothing unsigned from the query is mixed in,
except `client_id`, which must match). Rules enforced, each a MUST of the
cited section:

- signed with an asymmetric algorithm of the allow-list, never `none`
  (RFC 9101 10.2; authlib advisory on `alg: none`, see style.md);
- `iss` is the client_id and `aud` names the issuer or the authorization
  endpoint (Swedish OIDC profile 2.1.7; RFC 9101 10.2);
- `client_id` inside, when present, is the one of the query (RFC 9101 5);
- `exp`/`nbf` are respected when present (RFC 7519 4.1.4-4.1.5);
- no nested `request` or `request_uri` (OIDC Core 6.1).

A request object may also be encrypted to the gateway (Swedish OIDC profile
2.1.7: the OP must handle signed and/or encrypted objects) with RSA-OAEP and
AES-GCM or AES-CBC-HMAC, to a key published in JWKS with
`use: enc`. It must then be a nested JWT: encryption hides the parameters, only
the client's signature inside says who sent them, so an encrypted but unsigned
object is refused like an unsigned one.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from joserfc import jwe
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from gateway.oidc.client_keys import ClientKeys
from gateway.oidc.client_keys import ClientKeysUnavailable
from gateway.settings.schema import ClientSettings

SIGNING_ALGS = ("RS256", "PS256", "ES256")
"""Swedish OIDC profile 7: RS256 and ES256 required; PS256 as for client assertions. Never `none` or HMAC."""

ENCRYPTION_ALGS = ("RSA-OAEP",)
"""Key management: RSA-OAEP, REQUIRED by the Swedish OIDC profile 7 and the `alg` of the published key.
Never RSA1_5 (RFC 8725 3.3)."""

CONTENT_ENCRYPTION_ALGS = ("A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512")
"""Content encryption: A128GCM and A256GCM REQUIRED by the Swedish OIDC profile 7."""

LEEWAY = 30
MAX_REQUEST_OBJECT_LENGTH = 16 * 1024
_JWT_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})


class InvalidRequestObject(ValueError):
    """The request object is refused; the message is the `error_description` (no token content)."""


def verify_request_object(
    token: str,
    client: ClientSettings,
    keys: ClientKeys,
    *,
    issuer: str,
    decryption_keys: Sequence[RSAKey] = (),
    now: float | None = None,
) -> dict[str, str]:
    """The authorization request parameters carried by ``token``, after every check above."""
    if len(token) > MAX_REQUEST_OBJECT_LENGTH:
        raise InvalidRequestObject("request object is too large")
    if token.count(".") == 4:
        token = _decrypt(token, decryption_keys)
    if token.count(".") != 2:
        raise InvalidRequestObject("request object is not a compact JWS")
    try:
        header = json.loads(_b64decode(token.split(".", 1)[0]))
    except (ValueError, binascii.Error):
        raise InvalidRequestObject("request object header is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") not in SIGNING_ALGS:
        raise InvalidRequestObject(f"request object must be signed with one of {', '.join(SIGNING_ALGS)}")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    try:
        key_set = keys.key_set(client, kid)
        decoded = jwt.decode(token, key_set, algorithms=list(SIGNING_ALGS))
    except ClientKeysUnavailable as exc:
        raise InvalidRequestObject(f"the client's keys are unavailable: {exc}") from None
    except (JoseError, ValueError, TypeError):
        raise InvalidRequestObject("request object signature does not verify with the client's keys") from None
    claims = dict(decoded.claims)
    _check_claims(claims, client.client_id, issuer, time.time() if now is None else now)
    return _parameters(claims)


def _decrypt(token: str, keys: Sequence[RSAKey]) -> str:
    """The signed JWT inside an encrypted request object (RFC 7519 5.2, nested JWT)."""
    if not keys:
        raise InvalidRequestObject("encrypted request objects are not accepted: no encryption key is published")
    try:
        decrypted = jwe.decrypt_compact(
            token, KeySet(list(keys)), algorithms=[*ENCRYPTION_ALGS, *CONTENT_ENCRYPTION_ALGS]
        )
        inner = decrypted.plaintext.decode("ascii") if decrypted.plaintext is not None else ""
    except (JoseError, ValueError, TypeError):
        raise InvalidRequestObject("request object does not decrypt with the gateway's encryption keys") from None
    if inner.count(".") != 2:
        raise InvalidRequestObject("an encrypted request object must contain a signed JWT")
    return inner


def _check_claims(claims: Mapping[str, Any], client_id: str, issuer: str, now: float) -> None:
    if claims.get("iss") != client_id:
        raise InvalidRequestObject("request object iss must be the client_id (Swedish OIDC profile 2.1.7)")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not {issuer, f"{issuer}/authorize"} & {a for a in audiences if isinstance(a, str)}:
        raise InvalidRequestObject("request object aud must be the issuer or the authorization endpoint")
    if "client_id" in claims and claims["client_id"] != client_id:
        raise InvalidRequestObject("request object client_id differs from the request's")
    for name in ("exp", "nbf", "iat"):
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], int | float)):
            raise InvalidRequestObject(f"request object {name} must be a number")
    if "exp" in claims and claims["exp"] <= now - LEEWAY:
        raise InvalidRequestObject("request object has expired")
    if "nbf" in claims and claims["nbf"] > now + LEEWAY:
        raise InvalidRequestObject("request object is not yet valid")
    if "iat" in claims and claims["iat"] > now + LEEWAY:
        raise InvalidRequestObject("request object is issued in the future")
    if "request" in claims or "request_uri" in claims:
        raise InvalidRequestObject("request object must not contain request or request_uri (OIDC Core 6.1)")


def _parameters(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as authorization request parameters: JSON members (`claims`, userMessage) back to JSON text."""
    params: dict[str, str] = {}
    for name, value in claims.items():
        if name in _JWT_CLAIMS:
            continue
        if isinstance(value, str):
            if not _is_unicode_text(value):
                raise InvalidRequestObject(f"request object parameter {name} is not Unicode text")
            params[name] = value
        elif isinstance(value, bool):
            raise InvalidRequestObject(f"request object parameter {name} has the wrong type")
        elif isinstance(value, int):
            params[name] = str(value)
        elif isinstance(value, dict):
            params[name] = json.dumps(value)
        else:
            raise InvalidRequestObject(f"request object parameter {name} has the wrong type")
    return params


def _is_unicode_text(value: str) -> bool:
    """False for a string with a lone surrogate, which JSON's \\u escapes can spell but UTF-8 cannot carry:
    such a parameter could be neither stored, nor logged, nor sent back in a redirect."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
