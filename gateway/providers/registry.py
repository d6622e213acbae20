"""The e-ID providers the gateway offers, which of them can serve a request, and what each supports.

Built once from `idp_configs/` (plus the sandbox in development). A provider
serves a request when it offers at least one of the levels of assurance the
e-service accepts (`gateway.mapping.loa`). Whether a provider takes a
PrincipalSelection or a UserMessage is what its definition says, else what
its trusted metadata declares (`gateway.saml.idp_metadata`), read on each use.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Final

from gateway.mapping.loa import relayed_acr_values
from gateway.mapping.loa import requested_loas
from gateway.saml.idp_metadata import IdpCapabilities
from gateway.settings.schema import ProviderSettings

PERSONAL_IDENTITY_NUMBER: Final = "urn:oid:1.2.752.29.4.13"
EIDAS_PROXY_SERVICE: Final = "http://id.swedenconnect.se/eidas/1.0/proxy-service/"
"""REG 3.1.9.1: the alias of a country's eIDAS proxy service, ``{prefix}{cc}`` (ISO 3166-1 alpha-2)."""

Candidate = tuple[ProviderSettings, tuple[str, ...]]
CapabilityLookup = Callable[[str], IdpCapabilities]


def _nothing_declared(_entity_id: str) -> IdpCapabilities:
    return IdpCapabilities()


class ProviderRegistry:
    """Lookup and filtering of enabled providers, in configured order."""

    def __init__(self, providers: Iterable[ProviderSettings], capabilities: CapabilityLookup | None = None) -> None:
        self._providers = {p.id: p for p in providers}
        self._capabilities = capabilities or _nothing_declared

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._providers.values())

    def get(self, provider_id: str) -> ProviderSettings | None:
        """The provider with this id, or None."""
        return self._providers.get(provider_id)

    def by_entity_id(self, entity_id: str) -> ProviderSettings | None:
        """The provider whose SAML entity ID this is (for `authnProvider` hints)."""
        return next((p for p in self._providers.values() if p.entity_id == entity_id), None)

    def offered(self, provider: ProviderSettings) -> tuple[str, ...]:
        """The LoAs ``provider`` can deliver: its definition's, limited to those its metadata certifies, if any.

        An IdP refuses a request for a level it is not certified for (DP 5.4.4),
        and its `assurance-certification` values are where it says which (DP 2.1.3).
        """
        certified = self.capabilities(provider).loas
        if not certified:
            return provider.loas
        return tuple(loa for loa in provider.loas if loa in certified)

    def serving(self, acceptable: Sequence[str]) -> list[Candidate]:
        """Providers offering one of the ``acceptable`` upstream LoAs (any, if empty), each with the LoAs to request."""
        result = []
        for provider in self._providers.values():
            loas = requested_loas(acceptable, self.offered(provider))
            if loas:
                result.append((provider, loas))
        return result

    @staticmethod
    def hinted(candidates: Sequence[Candidate], hint: str | None) -> tuple[list[Candidate], str | None]:
        """Narrow ``candidates`` by an `https://id.oidc.se/param/authnProvider` value (OSRPAR 2.2).

        The hint is a provider's entity ID, or an eIDAS proxy-service alias
        (REG 3.1.9.1), which picks the providers that take a country hint and
        returns the country for their Scoping (DP 5.3.2). No hint: unchanged.
        """
        if not hint:
            return list(candidates), None
        if hint.lower().startswith(EIDAS_PROXY_SERVICE):
            country = hint[len(EIDAS_PROXY_SERVICE) :]
            if len(country) == 2 and country.isascii() and country.isalpha():
                return [c for c in candidates if c[0].country_hint], country.upper()
            return [], None
        return [c for c in candidates if c[0].entity_id == hint], None

    def capabilities(self, provider: ProviderSettings) -> IdpCapabilities:
        """What the provider's trusted metadata declares."""
        return self._capabilities(provider.entity_id)

    def principal_selection(self, provider: ProviderSettings) -> tuple[str, ...]:
        """Attribute names to send in a PrincipalSelection to ``provider`` (empty: send none; PSC 3).

        An explicit `principal_selection: true` without a metadata declaration
        means the personal identity number, the attribute BankID IdPs take (BANKID 4.2).
        """
        declared = self.capabilities(provider).principal_selection
        if provider.principal_selection is False:
            return ()
        if provider.principal_selection is True:
            return declared or (PERSONAL_IDENTITY_NUMBER,)
        return declared

    def user_message(self, provider: ProviderSettings) -> bool:
        """Whether ``provider`` takes a UserMessage (UMSG 3: only to IdPs that declare support)."""
        if provider.user_message is not None:
            return provider.user_message
        return self.capabilities(provider).user_message

    def any_user_message(self) -> bool:
        """Whether any provider takes a UserMessage, for discovery's `userMessageSupported`."""
        return any(self.user_message(p) for p in self._providers.values())

    def loas_offered(self) -> tuple[str, ...]:
        """Every upstream LoA some provider offers."""
        return tuple(dict.fromkeys(loa for p in self._providers.values() for loa in self.offered(p)))

    def acr_values_supported(self, policy: str = "as-is") -> list[str]:
        """Every `acr` the gateway can state for what its providers offer, for discovery."""
        return list(relayed_acr_values(self.loas_offered(), policy))
