"""XML namespaces of SAML, XML Signature/Encryption and the Swedish eID Framework extensions, in one place."""

from __future__ import annotations

from typing import Final

NS_SAML: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_MD: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_MDATTR: Final = "urn:oasis:names:tc:SAML:metadata:attribute"
NS_MDUI: Final = "urn:oasis:names:tc:SAML:metadata:ui"
NS_MDRPI: Final = "urn:oasis:names:tc:SAML:metadata:rpi"
NS_DS: Final = "http://www.w3.org/2000/09/xmldsig#"
NS_DSIG_MORE: Final = "http://www.w3.org/2001/04/xmldsig-more#"
NS_XENC: Final = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11: Final = "http://www.w3.org/2009/xmlenc11#"
NS_XML: Final = "http://www.w3.org/XML/1998/namespace"
NS_MDORGEXT: Final = "http://id.swedenconnect.se/authn/1.0/md-org-ext/ns"
NS_PSC: Final = "http://id.swedenconnect.se/authn/1.0/principal-selection/ns"
NS_UMSG: Final = "http://id.swedenconnect.se/authn/1.0/user-message/ns"
