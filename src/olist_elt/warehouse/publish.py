"""The embedded warehouse: gold swapped in from its staging schema inside the build
database, and the served file BI tools open replaced atomically by a fresh copy of
the schemas they read."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb

from olist_elt.errors import OlistEltError

log = logging.getLogger(__name__)

# The schema BI tools read; where gold is staged first is the dbt project's business.
LIVE_SCHEMA = "gold"
# What the served file holds: the star schema, the run history, the reference seeds.
SERVED_SCHEMAS = (LIVE_SCHEMA, "ops", "reference")


def base_tables(
    con: duckdb.DuckDBPyConnection, schema: str, kinds: tuple[str, ...] = ("BASE TABLE",)
) -> list[str]:
    """Base tables (or other kinds: 'VIEW') of a schema."""
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and list_contains(?, table_type) order by 1",
            [schema, list(kinds)],
        ).fetchall()
    ]


def checksums(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, str]:
    """Per base table of a schema, an order-independent checksum of its content (the
    sum of each row's hash), so any changed, added or removed row shows."""
    return {
        t: str(
            con.execute(
                f'select coalesce(sum(hash(r)::hugeint), 0) from "{schema}"."{t}" as r'
            ).fetchone()[0]  # type: ignore[index]
        )
        for t in base_tables(con, schema)
    }


def swap_into_live(database: Path, staging: str, live: str = LIVE_SCHEMA) -> dict[str, int]:
    """Replace every live table by a copy of its staging version at once, inside the
    build database; rows per published table. The staging schema is kept: the next
    incremental gold build starts from it."""
    con = duckdb.connect(str(database))
    try:
        staged = base_tables(con, staging)
        if not staged:
            raise OlistEltError(f"nothing to publish: schema {staging} has no tables")
        con.execute("begin transaction")
        try:
            con.execute(f'create schema if not exists "{live}"')
            for table in base_tables(con, live):
                if table not in staged:
                    con.execute(f'drop table "{live}"."{table}"')
            for table in staged:
                con.execute(
                    f'create or replace table "{live}"."{table}" as '
                    f'select * from "{staging}"."{table}"'
                )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        return row_counts(con, live)
    finally:
        con.close()


def serve_copy(
    database: Path, served: Path, schemas: Iterable[str] = SERVED_SCHEMAS
) -> dict[str, int]:
    """Write the schemas BI reads from the build database into a new file and rename
    it over the served one: a reader that holds the old file keeps reading it, the
    next connection opens the new one. Rows per copied table."""
    return _write_served(database, served, schemas, start_from_served=False)


def refresh_served(database: Path, served: Path, schemas: Iterable[str]) -> None:
    """Replace only these schemas of the served file (the run history, after a run):
    a byte copy of the served file with them written again from the build database,
    renamed over it as serve_copy does. Gold is not copied table by table a second
    time. Without a served file yet, the whole copy (serve_copy)."""
    if served.exists():
        _write_served(database, served, schemas, start_from_served=True)
    else:
        serve_copy(database, served)


def _write_served(
    database: Path, served: Path, schemas: Iterable[str], start_from_served: bool
) -> dict[str, int]:
    served.parent.mkdir(parents=True, exist_ok=True)
    tmp = served.with_name(f".{served.name}.{secrets.token_hex(4)}.tmp")
    counts: dict[str, int] = {}
    try:
        if start_from_served:
            shutil.copyfile(served, tmp)
        con = duckdb.connect(str(tmp))
        try:
            source = str(database).replace("'", "''")
            con.execute(f"attach '{source}' as build (read_only)")
            for schema in schemas:
                if start_from_served:
                    con.execute(f'drop schema if exists "{schema}" cascade')
                counts.update(_copy_schema(con, schema))
            con.execute("detach build")
            con.execute("checkpoint")
        finally:
            con.close()
        os.chmod(tmp, 0o600)
        os.replace(tmp, served)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return counts


def _copy_schema(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, int]:
    """The base tables of one schema of the attached build database, copied into the
    connection's database; rows per table."""
    counts: dict[str, int] = {}
    tables = [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where "
            "table_catalog = 'build' and table_schema = ? "
            "and table_type = 'BASE TABLE' order by 1",
            [schema],
        ).fetchall()
    ]
    if tables:
        con.execute(f'create schema if not exists "{schema}"')
    for table in tables:
        con.execute(
            f'create table "{schema}"."{table}" as select * from build."{schema}"."{table}"'
        )
        counts[f"{schema}.{table}"] = int(
            con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]  # type: ignore[index]
        )
    return counts


def row_counts(
    con: duckdb.DuckDBPyConnection, schema: str, kinds: tuple[str, ...] = ("BASE TABLE",)
) -> dict[str, int]:
    """Rows per base table (or view, when asked) of a schema."""
    return {
        t: int(con.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0])  # type: ignore[index]
        for t in base_tables(con, schema, kinds)
    }
