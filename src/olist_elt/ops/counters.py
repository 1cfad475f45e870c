"""Per connector and run: objects accepted (and their rows), duplicates, quarantined
files, writes the raw writer refused, HTTP retries."""

from __future__ import annotations

from olist_elt.lake.manifest import ManifestRecord
from olist_elt.lake.quarantine import REASON_SUFFIX
from olist_elt.lake.storage import open_storage
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings

KEYS = ("accepted", "rows_accepted", "duplicates", "quarantined", "refused", "retried")


def _counter() -> dict[str, int]:
    return dict.fromkeys(KEYS, 0)


def connector_counters(
    settings: Settings,
    records: list[ManifestRecord],
    run_id: str,
    since: str,
    retried: dict[str, int],
) -> dict[str, dict[str, int]]:
    """The counters of one run; retried is what the API connectors reported."""
    mine = [r for r in records if r.run_id == run_id]
    out: dict[str, dict[str, int]] = {}
    for source in sorted({r.source for r in mine} | {"olist"}):
        accepted = [r for r in mine if r.source == source]
        out[source] = _counter() | {
            "accepted": len(accepted),
            "rows_accepted": sum(r.rows or 0 for r in accepted),
        }
    storage = open_storage(settings, "svc-transformer")
    for source, counts in out.items():
        counts["quarantined"] = sum(
            k.endswith(REASON_SUFFIX) for k in storage.list(f"quarantine/{source}/{run_id}")
        )
    for record in AuditLog(settings.audit_path).records():
        if (
            record.get("action") == "raw.write"
            and record.get("outcome") == "refused"
            and str(record.get("ts", "")) >= since
        ):
            parts = str(record.get("object", "")).split("/")
            source = parts[1] if len(parts) > 1 else "unknown"
            out.setdefault(source, _counter())["refused"] += 1
    for source, n in retried.items():
        if n:
            out.setdefault(source, _counter())["retried"] += n
    return out
