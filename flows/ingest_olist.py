"""Prefect flow `ingest_olist`: the official Olist CSV connector into raw."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import flow_settings, prefect_step
from prefect import flow, get_run_logger

from olist_elt.lake.lander import IngestResult
from olist_elt.run.inputs import ensure_sample
from olist_elt.run.inputs import ingest_olist as ingest_step
from olist_elt.run.record import new_run_id
from olist_elt.run.steps import Kind, Step


@flow(name="ingest_olist")
def ingest_olist(source: str | None = None) -> IngestResult:
    """Ingest a folder, .zip or URL into raw: the source given, else OLIST_SOURCE, else
    the generated sample."""
    logger = get_run_logger()
    settings = flow_settings()
    src = source or settings.source
    if src is None:
        sample = Step("sample", Kind.IO, lambda: ensure_sample(settings))
        src = prefect_step(sample, sample.fn)
    step = Step("ingest olist", Kind.IO, lambda: ingest_step(settings, src, new_run_id()))
    result = prefect_step(step, step.fn)
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
