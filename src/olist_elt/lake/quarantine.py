"""Quarantine: refused input with a machine-readable reason, never in raw."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from olist_elt.lake.storage import Storage
from olist_elt.security.audit import AuditLog, bounded_text

# what a quarantined file's reason is kept as: <its key><REASON_SUFFIX>
REASON_SUFFIX = ".reason.json"


def quarantine(
    storage: Storage,
    audit: AuditLog,
    *,
    source: str,
    run_id: str,
    name: str,
    reason: str,
    detail: str,
    actor: str,
    path: Path | None = None,
    data: bytes | None = None,
) -> str:
    """Keep refused input (a file or a payload) under quarantine/<source>/<run_id>/ with
    <name>.reason.json beside it; audited. Returns its key. Input whose own name ends
    as a reason's does is kept as <name>.file: it can neither overwrite the reason of
    the file it is named after nor be counted or skipped as a reason."""
    detail = bounded_text(detail, 1024)
    key = f"quarantine/{source}/{run_id}/{name}"
    if key.endswith(REASON_SUFFIX):
        key = f"{key}.file"
    if path is not None:
        storage.put_file(key, path)
    elif data is not None:
        storage.put_bytes(key, data)
    payload = {
        "source": source,
        "run_id": run_id,
        "file": name,
        "reason": reason,
        "detail": detail,
        "quarantined_at": datetime.now(UTC).isoformat(),
    }
    storage.put_bytes(f"{key}{REASON_SUFFIX}", json.dumps(payload, indent=1).encode("utf-8"))
    audit.append(actor, "quarantine", key, "rejected", reason=reason, detail=detail)
    return key
