"""Texts for the citizen's pages in Swedish (the default) and English, and the choice between them.

A language is chosen from `ui_locales` (OIDC Core 3.1.2.1), then the browser's
Accept-Language, then Swedish.
"""

from __future__ import annotations

from collections.abc import Sequence

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"

MESSAGES: dict[str, dict[str, str]] = {
    "sv": {
        "chooser.title": "Välj e-legitimation",
        "chooser.intro": "Du loggar in på {client}. Välj hur du vill legitimera dig.",
        "chooser.submit": "Logga in med {provider}",
        "error.title": "Inloggningen kunde inte slutföras",
        "error.incident": "Incident-ID: {incident}",
        "error.continue": "Tillbaka till e-tjänsten",
        "error.cancelled": "Du avbröt inloggningen.",
        "error.provider_error": "E-legitimationen kunde inte kontrolleras. Försök igen om en stund.",
        "error.expired": "Inloggningen tog för lång tid eller har redan avslutats. Börja om från e-tjänsten.",
        "error.session_mismatch": "Inloggningen startades i en annan webbläsare. Börja om från e-tjänsten.",
        "error.unknown_client": "E-tjänsten som skickade dig hit är okänd. Kontakta e-tjänsten.",
        "error.bad_redirect_uri": "E-tjänsten som skickade dig hit är felaktigt konfigurerad. Kontakta e-tjänsten.",
        "error.unknown_provider": "Den valda e-legitimationen kan inte användas för den här e-tjänsten.",
        "error.loa_not_met": "Din e-legitimation har inte den säkerhetsnivå som e-tjänsten kräver.",
        "error.fraud": "Inloggningen stoppades av säkerhetsskäl.",
        "error.unknown_principal": "Personen som legitimerade sig är inte den som förväntades.",
        "error.login_required": "Du behöver logga in igen.",
        "error.replayed": "Svaret från e-legitimationen har redan använts. Börja om från e-tjänsten.",
        "error.attributes_missing": "E-legitimationen lämnade inte de uppgifter som behövs.",
        "error.invalid_identity_number": "E-legitimationen lämnade ett ogiltigt personnummer.",
        "error.coordination_number_not_accepted": "E-tjänsten tar inte emot samordningsnummer.",
        "error.unavailable": "Tjänsten är tillfälligt otillgänglig. Försök igen om en stund.",
        "error.internal": "Ett oväntat fel inträffade. Försök igen om en stund.",
        "error.not_found": "Sidan finns inte.",
        "sandbox.idp.title": "Test-e-legitimation (endast för test)",
        "sandbox.idp.intro": (
            "Det här är gatewayens inbyggda test-e-legitimation. Välj en testperson att logga in som. "
            "Personnumren är Skatteverkets testpersonnummer och tillhör ingen verklig person."
        ),
        "sandbox.idp.loa": "Tillitsnivå: {loa}",
        "sandbox.idp.login_as": "Logga in som {name} ({number})",
        "sandbox.idp.cancel": "Avbryt",
        "sandbox.idp.back": "Tillbaka till e-tjänsten",
        "sandbox.idp.no_loa": "Test-e-legitimationen har inte den tillitsnivå som begärdes.",
        "sandbox.idp.refused": "Inloggningsbegäran kunde inte kontrolleras. Börja om från e-tjänsten.",
        "sandbox.demo.title": "Demotjänst",
        "sandbox.demo.intro": (
            "En exempel-e-tjänst som loggar in via gatewayen med OpenID Connect och visar vad den får veta."
        ),
        "sandbox.demo.login": "Logga in",
        "sandbox.demo.logout": "Logga ut från demotjänsten",
        "sandbox.demo.id_token": "ID-token (signaturen kontrollerad)",
        "sandbox.demo.userinfo": "UserInfo",
        "sandbox.demo.claim": "Claim",
        "sandbox.demo.value": "Värde",
        "sandbox.demo.error": "Inloggningen kunde inte slutföras ({error}).",
    },
    "en": {
        "chooser.title": "Choose your e-ID",
        "chooser.intro": "You are logging in to {client}. Choose how to identify yourself.",
        "chooser.submit": "Log in with {provider}",
        "error.title": "The login could not be completed",
        "error.incident": "Incident ID: {incident}",
        "error.continue": "Back to the e-service",
        "error.cancelled": "You cancelled the login.",
        "error.provider_error": "Your e-ID could not be verified. Please try again in a while.",
        "error.expired": "The login took too long or has already finished. Start again from the e-service.",
        "error.session_mismatch": "The login was started in another browser. Start again from the e-service.",
        "error.unknown_client": "The e-service that sent you here is unknown. Contact the e-service.",
        "error.bad_redirect_uri": "The e-service that sent you here is misconfigured. Contact the e-service.",
        "error.unknown_provider": "The chosen e-ID cannot be used for this e-service.",
        "error.loa_not_met": "Your e-ID does not have the assurance level the e-service requires.",
        "error.fraud": "The login was stopped for security reasons.",
        "error.unknown_principal": "The person who identified is not the one expected.",
        "error.login_required": "You need to log in again.",
        "error.replayed": "The e-ID response was already used. Start again from the e-service.",
        "error.attributes_missing": "Your e-ID did not provide the information needed.",
        "error.invalid_identity_number": "Your e-ID provided an invalid personal identity number.",
        "error.coordination_number_not_accepted": "The e-service does not accept coordination numbers.",
        "error.unavailable": "The service is temporarily unavailable. Please try again in a while.",
        "error.internal": "An unexpected error occurred. Please try again in a while.",
        "error.not_found": "The page does not exist.",
        "sandbox.idp.title": "Sandbox e-ID (test only)",
        "sandbox.idp.intro": (
            "This is the gateway's built-in test e-ID. Choose a test person to log in as. The personal "
            "identity numbers are Skatteverket's test numbers and belong to no real person."
        ),
        "sandbox.idp.loa": "Level of assurance: {loa}",
        "sandbox.idp.login_as": "Log in as {name} ({number})",
        "sandbox.idp.cancel": "Cancel",
        "sandbox.idp.back": "Back to the e-service",
        "sandbox.idp.no_loa": "The sandbox e-ID does not offer the level of assurance requested.",
        "sandbox.idp.refused": "The login request could not be verified. Start again from the e-service.",
        "sandbox.demo.title": "Demo e-service",
        "sandbox.demo.intro": (
            "An example e-service that logs in through the gateway with OpenID Connect and shows what it learns."
        ),
        "sandbox.demo.login": "Log in",
        "sandbox.demo.logout": "Log out of the demo e-service",
        "sandbox.demo.id_token": "ID token (signature verified)",
        "sandbox.demo.userinfo": "UserInfo",
        "sandbox.demo.claim": "Claim",
        "sandbox.demo.value": "Value",
        "sandbox.demo.error": "The login could not be completed ({error}).",
    },
}


def negotiate(ui_locales: Sequence[str], accept_language: Sequence[str]) -> str:
    """The first supported language of the request, else Swedish."""
    for tag in (*ui_locales, *accept_language):
        base = tag.split("-")[0].strip().lower()
        if base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


def translate(language: str, key: str, **values: str) -> str:
    """The text for ``key`` in ``language`` (falling back to Swedish), filled with ``values``."""
    catalogue = MESSAGES.get(language, MESSAGES[DEFAULT_LANGUAGE])
    text = catalogue.get(key) or MESSAGES[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**values)
