"""Publish on DuckDB: the gated staging schema of the build database becomes `gold` in
a new served file, renamed over the old one; the served file is gold's one published
copy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from olist_elt.errors import OlistEltError
from olist_elt.warehouse.publish import checksums, refresh_served, serve_copy


def _build(path: Path, staged_rows: int) -> None:
    con = duckdb.connect(str(path))
    try:
        for schema in ("gold_staging", "ops", "reference", "silver"):
            con.execute(f"create schema {schema}")
        if staged_rows:
            con.execute(
                "create table gold_staging.fct_orders as "
                f"select range as order_id, range * 2 as total from range({staged_rows})"
            )
        con.execute("create table ops.runs as select 'r1' as run_id, 'success' as outcome")
        con.execute("create table reference.states as select 'SP' as state_code")
        con.execute("create table silver.silver_orders as select 1 as order_id")
    finally:
        con.close()


def _tables(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables order by 1, 2"
            ).fetchall()
        }
    finally:
        con.close()


def test_publish_serves_the_staged_gold_as_gold_with_ops_and_reference(tmp_path: Path) -> None:
    build, served = tmp_path / "build.duckdb", tmp_path / "served.duckdb"
    _build(build, staged_rows=1000)

    counts = serve_copy(build, served, "gold_staging")

    assert counts == {"fct_orders": 1000}
    assert _tables(served) == {
        "gold.fct_orders": 1000,
        "ops.runs": 1,
        "reference.states": 1,
    }  # neither the staging schema's name nor a lake layer reaches what BI reads
    con = duckdb.connect(str(build), read_only=True)
    try:  # the staging schema stays: the next incremental gold build starts from it
        assert checksums(con, "gold_staging") == _served_checksums(served)
    finally:
        con.close()
    assert not list(tmp_path.glob(".*tmp*"))


def _served_checksums(served: Path) -> dict[str, str]:
    con = duckdb.connect(str(served), read_only=True)
    try:
        return checksums(con, "gold")
    finally:
        con.close()


def test_an_empty_staging_schema_publishes_nothing_and_keeps_the_served_file(
    tmp_path: Path,
) -> None:
    build, served = tmp_path / "build.duckdb", tmp_path / "served.duckdb"
    _build(build, staged_rows=10)
    serve_copy(build, served, "gold_staging")
    before = hashlib.sha256(served.read_bytes()).hexdigest()
    con = duckdb.connect(str(build))
    con.execute("drop table gold_staging.fct_orders")
    con.close()

    with pytest.raises(OlistEltError, match="nothing to publish: schema gold_staging"):
        serve_copy(build, served, "gold_staging")

    assert hashlib.sha256(served.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build.duckdb", "served.duckdb"]


def test_the_run_history_refreshed_before_any_publish_serves_no_gold(tmp_path: Path) -> None:
    build, served = tmp_path / "build.duckdb", tmp_path / "served.duckdb"
    _build(build, staged_rows=10)  # built, not gated: nothing of it may be served

    refresh_served(build, served, ("ops",))

    assert _tables(served) == {"ops.runs": 1}


def test_refreshing_the_run_history_keeps_the_published_gold(tmp_path: Path) -> None:
    build, served = tmp_path / "build.duckdb", tmp_path / "served.duckdb"
    _build(build, staged_rows=10)
    serve_copy(build, served, "gold_staging")
    published = _served_checksums(served)
    con = duckdb.connect(str(build))
    con.execute("insert into gold_staging.fct_orders values (99, 1)")  # a later, ungated build
    con.execute("insert into ops.runs values ('r2', 'failed')")
    con.close()

    refresh_served(build, served, ("ops",))

    assert _served_checksums(served) == published
    assert _tables(served)["ops.runs"] == 2
