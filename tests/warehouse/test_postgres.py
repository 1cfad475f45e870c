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
from tests.conftest import copy_workspace, pg_workspace, run_off_contract, typed_dbt

pytestmark = pytest.mark.slow

SUMS = {
    "price": ("fct_order_items", "price_brl"),
    "freight": ("fct_order_items", "freight_brl"),
    "payments": ("fct_payments", "payment_value_brl"),
    "gmv": ("fct_orders", "gmv_brl"),
}


@pytest.fixture(scope="module")
def pg_settings(
    built: tuple[Settings, RunSummary],
    tmp_path_factory: pytest.TempPathFactory,
    postgres_dsn: str,
) -> Iterator[Settings]:
    """A copy of the shared run's workspace (its local target's DuckDB gold built)
    whose warehouse is a fresh database on the test PostgreSQL."""
    root = tmp_path_factory.mktemp("pg") / "ws"
    copy_workspace(built[0], root)
    with pg_workspace(root, postgres_dsn) as settings:
        yield settings


@pytest.fixture(scope="module")
def both_runs(
    built: tuple[Settings, RunSummary], pg_settings: Settings, sample_dir: Path
) -> tuple[RunSummary, RunSummary]:
    """The same input through the local target (DuckDB gold: the shared run) and the
    warehouse target."""
    warehouse = run_pipeline(pg_settings.model_copy(update={"target": "warehouse"}), sample_dir)
    return built[1], warehouse


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


def test_postgres_gold_money_has_the_contracts_64_bit_type(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    """Gold's amounts on PostgreSQL are numeric(18, 2), as the contract says and as
    DuckDB serves them, not a sum's unbounded or 38-digit numeric: the same type on
    both targets, whichever one a BI tool reads."""
    with login(pg_settings).connect() as con:
        numeric = con.execute(
            "select table_name, column_name, numeric_precision, numeric_scale "
            "from information_schema.columns "
            "where table_schema = 'gold' and data_type = 'numeric'"
        ).fetchall()
    amounts = {(t, c): (p, s) for t, c, p, s in numeric if c.endswith("_brl")}
    sums = {
        ("fct_orders", "items_brl"),
        ("fct_orders", "freight_brl"),
        ("fct_orders", "payment_brl"),
        ("fct_orders", "gmv_brl"),
        ("fct_monthly_revenue", "gmv_nominal_brl"),
        ("fct_monthly_revenue", "revenue_nominal_brl"),
    }
    assert {k: amounts.get(k) for k in sums} == dict.fromkeys(sums, (18, 2))
    # no other numeric column is unbounded or wider than 64 bits either
    assert [n for n in numeric if n[2] is None or n[2] > 18] == []
    duck = duckdb.connect(str(pg_settings.warehouse_path), read_only=True)
    try:
        served = duck.execute(
            "select table_name, column_name, numeric_precision, numeric_scale "
            "from information_schema.columns "
            "where table_schema = 'gold' and data_type like 'DECIMAL%'"
        ).fetchall()
    finally:
        duck.close()
    assert {(t, c): (p, s) for t, c, p, s in served if c.endswith("_brl")} == amounts


def test_star_schema_has_primary_and_foreign_keys(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    """The keys the gold contracts declare, made by dbt in staging and swapped in:
    a primary key on every table, the 11 foreign keys, each foreign key indexed."""
    with login(pg_settings).connect() as con:
        kinds = con.execute(
            "select conrelid::regclass::text, contype from pg_constraint "
            "where connamespace = 'gold'::regnamespace"
        ).fetchall()
        tables = {
            f"gold.{t}"
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'gold'"
            ).fetchall()
        }
        unindexed = con.execute(
            "select c.conrelid::regclass::text, c.conkey from pg_constraint c "
            "where c.connamespace = 'gold'::regnamespace and c.contype = 'f' and not exists ("
            "select 1 from pg_index i where i.indrelid = c.conrelid "
            "and (i.indkey::int2[])[0:0] = c.conkey)"
        ).fetchall()
    primary = {t for t, k in kinds if k == "p"}
    assert len(tables) == 12 and primary == tables
    foreign = [t for t, k in kinds if k == "f"]
    assert len(foreign) == 11 and foreign.count("gold.fct_order_items") == 5
    assert unindexed == []


def test_bi_role_reads_gold_and_nothing_else(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary]
) -> None:
    assert _pg_value(pg_settings, "select count(*) from gold.fct_orders", "bi") > 0
    # the run history, but no error text (it may name what failed, in the engine's words)
    assert _pg_value(pg_settings, "select count(outcome) from ops.runs", "bi") > 0
    for statement in (
        "select error from ops.runs",
        "select * from ops.runs",
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


def test_a_bi_transaction_on_gold_neither_blocks_readers_nor_the_run(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary], sample_dir: Path
) -> None:
    import threading
    import time

    settings = pg_settings.model_copy(update={"target": "warehouse"})
    bi = login(settings, "bi")
    holder = bi.connect()  # a dashboard query in a long transaction on the served gold
    holder.execute("select count(*) from gold.fct_orders").fetchone()
    waits: list[float] = []
    errors: list[str] = []
    done = threading.Event()

    def dashboards() -> None:
        while not done.is_set():
            started = time.perf_counter()
            try:
                with bi.connect(autocommit=True) as con:
                    con.execute("set statement_timeout = '5s'")
                    con.execute("select count(*) from gold.fct_orders").fetchone()
            except psycopg.Error as exc:
                errors.append(type(exc).__name__)
            waits.append(time.perf_counter() - started)
            time.sleep(0.2)

    reader = threading.Thread(target=dashboards)
    reader.start()
    try:
        summary = run_pipeline(settings, sample_dir, force_rebuild=True)
    finally:
        done.set()
        reader.join()
    assert summary.outcome == "success"
    assert errors == [] and len(waits) > 5 and max(waits) < 2.0, (errors, max(waits))
    with login(settings).connect() as con:
        leftovers = con.execute(
            "select nspname from pg_namespace where nspname like 'gold\\_previous\\_%'"
        ).fetchall()
    assert len(leftovers) == 1  # still read by the long transaction: dropped later
    holder.close()
    again = run_pipeline(settings, sample_dir)
    # nothing new, and the served gold's checksums match across sessions: kept
    assert again.skipped_build and again.served_repairs == [], again.served_repairs
    cleanup = next(s for s in again.steps if s.name == "clean up leftovers")
    assert cleanup.rows == 1
    with login(settings).connect() as con:
        assert not con.execute(
            "select 1 from pg_namespace where nspname like 'gold\\_previous\\_%'"
        ).fetchall()


def test_an_analysts_dbt_on_postgres_builds_their_own_schemas_and_leaves_gold(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary], tmp_path: Path
) -> None:
    """The README's hand run: the login from `olist-elt warehouse env` (the vault),
    `dbt build --target dev_warehouse --selector warehouse_gold` from dbt_project/,
    against silver as the pipeline published it. Served gold keeps its rows, keys
    and grants."""
    import os
    import shlex

    from typer.testing import CliRunner

    from olist_elt.cli import app

    settings = pg_settings
    where = {
        "OLIST_LAKE_DIR": str(settings.lake_dir),
        "OLIST_VAULT_PATH": str(settings.vault_path),
        "OLIST_VAULT_KEY_FILE": str(settings.vault_key_file),
        "OLIST_AUDIT_LOG": str(settings.audit_path),
        "OLIST_PG_HOST": settings.pg_host,
        "OLIST_PG_PORT": str(settings.pg_port),
        "OLIST_PG_DATABASE": settings.pg_database,
        "OLIST_PG_LOADER_ROLE": settings.pg_loader_role,
        "OLIST_PG_BI_ROLE": settings.pg_bi_role,
    }
    printed = CliRunner().invoke(app, ["warehouse", "env"], env=where)
    assert printed.exit_code == 0, printed.output
    login_env = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in printed.output.splitlines()
    )
    assert login_env["OLIST_PG_USER"] == settings.pg_loader_role
    assert login_env["OLIST_PG_PASSWORD"] == login(settings).password
    assert login_env["OLIST_PG_BI_ROLE"] == settings.pg_bi_role  # whom dbt grants gold to
    before = _fingerprint(settings)
    keys_before = _pg_value(
        settings,
        "select count(*) from information_schema.table_constraints "
        "where table_schema = 'gold' and constraint_type in ('PRIMARY KEY', 'FOREIGN KEY')",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "DBT_"))}
    env |= (
        where
        | login_env
        | {
            "USER": "ana",
            "DBT_TARGET_PATH": str(tmp_path / "target"),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )

    def dbt(*args: str) -> str:
        done = typed_dbt(env, *args)
        assert done.returncode == 0, done.stdout[-4000:]
        return done.stdout

    dbt("build", "--target", "dev_warehouse", "--selector", "warehouse_gold")
    assert _fingerprint(settings) == before
    assert (
        _pg_value(
            settings,
            "select count(*) from information_schema.table_constraints "
            "where table_schema = 'gold' and constraint_type in ('PRIMARY KEY', 'FOREIGN KEY')",
        )
        == keys_before
    )
    assert _pg_value(settings, "select count(*) from gold.fct_orders", role="bi") == _pg_value(
        settings, "select count(*) from dev_ana_gold.fct_orders"
    )
    # dbt itself made the contracts' keys and the BI role's table grants in their schema
    key_counts = (
        "select constraint_type, count(*) from information_schema.table_constraints "
        "where table_schema = 'dev_ana_gold' "
        "and constraint_type in ('PRIMARY KEY', 'FOREIGN KEY') group by 1"
    )
    with login(settings).connect() as con:
        keys = dict(con.execute(key_counts).fetchall())
        ungranted = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'dev_ana_gold' and not has_table_privilege("
            "%s, format('%%I.%%I', table_schema, table_name), 'select')",
            [settings.pg_bi_role],
        ).fetchall()
        tables = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'dev_ana_gold'"
        ).fetchone()[0]
    assert keys == {"PRIMARY KEY": tables, "FOREIGN KEY": 11}
    assert ungranted == []
    # their next build replaces every dimension, and --full-refresh an order fact:
    # PostgreSQL drops the keys other tables hold on a replaced table with it, and
    # each is made again on the new one, deferrable as declared
    # (macros/engine/postgres_foreign_keys.sql)
    replaced = ["dim_customer", "dim_date", "dim_product", "dim_seller", "fct_orders"]
    said = dbt("run", "--target", "dev_warehouse", "--full-refresh", "--select", *replaced)
    foreign = (
        "select k.conrelid::regclass::text, k.confrelid::regclass::text, k.conname, "
        "k.condeferrable and k.condeferred, k.convalidated from pg_constraint as k "
        "join pg_namespace as ns on k.connamespace = ns.oid "
        "where ns.nspname = 'dev_ana_gold' and k.contype = 'f' order by 1, 2"
    )
    with login(settings).connect() as con:
        assert dict(con.execute(key_counts).fetchall()) == keys
        held = con.execute(foreign).fetchall()
    assert len(held) == 11 and all(d and v for *_, d, v in held)  # deferred, validated
    made_again = [line for line in said.splitlines() if line.endswith("is made again")]
    # 3 kept facts on dim_customer, items on each other dimension, 3 on fct_orders; the
    # rebuilt fct_orders has its own 2 from its contract
    assert len(made_again) == 9, said[-4000:]
    # a kept fact row the rebuilt dimension lacks (as after an erasure): that key comes
    # back NOT VALID, said, and is validated once the fact is built again
    orphaned = ("dev_ana_gold.fct_payments", "dev_ana_gold.dim_customer")
    [name] = [n for c, p, n, *_ in held if (c, p) == orphaned]
    with login(settings).connect() as con:
        con.execute("set search_path = dev_ana_gold")
        con.execute(f'alter table fct_payments drop constraint "{name}"')
        con.execute(
            "update fct_payments set customer_key = 'nobody' "
            "where order_id = (select min(order_id) from fct_payments)"
        )
    said = dbt("run", "--target", "dev_warehouse", "--select", "dim_customer")
    assert sum("NOT VALID" in line for line in said.splitlines()) == 1, said[-4000:]
    with login(settings).connect() as con:
        unchecked = [(c, p) for c, p, *_, v in con.execute(foreign).fetchall() if not v]
    assert unchecked == [orphaned]
    said = dbt("run", "--target", "dev_warehouse", "--select", "fct_payments")
    assert "is validated" in said
    with login(settings).connect() as con:
        held = con.execute(foreign).fetchall()
        assert con.execute(
            "select count(*) from dev_ana_gold.fct_payments where customer_key = 'nobody'"
        ).fetchone() == (0,)
    assert len(held) == 11 and all(d and v for *_, d, v in held)
    # a kept fact missing a key it declares (its rebuild failed after its parent was
    # replaced, or a hand drop) gets it back from its next build
    to_orders = (orphaned[0], "dev_ana_gold.fct_orders")
    [name] = [n for c, p, n, *_ in held if (c, p) == to_orders]
    with login(settings).connect() as con:
        con.execute(f'alter table dev_ana_gold.fct_payments drop constraint "{name}"')
    said = dbt("run", "--target", "dev_warehouse", "--select", "fct_payments")
    back = "missing from this table, is made again"
    assert sum(line.endswith(back) for line in said.splitlines()) == 1, said[-4000:]
    with login(settings).connect() as con:
        held = con.execute(foreign).fetchall()
    assert len(held) == 11 and all(d and v for *_, d, v in held)
    # their fct_orders kept from before the amounts were numeric(18, 2): the next build
    # alters the column in place, so the keys the other facts hold on it stay
    # (macros/engine/contract_types.sql; rebuilt in full, they would have gone)
    totals = "select count(*), sum(items_brl) from dev_ana_gold.fct_orders"
    with login(settings).connect() as con:
        before_totals = con.execute(totals).fetchone()
        con.execute("alter table dev_ana_gold.fct_orders alter items_brl type numeric(38, 2)")
    dbt("run", "--target", "dev_warehouse", "--select", "fct_orders")
    with login(settings).connect() as con:
        assert con.execute(
            "select numeric_precision, numeric_scale from information_schema.columns "
            "where table_schema = 'dev_ana_gold' and table_name = 'fct_orders' "
            "and column_name = 'items_brl'"
        ).fetchone() == (18, 2)
        assert con.execute(totals).fetchone() == before_totals
        assert dict(con.execute(key_counts).fetchall()) == keys
    # the analyst's docs: sources -> bronze -> silver -> gold as one graph, gold in the
    # catalog as built in their schemas
    dbt("docs", "generate", "--target", "dev_warehouse", "--no-compile")
    target = tmp_path / "target"
    children = json.loads((target / "manifest.json").read_text())["child_map"]
    reached, frontier = set(), ["source.olist_elt.olist.orders"]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in reached:
                reached.add(child)
                frontier.append(child)
    for node in ("bronze_olist__orders", "silver_orders", "fct_orders", "fct_order_items"):
        assert f"model.olist_elt.{node}" in reached
    catalog = json.loads((target / "catalog.json").read_text())["nodes"]
    assert catalog["model.olist_elt.fct_orders"]["metadata"]["schema"] == "dev_ana_gold"


def test_lost_keys_and_grants_on_served_gold_are_restored_by_the_next_run(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary], sample_dir: Path
) -> None:
    """A hand rebuild or a careless admin drops a key and the BI role's access: the
    next run, though its inputs did not change, publishes gold again, whole."""
    settings = pg_settings.model_copy(update={"target": "warehouse"})
    admin = psycopg.connect(settings.pg_admin_dsn, dbname=settings.pg_database, autocommit=True)
    with admin:
        (pkey,) = admin.execute(
            "select conname from pg_constraint where contype = 'p' "
            "and conrelid = 'gold.fct_orders'::regclass"
        ).fetchone()
        admin.execute(f'alter table gold.fct_orders drop constraint "{pkey}" cascade')
        admin.execute(f"revoke select on gold.dim_customer from {settings.pg_bi_role}")

    summary = run_pipeline(settings, sample_dir)

    assert summary.outcome == "success" and not summary.skipped_build
    assert "gold.fct_orders has no primary key" in summary.served_repairs
    assert "the BI role cannot read gold.dim_customer" in summary.served_repairs
    assert _pg_value(settings, "select count(*) from gold.dim_customer", role="bi") > 0
    assert target_for(settings).served_extra_problems() == []


def test_a_gold_model_off_its_contract_fails_the_analysts_build(
    pg_settings: Settings, both_runs: tuple[RunSummary, RunSummary], tmp_path: Path
) -> None:
    """A column whose type drifts from the declared one (dim_date.calendar_year as
    bigint, declared integer) stops dbt before any table is made: dbt's contract
    error, nothing in the analyst's schema."""
    import os

    settings = pg_settings
    pg = login(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "DBT_"))}
    env |= {
        "OLIST_PG_HOST": pg.host,
        "OLIST_PG_PORT": str(pg.port),
        "OLIST_PG_DATABASE": pg.database,
        "OLIST_PG_USER": pg.user,
        "OLIST_PG_PASSWORD": pg.password,
        "OLIST_PG_BI_ROLE": settings.pg_bi_role,
        "USER": "bea",
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    run_off_contract(tmp_path, env, "--target", "dev_warehouse")
    assert _pg_value(settings, "select to_regclass('dev_bea_gold.dim_date') is null")


GOLD_FACTS = ("fct_orders", "fct_order_items", "fct_payments", "fct_reviews")


def _table_checksums(settings: Settings, schema: str = "gold") -> dict[str, str]:
    """Every table of a schema (served gold by default), its rows order-independent
    (md5 of the sorted rows)."""
    with login(settings).connect() as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = %s and table_type = 'BASE TABLE'",
                [schema],
            ).fetchall()
        ]
        return {
            t: con.execute(
                f"select md5(string_agg(r::text, '|' order by r::text)) from {schema}.{t} r"
            ).fetchone()[0]
            for t in tables
        }


def _row_versions(settings: Settings) -> dict[str, set[tuple[str, str]]]:
    """(order_id, xmin) of every staged fact row: a row written again gets a new xmin."""
    with login(settings).connect() as con:
        return {
            t: set(con.execute(f"select order_id, xmin::text from gold_staging.{t}").fetchall())
            for t in GOLD_FACTS
        }


def test_incremental_gold_on_postgres_rewrites_only_the_days_orders_and_equals_a_full_refresh(
    pg_settings: Settings,
    both_runs: tuple[RunSummary, RunSummary],
    sample_dir: Path,
    tmp_path: Path,
) -> None:
    from tests.test_history import make_deliveries

    settings = pg_settings.model_copy(update={"target": "warehouse"})
    d = make_deliveries(sample_dir, tmp_path)
    before = _row_versions(settings)
    day = run_pipeline(settings, d.orders_day)
    assert day.outcome == "success" and day.full_refresh is None
    written = {t: {o for o, _ in rows - before[t]} for t, rows in _row_versions(settings).items()}
    # the day's orders (fct_orders: also open orders whose bucket moved), not all
    assert written["fct_payments"] <= d.updated | d.new and written["fct_payments"]
    assert written["fct_order_items"] <= d.updated | d.new
    assert d.updated | d.new <= written["fct_orders"]
    assert len(written["fct_orders"]) < len(before["fct_orders"]) / 2
    incremental = _table_checksums(settings)
    refreshed = run_pipeline(settings, d.orders_day, full_refresh=True)
    assert refreshed.outcome == "success" and refreshed.full_refresh
    assert _table_checksums(settings) == incremental


def test_a_backfill_on_postgres_rewinds_the_type_2_history_and_equals_the_daily_runs(
    tmp_path: Path, postgres_dsn: str, sample_dir: Path
) -> None:
    """The sample lands on one day, a customer's move two days later; each day's run
    builds gold (snapshots included) on PostgreSQL. A backfill from the day between
    removes the move's version there (PostgresTarget.rewind_snapshots) and makes it
    again: the same gold and history as the daily runs."""
    from olist_elt.run.pipeline import run_backfill
    from tests.test_history import (
        DAYS,
        ingest_on,
        make_deliveries,
        pseudonym_of,
        rewound_versions,
    )

    d = make_deliveries(sample_dir, tmp_path / "deliveries")
    with pg_workspace(tmp_path / "ws", postgres_dsn, target="warehouse", apis="off") as settings:
        for day, folder in ((DAYS[0], sample_dir), (DAYS[2], d.move_day)):
            ingest_on(settings, folder, day)
            assert run_pipeline(settings, ingest_inputs=False).outcome == "success"
        daily = (_table_checksums(settings), _table_checksums(settings, "snapshots"))
        assert set(daily[1]) == {"customers_snapshot", "products_snapshot", "sellers_snapshot"}
        versions = (
            "select count(*) from snapshots.customers_snapshot "
            f"where customer_id = '{pseudonym_of(settings, d.mover)}'"
        )
        assert _pg_value(settings, versions) == 2

        summaries = run_backfill(settings, DAYS[1].date(), DAYS[2].date())

        assert [s.outcome for s in summaries] == ["success", "success"]
        assert rewound_versions(settings)["customers_snapshot"] == 1
        assert _pg_value(settings, versions) == 2
        assert (_table_checksums(settings), _table_checksums(settings, "snapshots")) == daily
