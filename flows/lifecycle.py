"""Prefect flow `lifecycle`: raw objects past retention move to the cold zone."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import flow_settings, prefect_step
from prefect import flow, get_run_logger

from olist_elt.lake.lifecycle import run_lifecycle
from olist_elt.run.steps import Kind, Step

# A run holding the lake (the daily one, a backfill) is waited for this long: the
# weekly move is not skipped for a week because a run was still going.
LOCK_WAIT_SECONDS = 2 * 3600


@flow(name="lifecycle")
def lifecycle(older_than_days: int | None = None) -> int:
    """Move raw objects older than the retention to cold; returns how many moved."""
    settings = flow_settings()
    step = Step(
        "move raw to cold",
        Kind.IO,
        lambda: run_lifecycle(settings, older_than_days, wait=LOCK_WAIT_SECONDS),
    )
    moves = prefect_step(step, step.fn)
    get_run_logger().info(
        "moved %d raw objects (%d bytes) to cold", len(moves), sum(m.bytes for m in moves)
    )
    return len(moves)


if __name__ == "__main__":
    lifecycle()
