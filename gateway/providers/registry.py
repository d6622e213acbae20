"""The e-ID providers the gateway offers, and which of them can serve a request.

Built once from `idp_configs/` (plus the sandbox in development). A provider
serves a request when it offers at least one of the levels of assurance the
e-service accepts (`gateway.mapping.loa`).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

from gateway.mapping.loa import requested_loas
from gateway.settings.schema import ProviderSettings


class ProviderRegistry:
    """Lookup and filtering of enabled providers, in configured order."""

    def __init__(self, providers: Iterable[ProviderSettings]) -> None:
        self._providers = {p.id: p for p in providers}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._providers.values())

    def get(self, provider_id: str) -> ProviderSettings | None:
        """The provider with this id, or None."""
        return self._providers.get(provider_id)

    def by_entity_id(self, entity_id: str) -> ProviderSettings | None:
        """The provider whose SAML entity ID this is (for `authnProvider` hints)."""
        return next((p for p in self._providers.values() if p.entity_id == entity_id), None)

    def serving(self, acr_values: Sequence[str]) -> list[tuple[ProviderSettings, tuple[str, ...]]]:
        """Providers that can satisfy ``acr_values``, each with the LoAs to request of it."""
        result = []
        for provider in self._providers.values():
            loas = requested_loas(acr_values, provider.loas)
            if loas:
                result.append((provider, loas))
        return result

    def acr_values_supported(self) -> list[str]:
        """Every LoA some provider offers, for discovery."""
        return list(dict.fromkeys(loa for p in self._providers.values() for loa in p.loas))
