"""The whole pipeline on the sample: the star schema, its keys, and each quirk's fate."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pytest

from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.sample import OLIST_FILES
from olist_elt.settings import REPO_ROOT, Settings
from tests.conftest import build_tables

pytestmark = pytest.mark.slow

GOLD = {
    "fct_orders": "order_id",
    "fct_order_items": "order_item_key",
    "fct_payments": "payment_key",
    "fct_reviews": "review_key",
    "dim_customer": "customer_id",
    "dim_seller": "seller_id",
    "dim_product": "product_id",
    "dim_geography": "zip_code_prefix",
    "dim_date": "date_day",
}


def _csv(sample_dir: Path, dataset: str) -> list[dict[str, str]]:
    with open(sample_dir / OLIST_FILES[dataset].file_name, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchone()[0]


def test_run_builds_every_gold_table_with_rows(
    built: tuple[Settings, RunSummary], warehouse: duckdb.DuckDBPyConnection
) -> None:
    _, summary = built
    assert summary.outcome == "success"
    assert set(GOLD) <= set(summary.layer_rows["gold"])
    for table in GOLD:
        assert _one(warehouse, f"select count(*) from gold.{table}") > 0, table
    names = [s.name for s in summary.steps]
    assert names == [
        "ingest olist",
        "ingest apis",
        "dbt parse",
        "clean up leftovers",
        "freshness",
        "dbt build bronze",
        "gate bronze",
        "dbt build silver",
        "gate silver",
        "dbt build gold",
        "gate gold",
        "reconcile",
        "publish gold",
        "render dashboards",
    ]
    assert {layer: g["failed"] for layer, g in summary.gates.items()} == {
        "bronze": [],
        "silver": [],
        "gold": [],
    }
    assert all(s.seconds >= 0 and s.outcome == "ok" for s in summary.steps)
    # the served file is gold's one published copy: none is kept in the build database
    assert build_tables(built[0], "gold") == []
    assert set(build_tables(built[0], "gold_staging")) == set(summary.layer_rows["gold"])


def test_dbt_logs_in_the_runs_workspace_not_in_the_project_folder(
    built: tuple[Settings, RunSummary],
) -> None:
    """dbt's own log (debug level, every statement) goes beside the run's artifacts:
    the project folder is shared by every workspace and deployment of an install."""
    settings, _ = built
    (log,) = settings.dbt_target_path.glob("pipeline-*/logs/dbt.log")
    text = log.read_text(encoding="utf-8")
    assert str(settings.lake_dir) in text  # this workspace's lake, in its models' SQL
    # each dbt command's section opens with its invocation id: parse and every build
    invocations = set(re.findall(r"^=+ [0-9:.]+ \| ([0-9a-f-]{36}) =+$", text, re.M))
    assert len(invocations) >= 4, invocations
    for shared in (REPO_ROOT / "dbt_project" / "logs").glob("dbt.log*"):
        in_project = shared.read_text(encoding="utf-8", errors="replace")
        assert not {i for i in invocations if i in in_project}, shared


@pytest.mark.parametrize("table,key", sorted(GOLD.items()))
def test_star_schema_keys_are_unique_and_present(
    warehouse: duckdb.DuckDBPyConnection, table: str, key: str
) -> None:
    total, distinct, nulls = warehouse.execute(
        f"select count(*), count(distinct {key}), count(*) - count({key}) from gold.{table}"
    ).fetchone()
    assert total == distinct and nulls == 0


def test_facts_point_at_existing_dimension_rows(warehouse: duckdb.DuckDBPyConnection) -> None:
    orphans = {
        "items->product": """select count(*) from gold.fct_order_items f
            left join gold.dim_product d using (product_id) where d.product_id is null""",
        "items->seller": """select count(*) from gold.fct_order_items f
            left join gold.dim_seller d using (seller_id) where d.seller_id is null""",
        "orders->customer": """select count(*) from gold.fct_orders f
            left join gold.dim_customer d using (customer_id) where d.customer_id is null""",
        "orders->date": """select count(*) from gold.fct_orders f
            left join gold.dim_date d on d.date_day = f.purchase_date where d.date_day is null""",
        "payments->orders": """select count(*) from gold.fct_payments f
            left join gold.fct_orders o using (order_id) where o.order_id is null""",
    }
    assert {k: _one(warehouse, q) for k, q in orphans.items()} == dict.fromkeys(orphans, 0)


def test_every_source_row_reaches_bronze(
    warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    for dataset in OLIST_FILES:
        expected = len(_csv(sample_dir, dataset))
        got = _one(warehouse, f"select count(*) from bronze.bronze_olist__{dataset}")
        assert got == expected, dataset


def test_review_with_embedded_newline_keeps_its_text(
    warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    source = next(
        r
        for r in _csv(sample_dir, "order_reviews")
        if "\n" in r["review_comment_message"]
        and "@" not in r["review_comment_message"]
        and not re.search(r"\d{4}", r["review_comment_message"])
    )
    got = _one(
        warehouse,
        "select comment_message from silver.silver_reviews where review_id = ? and order_id = ?",
        [source["review_id"], source["order_id"]],
    )
    assert got == source["review_comment_message"]
    assert "\n" in got


def test_reused_review_ids_are_kept_once_per_order(
    warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    pairs = {(r["review_id"], r["order_id"]) for r in _csv(sample_dir, "order_reviews")}
    assert _one(warehouse, "select count(*) from silver.silver_reviews") == len(pairs)
    reused = _one(
        warehouse,
        """select count(*) from (select review_id from silver.silver_reviews
           group by 1 having count(distinct order_id) > 1)""",
    )
    assert reused > 0


def test_zip_prefixes_come_out_as_five_digit_text_either_way(
    warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    raw_short = {g["geolocation_zip_code_prefix"] for g in _csv(sample_dir, "geolocation")}
    short = sorted(z for z in raw_short if len(z) == 4)[0]
    assert (
        _one(
            warehouse,
            "select count(*) from gold.dim_geography where zip_code_prefix = ?",
            ["0" + short],
        )
        == 1
    )
    lengths = warehouse.execute(
        """select distinct length(zip_code_prefix) from gold.dim_geography
           union select distinct length(zip_code_prefix) from gold.dim_seller"""
    ).fetchall()
    assert lengths == [(5,)]


def test_bom_does_not_reach_a_column_name(warehouse: duckdb.DuckDBPyConnection) -> None:
    columns = [
        c
        for (c,) in warehouse.execute(
            """select column_name from information_schema.columns
               where table_schema in ('bronze', 'silver', 'gold')"""
        ).fetchall()
    ]
    assert not [c for c in columns if "\ufeff" in c]
    assert "product_category_name" in columns


def test_categories_are_translated_including_the_two_missing_ones(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    untranslated = _one(
        warehouse,
        """select count(*) from gold.dim_product
           where category_name_en = category_name_pt and category_name_pt not in
           ('audio', 'cool_stuff', 'consoles_games', 'pet_shop', 'market_place',
            'la_cuisine', 'dvds_blu_ray', 'pc_gamer')""",
    )
    assert untranslated == 0
    assert (
        _one(
            warehouse,
            "select count(*) from gold.dim_product where category_name_en = 'uncategorized'",
        )
        > 0
    )


def test_geolocation_drops_duplicates_and_points_outside_brazil(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    assert _one(warehouse, "select max(latitude) from gold.dim_geography") < 6
    cities = {c for (c,) in warehouse.execute("select city from gold.dim_geography").fetchall()}
    assert "sao paulo" in cities and "são paulo" not in cities


def test_timestamps_are_utc_and_lateness_is_flagged(
    warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    order = _csv(sample_dir, "orders")[0]
    purchased = _one(
        warehouse,
        "select purchased_at from gold.fct_orders where order_id = ?",
        [order["order_id"]],
    )
    local = duckdb.sql(
        f"select timezone('UTC', timestamp '{order['order_purchase_timestamp']}' "
        "at time zone 'America/Sao_Paulo')"
    ).fetchone()[0]
    assert purchased == local
    late, delivered = warehouse.execute(
        "select count(*) filter (where is_late), count(*) filter (where is_delivered) "
        "from gold.fct_orders"
    ).fetchone()
    assert 0 < late < delivered


def test_no_raw_customer_identifier_reaches_silver_or_gold(
    warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    raw_ids = {c["customer_id"] for c in _csv(sample_dir, "customers")} | {
        c["customer_unique_id"] for c in _csv(sample_dir, "customers")
    }
    found = warehouse.execute(
        """select count(*) from (
            select customer_id as v from silver.silver_customers
            union all select customer_unique_id from silver.silver_customers
            union all select customer_id from silver.silver_orders
            union all select customer_id from gold.dim_customer
            union all select customer_id from gold.fct_orders)
           where v in (select unnest(?::varchar[]))""",
        [sorted(raw_ids)],
    ).fetchone()[0]
    assert found == 0


def test_revenue_ties_out_from_csv_to_gold(
    warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    csv_items = sum(float(r["price"]) for r in _csv(sample_dir, "order_items"))
    csv_pay = sum(float(r["payment_value"]) for r in _csv(sample_dir, "order_payments"))
    gold_items, gold_pay = warehouse.execute(
        "select (select sum(price_brl) from gold.fct_order_items), "
        "(select sum(payment_value_brl) from gold.fct_payments)"
    ).fetchone()
    assert float(gold_items) == pytest.approx(csv_items, abs=0.01)
    assert float(gold_pay) == pytest.approx(csv_pay, abs=0.01)


def test_gold_money_is_held_in_64_bit_decimals_and_ties_out_to_the_cent(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """No served gold column is a decimal wider than 18 digits: DuckDB holds a sum's
    decimal(38, 2) in 128 bits, which every BI query, gate and publish read about a
    hundred times slower. The order totals still equal their items to the cent."""
    money = warehouse.execute(
        "select table_name, column_name, data_type, numeric_precision "
        "from information_schema.columns "
        "where table_catalog = 'served' and table_schema = 'gold' "
        "and (data_type like 'DECIMAL%' or data_type = 'HUGEINT')"
    ).fetchall()
    assert {(t, c) for t, c, _, _ in money} >= {
        ("fct_orders", "items_brl"),
        ("fct_orders", "gmv_brl"),
        ("fct_monthly_revenue", "gmv_nominal_brl"),
    }
    assert [m for m in money if m[2] == "HUGEINT" or m[3] > 18] == []
    by_order, by_item = warehouse.execute(
        "select (select sum(items_brl) + sum(freight_brl) from gold.fct_orders), "
        "(select sum(total_brl) from gold.fct_order_items)"
    ).fetchone()
    assert by_order == by_item


def test_a_second_run_on_the_same_files_ingests_nothing_new(
    built: tuple[Settings, RunSummary], built_copy: Settings, sample_dir: Path
) -> None:
    # in a copy: the shared run's workspace is read-only (the Operations page test
    # counts its runs)
    settings, first = built_copy, built[1]
    second = run_pipeline(settings, sample_dir)
    assert len(second.ingest["duplicates"]) == 9 and second.ingest["ingested"] == []
    assert second.layer_rows == first.layer_rows
    # nothing changed, and the lake and the served gold are as the first run left
    # them: nothing built or gated again; its counts and reconciliation carried
    assert second.skipped_build and first.run_id in second.skipped_build
    assert [s.name for s in second.steps] == [
        "ingest olist",
        "ingest apis",
        "verify unchanged",
        "clean up leftovers",
        "freshness",
        "render dashboards",
    ]
    assert second.served_repairs == [] and second.gates == {}
    assert second.reconciliation == first.reconciliation and second.reconciliation["passed"]
    assert [f["source"] for f in second.freshness] == [f["source"] for f in first.freshness]
    # a build database from before publish copied gold once keeps a copy of gold:
    # the next publish drops it
    con = duckdb.connect(str(settings.build_database))
    con.execute("create schema gold")
    con.execute("create table gold.fct_orders as select * from gold_staging.fct_orders")
    con.close()
    forced = run_pipeline(settings, sample_dir, force_rebuild=True)
    assert "dbt build gold" in [s.name for s in forced.steps]
    assert forced.layer_rows == first.layer_rows
    assert build_tables(settings, "gold") == []


def test_monthly_revenue_in_nominal_and_constant_reais(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    rows = warehouse.execute(
        """select r.month_start_date, r.revenue_nominal_brl, r.revenue_constant_brl,
                  r.ipca_index, base.ipca_index as base_index
           from gold.fct_monthly_revenue as r
           cross join (select ipca_index from gold.fct_economic_indicators
                       where month_start_date = (select max(month_start_date)
                       from gold.fct_economic_indicators where ipca_pct is not null)) as base
           order by 1"""
    ).fetchall()
    assert len(rows) > 12
    for _, nominal, constant, index, base in rows:
        assert float(constant) == pytest.approx(float(nominal) * base / index, abs=0.005)
        assert constant > nominal  # prices rose since 2016-2018: old reais are worth more
    nominal_total = warehouse.execute(
        "select sum(payment_brl) from gold.fct_orders "
        "where order_status not in ('canceled', 'unavailable')"
    ).fetchone()[0]
    assert sum(r[1] for r in rows) == nominal_total
    gmv_months, gmv_orders = warehouse.execute(
        "select (select sum(gmv_nominal_brl) from gold.fct_monthly_revenue),"
        " (select sum(gmv_brl) from gold.fct_orders)"
    ).fetchone()
    assert gmv_months == gmv_orders  # GMV of lost orders is 0: one definition


def test_economic_and_weather_facts_come_from_the_api_connectors(
    built: tuple[Settings, RunSummary], warehouse: duckdb.DuckDBPyConnection
) -> None:
    _, summary = built
    assert "ingest apis" in [s.name for s in summary.steps]
    months, ipca_months = warehouse.execute(
        "select count(*), count(ipca_pct) from gold.fct_economic_indicators"
    ).fetchone()
    assert months == ipca_months > 100  # 2016 to today, monthly
    states = warehouse.execute(
        "select count(distinct state_code) from gold.fct_weather_daily"
    ).fetchone()[0]
    assert states == 27
