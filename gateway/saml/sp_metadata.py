"""The SP's metadata document (SAML metadata; Swedish eID Framework DP 2.1.2).

Generated from the same pysaml2 configuration the SP runs with, so what is
published is what is enforced: signed AuthnRequests, an HTTP-POST ACS, and
the signing and encryption keys (all published stages, for rollover).
"""

from __future__ import annotations

from saml2.metadata import entity_descriptor
from saml2.metadata import metadata_tostring_fix
from saml2.validate import valid_instance

from gateway.saml.sp import ServiceProvider


def sp_metadata_xml(sp: ServiceProvider) -> str:
    """The SP's EntityDescriptor as an XML string."""
    descriptor = entity_descriptor(sp.client.config)
    valid_instance(descriptor)
    text = metadata_tostring_fix(descriptor, {}, str(descriptor))
    return text if isinstance(text, str) else text.decode("utf-8")
