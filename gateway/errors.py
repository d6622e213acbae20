"""Errors classified by the audience that must see them.

Each failure is raised as one of these, and `gateway.web.errors` maps them in
one place to a citizen page, an OIDC error, an operator message or a 503.
Messages here are safe to show: they never carry exception text from a
library, tokens, assertions or personal data.
"""

from __future__ import annotations

from dataclasses import dataclass


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class CitizenError(GatewayError):
    """A login cannot continue; the citizen sees a localized page.

    ``code`` selects the page text (``web/templates`` message catalogue);
    ``detail`` goes to the log only, never to the page.
    """

    def __init__(self, code: str, detail: str = "", *, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.status = status


class UpstreamError(CitizenError):
    """The e-ID provider's answer was refused or reported a failure.

    ``oidc_error`` is what the e-service receives when the login can be
    returned to it (OpenID Connect Core 3.1.2.6); the citizen sees ``code``.
    """

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        oidc_error: str = "access_denied",
        continue_url: str | None = None,
    ) -> None:
        super().__init__(code, detail, status=400)
        self.oidc_error = oidc_error
        self.continue_url = continue_url


class ClientError(GatewayError):
    """An OIDC protocol error for the e-service (RFC 6749 section 4.1.2.1, 5.2)."""

    def __init__(self, error: str, description: str = "", *, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status


class StoreUnavailable(GatewayError):
    """The shared store did not answer; the request fails whole, with a 503."""


class RateLimited(GatewayError):
    """A caller went over a rate limit (`gateway.ratelimit`); answered with 429 and Retry-After."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(limit)
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem, naming the file and the key within it."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ConfigError(GatewayError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
