"""What a citizen reads on each error page: what happened and what to do next, per error code.

The codes are those of `gateway.errors.CitizenError` (and its subclass `UpstreamError`) plus the
pages `gateway.web.errors` renders itself (``unavailable``, ``internal``, ``not_found``). Texts are
gettext messages (English msgids, translated in `web/translations`), written for the citizen: no
protocol terms, no internal detail, and always a next step. A code without an entry gets the
generic page, so a new error can never show a blank or technical page; a test checks that every
code raised in `gateway/` has its own entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True, slots=True)
class ErrorPage:
    """The three texts of an error page: heading, what happened, what to do next."""

    title: LazyString
    what: LazyString
    next: LazyString


_AGAIN: Final = _l("Go back to the e-service and log in again.")
_CONTACT_SERVICE: Final = _l("Contact the e-service you tried to use. There is nothing wrong with your e-ID.")
_LOGOUT_AGAIN: Final = _l(
    "You may still be logged in. Log out again from the e-service, or close all browser windows to end your login."
)

GENERIC: Final = ErrorPage(
    _l("The login could not be completed"),
    _l("Something prevented the login from being completed."),
    _l("Go back to the e-service and try again. If it happens again, contact the e-service's support."),
)

_PROVIDER_ERROR: Final = ErrorPage(
    _l("Your e-ID could not be verified"),
    _l("The answer from your e-ID could not be accepted."),
    _l("Wait a moment and try again from the e-service. If it happens again, try another e-ID."),
)

PAGES: Final[dict[str, ErrorPage]] = {
    "cancelled": ErrorPage(
        _l("You cancelled the login"),
        _l("The login was cancelled at your e-ID."),
        _l("If you want to log in, go back to the e-service and start again."),
    ),
    "provider_error": _PROVIDER_ERROR,
    # The provider's answer broke the attribute profile: to the citizen, an answer that was not accepted.
    "attribute_not_single_valued": _PROVIDER_ERROR,
    "expired": ErrorPage(
        _l("The login has expired"),
        _l("The login took too long, or it has already been completed."),
        _AGAIN,
    ),
    "session_mismatch": ErrorPage(
        _l("The login could not continue"),
        _l("The login was started in another browser or window, or your browser did not keep its cookies."),
        _l("Go back to the e-service and log in again in this browser. Cookies must be allowed for the login."),
    ),
    "unknown_client": ErrorPage(
        _l("The e-service is not known"),
        _l("The e-service that sent you here is not registered with this login service."),
        _CONTACT_SERVICE,
    ),
    "bad_redirect_uri": ErrorPage(
        _l("The e-service is not set up correctly"),
        _l("The e-service that sent you here asked to return to an address that is not registered."),
        _CONTACT_SERVICE,
    ),
    "unknown_provider": ErrorPage(
        _l("This e-ID cannot be used here"),
        _l("The e-ID you chose cannot be used for this e-service."),
        _l("Go back to the e-service, start again and choose another e-ID."),
    ),
    "loa_not_met": ErrorPage(
        _l("Your e-ID's level of assurance is too low"),
        _l("The e-service needs an e-ID with a higher level of assurance than the one you used."),
        _l("Go back to the e-service and log in with another e-ID. The e-service can tell you which it accepts."),
    ),
    "fraud": ErrorPage(
        _l("The login was stopped"),
        _l("Your e-ID provider stopped the login for security reasons."),
        _l("If you did not expect this, contact your e-ID provider."),
    ),
    "unknown_principal": ErrorPage(
        _l("Your e-ID could not be used"),
        _l("Your e-ID provider could not find the person the login was for."),
        _l("Go back to the e-service and try again. If it happens again, contact the e-service's support."),
    ),
    "login_required": ErrorPage(
        _l("You need to log in"),
        _l("The e-service asked to continue without a new login, but you are not logged in."),
        _AGAIN,
    ),
    "replayed": ErrorPage(
        _l("The login has already been used"),
        _l("The answer from your e-ID has already been used once, and can only be used once."),
        _AGAIN,
    ),
    "attributes_missing": ErrorPage(
        _l("Information is missing"),
        _l("Your e-ID did not provide all the information the e-service needs."),
        _l("Try another e-ID, or contact the e-service's support."),
    ),
    "invalid_identity_number": ErrorPage(
        _l("Your personal identity number could not be accepted"),
        _l("Your e-ID provided a personal identity number that is not valid."),
        _l("Contact your e-ID provider."),
    ),
    "coordination_number_not_accepted": ErrorPage(
        _l("Coordination numbers are not accepted"),
        _l("This e-service accepts only personal identity numbers, and your e-ID carries a coordination number."),
        _l("Contact the e-service to find out how else you can use it."),
    ),
    "logout_refused": ErrorPage(
        _l("The logout could not be completed"),
        _l("The e-service asked to log you out in a way that could not be verified."),
        _LOGOUT_AGAIN,
    ),
    "logout_expired": ErrorPage(
        _l("The logout has expired"),
        _l("The logout page was open too long, or it was used in another browser or window."),
        _LOGOUT_AGAIN,
    ),
    "unavailable": ErrorPage(
        _l("The service is temporarily unavailable"),
        _l("The login service cannot complete logins right now."),
        _l("Wait a few minutes and try again."),
    ),
    "internal": ErrorPage(
        _l("Something went wrong"),
        _l("An unexpected error occurred in the login service."),
        _l("Wait a moment and try again. If it happens again, contact support and give the incident ID below."),
    ),
    "not_found": ErrorPage(
        _l("The page does not exist"),
        _l("The address may be mistyped, or the page has been removed."),
        _l("Start from the e-service you wanted to use."),
    ),
}


def error_page(code: str) -> ErrorPage:
    """The texts for ``code``; the generic page for a code without its own."""
    return PAGES.get(code, GENERIC)
