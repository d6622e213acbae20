"""Key shapes for everything the gateway keeps in the store (design: State).

Every key is built here and nowhere else, so the whole keyspace can be read in
one page and no two parts can collide. Two rules shape the keys:

* The variable part of each key sits in braces, a Redis Cluster hash tag
  (Redis Cluster specification, "Hash tags"). Keys that are operated on
  together share one tag: an authorization code and its used-marker share the
  code's hash, so redeem-and-mark can become one script on a cluster. Every
  other key is tagged by its own identifier, which spreads logins over slots.
* Values chosen by outsiders (a PAR ``request_uri``, a client's ``jti``, an
  assertion ID and its issuer, the caller of a rate limit) go through
  `digest`, so a key has a fixed length, can hold no ``:`` or brace that would
  change its meaning, and never stores a network address in plain text.
  Identifiers the gateway makes itself are checked against a safe alphabet and
  used as they are, so an operator can find a login by its id.
"""

from __future__ import annotations

import hashlib
import json
import re

# What our own identifiers are made of: secrets.token_urlsafe output, hex
# digests, and names chosen in code. No ':' or braces, which carry meaning in a key.
_SAFE = re.compile(r"[A-Za-z0-9._~-]{1,256}")


def digest(value: str) -> str:
    """Hex SHA-256 of ``value``: the one way a secret (code, token) becomes a key.

    The store then holds only the hash, so reading Redis does not hand out a
    usable code or token. ``surrogatepass`` keeps this total: any Python string
    hashes, including one decoded from hostile JSON.
    """
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def transaction(tx_id: str) -> str:
    """The login transaction, found by ``RelayState`` at the ACS and by the cookie at resume."""
    return f"tx:{{{_own(tx_id)}}}"


def code(code_hash: str) -> str:
    """An unredeemed authorization code (pass ``digest(code)``), taken once at /token."""
    return f"code:{{{_own(code_hash)}}}"


def code_used(code_hash: str) -> str:
    """Marker left after a code is redeemed, listing what it issued.

    A second redemption finds it and revokes those tokens (RFC 6749 section
    4.1.2). It shares the code's hash tag so both can be handled in one step.
    """
    return f"code:{{{_own(code_hash)}}}:used"


def access_token(token_hash: str) -> str:
    """An access token's grant, under ``digest(token)``: the token itself is never stored."""
    return f"at:{{{_own(token_hash)}}}"


def logged_out(tag: str) -> str:
    """Marks the access tokens one session gave one client as revoked (`gateway.oidc.access_tokens`)."""
    return f"loggedout:{{{_own(tag)}}}"


def session(sid: str) -> str:
    """An SSO session, with the e-services it logged in (for logout)."""
    return f"sess:{{{_own(sid)}}}"


def logout(logout_id: str) -> str:
    """A logout waiting for the citizen's confirmation (RP-Initiated Logout 1.0 2), taken once."""
    return f"logout:{{{_own(logout_id)}}}"


def backchannel_count(client_id: str, outcome: str) -> str:
    """How many back-channel logout notifications to one client ended with ``outcome`` (for /metrics)."""
    return f"count:backchannel:{{{_digest_parts(client_id, outcome)}}}"


def par(request_uri: str) -> str:
    """A pushed authorization request (RFC 9126); the client sends the URI back, so it is hashed."""
    return f"par:{{{digest(request_uri)}}}"


def jti(client_id: str, jti: str) -> str:
    """Replay guard for a client assertion (RFC 7523 section 3): one use of a jti per client."""
    return f"jti:{{{_digest_parts(client_id, jti)}}}"


def replay(issuer: str, assertion_id: str) -> str:
    """Replay guard for a SAML assertion, scoped to the issuer that signed it."""
    return f"replay:{{{_digest_parts(issuer, assertion_id)}}}"


def lock(name: str) -> str:
    """A short-lived mutual-exclusion marker across processes (e.g. one metadata refresh)."""
    return f"lock:{{{_own(name)}}}"


def metadata_document(source: str) -> str:
    """The verified metadata document of one source (``source``: its digest), as every process installs it."""
    return f"metadata:{{{_own(source)}}}:doc"


def metadata_status(source: str) -> str:
    """One source's refresh status (version, last success and failure, next refresh); shares the document's tag."""
    return f"metadata:{{{_own(source)}}}:status"


def rate(bucket: str, who: str) -> str:
    """A rate-limit counter: ``bucket`` names the limit, ``who`` (an address, a client) is hashed."""
    return f"rate:{_own(bucket)}:{{{digest(who)}}}"


def _own(value: str) -> str:
    """Return an identifier the gateway made, refusing anything that could reshape a key.

    A failure here is a caller bug: outside input must be parsed at the edge
    (or digested) before it names a key.
    """
    if not _SAFE.fullmatch(value):
        raise ValueError("identifier is not a safe key part")
    return value


def _digest_parts(*parts: str) -> str:
    """Hash several outside values as one, without separator ambiguity (``a:b``+``c`` vs ``a``+``b:c``)."""
    return digest(json.dumps(parts, ensure_ascii=True))
