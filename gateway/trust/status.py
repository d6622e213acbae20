"""What is trusted and what will expire: one set of facts for `metadata status`, /metrics and /readyz.

Per metadata source: the shared refresh record (last success, last failure and why, counters), the
installed copy (version, ``validUntil``, entities), which configured providers it describes as SAML 2
IdPs and which it does not, and the providers' certificates that expire within the warning window.
A certificate in metadata is only a key container (DP 2.1.1.2), so an expiring one is a warning to
act on (ask the provider), never a reason the gateway refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from gateway.settings.schema import ProviderSettings
from gateway.trust.metadata import VerifiedMetadata
from gateway.trust.metadata_refresh import SourceStatus
from gateway.trust.metadata_refresh import TrustedSource


@dataclass(frozen=True, slots=True)
class ExpiringCertificate:
    """A provider certificate that expires soon (or has expired)."""

    provider: str
    entity_id: str
    use: str
    fingerprint: str
    not_after: float


@dataclass(frozen=True, slots=True)
class SourceReport:
    """Everything known about one source."""

    label: str
    location: str
    signed: bool
    status: SourceStatus
    installed: VerifiedMetadata | None
    providers_found: tuple[str, ...] = ()
    providers_missing: tuple[str, ...] = ()
    expiring: tuple[ExpiringCertificate, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        """True while an unexpired verified copy is installed."""
        return self.installed is not None


def report(
    source: TrustedSource,
    status: SourceStatus | None,
    installed: VerifiedMetadata | None,
    providers: tuple[ProviderSettings, ...],
    *,
    window_days: int,
    now: float,
) -> SourceReport:
    """The facts about ``source``; ``providers`` are the configured e-ID providers to look for."""
    found: list[str] = []
    missing: list[str] = []
    expiring: list[ExpiringCertificate] = []
    horizon = now + window_days * 86400
    for provider in providers:
        entity = installed.entity(provider.entity_id) if installed is not None else None
        if entity is None or not entity.idp:
            missing.append(provider.id)
            continue
        found.append(provider.id)
        for key in entity.keys:
            if key.not_after is not None and key.not_after <= horizon:
                expiring.append(
                    ExpiringCertificate(provider.id, entity.entity_id, key.use, key.fingerprint, key.not_after)
                )
    return SourceReport(
        label=source.label,
        location=source.source.url or str(source.source.file),
        signed=source.source.signing_cert is not None,
        status=status or SourceStatus(),
        installed=installed,
        providers_found=tuple(found),
        providers_missing=tuple(missing),
        expiring=tuple(expiring),
    )
