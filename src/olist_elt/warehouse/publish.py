"""The embedded warehouse: the served file BI tools open, replaced atomically by a
fresh copy of gold's gated staging schema (as `gold`) and the other schemas they
read, all from the build database."""

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


def serve_copy(
    database: Path,
    served: Path,
    staging: str,
    schemas: Iterable[str] = SERVED_SCHEMAS[1:],
) -> dict[str, int]:
    """Publish: write the gated staging schema of the build database as `gold`, with
    the other schemas BI reads (run history, reference seeds), into a new file and
    rename it over the served one. A reader that holds the old file keeps reading
    it; the next connection opens the new one. The served file is the one published
    copy: the staging schema stays in the build database, where the next incremental
    gold build starts from it. Rows per gold table."""
    counts = _write_served(
        database,
        served,
        [(staging, LIVE_SCHEMA), *((s, s) for s in schemas)],
        start_from_served=False,
        required=LIVE_SCHEMA,
    )
    prefix = f"{LIVE_SCHEMA}."
    return {k.removeprefix(prefix): v for k, v in counts.items() if k.startswith(prefix)}


def refresh_served(database: Path, served: Path, schemas: Iterable[str]) -> None:
    """Replace only these schemas of the served file (the run history, after a run):
    a byte copy of the served file with them written again from the build database,
    renamed over it as serve_copy does; gold is not copied a second time. Without a
    served file yet (no publish so far), a file with only these schemas."""
    _write_served(database, served, [(s, s) for s in schemas], start_from_served=served.exists())


def _new_copy(served: Path, token: str) -> Path:
    """Where a publish writes the new served file before renaming it over the old one
    (token: secrets.token_hex; leftover_copies finds them all with '*')."""
    return served.with_name(f".{served.name}.{token}.tmp")


def leftover_copies(served: Path) -> list[Path]:
    """The new served files (and their WALs) a publish killed before its rename left
    beside the served one: never renamed, read by nobody."""
    return sorted(served.parent.glob(f"{_new_copy(served, '*').name}*"))


def _write_served(
    database: Path,
    served: Path,
    schemas: Iterable[tuple[str, str]],
    start_from_served: bool,
    required: str | None = None,
) -> dict[str, int]:
    """Copy each (build schema, served schema) into a new file (or a byte copy of the
    served one, those schemas dropped first) renamed over the served file; rows per
    copied table, by served schema and table. Nothing is renamed when the required
    served schema would have no tables."""
    served.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_copy(served, secrets.token_hex(4))
    counts: dict[str, int] = {}
    schemas = list(schemas)
    try:
        if start_from_served:
            shutil.copyfile(served, tmp)
        con = duckdb.connect(str(tmp))
        try:
            build_file = str(database).replace("'", "''")
            con.execute(f"attach '{build_file}' as build (read_only)")
            for build_schema, schema in schemas:
                if start_from_served:
                    con.execute(f'drop schema if exists "{schema}" cascade')
                counts.update(_copy_schema(con, build_schema, schema))
            con.execute("detach build")
            if required and not any(k.startswith(f"{required}.") for k in counts):
                staged = next(src for src, dst in schemas if dst == required)
                raise OlistEltError(f"nothing to publish: schema {staged} has no tables")
            con.execute("checkpoint")
        finally:
            con.close()
        os.chmod(tmp, 0o600)
        os.replace(tmp, served)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return counts


def _copy_schema(con: duckdb.DuckDBPyConnection, source: str, schema: str) -> dict[str, int]:
    """The base tables of one schema (source) of the attached build database, copied
    into a schema of the connection's database; rows per table."""
    counts: dict[str, int] = {}
    tables = [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where "
            "table_catalog = 'build' and table_schema = ? "
            "and table_type = 'BASE TABLE' order by 1",
            [source],
        ).fetchall()
    ]
    if tables:
        con.execute(f'create schema if not exists "{schema}"')
    for table in tables:
        con.execute(
            f'create table "{schema}"."{table}" as select * from build."{source}"."{table}"'
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
