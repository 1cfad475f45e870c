"""Prefect flow `ingest_stream`: drain the order-events subject into raw."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import prefect_step
from prefect import flow, get_run_logger

from olist_elt.connectors.stream import OrderEventsConnector, consume, run
from olist_elt.pipeline import lake_writer, new_run_id
from olist_elt.security.audit import AuditLog
from olist_elt.security.vault import open_vault
from olist_elt.settings import get_settings


@flow(name="ingest_stream")
def ingest_stream(batch_size: int = 500) -> int:
    """Consume order events in micro-batches; returns events newly written to raw."""
    logger = get_run_logger()
    settings = get_settings()
    password = open_vault(settings, AuditLog(settings.audit_path)).get(
        "stream_connector_password", actor=settings.stream_user
    )
    result = prefect_step(
        "ingest stream",
        lambda: run(
            consume(
                settings.stream_servers,
                settings.stream_user,
                password,
                writer=lake_writer(settings, OrderEventsConnector.service_identity),
                run_id=new_run_id(),
                batch_size=batch_size,
            )
        ),
    )
    logger.info(
        "%d events written, %d redelivered, %d rejected",
        result.written,
        result.redelivered,
        result.rejected,
    )
    return result.written


if __name__ == "__main__":
    ingest_stream()
