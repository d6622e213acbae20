"""The end-session request of OpenID Connect RP-Initiated Logout 1.0, parsed and validated once.

- `parse_end_session`: the parameters of section 2 (GET query or POST form), each at most once and
  bounded; an empty value counts as absent.
- `verify_id_token_hint`: the hint MUST be an ID token this gateway issued (section 2: "the OP MUST
  validate that it was the issuer of the ID Token"): its signature verifies with one of our published
  OIDC signing keys (next, active or previous, so a rollover does not break logout), with that key's
  own algorithm (never `none`, never an algorithm the header chose), and `iss` is our issuer. An
  expired token is accepted, as section 2 says the OP SHOULD: the hint only names a session and a
  client, and logging out with it at once needs this browser's session cookie too.
- `logout_target`: the client (the hint's `aud`, or `client_id`; section 2: both present MUST agree)
  and the `post_logout_redirect_uri`, kept only when it exactly matches one the client registered
  (section 3: the OP MUST NOT redirect otherwise). A URI that fails is dropped, not used (section 4),
  and the citizen then sees a page instead of a redirect.

A request that fails (a hint that is not ours, clients that disagree, repeated or oversized
parameters) is refused with a citizen page; nothing of it is used.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError

from gateway.errors import CitizenError
from gateway.oidc.clients import ClientRegistry
from gateway.trust.signing_keys import SigningKeys

log = logging.getLogger(__name__)

MAX_HINT_LENGTH = 8192
MAX_PARAM_LENGTH = 2048
PARAMETERS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")


def _refused(detail: str) -> CitizenError:
    return CitizenError("logout_refused", detail)


@dataclass(frozen=True, slots=True)
class EndSessionRequest:
    """The parameters of one logout request (RP-Initiated Logout 1.0 2)."""

    id_token_hint: str | None = None
    client_id: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None
    ui_locales: tuple[str, ...] = ()


def parse_end_session(params: Mapping[str, Sequence[str]]) -> EndSessionRequest:
    """The request from its query or form (each name mapped to every value given for it)."""
    values: dict[str, str | None] = {}
    for name in PARAMETERS:
        given = params.get(name) or ()
        if len(given) > 1:
            raise _refused(f"{name} given more than once")  # RFC 6749 3.1, as for every OAuth endpoint
        value = given[0] if given else ""
        if len(value) > (MAX_HINT_LENGTH if name == "id_token_hint" else MAX_PARAM_LENGTH):
            raise _refused(f"{name} too long")
        values[name] = value or None
    return EndSessionRequest(
        id_token_hint=values["id_token_hint"],
        client_id=values["client_id"],
        post_logout_redirect_uri=values["post_logout_redirect_uri"],
        state=values["state"],
        ui_locales=tuple((values["ui_locales"] or "").split()),
    )


@dataclass(frozen=True, slots=True)
class IdTokenHint:
    """What a verified `id_token_hint` says: which client it was issued to, and for which session."""

    client_id: str
    sid: str
    sub: str


def verify_id_token_hint(token: str, *, issuer: str, keys: SigningKeys) -> IdTokenHint:
    """The hint, if it is an ID token we issued (see the module docstring); else `CitizenError`."""
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError):  # UnicodeEncodeError is a ValueError
        raise _refused("id_token_hint is not a compact JWS") from None
    kid = header.get("kid")
    found = keys.verification_key(kid) if isinstance(kid, str) else None
    if found is None:
        raise _refused("id_token_hint names no key the gateway publishes")
    key, alg = found
    if header.get("alg") != alg:
        raise _refused("id_token_hint alg is not its key's")
    if header.get("typ", "JWT") != "JWT":
        raise _refused("id_token_hint is not an ID token (typ)")  # e.g. a logout token (logout+jwt)
    try:
        claims = jwt.decode(token, key, algorithms=[alg]).claims
    except (JoseError, ValueError):
        raise _refused("id_token_hint signature does not verify") from None
    if claims.get("iss") != issuer:
        raise _refused("id_token_hint from another issuer")
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(audience, str) and audience and isinstance(sid, str) and sid and isinstance(sub, str) and sub):
        raise _refused("id_token_hint lacks aud, sid or sub")
    return IdTokenHint(client_id=audience, sid=sid, sub=sub)


@dataclass(frozen=True, slots=True)
class LogoutTarget:
    """Who asked for the logout and where the browser goes afterwards (None: a page of ours)."""

    client_id: str | None = None
    redirect_uri: str | None = None
    """A `post_logout_redirect_uri` the client registered, exactly as given (RP-Initiated Logout 1.0 3)."""
    state: str | None = None

    @property
    def url(self) -> str | None:
        """The redirect URI with `state` added when the client sent one (RP-Initiated Logout 1.0 3)."""
        if self.redirect_uri is None:
            return None
        if self.state is None:
            return self.redirect_uri
        separator = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{separator}{urlencode({'state': self.state})}"


def logout_target(clients: ClientRegistry, request: EndSessionRequest, hint: IdTokenHint | None) -> LogoutTarget:
    """The client and the validated `post_logout_redirect_uri` of ``request`` (see the module docstring)."""
    if hint is not None and request.client_id is not None and request.client_id != hint.client_id:
        raise _refused("client_id is not the id_token_hint's aud")
    client_id = hint.client_id if hint is not None else request.client_id
    client = clients.get(client_id)
    if client is None:
        if client_id is not None:
            log.info("logout names an unknown client: no redirect")
        return LogoutTarget(state=request.state)
    redirect_uri = request.post_logout_redirect_uri
    if redirect_uri is not None and redirect_uri not in client.settings.post_logout_redirect_uris:
        log.warning("post_logout_redirect_uri not registered: not used", extra={"client": client.client_id})
        redirect_uri = None
    return LogoutTarget(client_id=client.client_id, redirect_uri=redirect_uri, state=request.state)
