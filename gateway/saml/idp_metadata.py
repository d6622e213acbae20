"""What an e-ID provider's trusted metadata says it supports, beyond endpoints and keys.

Read from the metadata pysaml2 already holds (loaded and checked by
`gateway.saml.sp`), on each use, so a refreshed feed is seen at once:

- PrincipalSelection (PSC 3): an IdP lists the attributes it accepts as
  `psc:RequestedPrincipalSelection/psc:MatchValue/@Name` under its
  `IDPSSODescriptor/md:Extensions`;
- UserMessage (UMSG 3; EC 6.4): the entity category
  `http://id.swedenconnect.se/general-ec/1.0/supports-user-message`;
- levels of assurance (DP 2.1.3): `assurance-certification` entity attribute values.

Nothing here is trusted for security decisions on its own: the provider
definitions in `idp_configs/` can override every capability.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Final

from gateway.saml.namespaces import NS_PSC

EC_SUPPORTS_USER_MESSAGE: Final = "http://id.swedenconnect.se/general-ec/1.0/supports-user-message"


@dataclass(frozen=True, slots=True)
class IdpCapabilities:
    """Declared support; ``known`` is False when the metadata has no such IdP at all."""

    known: bool = False
    principal_selection: tuple[str, ...] = ()
    """Attribute names the IdP accepts in a PrincipalSelection (empty: it declares none)."""
    user_message: bool = False
    loas: tuple[str, ...] = ()


def idp_capabilities(metadata: Any, entity_id: str) -> IdpCapabilities:
    """The capabilities ``entity_id`` declares in ``metadata`` (a pysaml2 `MetadataStore`)."""
    try:
        entity = metadata[entity_id]
    except KeyError:
        return IdpCapabilities()
    descriptors = entity.get("idpsso_descriptor") or []
    if not descriptors:
        return IdpCapabilities()
    names: list[str] = []
    for descriptor in descriptors:
        extensions = descriptor.get("extensions") or {}
        for element in _elements(extensions.get("extension_elements")):
            if element.get("namespace") == NS_PSC and element.get("tag") == "RequestedPrincipalSelection":
                for match in _elements(element.get("children")):
                    name = (match.get("attributes") or {}).get("Name")
                    if match.get("tag") == "MatchValue" and isinstance(name, str):
                        names.append(name)
    try:
        categories = tuple(metadata.entity_categories(entity_id))
    except (KeyError, AttributeError):
        categories = ()
    try:
        loas = tuple(metadata.assurance_certifications(entity_id))
    except (KeyError, AttributeError):
        loas = ()
    return IdpCapabilities(
        known=True,
        principal_selection=tuple(dict.fromkeys(names)),
        user_message=EC_SUPPORTS_USER_MESSAGE in categories,
        loas=loas,
    )


def _elements(value: object) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        return ()
    return [item for item in value if isinstance(item, Mapping)]
