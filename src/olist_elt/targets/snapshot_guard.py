"""The type-2 history as the last good run left it, at the start of every gold build.

dbt's --full-refresh does not rebuild snapshots: the versions a gold build writes stay,
whatever happens to the run after it. A batch that only gold's gate (or a later step)
catches kept its versions in the history and in the dimensions built on it: the trial
builds looking for it all failed (the history still held it), so nothing was blamed,
and rejecting it by hand did not take its versions out either.

So the first gold build after a good run keeps a copy of each snapshot table (schema
<snapshots>_saved, marked with that good run's id), and every later gold build before
the next good run starts from the copy: a trial, the build after a rejection, the next
run after a failed or killed one. A copy made before a later good run is stale and is
made again; a good run's publish drops it. The same SQL runs on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from olist_elt.settings import Settings
from olist_elt.transform.project import SnapshotInfo
from olist_elt.transform.project import snapshots as project_snapshots

MARKER = "_saved_after_run"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def last_good_run(settings: Settings) -> str:
    """The id of the lake's last good run ('' before the first)."""
    from olist_elt.run.state import last_success

    return str((last_success(settings) or {}).get("run_id") or "")


def saved_schema(schema: str) -> str:
    """Where the copies of one schema's snapshot tables are kept."""
    return f"{schema}_saved"


class Database:
    """Statements on one connection: run (nothing back) and one value back."""

    def __init__(self, execute: Callable[[str], Any]) -> None:
        self.execute = execute

    def run(self, sql: str) -> None:
        self.execute(sql)

    def value(self, sql: str) -> Any:
        row = self.execute(sql).fetchone()
        return row[0] if row else None

    def has_table(self, schema: str, name: str) -> bool:
        return bool(
            self.value(
                "select count(*) from information_schema.tables where table_catalog = "
                f"current_database() and table_schema = {_quote(schema)} "
                f"and table_name = {_quote(name)}"
            )
        )


def _saved_after(db: Database, schema: str) -> str | None:
    """The good run a schema's copies were made after (None: no complete copy)."""
    if not db.has_table(saved_schema(schema), MARKER):
        return None
    return db.value(f'select run_id from "{saved_schema(schema)}"."{MARKER}"')


def _restore(db: Database, snapshots: list[SnapshotInfo]) -> None:
    """Each snapshot table as its copy has it (dropped when it had none)."""
    for snap in snapshots:
        table = f'"{snap.schema}"."{snap.name}"'
        db.run(f"drop table if exists {table}")
        if db.has_table(saved_schema(snap.schema), snap.name):
            copy = f'"{saved_schema(snap.schema)}"."{snap.name}"'
            db.run(f"create table {table} as select * from {copy}")


def _save(db: Database, snapshots: list[SnapshotInfo], last_good: str) -> None:
    """A copy of each snapshot table there is, marked with the last good run."""
    for schema in sorted({s.schema for s in snapshots}):
        saved = f'"{saved_schema(schema)}"'
        db.run(f"drop schema if exists {saved} cascade")
        db.run(f"create schema {saved}")
        for snap in (s for s in snapshots if s.schema == schema):
            if db.has_table(schema, snap.name):
                table = f'"{schema}"."{snap.name}"'
                db.run(f'create table {saved}."{snap.name}" as select * from {table}')
        db.run(f'create table {saved}."{MARKER}" (run_id varchar)')
        db.run(f'insert into {saved}."{MARKER}" values ({_quote(last_good)})')


def _current(db: Database, snapshots: list[SnapshotInfo], last_good: str) -> bool:
    """Whether a complete copy made after the last good run exists."""
    schemas = sorted({s.schema for s in snapshots})
    return bool(schemas) and all(_saved_after(db, schema) == last_good for schema in schemas)


def settle(db: Database, snapshots: list[SnapshotInfo], last_good: str) -> str:
    """Before a gold build: 'restored' when a copy made after the last good run
    exists (each snapshot table as it was then; one made since is dropped), else
    'saved' (a copy made now). In one transaction of the caller's."""
    if _current(db, snapshots, last_good):
        _restore(db, snapshots)
        return "restored"
    _save(db, snapshots, last_good)
    return "saved"


def release(db: Database, snapshots: list[SnapshotInfo]) -> None:
    """After a good run's publish: the copies are not needed any more."""
    for schema in sorted({s.schema for s in snapshots}):
        db.run(f'drop schema if exists "{saved_schema(schema)}" cascade')


def undo_unpublished(db: Database, snapshots: list[SnapshotInfo], last_good: str) -> None:
    """Before a backfill rewinds the history: the versions of builds since the last
    good run go (the copy restored, when there is one), and the copy with them."""
    if _current(db, snapshots, last_good):
        _restore(db, snapshots)
    release(db, snapshots)


class Guarded(Protocol):
    """A target: where its gold (and so its snapshots) is built, and how to reach it."""

    settings: Settings

    @property
    def gold_manifest(self) -> Any: ...

    def snapshot_transaction(self, action: Callable[[Database], Any]) -> Any: ...


def _on(target: Guarded, action: Callable[[Database, list[SnapshotInfo], str], Any]) -> Any:
    snaps = project_snapshots(target.gold_manifest)
    last = last_good_run(target.settings)
    return target.snapshot_transaction(lambda db: action(db, snaps, last))


def before_gold_build(target: Guarded) -> str:
    """settle, on the database where the target builds gold ('none': no database yet)."""
    return str(_on(target, settle) or "none")


def after_publish(target: Guarded) -> None:
    """release, on the database where the target builds gold."""
    _on(target, lambda db, snaps, _last: release(db, snaps))


def before_rewind(target: Guarded) -> None:
    """undo_unpublished, on the database where the target builds gold."""
    _on(target, undo_unpublished)
