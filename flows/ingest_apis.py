"""Prefect flow `ingest_apis`: BCB series and OpenWeather capitals into raw."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import prefect_step
from prefect import flow, get_run_logger

from olist_elt.pipeline import API_SOURCES, new_run_id
from olist_elt.pipeline import ingest_apis as ingest_apis_step
from olist_elt.settings import get_settings


@flow(name="ingest_apis")
def ingest_apis(sources: list[str] | None = None) -> dict[str, int]:
    """Run the API connectors named in sources (default both: bcb, openweather);
    sample answers unless OLIST_APIS=live."""
    chosen = tuple(sources or API_SOURCES)
    counts = prefect_step(
        "ingest apis", lambda: ingest_apis_step(get_settings(), new_run_id(), chosen)
    )
    get_run_logger().info("new rows: %s", counts)
    return counts


if __name__ == "__main__":
    ingest_apis()
