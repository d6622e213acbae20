"""Federated e-ID authentication gateway: a SAML SP upstream, an OpenID Provider downstream."""

__version__ = "0.1.0"
