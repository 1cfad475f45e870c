"""Quarantine: rejected input with a machine-readable reason, never in raw."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from olist_elt.lake.storage import Storage
from olist_elt.security.audit import AuditLog


def _record_reason(
    storage: Storage,
    audit: AuditLog,
    key: str,
    *,
    source: str,
    run_id: str,
    name: str,
    reason: str,
    detail: str,
    actor: str,
) -> str:
    """Write <key>.reason.json next to a quarantined object and audit it."""
    payload = {
        "source": source,
        "run_id": run_id,
        "file": name,
        "reason": reason,
        "detail": detail,
        "quarantined_at": datetime.now(UTC).isoformat(),
    }
    storage.put_bytes(f"{key}.reason.json", json.dumps(payload, indent=1).encode("utf-8"))
    audit.append(actor, "quarantine", key, "rejected", reason=reason, detail=detail)
    return key


def quarantine_file(
    storage: Storage,
    audit: AuditLog,
    *,
    source: str,
    run_id: str,
    file: Path,
    reason: str,
    detail: str,
    actor: str,
) -> str:
    """Copy a rejected file to quarantine/<source>/<run_id>/ with <file>.reason.json."""
    key = f"quarantine/{source}/{run_id}/{file.name}"
    storage.put_file(key, file)
    return _record_reason(
        storage,
        audit,
        key,
        source=source,
        run_id=run_id,
        name=file.name,
        reason=reason,
        detail=detail,
        actor=actor,
    )


def quarantine_bytes(
    storage: Storage,
    audit: AuditLog,
    *,
    source: str,
    run_id: str,
    name: str,
    data: bytes,
    reason: str,
    detail: str,
    actor: str,
) -> str:
    """Quarantine a rejected payload (a message, an API answer) with its reason."""
    key = f"quarantine/{source}/{run_id}/{name}"
    storage.put_bytes(key, data)
    return _record_reason(
        storage,
        audit,
        key,
        source=source,
        run_id=run_id,
        name=name,
        reason=reason,
        detail=detail,
        actor=actor,
    )
