"""After every run: its history into the ops schema next to the served gold, and an
alert when it failed or a source is stale. Neither may hide the run's own outcome."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from olist_elt.ops.alerts import Alert, advice_for, send_alert
from olist_elt.settings import Settings

if TYPE_CHECKING:
    from olist_elt.run.record import RunSummary
    from olist_elt.targets.base import Target

log = logging.getLogger(__name__)


def write_history(target: Target, summary: RunSummary) -> str | None:
    """The run in the ops schema; None (logged) when the database is what failed."""
    try:
        return target.record_history(summary.to_dict())
    except Exception as exc:  # the lake record stays; the database may be the failure
        log.error("run history not written to the ops schema: %s", type(exc).__name__)
        return None


def after_run(settings: Settings, target: Target, summary: RunSummary) -> None:
    """History, then alerts for a failed run or a stale source."""
    summary.history = write_history(target, summary)
    stale = [f for f in summary.freshness if f["status"] in ("stale", "missing")]
    failed = summary.outcome == "failed"
    if not failed and not stale and not summary.rejected:
        return
    stale_only = stale and (not failed or summary.error_class == "SourcesStale")
    event = "sources_stale" if stale_only else "run_failed" if failed else "batch_rejected"
    message = summary.error or "; ".join(f"{f['source']} is {f['status']}" for f in stale)
    if event == "batch_rejected":
        message = "; ".join(f"rejected {r['object']}: {r['reason']}" for r in summary.rejected)
    summary.alerts = send_alert(
        settings,
        Alert(
            event=event,
            run_id=summary.run_id,
            target=summary.target,
            failing_step=summary.failing_step if failed else None,
            error_class=summary.error_class,
            message=message,
            what_to_do=advice_for(
                summary.failing_kind if failed else "gate",
                "SourcesStale" if event == "sources_stale" else summary.error_class,
            ),
            run_record=str(settings.lake_dir / "runs" / f"{summary.run_id}.json"),
            stale_sources=stale,
        ),
    )
