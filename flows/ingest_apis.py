"""Prefect flow `ingest_apis`: BCB series and OpenWeather capitals into raw."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import flow_settings, prefect_step
from prefect import flow, get_run_logger

from olist_elt.run.inputs import API_SOURCES
from olist_elt.run.inputs import ingest_apis as ingest_apis_step
from olist_elt.run.record import new_run_id
from olist_elt.run.steps import Kind, Step


@flow(name="ingest_apis")
def ingest_apis(sources: list[str] | None = None) -> dict[str, int]:
    """Run the API connectors named in sources (default both: bcb, openweather);
    sample answers unless OLIST_APIS=live. Returns new rows per source."""
    settings = flow_settings()
    chosen = tuple(sources or API_SOURCES)
    step = Step("ingest apis", Kind.IO, lambda: ingest_apis_step(settings, new_run_id(), chosen))
    counts = {name: s["rows"] for name, s in prefect_step(step, step.fn).items()}
    get_run_logger().info("new rows: %s", counts)
    return counts


if __name__ == "__main__":
    ingest_apis()
