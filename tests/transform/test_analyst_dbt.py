"""An analyst's dbt, as the README writes it, from dbt_project/: it builds into the
analyst's own DuckDB file, never into what BI tools read; the pipeline's targets
refuse to run outside `olist-elt run`; `dbt source freshness` answers per source."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from olist_elt.run import rejection
from olist_elt.run.inputs import lake_manifest
from olist_elt.run.record import RunSummary
from olist_elt.settings import REPO_ROOT, Settings
from tests.conftest import DBT, copy_dbt_project, run_off_contract, typed_dbt

pytestmark = pytest.mark.slow


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _analyst_env(settings: Settings, scratch: Path) -> dict[str, str]:
    """What an analyst's shell holds: where the lake and the vault are, nothing that
    marks a pipeline run; dbt's own files in a scratch folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "DBT_"))}
    return env | {
        "OLIST_LAKE_DIR": str(settings.lake_dir),
        "OLIST_VAULT_PATH": str(settings.vault_path),
        "OLIST_VAULT_KEY_FILE": str(settings.vault_key_file),
        "OLIST_AUDIT_LOG": str(scratch / "audit.jsonl"),
        "OLIST_DEV_DATABASE": str(scratch / "dev.duckdb"),
        "OLIST_WAREHOUSE_PATH": str(settings.build_database),
        "DBT_TARGET_PATH": str(scratch / "target"),
        "DBT_LOG_PATH": str(scratch / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@dataclass(frozen=True)
class AnalystBuild:
    """An analyst's whole `dbt build` into their own file, and what BI reads (the
    served file) and the pipeline builds in, digested before and after it."""

    env: dict[str, str]
    dev: Path
    done: subprocess.CompletedProcess[str]
    before: tuple[str, str]
    after: tuple[str, str]


@pytest.fixture(scope="module")
def analyst_build(
    built: tuple[Settings, RunSummary], tmp_path_factory: pytest.TempPathFactory
) -> AnalystBuild:
    settings, _ = built
    scratch = tmp_path_factory.mktemp("analyst")
    env = _analyst_env(settings, scratch)
    served, build = settings.warehouse_path, settings.build_database
    before = (_digest(served), _digest(build))
    done = typed_dbt(env, "build")
    after = (_digest(served), _digest(build))
    return AnalystBuild(env, scratch / "dev.duckdb", done, before, after)


def test_an_analysts_dbt_build_lands_in_their_own_file_and_serves_nothing(
    built: tuple[Settings, RunSummary], analyst_build: AnalystBuild
) -> None:
    done = analyst_build.done
    assert done.returncode == 0, done.stdout[-4000:]
    assert analyst_build.after == analyst_build.before  # nothing BI reads was touched
    con = duckdb.connect(str(analyst_build.dev), read_only=True)
    try:
        orders = con.execute("select count(*) from gold.fct_orders").fetchone()[0]
        # the contracts' primary keys, made and enforced by DuckDB; foreign keys are
        # PostgreSQL's only (macros/engine/duckdb_foreign_keys.sql)
        keys = dict(
            con.execute(
                "select constraint_type, count(*) from duckdb_constraints() "
                "where schema_name = 'gold' and constraint_type in ('PRIMARY KEY', "
                "'FOREIGN KEY') group by 1"
            ).fetchall()
        )
    finally:
        con.close()
    assert keys == {"PRIMARY KEY": 12}
    served_con = duckdb.connect(str(built[0].warehouse_path), read_only=True)
    try:
        assert orders == served_con.execute("select count(*) from gold.fct_orders").fetchone()[0]
    finally:
        served_con.close()


def test_a_kept_incremental_table_off_its_contracts_decimals_takes_the_contracts_type(
    analyst_build: AnalystBuild,
) -> None:
    """An analyst's fct_orders kept from before gold's amounts became numeric(18, 2):
    dbt checks the contract against the model's select only, so each incremental
    build appended to the old 128-bit columns. The next build alters them to the
    contract's type, says so, and keeps every row, cent and key; on its contract,
    a table is left alone. A kept amount the contract's type cannot hold fails the
    build with the engine's error, and the table stays as it was."""
    assert analyst_build.done.returncode == 0, analyst_build.done.stdout[-4000:]
    amounts = (
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'gold' and table_name = 'fct_orders' "
        "and column_name in ('items_brl', 'gmv_brl') order by 1"
    )
    totals = "select count(*), sum(items_brl), sum(gmv_brl) from gold.fct_orders"
    keys = (
        "select constraint_type, constraint_column_names from duckdb_constraints() "
        "where schema_name = 'gold' and table_name = 'fct_orders' order by all"
    )
    # 18 digits before the point, where numeric(18, 2) holds 16 (written out: DuckDB's
    # Python binding reads Decimal("1e17") as 1.00)
    too_large = Decimal("100000000000000000.00")
    con = duckdb.connect(str(analyst_build.dev))
    try:
        before = con.execute(totals).fetchone()
        kept = con.execute(keys).fetchall()
        for column in ("items_brl", "gmv_brl"):
            con.execute(f"alter table gold.fct_orders alter {column} type decimal(38, 2)")
        # in the column the hook alters second: the first one's alter is undone too
        order_id, cents = con.execute(
            "select order_id, gmv_brl from gold.fct_orders order by order_id limit 1"
        ).fetchone()
        huge = "update gold.fct_orders set gmv_brl = ? where order_id = ?"
        con.execute(huge, [too_large, order_id])
    finally:
        con.close()

    refused = typed_dbt(analyst_build.env, "run", "--select", "fct_orders")

    assert refused.returncode != 0, refused.stdout[-4000:]
    assert 'Casting value "100000000000000000.00" to type DECIMAL(18,2) failed' in refused.stdout
    con = duckdb.connect(str(analyst_build.dev))
    try:  # as it was: the old types, the huge value and every row
        assert con.execute(amounts).fetchall() == [
            ("gmv_brl", "DECIMAL(38,2)"),
            ("items_brl", "DECIMAL(38,2)"),
        ]
        assert con.execute(
            "select gmv_brl from gold.fct_orders where order_id = ?", [order_id]
        ).fetchone() == (too_large,)
        assert con.execute(totals).fetchone()[0] == before[0]
    finally:
        con.execute(huge, [cents, order_id])
        con.close()

    aligned = typed_dbt(analyst_build.env, "run", "--select", "fct_orders")
    again = typed_dbt(analyst_build.env, "run", "--select", "fct_orders")

    assert aligned.returncode == 0, aligned.stdout[-4000:]
    assert again.returncode == 0, again.stdout[-4000:]
    said = [line for line in aligned.stdout.splitlines() if "altered to its contract" in line]
    assert len(said) == 2 and all("fct_orders" in line for line in said), aligned.stdout
    altered = "items_brl stored as DECIMAL(38,2) is altered to its contract's numeric(18, 2)"
    assert altered in said[0]
    assert "gmv_brl stored as DECIMAL(38,2)" in said[1]
    assert "altered to its contract" not in again.stdout  # on its contract: left alone
    con = duckdb.connect(str(analyst_build.dev), read_only=True)
    try:
        assert con.execute(amounts).fetchall() == [
            ("gmv_brl", "DECIMAL(18,2)"),
            ("items_brl", "DECIMAL(18,2)"),
        ]
        assert con.execute(totals).fetchone() == before
        assert ("PRIMARY KEY", ["order_id"]) in kept
        assert con.execute(keys).fetchall() == kept
    finally:
        con.close()


def test_a_moved_checkout_loads_the_seeds_from_where_it_is_now(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    """dbt reuses the parse its target folder keeps, and a parse names each seed by
    the folder it was parsed in: a checkout moved elsewhere loads its seeds from
    where it is now, not from the folder it left."""
    env = _analyst_env(built[0], tmp_path)
    checkout = tmp_path / "checkout"
    copy_dbt_project(checkout / "dbt_project")
    shutil.copy(REPO_ROOT / "profiles.yml", checkout / "profiles.yml")

    parsed = typed_dbt(env, "parse", checkout=checkout)
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    moved = checkout.rename(tmp_path / "moved")
    log = tmp_path / "logs" / "dbt.log"
    logged = log.stat().st_size

    done = typed_dbt(env, "seed", checkout=moved)

    assert done.returncode == 0, done.stdout[-3000:]
    seeding = log.read_text()[logged:]
    assert "Partial parsing enabled" in seeding  # the kept parse, from the old folder
    assert "Unable to do partial parsing" not in seeding
    con = duckdb.connect(str(tmp_path / "dev.duckdb"), read_only=True)
    try:
        states = con.execute("select count(*) from reference.brazil_states").fetchone()[0]
    finally:
        con.close()
    assert states == 27


def test_the_pipelines_target_refuses_a_hand_run(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    settings, _ = built
    env = _analyst_env(settings, tmp_path)
    before = _digest(settings.build_database)

    done = typed_dbt(env, "build", "--target", "local", "--select", "fct_orders")

    assert done.returncode != 0
    assert "only `olist-elt run` builds it" in done.stdout
    assert "--target dev" in done.stdout
    assert _digest(settings.build_database) == before


def test_dbt_source_freshness_answers_for_every_fed_source(
    analyst_build: AnalystBuild,
) -> None:
    """In the analyst's shell of the module's build: its target keeps the parse of the
    same project, profile, target and vars, so dbt parses nothing again. Freshness
    builds nothing: it adds its sources.json there, which no other test reads."""
    env = analyst_build.env
    sources = Path(env["DBT_TARGET_PATH"]) / "sources.json"
    assert not sources.exists()  # the answer read below is this command's

    done = typed_dbt(env, "source", "freshness")

    assert done.returncode == 0, done.stdout[-4000:]
    results = json.loads(sources.read_text())["results"]
    by_source = {r["unique_id"].split(".")[2] for r in results}
    assert {"olist", "bcb", "openweather"} <= by_source
    assert {r["status"] for r in results} == {"pass"}  # the sample was ingested just now
    assert len([r for r in results if ".olist." in r["unique_id"]]) == 9


def test_a_gold_model_off_its_contract_fails_the_build_and_keeps_the_table_it_had(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    """dim_date.calendar_year made bigint, its contract says integer: dbt's contract
    error, and the analyst's dim_date from before is still there as it was: a table
    is replaced inside one transaction (macros/engine/duckdb_table.sql), which the
    failure rolls back, dropped table included."""
    settings, _ = built
    env = _analyst_env(settings, tmp_path)
    con = duckdb.connect(str(tmp_path / "dev.duckdb"))
    try:
        con.execute("create schema gold")
        con.execute("create table gold.dim_date as select 20260101 as date_key")
    finally:
        con.close()

    run_off_contract(tmp_path, env)

    con = duckdb.connect(str(tmp_path / "dev.duckdb"), read_only=True)
    try:
        kept = con.execute("select * from gold.dim_date").fetchall()
    finally:
        con.close()
    assert kept == [(20260101,)]


def test_an_analysts_build_of_a_data_set_with_every_object_rejected_says_so(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    """The only order items object rejected, in a copy of the lake: the analyst's dbt
    fails naming the data set, why it is empty and what to do, as the pipeline does."""
    settings, _ = built
    lake = tmp_path / "lake"
    shutil.copytree(settings.lake_dir, lake, symlinks=True)
    copy = settings.model_copy(update={"lake_dir": lake})
    items = [
        r
        for r in lake_manifest(copy).records()
        if r.dataset == "order_items" and r.status == "accepted"
    ]
    assert len(items) == 1
    rejection.reject(copy, items, "a test's rejection", "tester", "test-run")

    done = typed_dbt(_analyst_env(copy, tmp_path), "build", "--select", "bronze_olist__order_items")

    out = " ".join(done.stdout.split())
    assert done.returncode != 0
    assert (
        "no accepted raw objects for bronze_olist__order_items: its 1 raw object(s) were "
        "rejected; deliver a corrected file, or accept one again (olist-elt raw readmit)"
    ) in out
    assert "run the connector first" not in out


def test_dbt_typed_in_another_folder_uses_the_checkouts_layout_and_creates_nothing_there(
    tmp_path: Path,
) -> None:
    """profiles.yml's relative paths (vault, key, lake, audit log, the analyst's own
    file) are relative to dbt_project/, as the README types dbt there: dbt typed from
    another folder (--project-dir) or from a model folder (dbt looks upwards for the
    project) finds the same ones, and makes no second vault and key where it stands."""
    checkout = tmp_path / "checkout"
    copy_dbt_project(checkout / "dbt_project")
    shutil.copy(REPO_ROOT / "profiles.yml", checkout / "profiles.yml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "DBT_"))}
    env |= {"USER": "analyst", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    typed = [
        (elsewhere, ["--project-dir", str(checkout / "dbt_project")]),
        (checkout / "dbt_project" / "models" / "gold", []),
    ]
    keys = []
    for cwd, project in typed:
        done = subprocess.run(
            [DBT, "debug", *project, "--profiles-dir", str(checkout)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:]
        keys.append((checkout / ".secrets" / "vault.key").read_bytes())
    assert keys[0] == keys[1]  # one vault, made by the first, read by the second
    assert (checkout / "warehouse" / "dev_analyst.duckdb").is_file()
    assert (checkout / "lake" / "_audit" / "audit.jsonl").is_file()
    assert list(elsewhere.iterdir()) == []
    strays = {".secrets", "lake", "warehouse"} & {
        p.name for p in (checkout / "dbt_project").rglob("*")
    }
    assert not strays
