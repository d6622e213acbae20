"""One login in progress, from `/authorize` to the code, as a frozen record in the store.

Stored sealed under `tx:{id}` for at most ten minutes, and bound to the
browser that started it by the transaction cookie (`gateway.login.binding`).
Each step returns a new record with the next status; `take` at the resume step
consumes it, so a transaction completes at most once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import replace

from gateway.model import UserMessage
from gateway.oidc.records import AuthenticatedUser


class Status(enum.Enum):
    """Where a login stands."""

    STARTED = "started"
    UPSTREAM = "upstream"
    AUTHENTICATED = "authenticated"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LoginTransaction:
    """A login in progress; `params` are the validated authorization request's parameters."""

    id: str
    client_id: str
    params: dict[str, str]
    acr_values: tuple[str, ...]
    essential_acr: bool
    force_authn: bool
    created_at: int
    csrf: str
    status: Status = Status.STARTED
    provider_id: str | None = None
    request_id: str | None = None
    requested_loas: tuple[str, ...] = ()
    user: AuthenticatedUser | None = None
    error: str | None = None
    oidc_error: str | None = None
    acceptable_loas: tuple[str, ...] = ()
    """Upstream LoAs the client accepts (`gateway.mapping.loa.acceptable_upstream`); empty: any offered."""
    provider_hint: str | None = None
    """The request's authnProvider value, which narrows the providers offered."""
    is_passive: bool = False
    principal_hint: str | None = None
    principal_required: bool = False
    """Only ``principal_hint`` may log in (an essential claim value); anyone else is refused at the ACS."""
    user_message: UserMessage | None = None
    country: str | None = None
    """A country preselected through an eIDAS proxy-service authnProvider hint (REG 3.1.9.1)."""
    sp_id: str | None = None
    """The SP entity the client logs in through (`saml.service_providers`); None: the default one."""

    def upstream(self, provider_id: str, request_id: str, loas: tuple[str, ...]) -> LoginTransaction:
        """The citizen was sent to ``provider_id`` with AuthnRequest ``request_id``."""
        return replace(
            self, status=Status.UPSTREAM, provider_id=provider_id, request_id=request_id, requested_loas=loas
        )

    def authenticated(self, user: AuthenticatedUser) -> LoginTransaction:
        """The provider's response verified; the citizen is known."""
        return replace(self, status=Status.AUTHENTICATED, user=user, request_id=None)

    def failed(self, error: str, oidc_error: str) -> LoginTransaction:
        """The login failed; the resume step reports it."""
        return replace(self, status=Status.FAILED, error=error, oidc_error=oidc_error, request_id=None)
