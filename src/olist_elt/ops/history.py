"""Run history as data: every run and every step in an `ops` schema next to gold
(the DuckDB file for the local target, PostgreSQL otherwise), written at the end of
each run, failed ones included. Rewriting a run replaces its rows (idempotent)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import duckdb

from olist_elt.settings import Settings

SCHEMA = "ops"
# table -> columns (name, portable type); run_id first in each.
TABLES: dict[str, list[tuple[str, str]]] = {
    "runs": [
        ("run_id", "varchar(64)"),
        ("target", "varchar(16)"),
        ("orchestrator", "varchar(32)"),
        ("started_at", "timestamp"),
        ("finished_at", "timestamp"),
        ("seconds", "double precision"),
        ("outcome", "varchar(16)"),
        ("failing_step", "varchar(64)"),
        ("error_class", "varchar(64)"),
        ("error", "varchar(4000)"),
        ("rebuilt", "boolean"),
        ("full_refresh", "varchar(200)"),
        ("as_of", "varchar(10)"),
        ("raw_rows_read", "bigint"),
    ],
    "steps": [
        ("run_id", "varchar(64)"),
        ("step_no", "integer"),
        ("step", "varchar(64)"),
        ("started_at", "timestamp"),
        ("seconds", "double precision"),
        ("cpu_seconds", "double precision"),
        ("peak_rss_mb", "double precision"),
        ("rows_in", "bigint"),
        ("rows_out", "bigint"),
        ("outcome", "varchar(16)"),
        ("error_class", "varchar(64)"),
        ("kind", "varchar(16)"),
        ("layer", "varchar(16)"),
    ],
    "layer_rows": [
        ("run_id", "varchar(64)"),
        ("layer", "varchar(16)"),
        ("relation", "varchar(128)"),
        ("row_count", "bigint"),
    ],
    "gate_checks": [
        ("run_id", "varchar(64)"),
        ("layer", "varchar(16)"),
        ("dataset", "varchar(128)"),
        ("check_name", "varchar(256)"),
        ("column_name", "varchar(128)"),
        ("outcome", "varchar(16)"),
        ("severity", "varchar(8)"),
    ],
    "connector_counters": [
        ("run_id", "varchar(64)"),
        ("connector", "varchar(32)"),
        ("accepted", "bigint"),
        ("duplicates", "bigint"),
        ("quarantined", "bigint"),
        ("refused", "bigint"),
        ("retried", "bigint"),
        ("rows_accepted", "bigint"),
    ],
    "freshness": [
        ("run_id", "varchar(64)"),
        ("source", "varchar(32)"),
        ("latest_ingested_at", "timestamp"),
        ("age_hours", "double precision"),
        ("max_age_hours", "double precision"),
        ("status", "varchar(16)"),
    ],
    "reconciliation": [
        ("run_id", "varchar(64)"),
        ("dataset", "varchar(32)"),
        ("upstream", "varchar(16)"),
        ("downstream", "varchar(16)"),
        ("rows_in", "bigint"),
        ("rows_out", "bigint"),
        ("explained", "bigint"),
        ("unexplained", "bigint"),
    ],
}
# Upstream layer of each build step, for rows in.
UPSTREAM = {"bronze": "raw", "silver": "bronze", "gold": "silver"}


def _ts(text: str | None) -> datetime | None:
    """An ISO timestamp as naive UTC (the ops tables' convention)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _layer_total(summary: dict[str, Any], layer: str) -> int | None:
    if layer == "raw":
        read = summary.get("incremental") or {}
        return sum(c["rows"] for c in read.values()) if read else None
    tables = (summary.get("layer_rows") or {}).get(layer)
    return sum(tables.values()) if tables else None


def history_rows(summary: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The ops rows of one run summary (as saved in the lake's run record)."""
    run_id = summary["run_id"]
    steps = summary.get("steps") or []
    started, finished = _ts(summary.get("started_at")), _ts(summary.get("finished_at"))
    seconds = (finished - started).total_seconds() if started and finished else None
    read = summary.get("incremental") or {}
    rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
    rows["runs"].append(
        (
            run_id,
            summary.get("target"),
            summary.get("orchestrator"),
            started,
            finished,
            seconds,
            summary.get("outcome"),
            summary.get("failing_step"),
            summary.get("error_class"),
            (summary.get("error") or "")[:4000] or None,
            not summary.get("skipped_build"),
            summary.get("full_refresh"),
            summary.get("as_of"),
            sum(c["rows"] for c in read.values()) if read else None,
        )
    )
    for no, step in enumerate(steps, start=1):
        kind, layer = step.get("kind"), step.get("layer")
        rows_in = rows_out = step.get("rows")
        if kind == "transform" and layer:
            rows_in = _layer_total(summary, UPSTREAM.get(layer, ""))
            rows_out = _layer_total(summary, layer)
        elif kind == "gate" and layer:
            rows_in, rows_out = _layer_total(summary, layer), step.get("rows")
        rows["steps"].append(
            (
                run_id,
                no,
                step["name"],
                _ts(step.get("started_at")),
                step.get("seconds"),
                step.get("cpu_seconds"),
                step.get("peak_rss_mb"),
                rows_in,
                rows_out,
                step.get("outcome"),
                step.get("error_class"),
                kind,
                layer,
            )
        )
    for layer, tables in (summary.get("layer_rows") or {}).items():
        rows["layer_rows"] += [(run_id, layer, name, n) for name, n in tables.items()]
    gates = [
        *(summary.get("gates_before_rejection") or {}).items(),
        *(summary.get("gates") or {}).items(),
    ]
    for layer, gate in gates:
        rows["gate_checks"] += [
            (run_id, layer, c["dataset"], c["check"], c["column"], c["outcome"], c["severity"])
            for c in gate.get("results", [])
        ]
    for name, c in (summary.get("connectors") or {}).items():
        rows["connector_counters"].append(
            (
                run_id,
                name,
                c.get("accepted", 0),
                c.get("duplicates", 0),
                c.get("quarantined", 0),
                c.get("refused", 0),
                c.get("retried", 0),
                c.get("rows_accepted", 0),
            )
        )
    for f in summary.get("freshness") or []:
        rows["freshness"].append(
            (
                run_id,
                f["source"],
                _ts(f.get("latest_ingested_at")),
                f.get("age_hours"),
                f["max_age_hours"],
                f["status"],
            )
        )
    for s in (summary.get("reconciliation") or {}).get("steps", []):
        rows["reconciliation"].append(
            (
                run_id,
                s["dataset"],
                s["upstream"],
                s["downstream"],
                s["rows_in"],
                s["rows_out"],
                sum(s["reasons"].values()),
                s["unexplained"],
            )
        )
    return rows


def _names(table: str) -> str:
    """The table's columns, quoted, in order (inserts name them)."""
    return ", ".join(f'"{name}"' for name, _ in TABLES[table])


def _ddl(table: str) -> list[str]:
    """Create the table, and add the columns a table made by an older version lacks."""
    columns = ", ".join(f'"{name}" {kind}' for name, kind in TABLES[table])
    return [f"create table if not exists {SCHEMA}.{table} ({columns})"] + [
        f'alter table {SCHEMA}.{table} add column if not exists "{name}" {kind}'
        for name, kind in TABLES[table]
    ]


# portable type -> the JSON structure type DuckDB's from_json reads it as
_JSON_TYPES = {
    "timestamp": "TIMESTAMP",
    "double precision": "DOUBLE",
    "boolean": "BOOLEAN",
    "bigint": "BIGINT",
    "integer": "INTEGER",
}


def _json_structure(table: str) -> str:
    """from_json's structure for a list of the table's rows, columns in order."""
    columns = {name: _JSON_TYPES.get(kind, "VARCHAR") for name, kind in TABLES[table]}
    return json.dumps([columns])


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


def _as_json(table: str, rows: list[tuple[Any, ...]]) -> str:
    """A table's rows as one JSON document: DuckDB binds it as one value (read back
    with from_json_strict: a value that does not fit its column raises, as a bound
    one did). Bound row by row (executemany), each value cost a failed import of
    pandas when pandas is not installed: about a second a run."""
    names = [name for name, _ in TABLES[table]]
    return json.dumps([dict(zip(names, map(_json_value, row), strict=True)) for row in rows])


def write_duckdb(path: str, summary: dict[str, Any]) -> None:
    """Record a run in the DuckDB file's ops schema."""
    rows = history_rows(summary)
    con = duckdb.connect(path)
    try:
        con.execute("begin")
        con.execute(f"create schema if not exists {SCHEMA}")
        for table in TABLES:
            for statement in _ddl(table):
                con.execute(statement)
            con.execute(f"delete from {SCHEMA}.{table} where run_id = ?", [summary["run_id"]])
            if rows[table]:
                con.execute(
                    f"insert into {SCHEMA}.{table} ({_names(table)}) "
                    f"select unnest(from_json_strict(?::json, ?), recursive := true)",
                    [_as_json(table, rows[table]), _json_structure(table)],
                )
        con.execute("commit")
    finally:
        con.close()


def write_postgres(settings: Settings, summary: dict[str, Any]) -> None:
    """Record a run in PostgreSQL's ops schema (loader role); the BI role may read it."""
    from psycopg import sql

    from olist_elt.warehouse.postgres import login

    rows = history_rows(summary)
    with login(settings, "loader").connect() as pg:
        pg.execute(f"create schema if not exists {SCHEMA}")
        for table in TABLES:
            for statement in _ddl(table):
                pg.execute(statement)  # type: ignore[arg-type]
            pg.execute(
                f"delete from {SCHEMA}.{table} where run_id = %s",  # type: ignore[arg-type]
                [summary["run_id"]],
            )
            if rows[table]:
                marks = ", ".join("%s" for _ in TABLES[table])
                with pg.cursor() as cur:
                    cur.executemany(
                        f"insert into {SCHEMA}.{table} ({_names(table)}) values ({marks})",  # type: ignore[arg-type]
                        rows[table],
                    )
        bi = sql.Identifier(settings.pg_bi_role)
        pg.execute(sql.SQL("grant usage on schema ops to {}").format(bi))
        pg.execute(sql.SQL("grant select on all tables in schema ops to {}").format(bi))
        # the BI role reads no error text: every column of ops.runs but `error`
        pg.execute(sql.SQL("revoke select on ops.runs from {}").format(bi))
        readable = [sql.Identifier(name) for name, _ in TABLES["runs"] if name != "error"]
        pg.execute(
            sql.SQL("grant select ({}) on ops.runs to {}").format(sql.SQL(", ").join(readable), bi)
        )
        pg.commit()
