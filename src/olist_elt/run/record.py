"""The run record: what one run did, step by step, kept in the lake (runs/<run_id>.json)
from the moment it starts, so a killed run still shows."""

from __future__ import annotations

import json
import resource
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from olist_elt.lake.storage import LocalStorage
from olist_elt.settings import Settings

RUNS = "runs"


@dataclass
class StepRecord:
    """What one step did: its kind, wall and CPU seconds, peak memory so far, rows."""

    name: str
    started_at: str
    seconds: float
    outcome: str
    rows: int | None = None
    detail: str | None = None
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    error_class: str | None = None
    kind: str | None = None
    layer: str | None = None
    profile: dict[str, Any] | None = None


@dataclass
class RunSummary:
    """One pipeline run: its steps, rows per layer, outcome."""

    run_id: str
    target: str
    orchestrator: str
    started_at: str
    finished_at: str | None = None
    outcome: str = "running"
    error: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    layer_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    skipped_build: str | None = None
    dashboards: dict[str, Any] = field(default_factory=dict)
    # Per incremental bronze model: raw objects and rows this run read.
    incremental: dict[str, dict[str, int]] = field(default_factory=dict)
    full_refresh: str | None = None
    as_of: str | None = None
    reconciliation: dict[str, Any] = field(default_factory=dict)
    error_class: str | None = None
    # Per connector: files or messages accepted, duplicates, quarantined, refused, retried.
    connectors: dict[str, dict[str, int]] = field(default_factory=dict)
    freshness: list[dict[str, Any]] = field(default_factory=list)
    history: str | None = None
    alerts: list[str] = field(default_factory=list)
    # The step that failed (or was running when the run stopped).
    failing_step: str | None = None
    failing_kind: str | None = None
    # The audit log's signed head after this run's record (records, head, hmac).
    audit_head: dict[str, Any] | None = None
    # How the lake or the served gold differed from what the last good run left (this
    # run rebuilt them), found when its inputs were unchanged.
    served_repairs: list[str] = field(default_factory=list)
    # Raw objects this run found a failure was due to, and rejected.
    rejected: list[dict[str, str]] = field(default_factory=list)
    # The gates as they failed before those objects were rejected (the build without
    # them is in `gates`).
    gates_before_rejection: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        """The summary as JSON."""
        return json.dumps(asdict(self), indent=1, default=str)

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data (what the ops tables and alerts read)."""
        return json.loads(self.to_json())


def new_run_id() -> str:
    """A sortable, unique run id."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def utc_now() -> str:
    """Now, UTC, to the second, as ISO text."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def record_path(settings: Settings, run_id: str) -> Path:
    """Where a run's record lives."""
    return settings.lake_dir / RUNS / f"{run_id}.json"


def save_summary(settings: Settings, summary: RunSummary) -> Path:
    """Keep the run's summary in the lake (runs/<run_id>.json), atomically."""
    LocalStorage(settings.lake_dir).put_bytes(
        f"{RUNS}/{summary.run_id}.json", summary.to_json().encode("utf-8")
    )
    return record_path(settings, summary.run_id)


def save_record(settings: Settings, record: dict[str, Any]) -> Path:
    """Rewrite a run record read back as plain data."""
    LocalStorage(settings.lake_dir).put_bytes(
        f"{RUNS}/{record['run_id']}.json", json.dumps(record, indent=1).encode("utf-8")
    )
    return record_path(settings, record["run_id"])


def load_records(settings: Settings, last: int | None = None) -> list[dict[str, Any]]:
    """Run records, newest first (a run still marked running whose process is gone
    is reported by the caller as interrupted)."""
    folder = settings.lake_dir / RUNS
    paths = sorted(folder.glob("2*.json"), reverse=True) if folder.is_dir() else []
    return [json.loads(p.read_text()) for p in paths[:last]]
