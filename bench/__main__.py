"""Benchmark olist-elt the way users run it: `python -m bench [--scales 0.1,1,10]`.

For each scale: generate the sample once; measure the floor (DuckDB turning the same
CSVs into parquet, in this process); then, each in a fresh `olist-elt run` process
with every gate on: the full run, a second run with no new data, and a run with one
day of new orders. Per step: wall and CPU seconds and peak memory (from the run
record). Writes bench/results/<timestamp>.json and .md; earlier results stay.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from bench import bad_day, dbt_floor, sql_alone, suite, targets
from bench.timing import olist_run
from olist_elt.sample import OLIST_FILES, generate_sample
from olist_elt.settings import Settings

# the pipeline's dbt threads (the bench's runs set no OLIST_ variable)
DBT_THREADS = Settings.model_fields["dbt_threads"].default

RESULTS = Path(__file__).resolve().parent / "results"
DELTA_FILES = ("orders", "order_items", "order_payments", "customers")


def _mem_available_gib() -> float:
    """MemAvailable from /proc/meminfo (inf where unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("inf")


def floor_seconds(sample: Path, work: Path) -> float:
    """DuckDB alone: read the 9 CSVs once and write them as parquet."""
    out = work / "floor"
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    t0 = time.perf_counter()
    for spec in OLIST_FILES.values():
        con.execute(
            f"copy (select * from read_csv('{sample / spec.file_name}', header = true)) "
            f"to '{out / spec.dataset}.parquet' (format parquet)"
        )
    seconds = time.perf_counter() - t0
    con.close()
    shutil.rmtree(out)
    return seconds


def one_day_of_orders(sample: Path, out: Path, tag: str = "bench-delta") -> int:
    """New orders copied from the sample's last purchase day, with new ids (another
    tag, other ids)."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    files = {k: str(sample / OLIST_FILES[k].file_name) for k in DELTA_FILES}
    con.execute(
        f"""create table day as
        select order_id, customer_id from read_csv('{files["orders"]}', header = true,
            all_varchar = true)
        where cast(order_purchase_timestamp as date) = (
            select max(cast(order_purchase_timestamp as date)) - 1
            from read_csv('{files["orders"]}', header = true, all_varchar = true))"""
    )
    (n,) = con.execute("select count(*) from day").fetchone()  # type: ignore[misc]
    remap = "md5(x.{col} || ':" + tag + "')"
    for dataset, key in (
        ("orders", "order_id"),
        ("order_items", "order_id"),
        ("order_payments", "order_id"),
        ("customers", "customer_id"),
    ):
        columns = OLIST_FILES[dataset].columns
        select = ", ".join(
            f"{remap.format(col=c)} as {c}" if c in ("order_id", "customer_id") else f"x.{c}"
            for c in columns
        )
        con.execute(
            f"""copy (select {select} from read_csv('{files[dataset]}', header = true,
                all_varchar = true) as x where x.{key} in (select {key} from day))
            to '{out / OLIST_FILES[dataset].file_name}' (header, force_quote *)"""
        )
    con.close()
    return int(n)


def timed_run(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """One `olist-elt run` in a fresh process: wall, CPU, peak memory, its steps."""
    run, record = olist_run(args, env, cwd)
    steps = record["steps"]
    return {
        "wall_s": round(run.wall_s, 2),
        "cpu_s": round(run.cpu_s, 2),
        "peak_rss_mib": max((s.get("peak_rss_mb") or 0) for s in steps),
        "steps": {
            s["name"]: {
                "wall_s": s["seconds"],
                "cpu_s": s.get("cpu_seconds"),
                "peak_rss_mib": s.get("peak_rss_mb"),
                "rows": s.get("rows"),
                "profile": s.get("profile"),
            }
            for s in steps
        },
        "skipped_build": record.get("skipped_build"),
    }


SPARK_LAYERS = """
import json, sys, time
from pathlib import Path
from olist_elt.connectors.olist.files import OLIST_FILES
from olist_elt.settings import load_settings
from olist_elt.targets import target_for
from olist_elt.transform.spark_cluster import start_cluster, stop_cluster
settings = load_settings(target=sys.argv[1])
target = target_for(settings)
cluster = settings.target == "spark_thrift"
try:
    t0 = time.perf_counter()
    if cluster:
        start_cluster(settings)
    target.start()
    out = {"start_s": round(time.perf_counter() - t0, 2)}
    if not cluster:
        # Spark's own floor: the session alone turning the CSVs into parquet
        from pyspark.sql import SparkSession
        spark = SparkSession.getActiveSession()
        sample, scratch = Path(sys.argv[2]), Path(sys.argv[3])
        t0 = time.perf_counter()
        for spec in OLIST_FILES.values():
            (spark.read.option("header", "true").option("multiLine", "true")
                .option("escape", '"').csv(str(sample / spec.file_name))
                .write.mode("overwrite").parquet(str(scratch / spec.dataset)))
        out["floor_s"] = round(time.perf_counter() - t0, 2)
    target.lake_dbt.parse()
    for layer in ("bronze", "silver"):
        t0 = time.perf_counter()
        result = target.build(layer, full_refresh=True)
        out[layer + "_s"] = round(time.perf_counter() - t0, 2)
        out[layer + "_profile"] = result.profile()
finally:
    if cluster:
        stop_cluster(settings)
print(json.dumps(out))
"""


def spark_layers(env: dict[str, str], cwd: Path, target: str = "spark") -> dict[str, Any]:
    """Bronze and silver (models and tests, full refresh) from the raw zone the full
    run left, in a fresh process: on the spark target's in-process session, or on a
    loopback cluster started (and stopped) for it (spark_thrift); start-up apart."""
    scratch = cwd / "spark-floor"
    done = subprocess.run(
        [sys.executable, "-c", SPARK_LAYERS, target, str(cwd / "sample"), str(scratch)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{target} layers failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(scratch, ignore_errors=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["bronze_silver_s"] = round(out["bronze_s"] + out["silver_s"], 2)
    return out


def bench_scale(
    scale: float,
    seed: int,
    work: Path,
    spark: bool = False,
    floor: bool = False,
    engine_profile: bool = False,
    bad: bool = False,
) -> dict[str, Any]:
    """All measurements for one scale."""
    work.mkdir(parents=True, exist_ok=True)
    sample = work / "sample"
    t0 = time.perf_counter()
    counts = generate_sample(sample, scale=scale, seed=seed)
    generate_s = time.perf_counter() - t0
    source_rows = sum(counts.values())
    csv_mib = sum(p.stat().st_size for p in sample.glob("*.csv")) / 1024**2
    floor_s = floor_seconds(sample, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLIST_")}
    env.pop("PREFECT_API_URL", None)
    env.update(
        OLIST_HOME=str(work),  # lake, warehouse, vault of this benchmark under work/
        # a parse cache of its own: the full run parses the project as a first run does
        OLIST_DBT_PARSE_CACHE=str(work / "dbt-parse-cache"),
        # and dbt's artifacts of its own: in the checkout's dbt_project/target, the
        # parse an earlier run (another scale, `./dev run`) kept there was reused, and a
        # full run parsed only part of the project
        OLIST_DBT_TARGET_PATH=str(work / "dbt-target"),
        # the offline API answers follow the clock: pinned, a second run that crosses
        # an hour has no new weather (in 2026-12-02T055910Z it had, and rebuilt)
        OLIST_APIS_NOW=datetime.now(UTC).replace(microsecond=0).isoformat(),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        SODA_CORE_TELEMETRY_ENABLED="false",
    )
    full = timed_run([str(sample)], env, work)
    again = timed_run([str(sample)], env, work)
    delta_rows = one_day_of_orders(sample, work / "delta")
    day = timed_run([str(work / "delta")], env, work)
    # every layer rebuilt from all of raw (--full-refresh) and gated again, in a fresh
    # process whose dbt parse is kept (the workspace's own): a full run after the first
    refresh = timed_run([str(work / "delta"), "--full-rebuild", "--full-refresh"], env, work)
    steps = full["steps"]
    # the slowest nodes' SQL run by DuckDB alone, from what the full refresh compiled
    # (every node's full build), and every table it left written again, on a copy of
    # its build database
    engine_rows, written = (
        sql_alone.engine_profile(steps, env, work) if engine_profile else (None, None)
    )
    # last: it leaves raw objects rejected
    bad_run = bad_day.bad_day_run(sample, work, env, one_day_of_orders) if bad else None
    layers = {
        "duckdb_bronze_silver_s": round(
            steps["dbt build bronze"]["wall_s"] + steps["dbt build silver"]["wall_s"], 2
        ),
        "spark": spark_layers(env, work) if spark else None,
        "spark_cluster": spark_layers(env, work, "spark_thrift") if spark else None,
    }
    floors = {}
    if floor:
        floors["duckdb"] = dbt_floor.dbt_floor(steps, work / "floor", DBT_THREADS, env=env)
        # the session's and the cluster's dbt run the default threads (profiles.yml)
        for engine, name, threads in (
            ("spark", "spark", DBT_THREADS),
            ("spark_thrift", "spark_cluster", DBT_THREADS),
        ):
            if layers[name]:
                floors[engine] = dbt_floor.dbt_floor(
                    dbt_floor.spark_steps(layers[name]),
                    work / f"floor-{engine}",
                    threads,
                    engine,
                    env,
                )
    return {
        "dbt_floor": floors,
        "engine_profile": engine_rows,
        "written_again": written,
        "layers": layers,
        "scale": scale,
        "source_rows": source_rows,
        "csv_mib": round(csv_mib, 1),
        "generate_s": round(generate_s, 2),
        "floor_s": round(floor_s, 2),
        "full_run": full,
        "no_new_data_run": again,
        "one_day_run": {**day, "new_orders": delta_rows},
        "full_refresh_run": refresh,
        "bad_day_run": bad_run,
        "ratio_to_floor": round(full["wall_s"] / floor_s, 1),
        "rows_per_s": round(source_rows / full["wall_s"]),
        "no_new_data_pct": round(100 * again["wall_s"] / full["wall_s"], 1),
        "one_day_pct": round(100 * day["wall_s"] / full["wall_s"], 1),
    }


DBT_PROFILE_HEADER = [
    "| step | wall s | nodes | node s | by type (count / s) | slowest nodes (s) |",
    "|---|---|---|---|---|---|",
]
DBT_PROFILE_TITLE = (
    "dbt builds: nodes and node seconds by type (summed over threads; models also by "
    "materialization), slowest nodes."
)


def _counts(tally: dict[str, list[float]]) -> str:
    """A profile's tally (count and seconds by kind) as "kind count / seconds, ..."."""
    return ", ".join(f"{k} {n} / {sec:g}" for k, (n, sec) in sorted(tally.items()))


def dbt_profile_rows(steps: dict[str, dict[str, Any]]) -> list[str]:
    """Where each dbt build's time went, a table row per profiled step: nodes and node
    seconds (summed over dbt's threads) by resource type, and the slowest nodes."""
    rows = []
    for name, st in steps.items():
        p = st.get("profile")
        if not p:
            continue
        kinds = _counts(p["by_type"])
        if built := p.get("models_by_materialization"):
            kinds += f" (models: {_counts(built)})"
        slow = ", ".join(f"{uid.split('.')[-1]} {sec:g}" for uid, sec in p["slowest"])
        rows.append(
            f"| {name} | {st['wall_s']} | {p['nodes']} | {p['node_seconds']} | {kinds} | {slow} |"
        )
    return rows


def dbt_profile(steps: dict[str, dict[str, Any]], title: str = DBT_PROFILE_TITLE) -> list[str]:
    """The profile table of these steps (nothing when none was profiled)."""
    rows = dbt_profile_rows(steps)
    return ["", title, "", *DBT_PROFILE_HEADER, *rows] if rows else []


def markdown(result: dict[str, Any], previous: dict[float, dict[str, Any]]) -> str:
    """The result as markdown tables, with each scale's previous result beside it."""
    lines = [
        f"# olist-elt benchmark {result['when']}",
        "",
        f"Machine: {result['machine']}. Every run is a fresh `olist-elt run` process,",
        "all gates on. Bronze + silver (models and their tests) on DuckDB come from the",
        "full run; on Spark (`--spark`: the in-process session, `local[2]`, and a loopback",
        "cluster of one master, OLIST_SPARK_WORKERS workers and the Thrift Server) from a",
        "full refresh of the same raw zone in a fresh process; session or cluster start-up",
        "apart.",
        "",
        "| scale | source rows | CSV MiB | floor s | full run s | × floor | rows/s | "
        "peak MiB | no new data s (%) | one day s (%) | full refresh, parse kept s | "
        "previous full run s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["scales"]:
        prev = previous.get(s["scale"])
        # a second run that found new input rebuilt: its time is not a no-new-data run's
        rebuilt = "" if s["no_new_data_run"].get("skipped_build") else ", rebuilt"
        lines.append(
            f"| {s['scale']:g} | {s['source_rows']:,} | {s['csv_mib']} | {s['floor_s']} | "
            f"{s['full_run']['wall_s']} | {s['ratio_to_floor']} | {s['rows_per_s']:,} | "
            f"{s['full_run']['peak_rss_mib']:.0f} | {s['no_new_data_run']['wall_s']} "
            f"({s['no_new_data_pct']}%{rebuilt}) | {s['one_day_run']['wall_s']} "
            f"({s['one_day_pct']}%) | {s.get('full_refresh_run', {}).get('wall_s', '-')} | "
            f"{prev['full_run']['wall_s'] if prev else '-'} |"
        )
    lines += bad_day.markdown(result["scales"])
    lines += targets.markdown(result)
    lines += [
        "",
        "| scale | DuckDB bronze+silver s | session bronze+silver s | session start s "
        "| cluster bronze+silver s | cluster start s | DuckDB floor s | Spark floor s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    spark_steps: dict[str, dict[str, Any]] = {}
    for s in result["scales"]:
        layers = s.get("layers") or {}
        session = layers.get("spark") or {}
        cluster = layers.get("spark_cluster") or {}
        lines.append(
            f"| {s['scale']:g} | {layers.get('duckdb_bronze_silver_s', '-')} "
            f"| {session.get('bronze_silver_s', '-')} "
            f"| {session.get('start_s', session.get('session_s', '-'))} "
            f"| {cluster.get('bronze_silver_s', '-')} | {cluster.get('start_s', '-')} "
            f"| {s['floor_s']} | {session.get('floor_s', '-')} |"
        )
        for engine, out in (("session", session), ("cluster", cluster)):
            for layer in ("bronze", "silver"):
                if f"{layer}_s" in out:
                    spark_steps[f"{engine} {layer} (scale {s['scale']:g})"] = {
                        "wall_s": out[f"{layer}_s"],
                        "profile": out.get(f"{layer}_profile"),
                    }
    spark_profile = dbt_profile(spark_steps)
    if spark_profile:
        lines += ["", "Spark floor: the session alone turning the same CSVs into parquet."]
        lines += spark_profile
    for s in result["scales"]:
        prev = previous.get(s["scale"])
        prev_steps = prev["full_run"]["steps"] if prev else {}
        lines += [
            "",
            f"## Steps of the full run at scale {s['scale']:g}",
            "",
            f"Previous: the result of {prev['when'] if prev else '-'} at this scale.",
            "",
            "| step | wall s | previous wall s | CPU s | peak MiB | rows | one day wall s "
            "| full refresh wall s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        day_steps = s["one_day_run"]["steps"]
        refresh_steps = s.get("full_refresh_run", {}).get("steps", {})
        for name, st in s["full_run"]["steps"].items():
            rows = "" if st["rows"] is None else f"{st['rows']:,}"
            was = prev_steps.get(name, {}).get("wall_s", "-")
            day = day_steps.get(name, {}).get("wall_s", "-")
            again = refresh_steps.get(name, {}).get("wall_s", "-")
            lines.append(
                f"| {name} | {st['wall_s']} | {was} | {st['cpu_s']} | {st['peak_rss_mib']} "
                f"| {rows} | {day} | {again} |"
            )
        outside = targets.outside_steps(s["full_run"])
        outside_row = f"| outside the steps (process start, imports, records) | {outside:.2f} "
        lines.append(outside_row + "|" * 7)
        lines += dbt_profile(s["full_run"]["steps"])
        lines += dbt_profile(
            day_steps,
            f"The one-day run's dbt builds ({s['one_day_run']['new_orders']:,} new orders): "
            "an incremental model reads only the orders the day touched; a table model, a "
            "snapshot and a data test read their whole inputs.",
        )
        if s.get("engine_profile"):
            lines += sql_alone.markdown(s["scale"], s["engine_profile"])
        if s.get("written_again"):
            lines += sql_alone.written_markdown(s["scale"], s["written_again"])
        for floor in (s.get("dbt_floor") or {}).values():
            lines += dbt_floor.markdown(s["scale"], floor)
    if result.get("suite"):
        lines += suite.markdown(result["suite"])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the scales, write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scales", default="0.1,1,10")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument(
        "--spark",
        action="store_true",
        help="also time bronze+silver on the Spark session and a loopback cluster",
    )
    parser.add_argument(
        "--spark-scales",
        default="1",
        help="the scales --spark applies to (default 1)",
    )
    parser.add_argument(
        "--dbt-floor",
        action="store_true",
        help="also time a synthetic dbt project of the same shape with trivial SQL",
    )
    parser.add_argument(
        "--engine-profile",
        action="store_true",
        help="also run the slowest nodes' compiled SQL in DuckDB alone, and write every "
        "model's rows again",
    )
    parser.add_argument(
        "--bad-day",
        action="store_true",
        help="also time a day whose customers file has a bad row (its search, rejections)",
    )
    parser.add_argument(
        "--suite",
        action="store_true",
        help="also time the README's test command from a fresh clone (about half an hour)",
    )
    args = parser.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",") if s]
    spark_scales = {float(s) for s in args.spark_scales.split(",") if s}
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    result: dict[str, Any] = {
        "when": when,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "scales": [],
    }
    root = Path(tempfile.mkdtemp(prefix="olist-bench-"))
    try:
        for scale in scales:
            if scale >= 10 and _mem_available_gib() < 12:
                print(f"skipping scale {scale:g}: under 12 GiB of memory available")
                continue
            print(f"scale {scale:g} ...", flush=True)
            result["scales"].append(
                bench_scale(
                    scale,
                    args.seed,
                    root / f"scale-{scale:g}",
                    spark=args.spark and scale in spark_scales,
                    floor=args.dbt_floor,
                    engine_profile=args.engine_profile,
                    bad=args.bad_day,
                )
            )
            s = result["scales"][-1]
            print(
                f"  full {s['full_run']['wall_s']}s (floor {s['floor_s']}s), "
                f"no new data {s['no_new_data_run']['wall_s']}s, "
                f"one day {s['one_day_run']['wall_s']}s",
                flush=True,
            )
        if args.suite:
            print("test suite ...", flush=True)
            result["suite"] = suite.suite_timing(root)
            print(f"  {result['suite']['wall_s']}s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    previous: dict[float, dict[str, Any]] = {}
    for earlier in sorted(args.out.glob("*.json"), reverse=True):
        for s in json.loads(earlier.read_text()).get("scales", []):
            previous.setdefault(s["scale"], {**s, "when": earlier.stem})
    (args.out / f"{when}.json").write_text(json.dumps(result, indent=1))
    (args.out / f"{when}.md").write_text(markdown(result, previous))
    print(markdown(result, previous))


if __name__ == "__main__":
    main()
