"""Swap a gated staging schema into the live one in a single transaction."""

from __future__ import annotations

from pathlib import Path

import duckdb

from olist_elt.errors import OlistEltError

# The schema BI tools read; where gold is staged first is the dbt project's business.
LIVE_SCHEMA = "gold"


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


def swap_into_live(warehouse_path: Path, staging: str, live: str = LIVE_SCHEMA) -> dict[str, int]:
    """Replace every live table by its staging version at once; readers see old or new.

    Returns rows per published table. The staging schema is dropped afterwards.
    """
    con = duckdb.connect(str(warehouse_path))
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
        con.execute(f'drop schema if exists "{staging}" cascade')
        return row_counts(con, live)
    finally:
        con.close()


def row_counts(
    con: duckdb.DuckDBPyConnection, schema: str, kinds: tuple[str, ...] = ("BASE TABLE",)
) -> dict[str, int]:
    """Rows per base table (or view, when asked) of a schema."""
    return {
        t: int(con.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0])  # type: ignore[index]
        for t in base_tables(con, schema, kinds)
    }
