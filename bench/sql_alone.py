"""The engine's own time for the slowest dbt nodes of a full run (`--engine-profile`).

The dbt floor (`dbt_floor.py`) shows what dbt costs per node with trivial SQL; this
shows the other side: each of the full run's slowest model and test nodes, its SQL
as dbt compiled it, run by DuckDB alone, one statement at a time, on a copy of the
build database the run left (nothing of the workspace is written):
- a model: `create table as` its SQL (the engine's work and the write), then, when
  its contract is enforced, the same rows inserted into a table made with the
  contract's columns and constraints as dbt made it: the difference is what the
  contract's keys (DuckDB's index on each primary key) cost;
- a test: `select count(*)` over its SQL, as dbt counts failures.
Then every table the run's models and snapshots left is written again (`write_again`),
its own rows read from it into a new table (and, for an enforced contract, into one
made with the contract's DDL): a full build of the node writes these rows with its
keys, whatever its SQL; reading its own rows back stands in for reading its inputs
(the bound assumes no node makes its rows for less than that: bronze parses raw CSV
and most nodes read more rows than they write; not shown for every node). Wall and
CPU seconds per node (the process's CPU, DuckDB's threads included: the lower of a
write on DuckDB's threads and one on a single thread); `targets.py` puts that CPU,
with dbt's twin's, against the cores: an estimated lower bound of a run with every
model's logic free. The tables are the last run's (the full refresh after the one-day
run: one day more than the first full run, the snapshots with that day's versions).
The PII pads the dbt plugin sets from the vault are set to random bytes: the timing
does not depend on the key, and the vault is not opened. The lake's location is set as
the plugin sets it (without it, every node reading the lake failed to bind).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.timing import timed

# Run in a fresh interpreter with the workspace's environment; argv: the node ids.
RUNNER = r"""
import json, os, re, secrets, shutil, sys, tempfile, time
from pathlib import Path
import duckdb
from olist_elt.settings import load_settings
from olist_elt.targets import target_for
from olist_elt.transform.duckdb_ext import attach_lake
from olist_elt.transform.duckdb_plugin import IPAD_VAR, OPAD_VAR, lake_variables
from bench.sql_alone import write_again, write_once

settings = load_settings()
target = target_for(settings).lake_dbt.target_path  # the pipeline's dbt artifacts
nodes = json.loads((target / "manifest.json").read_text())["nodes"]

def written_path(node, kind):
    # dbt's own rule (get_target_write_path): a node with a file of its own is
    # written under that file's path; a generic test, under its yml file's path
    path = node["original_file_path"]
    if Path(node["path"]).name != Path(path).name:
        path = str(Path(path) / node["path"])
    return target / kind / node["package_name"] / path

def contract_ddl(sql):
    found = re.search(r"create\s+table\s+\S+\s*\((.*?)\)\s*;", sql, re.S | re.I)
    return found.group(1) if found else None

def contract_of(node):
    # the columns and keys dbt made an enforced contract's table with
    enforced = (node["config"].get("contract") or {}).get("enforced")
    return contract_ddl(written_path(node, "run").read_text()) if enforced else None

out = []
scratch = Path(tempfile.mkdtemp(prefix="olist-engine-"))
try:
    copy = scratch / settings.build_database.name  # the same catalog name
    shutil.copyfile(settings.build_database, copy)
    con = duckdb.connect(str(copy))
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"set variable {IPAD_VAR} = ?", [secrets.token_bytes(64)])
    con.execute(f"set variable {OPAD_VAR} = ?", [secrets.token_bytes(64)])
    # where the sources read the lake (bronze's manifests, silver's erasure register),
    # as the dbt plugin sets it from the same settings
    for name, value in lake_variables(str(settings.lake_dir), settings.raw_root).items():
        con.execute(f"set variable {name} = ?", [value])
    attach_lake(con, settings)
    con.execute('create schema "bench_engine"')
    for uid in sys.argv[1:]:
        node = nodes.get(uid)
        row = {"node": uid}
        out.append(row)
        if node is None or node["resource_type"] not in ("model", "test"):
            row["skipped"] = "a unit test (dbt's fixture rows)" if uid.startswith(
                "unit_test.") else "not a model or test"
            continue
        try:
            sql = written_path(node, "compiled").read_text()
            name = f'"bench_engine"."{node["name"][:50]}"'
            t0 = time.perf_counter()
            if node["resource_type"] == "test":
                con.execute(f"select count(*) from ({sql}) as t").fetchall()
                row["engine_s"] = round(time.perf_counter() - t0, 3)
                continue
            con.execute(f"create table {name} as {sql}")
            row["engine_s"] = round(time.perf_counter() - t0, 3)
            row["rows"] = con.execute(f"select count(*) from {name}").fetchone()[0]
            ddl = contract_of(node)
            if ddl:
                keyed = f'"bench_engine"."{node["name"][:50]}_contract"'
                with_keys, _ = write_once(con, name, keyed, ddl)
                plain = f'"bench_engine"."{node["name"][:50]}_plain"'
                row["contract_s"] = round(with_keys - write_once(con, name, plain, None)[0], 3)
        except Exception as exc:  # a node dbt runs with more than SQL: shown, not hidden
            row["error"] = str(exc).splitlines()[0][:200]
    # every table the run's models and snapshots left, written again
    written = write_again(con, nodes, contract_of)
    con.close()
finally:
    shutil.rmtree(scratch, ignore_errors=True)
print(json.dumps({"nodes": out, "written": written, "cores": os.cpu_count()}))
"""


def _timed(con: Any, sql: str) -> tuple[float, float]:
    """One statement: its wall and CPU seconds (the process's, DuckDB's threads
    included)."""
    t0, c0 = time.perf_counter(), time.process_time()
    con.execute(sql)
    return time.perf_counter() - t0, time.process_time() - c0


def write_once(con: Any, source: str, target: str, ddl: str | None) -> tuple[float, float]:
    """source's rows inserted into a new table target (made like source, or with the
    contract's column and key DDL), then dropped: wall and CPU seconds."""
    if ddl:
        con.execute(f"create table {target} ({ddl})")
    else:
        con.execute(f"create table {target} as select * from {source} limit 0")
    try:
        return _timed(con, f"insert into {target} by name select * from {source}")
    finally:
        con.execute(f"drop table if exists {target}")


def write_again(
    con: Any, nodes: dict[str, dict[str, Any]], contract_of: Callable[[dict], str | None]
) -> list[dict[str, Any]]:
    """Every table a model or snapshot of the manifest's nodes left (an ephemeral model
    has none), its rows read into a new table in the schema bench_engine: with
    DuckDB's threads and with one, the lower CPU counted (a statement's parallel
    work may cost CPU of its own); then, for a node whose contract has DDL
    (contract_of), into a table made with it, the keys being what that insert takes
    beyond the plain one. Per node: folder, materialization, rows, write_s and
    write_cpu_s, keys_s and keys_cpu_s; error (nothing counted) or keys_error (the
    write counted, not the keys) names what failed."""
    rows: list[dict[str, Any]] = []
    threads = con.execute("select current_setting('threads')").fetchone()[0]
    con.execute('create schema if not exists "bench_engine"')
    for uid, node in nodes.items():
        if node["resource_type"] not in ("model", "snapshot") or not node.get("relation_name"):
            continue
        folder = Path(node["original_file_path"]).parts
        row: dict[str, Any] = {
            "node": uid,
            "folder": folder[1] if folder[0] == "models" else folder[0],
            "materialized": node["config"]["materialized"],
        }
        rows.append(row)
        source, name = node["relation_name"], node["name"][:50]
        try:
            wall, cpu = write_once(con, source, f'"bench_engine"."{name}_written"', None)
            con.execute("set threads = 1")
            try:
                _, cpu_one = write_once(con, source, f'"bench_engine"."{name}_one"', None)
            finally:
                con.execute(f"set threads = {threads}")
            row["rows"] = con.execute(f"select count(*) from {source}").fetchone()[0]
            row["write_s"], row["write_cpu_s"] = round(wall, 3), round(min(cpu, cpu_one), 3)
        except Exception as exc:  # shown, not hidden; the bound leaves the node out
            row["error"] = str(exc).splitlines()[0][:200]
            continue
        try:
            ddl = contract_of(node)
            if ddl:
                keyed = f'"bench_engine"."{name}_keyed"'
                keyed_wall, keyed_cpu = write_once(con, source, keyed, ddl)
                row["keys_s"] = round(keyed_wall - wall, 3)
                row["keys_cpu_s"] = round(keyed_cpu - cpu, 3)
        except Exception as exc:  # the write stays counted
            row["keys_error"] = str(exc).splitlines()[0][:200]
    return rows


def slowest_nodes(steps: dict[str, dict[str, Any]]) -> dict[str, tuple[str, float]]:
    """The slowest nodes of each dbt build of the run (its profile): node id to
    (step, node seconds)."""
    nodes: dict[str, tuple[str, float]] = {}
    for name, step in steps.items():
        for uid, seconds in (step.get("profile") or {}).get("slowest", []):
            nodes[uid] = (name, seconds)
    return nodes


def engine_profile(
    steps: dict[str, dict[str, Any]], env: dict[str, str], cwd: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The engine's own time for the run's slowest nodes, beside dbt's node seconds;
    and every model's and snapshot's rows written again (`written_again`): the cores,
    and per node its folder, rows, write and keys seconds, wall and CPU."""
    nodes = slowest_nodes(steps)
    # the runner imports write_again from this checkout's bench package
    paths = [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")]
    env = {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    run = timed([sys.executable, "-c", RUNNER, *nodes], env, cwd)
    if run.done.returncode != 0:
        raise SystemExit(f"engine profile failed:\n{run.done.stderr[-3000:]}")
    out = json.loads(run.done.stdout.strip().splitlines()[-1])
    rows = out["nodes"]
    for row in rows:
        row["step"], row["dbt_s"] = nodes[row["node"]]
    return rows, {"cores": out["cores"], "nodes": out["written"]}


def written_totals(
    written: dict[str, Any], materialized: str | None = None
) -> dict[str, dict[str, float]]:
    """Per folder of the project (bronze, silver, gold, audit, snapshots) and in all:
    nodes, rows, the writes' and the keys' wall and CPU seconds (of the nodes so
    materialized only, when one is named)."""
    keys = ("rows", "write_s", "write_cpu_s", "keys_s", "keys_cpu_s")
    order = ("bronze", "silver", "audit", "gold", "snapshots")
    totals: dict[str, dict[str, float]] = {}
    for row in written["nodes"]:
        if "error" in row or materialized not in (None, row.get("materialized")):
            continue
        for folder in (row["folder"], "all"):
            t = totals.setdefault(folder, dict.fromkeys(("nodes", *keys), 0))
            t["nodes"] += 1
            for k in keys:
                t[k] += row.get(k, 0)
    ranked = sorted(totals, key=lambda f: (f == "all", order.index(f) if f in order else 9, f))
    return {folder: totals[folder] for folder in ranked}


def written_markdown(scale: float, written: dict[str, Any]) -> list[str]:
    """A table: what writing each folder's tables again cost, and the nodes that
    could not be written (named)."""
    lines = [
        "",
        f"### Every model's own rows written again (scale {scale:g})",
        "",
        "Each table the run's models and snapshots left, read and written again into a",
        "new table by DuckDB alone, one at a time, on a copy of the build database; a",
        "contract's keys are its rows written into a table with the contract's DDL,",
        "less the plain write (see `bench/sql_alone.py`); CPU is the lower of DuckDB's",
        "threads and one. A full build of the node, whatever its SQL, writes these rows",
        "with its keys.",
        "",
        "| folder | nodes | rows | write s | write CPU s | keys s | keys CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for folder, t in written_totals(written).items():
        lines.append(
            f"| {folder} | {t['nodes']} | {t['rows']:,} | {t['write_s']:.2f} "
            f"| {t['write_cpu_s']:.2f} | {t['keys_s']:.2f} | {t['keys_cpu_s']:.2f} |"
        )
    for row in written["nodes"]:
        if "error" in row:
            lines.append(f"\nNot written: {row['node']}: {row['error']}")
        elif "keys_error" in row:
            lines.append(f"\nWritten without its keys: {row['node']}: {row['keys_error']}")
    return lines


def markdown(scale: float, rows: list[dict[str, Any]]) -> list[str]:
    """A table: each slow node's seconds in dbt beside its SQL run by DuckDB alone."""
    lines = [
        "",
        f"### The engine's own time for the slowest nodes (scale {scale:g})",
        "",
        "Each node's SQL as dbt compiled it, run by DuckDB alone, one statement at a",
        "time, on a copy of the run's build database (see `bench/sql_alone.py`). dbt's node",
        "seconds were measured with two nodes at a time.",
        "",
        "| step | node | dbt node s | DuckDB alone s | of which the contract's keys s | rows |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: -r["dbt_s"]):
        parts = row["node"].split(".")  # a generic test's id ends in a hash
        name = parts[2] if parts[0] == "test" else parts[-1]
        alone = row.get("engine_s", row.get("error") or row.get("skipped") or "-")
        rows_made = row.get("rows")
        lines.append(
            f"| {row['step']} | {name} | {row['dbt_s']} | {alone} "
            f"| {row.get('contract_s', '-')} | {'-' if rows_made is None else f'{rows_made:,}'} |"
        )
    return lines
