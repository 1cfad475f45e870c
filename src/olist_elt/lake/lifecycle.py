"""Lifecycle: raw objects older than N days move to the cold zone, verified, audited.

Each move copies the object to cold/<raw key>, checks the copy's sha256 against the
manifest, points the manifest record at the cold copy, and only then deletes the
raw object. Bronze reads whatever key the manifest names, so it rebuilds from cold.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from olist_elt.errors import OlistEltError
from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.storage import Storage
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings

log = logging.getLogger(__name__)
ACTOR = "svc-lifecycle"


class LifecycleError(OlistEltError):
    """A move to cold could not be verified; the raw object was kept."""


@dataclass(frozen=True)
class Move:
    """One object moved to cold."""

    source_key: str
    cold_key: str
    sha256: str
    bytes: int


def _ingested(record: ManifestRecord) -> datetime:
    """The record's ingestion time as an aware UTC datetime."""
    at = datetime.fromisoformat(record.ingested_at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def due_for_cold(
    manifest: Manifest, older_than_days: int, now: datetime | None = None
) -> list[ManifestRecord]:
    """Raw-zone records ingested more than older_than_days ago (not the erased ones:
    their bytes are gone, their new version moves on its own)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    return [
        r
        for r in manifest.records()
        if r.zone == "raw" and r.status != "erased" and _ingested(r) < cutoff
    ]


def move_to_cold(
    storage: Storage,
    audit: AuditLog,
    older_than_days: int,
    now: datetime | None = None,
) -> list[Move]:
    """Move every raw object older than the limit to cold; verify before deleting."""
    manifest = Manifest(storage)
    moves: list[Move] = []
    for record in due_for_cold(manifest, older_than_days, now):
        cold_key = f"cold/{record.object_key}"
        storage.copy(record.object_key, cold_key)
        copied = storage.sha256(cold_key)
        if copied != record.sha256:
            storage.delete(cold_key)
            audit.append(
                ACTOR,
                "lifecycle.move",
                record.object_key,
                "failed",
                why="sha256 mismatch after copy",
            )
            raise LifecycleError(
                f"copy of {record.object_key} to cold does not match its sha256 "
                f"({copied} != {record.sha256}); the raw object was kept"
            )
        # the record as it is now: a rejection meanwhile keeps its status
        manifest.update(record, lambda now, key=cold_key: replace(now, zone="cold", object_key=key))
        storage.delete(record.object_key)
        audit.append(
            ACTOR, "lifecycle.move", record.object_key, "ok", to=cold_key, sha256=record.sha256
        )
        log.info("moved %s to %s", record.object_key, cold_key)
        moves.append(Move(record.object_key, cold_key, record.sha256, record.bytes))
    return moves


def run_lifecycle(
    settings: Settings, older_than_days: int | None = None, wait: float = 0
) -> list[Move]:
    """Move the configured lake's raw objects past retention to the cold zone. Not
    under a run, which may be reading them (a full refresh reads every object): it
    waits up to `wait` seconds for a run that holds the lake to end, then raises
    RunLocked naming it; nothing is moved."""
    from olist_elt.lake.storage import open_storage
    from olist_elt.run.lock import run_lock

    if older_than_days is not None and older_than_days < 0:
        raise LifecycleError(f"older_than_days must be 0 or more, not {older_than_days}")

    with run_lock(settings, f"lifecycle {secrets.token_hex(3)}", wait=wait):
        return move_to_cold(
            open_storage(settings, "svc-lifecycle"),
            AuditLog(settings.audit_path),
            settings.raw_retention_days if older_than_days is None else older_than_days,
        )
