"""The CSP follows the providers' SSO origins when metadata changes, without a restart."""

from __future__ import annotations

from flask import Response

from gateway.web.security import SecurityHeaders


def _form_action(headers: SecurityHeaders) -> str:
    policy = headers(Response("x")).headers["Content-Security-Policy"]
    return next(part.strip() for part in policy.split(";") if part.strip().startswith("form-action"))


def test_form_action_is_replaced_when_the_sso_origins_change() -> None:
    headers = SecurityHeaders(["https://old-idp.example/sso"])
    assert _form_action(headers) == "form-action 'self' https://old-idp.example"
    headers.allow_forms_to(["https://new-idp.example:8443/sso"])
    assert _form_action(headers) == "form-action 'self' https://new-idp.example:8443"


def test_a_response_keeps_a_policy_it_set_itself() -> None:
    response = Response("x")
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    assert SecurityHeaders()(response).headers["Content-Security-Policy"] == "default-src 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
