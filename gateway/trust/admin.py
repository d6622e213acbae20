"""The operator's trust commands behind `eid-gateway metadata ...` and `eid-gateway keys ...`.

Each function takes validated settings and a stream to report to, does one job, and returns the exit
code: 0 when everything is as it should be, 1 when something failed or needs attention, 3 when
another process holds the refresh lock. They work on the same store and keys directory as the
running gateway, whose workers pick up every change themselves.
"""

from __future__ import annotations

import json
import time
from typing import Any
from typing import TextIO

from gateway.errors import StoreUnavailable
from gateway.observability.audit import Audit
from gateway.settings.schema import Settings
from gateway.store import open_store
from gateway.trust import rollover as keys_rollover
from gateway.trust.keystore import generate_keys
from gateway.trust.keystore import load_keys
from gateway.trust.metadata_refresh import MetadataRefresher
from gateway.trust.metadata_refresh import Outcome
from gateway.trust.metadata_refresh import TrustedSource
from gateway.trust.rollover import RolloverRefused
from gateway.trust.rollover import iso
from gateway.trust.status import SourceReport
from gateway.trust.status import report

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BUSY = 3
# Metadata and key events name no citizen, so no pseudonym key is needed for them.
_AUDIT = Audit(b"")


def _refresher(settings: Settings) -> MetadataRefresher:
    sources = tuple(TrustedSource.of(source) for source in settings.saml.metadata)
    store = open_store(settings.store_url, settings.store_prefix)
    return MetadataRefresher(sources, store, settings.saml.metadata_refresh, _AUDIT)


def metadata_refresh(settings: Settings, out: TextIO, *, only: str | None = None, allow_older: bool = False) -> int:
    """Fetch, verify and install every source now (or the one named ``only``), under the store lock.

    ``allow_older`` installs a document even when it is older than the installed copy (after the
    operator has confirmed with the federation that the older publication is the right one).
    """
    refresher = _refresher(settings)
    if settings.store_url.startswith("memory://"):
        out.write("note: the in-process store is private to this command; a running gateway will not see it\n")
    code = EXIT_OK
    chosen = [s for s in refresher.sources if only in (None, s.label)]
    if not chosen:
        out.write(f"no metadata source named {only!r}\n" if only else "no metadata sources configured\n")
        return EXIT_FAILED
    for source in chosen:
        try:
            result = refresher.refresh(source, force=True, allow_older=allow_older)
        except StoreUnavailable:
            out.write(f"{source.label}: failed: the store cannot be reached\n")
            code = EXIT_FAILED
            continue
        if result.outcome is Outcome.FAILED:
            out.write(f"{source.label}: failed: {result.reason}; the installed copy stays in force\n")
            code = EXIT_FAILED
        elif result.outcome is Outcome.SKIPPED:
            out.write(f"{source.label}: skipped: {result.reason}\n")
            code = max(code, EXIT_BUSY)
        else:
            metadata = result.metadata
            entities = len(metadata.entities) if metadata else 0
            version = metadata.version[:16] if metadata else ""
            out.write(f"{source.label}: {result.outcome.value}: version {version}, {entities} entities\n")
    return code


def source_reports(settings: Settings, now: float) -> list[SourceReport]:
    """The facts about every source, from the shared store (or this host's disk cache)."""
    refresher = _refresher(settings)
    reports = []
    for source in refresher.sources:
        try:
            status = refresher.status(source)
        except StoreUnavailable:
            status = None
        installed = refresher.installed(source)
        reports.append(
            report(
                source,
                status,
                installed,
                settings.providers,
                window_days=settings.saml.metadata_refresh.expiry_warning_days,
                now=now,
            )
        )
    return reports


def metadata_status(settings: Settings, out: TextIO, *, as_json: bool = False) -> int:
    """Per source: last success, last failure and why, validUntil, entities, providers, expiring certificates.

    Exit 0 when every source has a valid copy and every configured provider is in one of them.
    """
    now = time.time()
    reports = source_reports(settings, now)
    if as_json:
        out.write(json.dumps([_as_dict(r) for r in reports], indent=1) + "\n")
    else:
        for item in reports:
            _write_report(out, item)
    if not reports and not as_json:
        out.write("no metadata sources configured\n")
    found = {provider for r in reports for provider in r.providers_found}
    missing = [p.id for p in settings.providers if p.id not in found]
    if missing and reports and not as_json:
        out.write(f"providers in no source: {', '.join(missing)}\n")
    valid = all(r.installed is not None and not r.installed.expired(now) for r in reports)
    return EXIT_OK if valid and not (missing and reports) else EXIT_FAILED


def _when(moment: float | None) -> str:
    return iso(moment) if moment else "never"


def _write_report(out: TextIO, item: SourceReport) -> None:
    status, installed = item.status, item.installed
    out.write(f"{item.label} ({item.location}, {'signed' if item.signed else 'UNSIGNED'})\n")
    out.write(f"  last success:  {_when(status.last_success)}\n")
    failure = f"{_when(status.last_failure)}" + (f" ({status.failure_reason})" if status.failure_reason else "")
    out.write(f"  last failure:  {failure}\n")
    out.write(f"  refreshes:     {status.refreshes} ok, {status.failures} failed; next {_when(status.next_refresh)}\n")
    if installed is None:
        out.write("  installed:     NONE: no valid metadata from this source\n")
    else:
        until = iso(installed.valid_until) if installed.valid_until else "not set"
        out.write(f"  installed:     version {installed.version[:16]}, {len(installed.entities)} entities\n")
        out.write(f"  validUntil:    {until}\n")
    out.write(f"  providers:     found {', '.join(item.providers_found) or '-'}")
    out.write(f"; missing {', '.join(item.providers_missing) or '-'}\n")
    for cert in item.expiring:
        out.write(
            f"  EXPIRING:      {cert.provider} {cert.use} certificate {cert.fingerprint[:16]} "
            f"not after {iso(cert.not_after)}\n"
        )


def _as_dict(item: SourceReport) -> dict[str, Any]:
    installed = item.installed
    return {
        "source": item.label,
        "location": item.location,
        "signed": item.signed,
        "last_success": item.status.last_success,
        "last_failure": item.status.last_failure,
        "failure_reason": item.status.failure_reason,
        "refreshes": item.status.refreshes,
        "failures": item.status.failures,
        "next_refresh": item.status.next_refresh,
        "version": installed.version if installed else None,
        "valid_until": installed.valid_until if installed else None,
        "entities": len(installed.entities) if installed else 0,
        "providers_found": list(item.providers_found),
        "providers_missing": list(item.providers_missing),
        "expiring": [
            {"provider": c.provider, "use": c.use, "fingerprint": c.fingerprint, "not_after": c.not_after}
            for c in item.expiring
        ],
    }


# -- the gateway's own keys ------------------------------------------------------------------------


def keys_status(settings: Settings, out: TextIO) -> int:
    """Each key's role, stage, algorithm, age and certificate validity; what the next step may be."""
    now = time.time()
    try:
        statuses = keys_rollover.key_status(settings.keys_dir)
    except FileNotFoundError as exc:
        out.write(f"{exc}\n")
        return EXIT_FAILED
    policy = settings.key_rollover
    for key in statuses:
        age_days = key.age(now) / 86400
        in_stage = now - key.since
        hint = ""
        if key.stage == "next":
            ready = in_stage >= policy.publish_before_activate
            hint = "may be activated" if ready else f"activate after {iso(key.since + policy.publish_before_activate)}"
        elif key.stage == "previous":
            ready = in_stage >= policy.grace_period
            hint = "may be retired" if ready else f"retire after {iso(key.since + policy.grace_period)}"
        out.write(
            f"{key.role:16} {key.stage:9} kid {key.kid}  {key.algorithm:14} age {age_days:6.1f} days  "
            f"in stage since {iso(key.since)}  cert until {iso(key.not_after)}  {hint}\n"
        )
    return EXIT_OK


def keys_generate(settings: Settings, out: TextIO, *, kind: str, stage: str) -> int:
    """Create the missing keys (never overwrites)."""
    generate_keys(settings.keys_dir, kind=kind, stage=stage)
    out.write(f"keys written to {settings.keys_dir}\n")
    return EXIT_OK


def keys_step(settings: Settings, out: TextIO, *, step: str, role: str, kind: str = "rsa", force: bool = False) -> int:
    """One rollover step for ``role``: ``rollover`` (create next), ``activate`` or ``retire``."""
    keys_dir = settings.keys_dir
    policy = settings.key_rollover
    try:
        if step == "rollover":
            key = keys_rollover.rollover(keys_dir, role, kind=kind)
            message, kid = "published as next; it signs nothing yet", key.kid
        elif step == "activate":
            key = keys_rollover.activate(keys_dir, role, wait=policy.publish_before_activate, force=force)
            message, kid = "is now active; the old key stays published and usable as previous", key.kid
        else:
            kid = keys_rollover.retire(keys_dir, role, grace=policy.grace_period, force=force)
            message = "retired: no longer published or used"
    except RolloverRefused as exc:
        out.write(f"refused: {exc}\n")
        return EXIT_FAILED
    _AUDIT.event(f"key {step}", role=role, kid=kid, forced=int(force))
    out.write(f"{role} key {kid} {message}\n")
    out.write("running workers pick this up within key_rollover.check_interval seconds\n")
    if role.startswith("saml") and step in ("rollover", "activate"):
        out.write("give the federation operator the new SP metadata: eid-gateway metadata sp\n")
    return EXIT_OK


def sp_metadata(settings: Settings, sp_id: str | None = None) -> str:
    """The SP metadata document (signed with the active SAML signing key) of the default or a further SP entity."""
    from dataclasses import replace

    from gateway.saml.sp import ServiceProvider

    if settings.development:
        generate_keys(settings.keys_dir)
    keys = load_keys(settings.keys_dir, settings.secret_key)
    entity_id, info = settings.saml.entity_id, settings.saml.sp_metadata
    if sp_id is not None:
        extra = next((s for s in settings.saml.service_providers if s.id == sp_id), None)
        if extra is None:
            raise LookupError(f"no SP entity {sp_id!r} in saml.service_providers")
        entity_id = extra.entity_id
        info = replace(info, entity_categories=extra.entity_categories or info.entity_categories)
    sp = ServiceProvider(
        entity_id=entity_id,
        base_url=settings.issuer,
        keys=keys,
        metadata_xml=(),
        clock_skew=settings.saml.clock_skew,
        metadata_info=info,
    )
    return sp.published_metadata
