"""Prefect flow `ingest_olist`: the official Olist CSV connector into raw."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import prefect_step
from prefect import flow, get_run_logger

from olist_elt.connectors.olist import IngestResult
from olist_elt.pipeline import ensure_sample, ingest, new_run_id
from olist_elt.settings import get_settings


@flow(name="ingest_olist")
def ingest_olist(source: str | None = None) -> IngestResult:
    """Ingest a folder, .zip or URL (default: the generated sample) into raw."""
    logger = get_run_logger()
    settings = get_settings()
    src = source or prefect_step("sample", lambda: ensure_sample(settings))
    result = prefect_step("ingest olist", lambda: ingest(settings, src, new_run_id()))
    logger.info(
        "ingested %d files (%d rows), %d duplicates, %d quarantined",
        len(result.ingested),
        result.rows_ingested,
        len(result.duplicates),
        len(result.quarantined),
    )
    for q in result.quarantined:
        logger.warning("quarantined %s: %s: %s", q.file, q.reason, q.detail)
    return result


if __name__ == "__main__":
    ingest_olist()
