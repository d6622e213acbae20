"""The gateway as a Sweden Connect SP and a Swedish OIDC profile OP, end to end over real HTTP.

One gateway (gunicorn, Redis) with a pysaml2 peer IdP per shipped provider definition: each peer
offers the LoAs and declares the PrincipalSelection/UserMessage support of the real provider, and
its provider file is the one in ``idp_configs/`` with only the entity ID changed. Plus a generic
loa3+loa4 IdP for the "at least" and downgrade cases, and a second SP entity for org identities.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import yaml
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from tests.integration.harness import ROOT
from tests.integration.harness import LoginSteps
from tests.integration.harness import Rp
from tests.integration.harness import RunningGateway
from tests.integration.harness import TestClient as RegisteredClient
from tests.integration.harness import query
from tests.integration.harness import running_gateway
from tests.peers.saml_idp import AES128_CBC
from tests.peers.saml_idp import AES128_GCM
from tests.peers.saml_idp import DEFAULT_ATTRIBUTES
from tests.peers.saml_idp import LOA3
from tests.peers.saml_idp import LOA4
from tests.peers.saml_idp import STATUS_AUTHN_FAILED
from tests.peers.saml_idp import STATUS_CANCEL
from tests.peers.saml_idp import STATUS_FRAUD
from tests.peers.saml_idp import STATUS_NO_AUTHN_CONTEXT
from tests.peers.saml_idp import STATUS_NO_PASSIVE
from tests.peers.saml_idp import STATUS_POSSIBLE_FRAUD
from tests.peers.saml_idp import STATUS_REQUESTER
from tests.peers.saml_idp import STATUS_RESPONDER
from tests.peers.saml_idp import STATUS_UNKNOWN_PRINCIPAL
from tests.peers.saml_idp import PeerIdP

PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
PNR_OID = "urn:oid:1.2.752.29.4.13"
AUTHN_PROVIDER = "https://id.oidc.se/param/authnProvider"
USER_MESSAGE = "https://id.oidc.se/param/userMessage"
UNCERTIFIED_LOA3 = "http://id.swedenconnect.se/loa/1.0/uncertified-loa3"
EIDAS_NF_SUB = "http://id.elegnamnden.se/loa/1.0/eidas-nf-sub"
ORG_SP = "https://gw.test.example/saml/orgid"
SCOPES_ALL = [
    "openid",
    "https://id.oidc.se/scope/naturalPersonNumber",
    "https://id.oidc.se/scope/naturalPersonInfo",
    "https://id.oidc.se/scope/naturalPersonOrgId",
    "https://id.swedenconnect.se/scope/eidasNaturalPersonIdentity",
]
# A test personal identity number from Skatteverket's list (swedish-eid.md 6), never a real person.
HINT_PNR = "199203102398"
EIDAS_ATTRIBUTES = {
    "prid": ("DE:79f3b2c4a1d0",),
    "pridPersistence": ("B",),
    "eidasPersonIdentifier": ("DE/SE/0123456789",),
    "dateOfBirth": ("1985-07-23",),
    "sn": ("Mustermann",),
    "givenName": ("Erika",),
    "c": ("DE",),
    "transactionIdentifier": ("_f1e2d3c4b5a6",),
}


def _shipped(name: str) -> dict[str, Any]:
    """A shipped provider definition, without its id and entity IDs (the harness sets the peer's)."""
    data = yaml.safe_load((ROOT / "idp_configs" / f"{name}.yaml").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in ("id", "entity_id")}


SHIPPED = {"freja": _shipped("freja"), "bankid": _shipped("bankid-example"), "eidas": _shipped("eidas-connector")}


def _peer(tmp: Path, name: str, **kwargs: Any) -> PeerIdP:
    return PeerIdP(tmp / name, entity_id=f"https://{name}.test.example/idp", sso_url=f"https://{name}.test.example/sso",
                   **kwargs)  # fmt: skip


def _clients() -> dict[str, RegisteredClient]:
    key = RSAKey.generate_key(2048, parameters={"kid": "se-rp-1", "use": "sig"})
    return {
        "se-rp": RegisteredClient(
            "se-rp", "https://se-rp.example/cb", key=key, auth_method="private_key_jwt",
            options={"scopes": SCOPES_ALL, "userinfo_signed_response_alg": "RS256"},
        ),
        "basic-rp": RegisteredClient(
            "basic-rp", "https://rp.example/callback", secret=secrets.token_urlsafe(32),
            options={"scopes": SCOPES_ALL},
        ),
        "org-rp": RegisteredClient(
            "org-rp", "https://org-rp.example/cb", secret=secrets.token_urlsafe(32),
            options={"scopes": ["openid", "https://id.oidc.se/scope/naturalPersonOrgId"], "sp": "orgid"},
        ),
    }  # fmt: skip


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningGateway]:
    """The gateway with one peer per shipped provider, a generic loa3+loa4 peer and an org SP entity."""
    tmp = tmp_path_factory.mktemp("swedish-eid")
    peers = {
        "freja": _peer(tmp, "freja", loas=SHIPPED["freja"]["loas"]),
        "bankid": _peer(tmp, "bankid", loas=SHIPPED["bankid"]["loas"], supports_principal_selection=True,
                        supports_user_message=True),
        "eidas": _peer(tmp, "eidas", loas=SHIPPED["eidas"]["loas"], supports_principal_selection=True),
        "idp": _peer(tmp, "idp", loas=(LOA3, LOA4)),
    }  # fmt: skip
    with running_gateway(
        tmp / "gateway",
        redis_url=redis_url,
        peers=peers,
        clients=_clients(),
        provider_options={name: SHIPPED[name] for name in ("freja", "bankid", "eidas")},
        extra={
            "saml": {
                "service_providers": [
                    {
                        "id": "orgid",
                        "entity_id": ORG_SP,
                        "attribute_set": "org-person-01",
                        "entity_categories": ["http://id.swedenconnect.se/ec/1.0/loa3-orgid"],
                    },
                ]
            }
        },
    ) as running:
        yield running


# --- helpers ------------------------------------------------------------------------------------


def _start(gateway: RunningGateway, client_id: str, provider: str, **params: str) -> LoginSteps:
    """A login sent straight to ``provider`` (authnProvider hint); the AuthnRequest URL is in ``upstream_url``."""
    steps = LoginSteps(requests.Session(), Rp.for_client(gateway, client_id), gateway.peers[provider])
    params.setdefault(AUTHN_PROVIDER, steps.peer.entity_id)
    started = steps.start(**params)
    assert started.status_code == 302, started.text
    return steps


def _finish(steps: LoginSteps, **respond: Any) -> requests.Response:
    """IdP answers, browser posts to the ACS and resumes; the resume response is returned."""
    steps.respond(**respond)
    assert steps.post_to_acs().status_code == 303
    return steps.resume()


def _login(gateway: RunningGateway, client_id: str, provider: str, respond: dict[str, Any] | None = None,
           **params: str) -> tuple[LoginSteps, dict[str, Any], dict[str, Any]]:  # fmt: skip
    steps = _start(gateway, client_id, provider, **params)
    assert _finish(steps, **(respond or {})).status_code == 302
    assert "code" in query(steps.callback_url), steps.callback_url
    token = steps.rp.fetch_token(steps.callback_url)
    return steps, token, steps.rp.verify_id_token(token["id_token"])


def _page(response: requests.Response) -> tuple[str, dict[str, str] | None]:
    """The error page's code, and the OIDC error its "back to the e-service" link carries."""
    assert response.status_code == 400, response.text
    code = re.search(r'data-error="([a-z_]+)"', response.text)
    assert code, response.text
    link = re.search(r'href="([^"]*[?&]error=[^"]*)"', response.text)
    return code.group(1), query(html.unescape(link.group(1))) if link else None


def _jwks(gateway: RunningGateway) -> KeySet:
    return KeySet.import_key_set(requests.get(f"{gateway.url}/jwks", timeout=5).json())


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# --- discovery ------------------------------------------------------------------------------------


def test_discovery_lists_exactly_what_is_supported(gateway: RunningGateway) -> None:
    doc = requests.get(f"{gateway.url}/.well-known/openid-configuration", timeout=5).json()
    offered = {loa for peer in gateway.peers.values() for loa in peer.loas}
    assert set(doc["acr_values_supported"]) == offered
    assert doc["claims_parameter_supported"] is True
    assert doc["request_parameter_supported"] is True
    assert set(doc["ui_locales_supported"]) >= {"sv", "en"}
    assert doc["https://id.oidc.se/disco/userMessageSupported"] is True  # the BankID peer declares it
    assert doc["https://id.oidc.se/disco/userMessageSupportedMimeTypes"] == ["text/plain", "text/markdown"]
    assert doc["https://id.oidc.se/disco/authnProviderSupported"] is True
    assert doc["pushed_authorization_request_endpoint"] == f"{gateway.url}/par"
    assert "none" not in doc["request_object_signing_alg_values_supported"]
    assert {"RS256", "ES256"} <= set(doc["token_endpoint_auth_signing_alg_values_supported"])
    for claim in (PNR_CLAIM, "https://id.swedenconnect.se/claim/prid", "https://id.oidc.se/claim/orgAffiliation"):
        assert claim in doc["claims_supported"]


# --- levels of assurance ------------------------------------------------------------------------------


def test_freja_login_requests_its_loa_exactly_and_delivers_the_personal_number(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "freja", acr_values=LOA3, login_hint=HINT_PNR,
                   **{USER_MESSAGE: json.dumps({"message": _b64("Hej")})})  # fmt: skip
    request = steps.peer.receive(steps.upstream_url)
    assert request.comparison == "exact"
    assert request.requested_loas == (LOA3,)  # loa4 would be acceptable, but Freja does not offer it
    assert request.force_authn is False  # always explicit (DP 5.3)
    assert request.is_passive is None
    # Freja declares neither PrincipalSelection nor UserMessage support: nothing is sent to it.
    assert request.extensions_xml is None
    assert _finish(steps).status_code == 302
    token = steps.rp.fetch_token(steps.callback_url)
    claims = steps.rp.verify_id_token(token["id_token"])
    assert claims["acr"] == LOA3
    assert claims[PNR_CLAIM] == DEFAULT_ATTRIBUTES["personalIdentityNumber"][0]


def test_at_least_loa3_lists_loa3_and_loa4_and_accepts_loa4(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "idp", acr_values=LOA3)
    request = steps.peer.receive(steps.upstream_url)
    assert request.requested_loas == (LOA3, LOA4)
    assert _finish(steps, loa=LOA4).status_code == 302
    claims = steps.rp.verify_id_token(steps.rp.fetch_token(steps.callback_url)["id_token"])
    assert claims["acr"] == LOA4


def test_loa_downgrade_is_refused_with_a_page(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "idp", acr_values=LOA4)
    assert steps.peer.receive(steps.upstream_url).requested_loas == (LOA4,)
    code, back = _page(_finish(steps, loa=LOA3))
    assert code == "loa_not_met"
    assert back is not None
    assert back["error"] == "unmet_authentication_requirements"


def test_essential_acr_is_exact_and_unmet_goes_straight_back(gateway: RunningGateway) -> None:
    claims = {"id_token": {"acr": {"essential": True, "values": [LOA3]}}}
    steps = _start(gateway, "basic-rp", "idp", claims=json.dumps(claims))
    assert steps.peer.receive(steps.upstream_url).requested_loas == (LOA3,)
    resumed = _finish(steps, loa=LOA4)
    assert resumed.status_code == 302
    callback = query(steps.callback_url)
    assert callback["error"] == "unmet_authentication_requirements"
    assert callback["state"] == steps.rp.state


def test_essential_acr_no_provider_offers_is_unmet_at_once(gateway: RunningGateway) -> None:
    claims = {"id_token": {"acr": {"essential": True, "values": ["http://id.elegnamnden.se/loa/1.0/loa2"]}}}
    rp = Rp.for_client(gateway, "basic-rp")
    response = requests.get(rp.authorization_url(claims=json.dumps(claims)), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "unmet_authentication_requirements"


# --- BankID: PrincipalSelection, UserMessage, txn -----------------------------------------------------


def test_bankid_gets_principal_selection_and_user_message(gateway: RunningGateway) -> None:
    message = {"message": _b64("Logga in för att se din **deklaration**"), "message#en": _b64("Log in to see it"),
               "mime_type": "text/markdown"}  # fmt: skip
    claims = {"id_token": {"txn": None, "https://id.oidc.se/claim/authnProvider": None}}
    steps = _start(gateway, "basic-rp", "bankid", login_hint=HINT_PNR, claims=json.dumps(claims),
                   **{USER_MESSAGE: json.dumps(message)})  # fmt: skip
    request = steps.peer.receive(steps.upstream_url)
    assert request.requested_loas == tuple(SHIPPED["bankid"]["loas"])
    assert request.principal_selection == ((PNR_OID, HINT_PNR),)
    assert request.user_message == {"sv": "Logga in för att se din **deklaration**", "en": "Log in to see it"}
    assert 'mimeType="text/markdown"' in (request.extensions_xml or "")
    attributes = {**DEFAULT_ATTRIBUTES, "personalIdentityNumber": (HINT_PNR,),
                  "transactionIdentifier": ("bankid-order-ref-1",)}  # fmt: skip
    assert _finish(steps, attributes=attributes, loa=UNCERTIFIED_LOA3).status_code == 302
    claims_out = steps.rp.verify_id_token(steps.rp.fetch_token(steps.callback_url)["id_token"])
    assert claims_out["acr"] == UNCERTIFIED_LOA3
    assert claims_out["txn"] == "bankid-order-ref-1"
    assert claims_out["https://id.oidc.se/claim/authnProvider"] == steps.peer.entity_id
    assert claims_out[PNR_CLAIM] == HINT_PNR


def test_principal_selection_from_the_claims_value(gateway: RunningGateway) -> None:
    claims = {"id_token": {PNR_CLAIM: {"essential": True, "value": HINT_PNR}}}
    steps = _start(gateway, "basic-rp", "bankid", claims=json.dumps(claims))
    assert steps.peer.receive(steps.upstream_url).principal_selection == ((PNR_OID, HINT_PNR),)


ESSENTIAL_HINT = json.dumps({"id_token": {PNR_CLAIM: {"essential": True, "value": HINT_PNR}}})


def test_an_essential_personal_number_refuses_another_person(gateway: RunningGateway) -> None:
    """OIDC Core 5.5.1: an essential value is the client's requirement. The provider MAY answer
    UnknownPrincipal itself (PSC 1); when it logs in someone else, the gateway refuses that person."""
    steps = _start(gateway, "basic-rp", "bankid", claims=ESSENTIAL_HINT)
    assert DEFAULT_ATTRIBUTES["personalIdentityNumber"] != (HINT_PNR,)
    code, back = _page(_finish(steps))  # the peer logs in its default person
    assert code == "unknown_principal"
    assert back is not None
    assert back["error"] == "access_denied"
    assert "code" not in back


def test_an_essential_personal_number_logs_that_person_in(gateway: RunningGateway) -> None:
    respond = {"attributes": {**DEFAULT_ATTRIBUTES, "personalIdentityNumber": (HINT_PNR,)}}
    _, _, claims_out = _login(gateway, "basic-rp", "bankid", respond, claims=ESSENTIAL_HINT)
    assert claims_out[PNR_CLAIM] == HINT_PNR


def test_a_personal_number_hint_alone_refuses_nobody(gateway: RunningGateway) -> None:
    """login_hint and a value without essential are hints (OIDC Core 3.1.2.1): the provider decides."""
    hint = json.dumps({"id_token": {PNR_CLAIM: {"value": HINT_PNR}}})
    for params in ({"login_hint": HINT_PNR}, {"claims": hint}):
        _, _, claims_out = _login(gateway, "basic-rp", "bankid", **params)
        assert claims_out[PNR_CLAIM] == DEFAULT_ATTRIBUTES["personalIdentityNumber"][0]


def test_a_session_of_another_person_does_not_answer_an_essential_personal_number(gateway: RunningGateway) -> None:
    steps, _, _ = _login(gateway, "basic-rp", "bankid")
    again = Rp.for_client(gateway, "basic-rp")
    url = again.authorization_url(claims=ESSENTIAL_HINT, **{AUTHN_PROVIDER: steps.peer.entity_id})
    response = steps.browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(steps.peer.sso_url), "not answered from the session"
    assert steps.peer.receive(response.headers["Location"]).principal_selection == ((PNR_OID, HINT_PNR),)


def test_a_login_hint_that_is_no_valid_number_sends_no_principal_selection(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "bankid", login_hint="199203102381")  # wrong check digit
    assert steps.peer.receive(steps.upstream_url).principal_selection == ()


@pytest.mark.parametrize(
    "message",
    [{"message": _b64("x"), "mime_type": "text/html"}, {"message": "not base64!"}, {"note": _b64("x")}, ["x"]],
    ids=["html", "not-base64", "unknown-member", "not-an-object"],
)
def test_malformed_user_message_is_an_invalid_request(gateway: RunningGateway, message: Any) -> None:
    rp = Rp.for_client(gateway, "basic-rp")
    url = rp.authorization_url(**{USER_MESSAGE: json.dumps(message)})
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "invalid_request"


# --- eIDAS -------------------------------------------------------------------------------------------


def test_eidas_login_with_prid(gateway: RunningGateway) -> None:
    claims = {"id_token": {"https://id.swedenconnect.se/claim/eidasCountry": None}}
    _, token, id_claims = _login(
        gateway, "se-rp", "eidas", {"attributes": EIDAS_ATTRIBUTES, "loa": EIDAS_NF_SUB},
        scope=" ".join(SCOPES_ALL), claims=json.dumps(claims),
    )  # fmt: skip
    assert id_claims["acr"] == EIDAS_NF_SUB
    assert id_claims["https://id.swedenconnect.se/claim/prid"] == "DE:79f3b2c4a1d0"
    assert id_claims["https://id.swedenconnect.se/claim/pridPersistence"] == "B"
    assert id_claims["https://id.swedenconnect.se/claim/eidasCountry"] == "DE"
    assert PNR_CLAIM not in id_claims
    assert "https://id.swedenconnect.se/claim/eidasPersonIdentifier" not in id_claims  # UserInfo only (SCCLM 3.1.1)
    info = _userinfo_jwt(gateway, token["access_token"], "se-rp")
    assert info["https://id.swedenconnect.se/claim/eidasPersonIdentifier"] == "DE/SE/0123456789"
    assert info["given_name"] == "Erika"


def test_eidas_country_hint_becomes_scoping(gateway: RunningGateway) -> None:
    steps = _start(
        gateway, "basic-rp", "eidas", **{AUTHN_PROVIDER: "http://id.swedenconnect.se/eidas/1.0/proxy-service/de"}
    )
    request = steps.peer.receive(steps.upstream_url)
    assert request.destination == steps.peer.sso_url
    assert 'ProviderID="http://id.swedenconnect.se/eidas/1.0/proxy-service/de"' in request.raw_xml


def test_eidas_without_required_attributes_is_refused(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "eidas")
    attributes = {k: v for k, v in EIDAS_ATTRIBUTES.items() if k != "prid"}
    code, _ = _page(_finish(steps, attributes=attributes, loa=EIDAS_NF_SUB))
    assert code == "attributes_missing"


# --- status codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "sub_status", "page", "oidc_error"),
    [
        (STATUS_REQUESTER, STATUS_CANCEL, None, "access_denied"),
        (STATUS_REQUESTER, STATUS_FRAUD, "fraud", "access_denied"),
        (STATUS_REQUESTER, STATUS_POSSIBLE_FRAUD, "fraud", "access_denied"),
        (STATUS_REQUESTER, STATUS_UNKNOWN_PRINCIPAL, "unknown_principal", "access_denied"),
        (STATUS_REQUESTER, STATUS_NO_AUTHN_CONTEXT, "loa_not_met", "unmet_authentication_requirements"),
        (STATUS_REQUESTER, None, "provider_error", "access_denied"),
        (STATUS_RESPONDER, None, "provider_error", "access_denied"),
        (STATUS_RESPONDER, STATUS_AUTHN_FAILED, "provider_error", "access_denied"),
    ],
    ids=["cancel", "fraud", "possible-fraud", "unknown-principal", "no-authn-context", "requester", "responder",
         "authn-failed"],
)  # fmt: skip
def test_provider_status_becomes_the_right_page_and_oidc_error(
    gateway: RunningGateway, status: str, sub_status: str | None, page: str | None, oidc_error: str
) -> None:
    steps = _start(gateway, "basic-rp", "bankid")
    resumed = _finish(steps, status=status, sub_status=sub_status)
    if page is None:
        assert resumed.status_code == 302
        back = query(steps.callback_url)
    else:
        code, back = _page(resumed)
        assert code == page
    assert back is not None
    assert back["error"] == oidc_error
    assert back["state"] == steps.rp.state
    assert back["iss"] == gateway.url
    assert "code" not in back


# --- prompt, max_age, ForceAuthn, IsPassive --------------------------------------------------------


def test_prompt_none_sends_is_passive_and_no_passive_is_login_required(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "idp", prompt="none", **{USER_MESSAGE: json.dumps({"message": _b64("x")})})
    request = steps.peer.receive(steps.upstream_url)
    assert request.is_passive is True
    assert request.force_authn is False
    assert request.user_message == {}  # never shown when passive (UMSG 2)
    resumed = _finish(steps, status=STATUS_RESPONDER, sub_status=STATUS_NO_PASSIVE)
    assert resumed.status_code == 302  # no page for prompt=none
    assert query(steps.callback_url)["error"] == "login_required"


def test_prompt_none_passive_success_logs_in(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "idp", prompt="none")
    assert _finish(steps).status_code == 302
    assert "code" in query(steps.callback_url)


def test_max_age_forces_authn_and_an_old_authn_instant_is_refused(gateway: RunningGateway) -> None:
    steps = _start(gateway, "basic-rp", "idp", max_age="600")
    assert steps.peer.receive(steps.upstream_url).force_authn is True
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=30)
    code, _ = _page(_finish(steps, authn_instant=old))
    assert code == "provider_error"


def test_exceeded_max_age_forces_the_provider_despite_a_session(gateway: RunningGateway) -> None:
    steps, _, _ = _login(gateway, "basic-rp", "idp")
    time.sleep(1.1)
    again = Rp.for_client(gateway, "basic-rp")
    url = again.authorization_url(max_age="0", **{AUTHN_PROVIDER: steps.peer.entity_id})
    response = steps.browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert steps.peer.receive(response.headers["Location"]).force_authn is True


# --- algorithms (DP 8) through the gateway -----------------------------------------------------------

SHA1_SIG = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1_DIGEST = "http://www.w3.org/2000/09/xmldsig#sha1"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
RSA_1_5 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"


@pytest.mark.parametrize(
    ("respond", "accepted"),
    [
        ({"block_alg": AES128_CBC}, True),
        ({"block_alg": AES128_GCM}, True),
        ({"sign_alg": RSA_SHA512, "digest_alg": SHA512}, True),
        ({"sign_alg": SHA1_SIG}, False),
        ({"digest_alg": SHA1_DIGEST}, False),
        ({"key_transport": RSA_1_5}, False),
    ],
    ids=["aes128-cbc", "aes128-gcm", "rsa-sha512", "rsa-sha1-refused", "sha1-digest-refused", "rsa-1_5-refused"],
)
def test_algorithms(gateway: RunningGateway, respond: dict[str, str], accepted: bool) -> None:
    steps = _start(gateway, "basic-rp", "idp")
    resumed = _finish(steps, **respond)
    if accepted:
        assert resumed.status_code == 302
        assert "code" in query(steps.callback_url)
    else:
        assert _page(resumed)[0] == "provider_error"


# --- several SP entities ----------------------------------------------------------------------------


def test_client_logs_in_through_its_own_sp_entity(gateway: RunningGateway) -> None:
    org = {"displayName": ("Testa Testsson",), "orgAffiliation": ("199203102380@2120000829",),
           "o": ("Testkommunen",), "organizationIdentifier": ("2120000829",)}  # fmt: skip
    steps = _start(gateway, "org-rp", "idp", scope="openid https://id.oidc.se/scope/naturalPersonOrgId")
    request = steps.peer.receive(steps.upstream_url)
    assert request.issuer == ORG_SP
    assert _finish(steps, attributes=org).status_code == 302
    token = steps.rp.fetch_token(steps.callback_url)
    claims = steps.rp.verify_id_token(token["id_token"])
    assert claims["https://id.oidc.se/claim/orgAffiliation"] == "199203102380@2120000829"
    default = _start(gateway, "basic-rp", "idp")
    assert default.peer.receive(default.upstream_url).issuer != ORG_SP


def test_response_for_the_default_sp_is_refused_on_the_org_sp(gateway: RunningGateway) -> None:
    steps = _start(gateway, "org-rp", "idp", scope="openid https://id.oidc.se/scope/naturalPersonOrgId")
    request = steps.peer.receive(steps.upstream_url)
    steps.posted = steps.peer.respond(request, audience=gateway.url + "/saml/metadata")
    assert steps.post_to_acs().status_code == 303
    assert _page(steps.resume())[0] == "provider_error"


# --- signed request object, private_key_jwt, signed UserInfo --------------------------------------


def _request_object(rp: Rp, key: RSAKey, *, alg: str = "RS256", **overrides: Any) -> str:
    """A request object as an e-service signs it, with state, nonce and PKCE set on ``rp``."""
    rp.verifier = generate_token(48)
    rp.nonce = generate_token(20)
    rp.state = generate_token(20)
    claims: dict[str, Any] = {
        "iss": rp.client.client_id,
        "aud": rp.gateway.url,
        "iat": int(time.time()),
        "exp": int(time.time()) + 120,
        "client_id": rp.client.client_id,
        "response_type": "code",
        "redirect_uri": rp.client.redirect_uri,
        "scope": " ".join(SCOPES_ALL),
        "state": rp.state,
        "nonce": rp.nonce,
        "code_challenge": create_s256_code_challenge(rp.verifier),
        "code_challenge_method": "S256",
        "claims": {"id_token": {"acr": {"essential": True, "values": [LOA3, LOA4]}}},
        AUTHN_PROVIDER: rp.gateway.peers["idp"].entity_id,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def test_signed_and_encrypted_request_object_starts_a_login(gateway: RunningGateway) -> None:
    """The e-service encrypts its signed request object to the gateway's published `use: enc` key."""
    from joserfc import jwe

    rp = Rp.for_client(gateway, "se-rp")
    assert rp.client.key is not None
    encryption_keys = [k for k in _jwks(gateway).keys if k.get("use") == "enc"]
    assert encryption_keys, "the gateway publishes a request object encryption key"
    gateway_key = encryption_keys[0]
    header = {"alg": "RSA-OAEP", "enc": "A256GCM", "cty": "JWT", "kid": gateway_key.kid}
    token = jwe.encrypt_compact(
        header, _request_object(rp, rp.client.key), gateway_key, algorithms=["RSA-OAEP", "A256GCM"]
    )
    url = f"{gateway.url}/authorize?" + urlencode({"client_id": "se-rp", "response_type": "code", "request": token})
    started = requests.get(url, allow_redirects=False, timeout=10)
    assert started.status_code == 302, started.text
    assert started.headers["Location"].startswith(gateway.peers["idp"].sso_url)


def _userinfo_jwt(gateway: RunningGateway, access_token: str, client_id: str) -> dict[str, Any]:
    response = requests.get(f"{gateway.url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/jwt")
    token = jwt.decode(response.text, _jwks(gateway), algorithms=["RS256", "ES256"])
    assert token.claims["iss"] == gateway.url
    assert token.claims["aud"] == client_id
    return dict(token.claims)


def test_private_key_jwt_signed_request_object_with_essential_acr_and_signed_userinfo(
    gateway: RunningGateway,
) -> None:
    rp = Rp.for_client(gateway, "se-rp")
    assert rp.client.key is not None
    request_object = _request_object(rp, rp.client.key)
    steps = LoginSteps(requests.Session(), rp, gateway.peers["idp"])
    url = f"{gateway.url}/authorize?" + urlencode(
        {"client_id": "se-rp", "response_type": "code", "scope": "openid", "request": request_object}
    )
    started = steps.browser.get(url, allow_redirects=False, timeout=10)
    assert started.status_code == 302, started.text
    steps.upstream_url = started.headers["Location"]
    assert steps.peer.receive(steps.upstream_url).requested_loas == (LOA3, LOA4)
    assert _finish(steps, loa=LOA4).status_code == 302
    callback = query(steps.callback_url)
    assert callback["state"] == rp.state
    token = rp.fetch_token(steps.callback_url)  # private_key_jwt (authlib's PrivateKeyJWT)
    claims = rp.verify_id_token(token["id_token"])
    assert claims["acr"] == LOA4
    assert claims[PNR_CLAIM] == DEFAULT_ATTRIBUTES["personalIdentityNumber"][0]
    info = _userinfo_jwt(gateway, token["access_token"], "se-rp")
    assert info["sub"] == claims["sub"]
    assert info["family_name"] == "Testsson"


def _none_signed(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


@pytest.mark.parametrize(
    "tamper",
    ["alg-none", "other-key", "wrong-aud", "wrong-iss", "expired", "encrypted", "client-id-mismatch"],
)
def test_bad_request_objects_are_refused(gateway: RunningGateway, tamper: str) -> None:
    rp = Rp.for_client(gateway, "se-rp")
    key = rp.client.key
    assert key is not None
    stranger = RSAKey.generate_key(2048, parameters={"kid": key.kid})
    if tamper == "alg-none":
        token = _none_signed(jwt.decode(_request_object(rp, key), key).claims)
    elif tamper == "other-key":
        token = _request_object(rp, stranger)
    elif tamper == "wrong-aud":
        token = _request_object(rp, key, aud="https://another-op.example")
    elif tamper == "wrong-iss":
        token = _request_object(rp, key, iss="basic-rp")
    elif tamper == "expired":
        token = _request_object(rp, key, exp=int(time.time()) - 600)
    elif tamper == "encrypted":
        token = "a.b.c.d.e"
    else:
        token = _request_object(rp, key, client_id="basic-rp")
    url = f"{gateway.url}/authorize?" + urlencode(
        {"client_id": "se-rp", "response_type": "code", "redirect_uri": rp.client.redirect_uri, "request": token}
    )
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(rp.client.redirect_uri + "?")
    assert query(location)["error"] == "invalid_request_object"


def test_request_object_error_without_registered_redirect_uri_is_a_page(gateway: RunningGateway) -> None:
    url = f"{gateway.url}/authorize?" + urlencode({"client_id": "se-rp", "request": "a.b.c"})
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "Location" not in response.headers


# --- PAR (RFC 9126) ---------------------------------------------------------------------------------


def _assertion(gateway: RunningGateway, client: RegisteredClient, audience: str | None = None) -> str:
    assert client.key is not None
    now = int(time.time())
    claims = {"iss": client.client_id, "sub": client.client_id, "aud": audience or f"{gateway.url}/token",
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": client.key.kid}, claims, client.key, algorithms=["RS256"])


def _client_auth(gateway: RunningGateway, client: RegisteredClient, audience: str | None = None) -> dict[str, str]:
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(gateway, client, audience),
    }


def test_par_login_and_request_uri_is_single_use(gateway: RunningGateway) -> None:
    rp = Rp.for_client(gateway, "se-rp")
    rp.verifier, rp.nonce, rp.state = generate_token(48), generate_token(20), generate_token(20)
    form = {
        "client_id": "se-rp", "response_type": "code", "redirect_uri": rp.client.redirect_uri,
        "scope": "openid https://id.oidc.se/scope/naturalPersonNumber", "state": rp.state, "nonce": rp.nonce,
        "code_challenge": create_s256_code_challenge(rp.verifier), "code_challenge_method": "S256",
        AUTHN_PROVIDER: gateway.peers["idp"].entity_id,
        **_client_auth(gateway, rp.client, f"{gateway.url}/par"),
    }  # fmt: skip
    pushed = requests.post(f"{gateway.url}/par", data=form, timeout=10)
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["expires_in"] == 60
    request_uri = pushed.json()["request_uri"]
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    steps = LoginSteps(requests.Session(), rp, gateway.peers["idp"])
    url = f"{gateway.url}/authorize?" + urlencode({"client_id": "se-rp", "request_uri": request_uri})
    started = steps.browser.get(url, allow_redirects=False, timeout=10)
    assert started.status_code == 302, started.text
    steps.upstream_url = started.headers["Location"]
    assert _finish(steps).status_code == 302
    token = rp.fetch_token(steps.callback_url)
    assert rp.verify_id_token(token["id_token"])[PNR_CLAIM]
    again = requests.get(url, allow_redirects=False, timeout=10)
    assert again.status_code == 400  # no redirect_uri known any more: a page
    assert "Location" not in again.headers


def test_par_needs_client_authentication(gateway: RunningGateway) -> None:
    form = {"client_id": "se-rp", "response_type": "code", "redirect_uri": "https://se-rp.example/cb"}
    response = requests.post(f"{gateway.url}/par", data=form, timeout=10)
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


def test_par_validation_errors_are_json(gateway: RunningGateway) -> None:
    client = gateway.clients["se-rp"]
    form = {"client_id": "se-rp", "response_type": "code", "redirect_uri": client.redirect_uri, "scope": "openid",
            **_client_auth(gateway, client, gateway.url)}  # fmt: skip
    response = requests.post(f"{gateway.url}/par", data=form, timeout=10)  # no PKCE challenge
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_par_request_uri_of_another_client_is_refused(gateway: RunningGateway) -> None:
    client = gateway.clients["se-rp"]
    form = {"client_id": "se-rp", "response_type": "code", "redirect_uri": client.redirect_uri, "scope": "openid",
            "code_challenge": create_s256_code_challenge("v" * 50), "code_challenge_method": "S256",
            **_client_auth(gateway, client, f"{gateway.url}/par")}  # fmt: skip
    request_uri = requests.post(f"{gateway.url}/par", data=form, timeout=10).json()["request_uri"]
    other = gateway.clients["basic-rp"]
    url = f"{gateway.url}/authorize?" + urlencode(
        {"client_id": "basic-rp", "request_uri": request_uri, "redirect_uri": other.redirect_uri}
    )
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "invalid_request_uri"


# --- private_key_jwt: jti is single use ------------------------------------------------------------


def test_client_assertion_jti_is_single_use(gateway: RunningGateway) -> None:
    client = gateway.clients["se-rp"]
    assertion = _assertion(gateway, client)
    results = []
    for _ in range(2):
        steps = _start(gateway, "se-rp", "idp")
        assert _finish(steps).status_code == 302
        data = {"grant_type": "authorization_code", "code": query(steps.callback_url)["code"],
                "redirect_uri": client.redirect_uri, "code_verifier": steps.rp.verifier,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}  # fmt: skip
        replayed = requests.post(f"{gateway.url}/token", data={**data, "client_assertion": assertion}, timeout=10)
        results.append(replayed)
    assert results[0].status_code == 200, results[0].text
    assert results[1].status_code in (400, 401)
    assert results[1].json()["error"] == "invalid_client"
    # the refused request did not consume the code: a fresh assertion redeems it
    fresh = requests.post(f"{gateway.url}/token", data={**data, "client_assertion": _assertion(gateway, client)},
                          timeout=10)  # fmt: skip
    assert fresh.status_code == 200, fresh.text
