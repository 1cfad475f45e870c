"""Prefect flow `raw_verify`: every raw object read back against its manifest record.

The raw zone is immutable; this weekly check finds an object deleted or rewritten
outside olist-elt even where no run reads it again (a run reads back only what
another process landed since the last good run). A difference fails the flow run,
is audited and alerted (event raw_changed); nothing is rejected."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import flow_settings, prefect_step
from prefect import flow, get_run_logger

from olist_elt.lake.verify import verify_lake
from olist_elt.run.steps import Kind, Step


@flow(name="raw_verify")
def raw_verify() -> int:
    """Read back every raw object, cold ones too; returns how many were read."""
    settings = flow_settings()
    step = Step("verify raw objects", Kind.IO, lambda: verify_lake(settings, "prefect"))
    checked = prefect_step(step, step.fn)
    get_run_logger().info("raw zone OK: %d raw objects read back, each as ingested", checked)
    return checked


if __name__ == "__main__":
    raw_verify()
