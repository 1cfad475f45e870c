"""The served star schema on a real PostgreSQL: parity with DuckDB, roles, atomic swap."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from olist_elt.errors import PipelineFailed
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.settings import Settings
from olist_elt.targets import target_for
from olist_elt.warehouse.postgres import ensure_roles, login
from tests.conftest import pg_workspace

pytestmark = pytest.mark.slow

SUMS = {
    "price": ("fct_order_items", "price_brl"),
    "freight": ("fct_order_items", "freight_brl"),
    "payments": ("fct_payments", "payment_value_brl"),
    "gmv": ("fct_orders", "gmv_brl"),
}


@pytest.fixture(scope="module")
def pg_settings(tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str) -> Iterator[Settings]:
    """A workspace whose warehouse is a fresh database on the test PostgreSQL."""
    with pg_workspace(tmp_path_factory.mktemp("pg"), postgres_dsn) as settings:
        yield settings


@pytest.fixture(scope="module")
def both_runs(pg_settings: Settings, sample_dir: Path) -> tuple[RunSummary, RunSummary]:
    """The same input through the local target (DuckDB gold) and the warehouse target."""
    local = run_pipeline(pg_settings, sample_dir)
    warehouse = run_pipeline(pg_settings.model_copy(update={"target": "warehouse"}), sample_dir)
    return local, warehouse


def _pg_value(settings: Settings, query: str, role: str = "loader"):
    with login(settings, role).connect() as con:
        return con.execute(query).fetchone()[0]


def test_postgres_gold_has_the_same_rows_and_sums_as_duckdb(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    local, warehouse = both_runs
    assert warehouse.outcome == "success"
    assert warehouse.layer_rows["gold"] == local.layer_rows["gold"]
    con = duckdb.connect(str(pg_settings.warehouse_path), read_only=True)
    try:
        for name, (table, column) in SUMS.items():
            duck = con.execute(f"select sum({column}) from gold.{table}").fetchone()[0]
            pg = _pg_value(pg_settings, f"select sum({column}) from gold.{table}")
            assert pg == duck, name
    finally:
        con.close()
    names = [s.name for s in warehouse.steps]
    assert names[-6:] == [
        "publish silver",
        "dbt build gold",
        "gate gold",
        "reconcile",
        "publish gold",
        "render dashboards",
    ]
    assert warehouse.reconciliation["passed"]
    assert warehouse.dashboards["errors"] == []


def test_star_schema_has_primary_and_foreign_keys(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    with login(pg_settings).connect() as con:
        kinds = con.execute(
            "select conrelid::regclass::text, contype from pg_constraint "
            "where connamespace = 'gold'::regnamespace"
        ).fetchall()
    primary = {t for t, k in kinds if k == "p"}
    assert {
        f"gold.{t}"
        for t in ("fct_orders", "fct_order_items", "dim_customer", "dim_product", "dim_date")
    } <= primary
    foreign = [t for t, k in kinds if k == "f"]
    assert foreign.count("gold.fct_order_items") >= 3


def test_bi_role_reads_gold_and_nothing_else(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    assert _pg_value(pg_settings, "select count(*) from gold.fct_orders", "bi") > 0
    for statement in (
        "insert into gold.dim_date (date_day) values ('1999-01-01')",
        "delete from gold.fct_orders",
        "create table gold.x (i int)",
        "select count(*) from silver.silver_orders",
        "select count(*) from reference.brazil_states",
    ):
        with (
            login(pg_settings, "bi").connect() as con,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            con.execute(statement)


def test_roles_command_is_idempotent(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    ensure_roles(pg_settings)
    ensure_roles(pg_settings)
    assert _pg_value(pg_settings, "select count(*) from gold.fct_orders", "bi") > 0


def _fingerprint(settings: Settings) -> tuple:
    with login(settings, "bi").connect() as con:
        return con.execute(
            "select (select count(*) from gold.fct_orders),"
            " (select sum(payment_value_brl) from gold.fct_payments),"
            " (select sum(hashtext(order_id)) from gold.fct_orders)"
        ).fetchone()


def test_a_failing_gold_gate_leaves_the_previous_gold_readable_and_unchanged(
    pg_settings: Settings,
    both_runs: tuple[RunSummary, RunSummary],
    sample_dir: Path,
    tmp_path: Path,
) -> None:
    contracts = tmp_path / "contracts"
    shutil.copytree(pg_settings.soda_contracts_dir, contracts)
    fct = contracts / "gold" / "fct_orders.yml"
    fct.write_text(
        fct.read_text().replace("must_be_greater_than: 0", "must_be_greater_than: 1000000000000")
    )
    settings = pg_settings.model_copy(
        update={"target": "warehouse", "soda_contracts_dir": contracts}
    )
    before = _fingerprint(settings)
    seen_during: list[tuple] = []

    def on_step(name: str) -> None:
        if name in ("dbt build gold", "gate gold"):
            seen_during.append(_fingerprint(settings))

    with pytest.raises(PipelineFailed) as failure:
        run_pipeline(settings, sample_dir, on_step=on_step)
    assert "gate gold" in str(failure.value) and "fct_orders" in str(failure.value)
    assert seen_during == [before, before]
    assert _fingerprint(settings) == before


def test_docs_show_sources_bronze_silver_gold_as_one_graph(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    settings = pg_settings.model_copy(update={"target": "warehouse"})
    dbt = target_for(settings).warehouse_dbt
    dbt.run("docs", "generate", "--no-compile")
    target = dbt.target_path
    manifest = json.loads((target / "manifest.json").read_text())
    children = manifest["child_map"]
    reached, frontier = set(), ["source.olist_elt.olist.orders"]
    while frontier:
        node = frontier.pop()
        for child in children.get(node, []):
            if child not in reached:
                reached.add(child)
                frontier.append(child)
    for node in (
        "model.olist_elt.bronze_olist__orders",
        "model.olist_elt.silver_orders",
        "model.olist_elt.fct_orders",
        "model.olist_elt.fct_order_items",
    ):
        assert node in reached
    catalog = json.loads((target / "catalog.json").read_text())
    assert "model.olist_elt.fct_orders" in catalog["nodes"]


def test_no_secret_value_is_found_in_the_repo_logs_artifacts_or_lake(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    import subprocess

    from olist_elt.security.vault import FileVault
    from olist_elt.settings import REPO_ROOT

    vault = FileVault(pg_settings.vault_path, pg_settings.vault_key_file)
    values = [vault.get(name).encode() for name in vault.names()]
    assert len(values) >= 3  # PII key, loader and BI passwords
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    paths = [REPO_ROOT / p for p in tracked if (REPO_ROOT / p).is_file()]
    for root in (
        pg_settings.dbt_target_path,
        pg_settings.lake_dir,
        REPO_ROOT / "logs",
        pg_settings.dbt_project_dir / "logs",
        pg_settings.warehouse_path.parent,
    ):
        if root and root.exists():
            paths += [p for p in root.rglob("*") if p.is_file()]
    assert len(paths) > 100
    leaks = [str(p) for p in paths for v in values if v in p.read_bytes()]
    assert leaks == []


def test_every_dashboard_card_returns_rows_on_postgres_as_the_bi_role(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    from olist_elt.dashboards import load_dashboards
    from olist_elt.dashboards.query import card_runner

    with card_runner(pg_settings, "postgres") as run:
        for dashboard in load_dashboards():
            for card in dashboard.cards:
                result = run(card.sql)
                assert result.rows, f"{dashboard.name} / {card.title} returned no rows"
                aggregated = run(card.aggregate_sql())  # what Metabase runs
                assert aggregated.rows, f"{dashboard.name} / {card.title}: no aggregated rows"
