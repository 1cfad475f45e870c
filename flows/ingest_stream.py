"""Prefect flow `ingest_stream`: drain the order-events subject into raw."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import flow_settings, prefect_step
from prefect import flow, get_run_logger

from olist_elt.run.inputs import consume_stream
from olist_elt.run.record import new_run_id
from olist_elt.run.steps import Kind, Step
from olist_elt.security.audit import AuditLog
from olist_elt.security.vault import open_vault


@flow(name="ingest_stream")
def ingest_stream(batch_size: int = 500) -> int:
    """Consume order events in micro-batches; returns events newly written to raw."""
    settings = flow_settings()
    password = open_vault(settings, AuditLog(settings.audit_path)).get(
        "stream_connector_password", actor=settings.stream_user
    )
    step = Step(
        "ingest stream",
        Kind.IO,
        lambda: consume_stream(settings, new_run_id(), password, batch_size=batch_size),
    )
    stats = prefect_step(step, step.fn)
    get_run_logger().info(
        "%d events written, %d redelivered, %d rejected",
        stats.written,
        stats.redelivered,
        stats.rejected,
    )
    return stats.written


if __name__ == "__main__":
    ingest_stream()
