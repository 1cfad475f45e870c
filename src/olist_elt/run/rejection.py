"""Rejecting raw objects a build or gate blamed, and readmitting them: the manifest
record changes status (the object itself never changes), audited, and the next build
is a full refresh so the rows leave (or return to) the incremental tables."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from olist_elt.errors import DbtStepFailed
from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.storage import lake_root, open_storage
from olist_elt.lake.verify import FORGET, READER, Unrecorded, read_records_and_trail
from olist_elt.quality.gates import GateFailed
from olist_elt.quality.reconcile import ReconciliationFailed
from olist_elt.run.state import require_full_refresh
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings

log = logging.getLogger(__name__)
QUALITY_GATE = "svc-quality-gate"
# Errors that mean the data did not pass (not that a service or the project failed).
DATA_FAILURES = (DbtStepFailed, GateFailed, ReconciliationFailed)


def _manifest(settings: Settings) -> Manifest:
    """The manifest as the quality gate's identity sees it (it may rewrite records)."""
    return Manifest(open_storage(settings, QUALITY_GATE))


def reject(
    settings: Settings, records: list[ManifestRecord], why: str, actor: str, run_id: str
) -> list[ManifestRecord]:
    """Mark raw objects rejected, so later builds read without them."""
    manifest = _manifest(settings)
    audit = AuditLog(settings.audit_path)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    reason = why[:2000]  # kept in the manifest and logged alike
    done = []
    for record in records:
        done.append(manifest.reject(record, reason, now))
        audit.append(actor, "raw.reject", record.object_key, "rejected", run_id=run_id)
        log.warning(
            "rejected raw object %s (%s); `olist-elt raw readmit %s` accepts it again",
            record.object_key,
            reason,
            record.sha256,
        )
    if done:
        require_full_refresh(settings, f"{len(done)} raw object(s) rejected")
    return done


def matching(settings: Settings, sha256_or_run_id: str, status: str) -> list[ManifestRecord]:
    """Raw objects with that status, chosen by sha256 or by the run that ingested them."""
    return [
        r
        for r in _manifest(settings).records()
        if r.status == status and sha256_or_run_id in (r.sha256, r.run_id)
    ]


def readmit(settings: Settings, sha256_or_run_id: str, actor: str) -> list[ManifestRecord]:
    """Accept again raw objects a gate rejected (by sha256 or run id); audited."""
    manifest = _manifest(settings)
    chosen = matching(settings, sha256_or_run_id, "rejected")
    audit = AuditLog(settings.audit_path)
    for record in chosen:
        manifest.update(
            record,
            # still rejected: an erasure meanwhile (status erased) stays erased
            lambda now: (
                replace(now, status="accepted", rejected_at=None, rejected_reason=None)
                if now.status == "rejected"
                else now
            ),
        )
        audit.append(actor, "raw.readmit", record.object_key, "accepted")
    if chosen:
        require_full_refresh(settings, f"{len(chosen)} raw object(s) readmitted")
    return chosen


def forget(settings: Settings, sha256: str, reason: str, actor: str) -> list[Unrecorded]:
    """Record, audited, that a landing whose object and manifest record were deleted
    outside olist-elt is lost for good: `raw verify` stops naming it, and the next
    build is a full refresh, so rows built from it leave the incremental tables."""
    storage = open_storage(settings, READER)
    audit = AuditLog(settings.audit_path)
    _, gone = read_records_and_trail(storage, audit)
    lost = [u for u in gone if u.sha256 == sha256]
    for u in lost:
        audit.append(
            actor,
            FORGET,
            u.object_key,
            "lost",
            sha256=u.sha256,
            lake=lake_root(storage),
            reason=reason[:2000],
        )
    if lost:
        require_full_refresh(settings, f"{len(lost)} raw object(s) lost")
    return lost
