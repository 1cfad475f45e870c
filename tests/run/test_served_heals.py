"""A served gold that heals itself: a run with unchanged inputs checks the lake and
what it serves against what the last good run left (row counts, content checksums)
and builds and publishes again when anything differs; a changed setting that shapes
the build is a change."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.settings import Settings

pytestmark = pytest.mark.slow


def _hand_edit(database: Path, *statements: str) -> None:
    """Statements run on a DuckDB file by hand, outside the pipeline."""
    con = duckdb.connect(str(database))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def test_a_damaged_served_file_is_rebuilt_by_the_next_unchanged_run(
    built: tuple[Settings, RunSummary], built_copy: Settings, sample_dir: Path
) -> None:
    workspace, first = built_copy, built[1]  # one good run behind it
    assert first.outcome == "success"
    _hand_edit(  # someone's hand edit on what BI reads
        workspace.warehouse_path,
        "drop table gold.dim_seller",
        "delete from gold.fct_orders where order_id in "
        "(select order_id from gold.fct_orders limit 5)",
    )

    second = run_pipeline(workspace, sample_dir)

    assert second.outcome == "success" and not second.skipped_build
    assert second.served_repairs == [
        "gold.dim_seller is missing",
        f"gold.fct_orders holds {first.layer_rows['gold']['fct_orders'] - 5} rows, "
        f"{first.layer_rows['gold']['fct_orders']} published",
    ]
    assert "publish gold" in [s.name for s in second.steps]
    assert second.layer_rows["gold"] == first.layer_rows["gold"]

    third = run_pipeline(workspace, sample_dir)  # whole again: nothing to rebuild
    assert third.skipped_build and not third.served_repairs


def test_an_edited_value_and_rows_gone_from_silver_are_rebuilt_from_raw(
    built: tuple[Settings, RunSummary], built_copy: Settings, sample_dir: Path
) -> None:
    workspace, first = built_copy, built[1]
    silver_orders = first.layer_rows["silver"]["silver_orders"]
    _hand_edit(  # the same number of rows, one value changed
        workspace.warehouse_path,
        "update gold.fct_orders set payment_brl = payment_brl + 1 "
        "where order_id = (select min(order_id) from gold.fct_orders)",
    )
    _hand_edit(  # rows gone from an incremental lake layer, which a later build would not read
        workspace.build_database,
        "delete from silver.silver_orders where order_id in "
        "(select order_id from silver.silver_orders order by order_id limit 3)",
    )

    second = run_pipeline(workspace, sample_dir)

    assert second.outcome == "success" and not second.skipped_build
    assert second.served_repairs == [
        f"silver.silver_orders holds {silver_orders - 3} rows, {silver_orders} when gated",
        "gold.fct_orders holds other rows than were published",
    ]
    assert second.full_refresh and "lake layers differ" in second.full_refresh
    assert second.layer_rows == first.layer_rows
    assert {"gate silver", "gate gold", "publish gold"} <= {s.name for s in second.steps}
    third = run_pipeline(workspace, sample_dir)
    assert third.skipped_build and not third.served_repairs


def test_switching_the_apis_off_is_a_change_the_next_run_builds(
    built_copy: Settings, sample_dir: Path
) -> None:
    off = built_copy.model_copy(update={"apis": "off"})

    summary = run_pipeline(off, sample_dir)

    assert summary.outcome == "success" and not summary.skipped_build
    assert "fct_weather_daily" not in summary.layer_rows["gold"]
    assert run_pipeline(off, sample_dir).skipped_build
