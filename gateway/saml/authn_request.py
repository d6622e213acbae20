"""Signed AuthnRequests over HTTP-Redirect (Swedish eID Framework DP 5.2-5.4).

The gateway always signs (BankID IdPs and the eIDAS connector require it),
always states ForceAuthn explicitly (DP 5.3: avoid accidental SSO), and lists
every acceptable level of assurance in RequestedAuthnContext with
Comparison="exact" (DP 5.3.1), because the framework allows nothing else.
IsPassive is sent for `prompt=none` (DP 5.3; never together with ForceAuthn).
The Swedish extensions (PrincipalSelection, UserMessage) and the eIDAS
country Scoping come from `gateway.saml.extensions`; the caller decides
whether the provider takes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2.samlp import Extensions
from saml2.xmldsig import SIG_RSA_SHA256

from gateway.model import UserMessage
from gateway.saml import extensions as ext
from gateway.saml.sp import ServiceProvider


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """Where to send the browser, and the request ID the response must answer."""

    url: str
    request_id: str


def build_authn_request(
    sp: ServiceProvider,
    provider_entity_id: str,
    *,
    loas: Sequence[str],
    relay_state: str,
    force_authn: bool,
    is_passive: bool = False,
    principal: Sequence[tuple[str, str]] = (),
    user_message: UserMessage | None = None,
    countries: Sequence[str] = (),
) -> OutgoingRequest:
    """A signed Redirect-binding AuthnRequest to ``provider_entity_id``.

    ``principal`` are (attribute name, value) pairs for a PrincipalSelection
    (PSC 2); ``user_message`` is left out when passive, since the provider must
    not show it then (UMSG 2); ``countries`` become the IDPList (DP 5.3.2).
    """
    if is_passive and force_authn:
        raise ValueError("IsPassive and ForceAuthn exclude each other")
    elements = []
    if principal:
        elements.append(ext.principal_selection(principal))
    if user_message is not None and not is_passive:
        elements.append(ext.user_message(user_message))
    destination = sp.sso_redirect_url(provider_entity_id)
    request_id, request = sp.client.create_authn_request(
        destination,
        binding=BINDING_HTTP_POST,
        requested_authn_context={"authn_context_class_ref": list(loas), "comparison": "exact"},
        extensions=Extensions(extension_elements=elements) if elements else None,
        scoping=ext.country_scoping(countries) if countries else None,
        sign=False,
    )
    # pysaml2 only writes ForceAuthn when true; the framework wants it explicit.
    request.force_authn = "true" if force_authn else "false"
    if is_passive:
        request.is_passive = "true"
    info = sp.client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(request),
        destination,
        relay_state,
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    location = dict(info["headers"])["Location"]
    return OutgoingRequest(url=location, request_id=request_id)
