"""Engine parity: row counts and order-independent checksums of the same tables
built by two engines (DuckDB's own tables vs Spark's parquet in the lake).

Both sides are read by one DuckDB, each value cast to canonical text (timestamps as
UTC wall-clock, NULL as a marker), so the figures compare values, not storage types.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

NULL_MARK = "\u2205"


@dataclass(frozen=True)
class TableFingerprint:
    """Rows and an order-independent checksum of one table."""

    rows: int
    checksum: int


def _canonical(column: str, type_name: str) -> str:
    """A column as canonical text."""
    quoted = '"' + column.replace('"', '""') + '"'
    if type_name.startswith("TIMESTAMP"):
        value = f"strftime(cast({quoted} as timestamp), '%Y-%m-%d %H:%M:%S.%f')"
    elif type_name.startswith("DECIMAL") or type_name in ("DOUBLE", "FLOAT"):
        value = f"cast(round(cast({quoted} as double), 6) as varchar)"
    else:
        value = f"cast({quoted} as varchar)"
    return f"coalesce({value}, '{NULL_MARK}')"


def fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> TableFingerprint:
    """Rows and checksum of a relation readable by `con` (a table or a read_parquet)."""
    described = con.execute(f"describe select * from {relation}").fetchall()
    parts = [_canonical(name, str(type_name)) for name, type_name, *_ in described]
    row_text = "concat_ws('|', " + ", ".join(parts) + ")"
    rows, checksum = con.execute(
        f"select count(*), coalesce(sum(cast(hash({row_text}) as hugeint)), 0) from {relation}"
    ).fetchone()
    return TableFingerprint(int(rows), int(checksum))


def spark_table_relation(warehouse_dir: Path | str, schema: str, table: str) -> str:
    """A DuckDB relation over a Spark table's parquet files in the lake."""
    return f"read_parquet('{warehouse_dir}/{schema}.db/{table}/*.parquet')"


def compare_layer(
    duckdb_path: Path, spark_warehouse: Path | str, schema: str, tables: list[str]
) -> dict[str, tuple[TableFingerprint, TableFingerprint]]:
    """Fingerprints per table: (DuckDB target, Spark target)."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return {
            table: (
                fingerprint(con, f'"{schema}"."{table}"'),
                fingerprint(con, spark_table_relation(spark_warehouse, schema, table)),
            )
            for table in tables
        }
    finally:
        con.close()
