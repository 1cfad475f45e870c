"""Prefect flow `elt_pipeline`: ingest -> dbt bronze -> silver -> gold, one task per step."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import prefect_step
from prefect import flow, get_run_logger

from olist_elt.pipeline import RunSummary, run_backfill, run_pipeline
from olist_elt.settings import get_settings


@flow(name="elt_pipeline")
def elt_pipeline(
    source: str | None = None,
    scale: float = 1.0,
    seed: int = 42,
    target: str = "local",
    full_refresh: bool = False,
    from_date: date | None = None,
    to_date: date | None = None,
) -> RunSummary:
    """The whole pipeline; a failed step (dbt error, failed test, gate) fails the flow.
    from_date and to_date (both) replay those ingest dates, as `olist-elt run --from
    --to` does; the last day's summary is returned."""
    logger = get_run_logger()
    settings = get_settings().model_copy(
        update={"sample_scale": scale, "sample_seed": seed, "target": target}
    )
    if from_date is not None or to_date is not None:
        if from_date is None or to_date is None:
            raise ValueError("a backfill needs both from_date and to_date")
        days = run_backfill(
            settings,
            from_date,
            to_date,
            run_step=prefect_step,
            orchestrator="prefect",
            on_step=lambda name: logger.info("step: %s", name),
        )
        return days[-1]
    summary = run_pipeline(
        settings,
        source,
        run_step=prefect_step,
        orchestrator="prefect",
        on_step=lambda name: logger.info("step: %s", name),
        full_refresh=full_refresh,
    )
    for layer, tables in summary.layer_rows.items():
        logger.info("%s: %s", layer, ", ".join(f"{t}={n}" for t, n in tables.items()))
    return summary


if __name__ == "__main__":
    elt_pipeline()
