"""The snapshots' saved copy, on both engines that build them (DuckDB and PostgreSQL):
kept after a good run, restored for every later gold build until the next one, made
again once that run is not the last good one any more, dropped on release."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from olist_elt.targets.snapshot_guard import Database, release, settle, undo_unpublished
from olist_elt.transform.project import SnapshotInfo
from tests.conftest import scratch_database

SNAPS = [
    SnapshotInfo("customers_snapshot", "snapshots", "customer_id"),
    SnapshotInfo("sellers_snapshot", "snapshots", "seller_id"),
]


@contextmanager
def duckdb_engine(tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    con = duckdb.connect(str(tmp_path / "olist.duckdb"))
    try:
        yield con.execute
    finally:
        con.close()


@contextmanager
def postgres_engine(admin_dsn: str) -> Iterator[Callable[[str], Any]]:
    import psycopg

    with (
        scratch_database(admin_dsn, "olist_guard") as name,
        psycopg.connect(admin_dsn, dbname=name, autocommit=True) as con,
    ):
        yield con.execute


@pytest.fixture(params=["duckdb", "postgres"])
def execute(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    if request.param == "duckdb":
        with duckdb_engine(tmp_path) as run:
            yield run
    else:
        with postgres_engine(request.getfixturevalue("postgres_dsn")) as run:
            yield run


def _rows(execute: Callable[[str], Any], table: str) -> list[tuple]:
    return sorted(execute(f"select * from snapshots.{table}").fetchall())


def _history_of_one_customer(execute: Callable[[str], Any]) -> list[tuple]:
    """A snapshot table with one version, as a good run left it: its rows."""
    execute("create schema snapshots")
    execute("create table snapshots.customers_snapshot (customer_id varchar, city varchar)")
    execute("insert into snapshots.customers_snapshot values ('c1', 'recife')")
    return _rows(execute, "customers_snapshot")


def test_the_history_of_the_last_good_run_is_restored_until_the_next_one(execute) -> None:
    db = Database(execute)
    kept = _history_of_one_customer(execute)

    # the first gold build after good run r1 keeps a copy; sellers had no table yet
    assert settle(db, SNAPS, "r1") == "saved"
    execute("insert into snapshots.customers_snapshot values ('c1', 'xx-bad-batch')")
    execute("create table snapshots.sellers_snapshot (seller_id varchar)")
    # a trial (or the next run after a failed one): back to what r1 left
    assert settle(db, SNAPS, "r1") == "restored"
    assert _rows(execute, "customers_snapshot") == kept
    assert not db.has_table("snapshots", "sellers_snapshot")  # made since: gone

    # a good run r2 published a new version: its history is the one kept from now on
    execute("insert into snapshots.customers_snapshot values ('c1', 'natal')")
    published = _rows(execute, "customers_snapshot")
    assert settle(db, SNAPS, "r2") == "saved"
    execute("delete from snapshots.customers_snapshot")
    assert settle(db, SNAPS, "r2") == "restored"
    assert _rows(execute, "customers_snapshot") == published

    release(db, SNAPS)
    assert not db.has_table("snapshots_saved", "customers_snapshot")
    assert settle(db, SNAPS, "r2") == "saved"  # no copy left: a new one


def test_a_rewind_starts_from_the_last_good_runs_history_and_drops_the_copy(execute) -> None:
    db = Database(execute)
    kept = _history_of_one_customer(execute)
    settle(db, SNAPS, "r1")
    execute("insert into snapshots.customers_snapshot values ('c1', 'xx-bad-batch')")

    undo_unpublished(db, SNAPS, "r1")

    assert _rows(execute, "customers_snapshot") == kept
    assert not db.has_table("snapshots_saved", "_saved_after_run")
    # a copy made after another good run is stale: left as it is, then dropped
    settle(db, SNAPS, "r1")
    execute("insert into snapshots.customers_snapshot values ('c1', 'natal')")
    now = _rows(execute, "customers_snapshot")
    undo_unpublished(db, SNAPS, "r2")
    assert _rows(execute, "customers_snapshot") == now
    assert not db.has_table("snapshots_saved", "_saved_after_run")
