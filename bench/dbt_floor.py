"""dbt's own fixed cost for a project of olist-elt's shape (`python -m bench --dbt-floor`).

A full run on a hundredth of the sample costs about half as much as at scale 1: most
of that time is dbt's work per node and per command, not data. To show how much of it any dbt
project of the same shape pays, this builds a synthetic project with the same nodes
per layer as the full run's dbt builds (models, tests, seeds, snapshots, unit tests,
exposures, the on-run-start hook), each as cheap as dbt allows (models of one integer
column and one row, `not_null` and `accepted_values` tests, one-row seeds and unit
tests), with gold's contracts enforced as ours are, on the same adapter and threads.
It then times, in a fresh process, what the pipeline does: import dbt, parse from
scratch, and build each layer from the parsed manifest (`--no-write-json`, one
command per layer). The difference between this and the pipeline's own steps is
what olist-elt's SQL, macros and data add.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.timing import timed

LAYERS = ("bronze", "silver", "gold")
ADAPTER = {
    "duckdb": "dbt-duckdb",
    "spark": "dbt-spark (session)",
    "spark_thrift": "dbt-spark (thrift)",
}
# the twin's figures a run's parse step is set against: the run's parse is its first dbt
# command, so dbt's import is in it; the twin times its import apart
PARSE_KEYS = ("import_s", "parse_s")
# what the pipeline's own figures beside the twin's are, per engine
PIPELINE = {"duckdb": "olist-elt", "spark": "session", "spark_thrift": "cluster"}
# the layers each engine builds (Spark: bronze and silver; gold is on PostgreSQL)
ENGINE_LAYERS = {"duckdb": LAYERS, "spark": LAYERS[:2], "spark_thrift": LAYERS[:2]}

# Run in a fresh interpreter: import dbt, parse, build each layer; print the timings.
RUNNER = r"""
import json, os, sys, time
out = {}
from bench.proc_cpu import PROC, read_stat  # the bench's reader of /proc
TICKS = os.sysconf("SC_CLK_TCK")

def jvms():
    # the CPU so far of each JVM on the machine (Spark's; the bench runs alone), by
    # (pid, start time)
    found = {}
    for pid in filter(str.isdigit, os.listdir(PROC)):
        read = read_stat(pid, TICKS)
        if read is not None and read[1] == b"java":
            found[read[0]] = read[2]
    return found

def jvm_cpu(since):
    # what the JVMs alive now spent since `since` (one that ended in between is missed)
    return round(sum(cpu - since.get(key, 0.0) for key, cpu in jvms().items()), 2)

j0 = jvms()
conf = json.loads(os.environ.get("FLOOR_SPARK_CONF") or "null")
if conf:  # the session dbt-spark's session method takes, with olist-elt's settings
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession
    builder = SparkSession.builder.appName("floor").master(conf.pop("master"))
    for key, value in conf.items():
        builder = builder.config(key, value)
    builder.getOrCreate()
    out["session_s"] = time.perf_counter() - t0
cluster = None
if os.environ.get("FLOOR_CLUSTER"):  # olist-elt's loopback cluster, under OLIST_HOME
    from olist_elt.settings import load_settings
    from olist_elt.transform.spark_cluster import start_cluster, stop_cluster
    cluster = load_settings(target="spark_thrift")
    t0 = time.perf_counter()
    os.environ["FLOOR_THRIFT_PORT"] = str(start_cluster(cluster).thrift_port)
    out["session_s"] = time.perf_counter() - t0
spark = conf is not None or cluster is not None
if spark:  # the JVMs' CPU to start the engine
    out["session_jvm_cpu_s"] = jvm_cpu(j0)
from olist_elt.transform.dbt import no_console  # dbt's flags as the pipeline's

try:
    t0, c0 = time.perf_counter(), time.process_time()
    from dbt.cli.main import dbtRunner
    out["import_s"] = time.perf_counter() - t0
    out["import_cpu_s"] = time.process_time() - c0
    project, layers = sys.argv[1], json.loads(sys.argv[2])
    base = ["--project-dir", project, "--profiles-dir", project, *no_console()]
    t0 = time.perf_counter()
    res = dbtRunner().invoke(["parse", *base])
    out["parse_s"] = time.perf_counter() - t0
    assert res.success, res.exception
    manifest = res.result
    # on Spark each layer is built twice: a first build in a fresh engine, then again
    # in a warm one (JIT-compiled, its classes loaded), as a long-lived engine builds
    for prefix in ("build", "warm") if spark else ("build",):
        for layer in layers:
            j0 = jvms() if spark else {}  # read before the clocks start
            t0, c0 = time.perf_counter(), time.process_time()
            res = dbtRunner(manifest=manifest).invoke(
                ["build", "--no-write-json", *base, "--select", f"tag:{layer}",
                 "--indirect-selection", "buildable"]
            )
            out[f"{prefix}_{layer}_s"] = time.perf_counter() - t0
            # the process's CPU, its threads' included (dbt's and the engine's)
            out[f"{prefix}_{layer}_cpu_s"] = time.process_time() - c0
            if spark:  # and the JVMs' that ran its SQL
                out[f"{prefix}_{layer}_jvm_cpu_s"] = jvm_cpu(j0)
            assert res.success, res.exception
            out[f"{prefix}_{layer}_nodes"] = len(res.result.results)
finally:  # a failed build leaves no cluster behind
    if cluster is not None:
        stop_cluster(cluster)
print(json.dumps(out))
"""


def shape(steps: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Nodes per layer and resource type, from the full run's dbt build profiles."""
    out: dict[str, dict[str, int]] = {}
    for layer in LAYERS:
        profile = (steps.get(f"dbt build {layer}") or {}).get("profile") or {}
        out[layer] = {kind: v[0] for kind, v in (profile.get("by_type") or {}).items()}
    return out


def write_project(
    root: Path, layers: dict[str, dict[str, int]], threads: int, engine: str = "duckdb"
) -> Path:
    """The synthetic project: each layer's nodes, as cheap as dbt allows."""
    project = root / "dbt_floor"
    for sub in ("models", "seeds", "snapshots"):
        (project / sub).mkdir(parents=True, exist_ok=True)
    (project / "dbt_project.yml").write_text(
        "name: floor\nversion: '1.0.0'\nconfig-version: 2\nprofile: floor\n"
        "flags:\n  send_anonymous_usage_stats: false\n  partial_parse: true\n"
        "on-run-start:\n  - select 1\n"
        "models:\n  floor:\n    +materialized: table\n    +file_format: parquet\n"
        + "".join(f"    {x}:\n      +schema: {x}\n      +tags: [{x}]\n" for x in LAYERS)
        + "      +contract:\n        enforced: true\n"  # gold's, as ours
        "seeds:\n  floor:\n    +tags: [bronze]\n"
    )
    output = {
        "duckdb": f"      type: duckdb\n      path: {root / 'floor.duckdb'}\n",
        "spark": "      type: spark\n      method: session\n      host: localhost\n"
        "      schema: floor\n",
        # as profiles.yml's spark_thrift
        "spark_thrift": "      type: spark\n      method: thrift\n      host: 127.0.0.1\n"
        "      port: \"{{ env_var('FLOOR_THRIFT_PORT') | int }}\"\n      user: olist\n"
        "      schema: floor\n      poll_interval: 1\n",
    }[engine]
    (project / "profiles.yml").write_text(
        f"floor:\n  target: dev\n  outputs:\n    dev:\n{output}      threads: {threads}\n"
    )
    upstream: list[str] = []
    for n in range(layers.get("bronze", {}).get("seed", 0)):
        (project / "seeds" / f"seed_{n}.csv").write_text("id\n1\n")
        upstream.append(f"seed_{n}")
    for layer in ENGINE_LAYERS[engine]:
        counts = layers.get(layer, {})
        folder = project / "models" / layer
        folder.mkdir(exist_ok=True)
        names = [f"{layer}_{n}" for n in range(counts.get("model", 0))]
        for n, name in enumerate(names):
            source = upstream[n % len(upstream)] if upstream else None
            sql = f"select id from {{{{ ref('{source}') }}}}" if source else "select 1 as id"
            (folder / f"{name}.sql").write_text(f"select cast(id as integer) as id from ({sql})\n")
        yml = ["version: 2", "models:"]
        tests = counts.get("test", 0)
        for n, name in enumerate(names):
            k = tests // len(names) + (1 if n < tests % len(names) else 0)
            yml += [f"  - name: {name}", "    columns:", "      - name: id"]
            yml += ["        data_type: integer"]
            if k:
                # k tests on one column: not_null once, then accepted_values for each more
                yml += ["        data_tests:", "          - not_null"]
                yml += [
                    "          - accepted_values:\n              arguments:\n"
                    f"                values: [{i}, 1]"
                    for i in range(2, k + 1)
                ]
        units = counts.get("unit_test", 0)
        if units and upstream:
            yml.append("unit_tests:")
            for n in range(units):
                name = names[n % len(names)]
                source = upstream[n % len(names) % len(upstream)]
                yml += [
                    f"  - name: unit_{layer}_{n}",
                    f"    model: {name}",
                    "    given:",
                    f"      - input: ref('{source}')",
                    "        rows:",
                    "          - {id: 1}",
                    "    expect:",
                    "      rows:",
                    "        - {id: 1}",
                ]
        exposures = counts.get("exposure", 0)
        if exposures:
            yml.append("exposures:")
            for n in range(exposures):
                yml += [
                    f"  - name: exposure_{n}",
                    "    type: dashboard",
                    "    owner: {email: floor@example.com}",
                    f"    depends_on: [\"ref('{names[n % len(names)]}')\"]",
                ]
        (folder / "_models.yml").write_text("\n".join(yml) + "\n")
        snapshots = counts.get("snapshot", 0)
        if snapshots:
            snap = ["snapshots:"]
            for n in range(snapshots):
                snap += [
                    f"  - name: snapshot_{n}",
                    f"    relation: ref('{upstream[n % len(upstream)]}')",
                    "    config:",
                    "      schema: snapshots",
                    "      unique_key: id",
                    "      strategy: check",
                    "      check_cols: all",
                    f"      tags: [{layer}]",
                ]
            (project / "snapshots" / "snapshots.yml").write_text("\n".join(snap) + "\n")
        upstream = names
    return project


def dbt_floor(
    steps: dict[str, dict[str, Any]],
    work: Path,
    threads: int,
    engine: str = "duckdb",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Time the synthetic project of the same shape as the full run's dbt builds, in a
    fresh process; set its figures beside the full run's own steps. On Spark, the
    session has olist-elt's Spark settings (`spark_conf`), its tables under work."""
    layers = shape(steps)
    work.mkdir(parents=True, exist_ok=True)
    project = write_project(work, layers, threads, engine)
    env = {**(os.environ if env is None else env), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # the runner imports the bench's /proc reader from this checkout
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent), *filter(None, [env.get("PYTHONPATH")])]
    )
    if engine == "spark":
        from olist_elt.settings import Settings
        from olist_elt.transform.spark import spark_conf, with_java_options

        settings = Settings(home=work, _env_file=None)
        # the driver with the short-run JVM options the cluster's JVMs and the suite's
        # session take: the twin is a floor for the sessions the suite starts
        conf = with_java_options(spark_conf(settings), settings.spark_cluster_java_options)
        conf = {"master": settings.spark_master, **conf}
        conf["spark.driver.memory"] = settings.spark_driver_memory
        env["FLOOR_SPARK_CONF"] = json.dumps(conf)
    if engine == "spark_thrift":
        # the cluster olist-elt starts for the lake under OLIST_HOME (the runs' own)
        env["FLOOR_CLUSTER"] = "1"
    env["DBT_LOG_PATH"] = str(work / "logs")
    env["DBT_TARGET_PATH"] = str(work / "target")
    # the first process parses from scratch (a first run); the second finds the parse
    # kept and the project unchanged (every later run)
    first, again = (_run(project, env, ENGINE_LAYERS[engine]) for _ in range(2))
    pipeline = {"parse_s": steps.get("dbt parse", {}).get("wall_s")}
    for layer in ENGINE_LAYERS[engine]:
        pipeline[f"build_{layer}_s"] = steps.get(f"dbt build {layer}", {}).get("wall_s")
    return {
        "engine": engine,
        "shape": {k: v for k, v in layers.items() if k in ENGINE_LAYERS[engine]},
        "threads": threads,
        **first,
        "again": again,
        "pipeline": pipeline,
    }


def _run(project: Path, env: dict[str, str], layers: tuple[str, ...]) -> dict[str, Any]:
    """One fresh process of the runner: its wall time and figures."""
    run = timed([sys.executable, "-c", RUNNER, str(project), json.dumps(list(layers))], env)
    done, wall = run.done, run.wall_s
    if done.returncode != 0:
        raise SystemExit(f"dbt floor failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    rounded = {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
    return {"process_s": round(wall, 2), **rounded}


def spark_steps(layers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bench's Spark layer figures as the steps dbt_floor reads."""
    return {
        f"dbt build {layer}": {
            "wall_s": layers[f"{layer}_s"],
            "profile": layers[f"{layer}_profile"],
        }
        for layer in ENGINE_LAYERS["spark"]
    }


def markdown(scale: float, floor: dict[str, Any]) -> list[str]:
    """A table: each dbt step of the pipeline beside the same step of the synthetic
    project of the same shape."""
    pipeline = floor["pipeline"]
    again = floor.get("again") or {}
    layers = list(floor["shape"])
    engine = floor.get("engine", "duckdb")
    what = PIPELINE[engine]
    started = "cluster start" if engine == "spark_thrift" else "Spark session start"
    start = f", {started} {floor['session_s']} s" if "session_s" in floor else ""
    contracts = ", gold's contracts enforced" if "gold" in layers else ""
    lines = [
        "",
        f"### dbt's own cost for this shape on {engine} (scale {scale:g})",
        "",
        f"A synthetic project with the same nodes per layer ({_shape_text(floor['shape'])}),",
        f"every node as cheap as dbt allows{contracts}, {ADAPTER[engine]}, "
        f"{floor['threads']} threads, in a fresh process "
        f"({floor['process_s']} s in all{start}, dbt's import {floor['import_s']} s). A second",
        "fresh process with the parse kept and nothing changed, as every later run: "
        f"{again.get('process_s', '-')} s in all, dbt's import {again.get('import_s', '-')} s,",
        f"parse {again.get('parse_s', '-')} s, builds "
        + ", ".join(f"{layer} {again.get(f'build_{layer}_s', '-')} s" for layer in layers)
        + ".",
        *_warm_lines(floor, layers),
        "",
        f"| step | {what} s | same shape, trivial SQL s | {what}'s own s |",
        "|---|---|---|---|",
    ]
    rows = [("dbt import and parse (from scratch)", "parse_s", PARSE_KEYS)]
    rows += [(f"dbt build {layer}", f"build_{layer}_s", (f"build_{layer}_s",)) for layer in layers]
    total_own = total_floor = 0.0
    for label, key, twin_keys in rows:
        own = pipeline.get(key)
        if own is None or any(floor.get(k) is None for k in twin_keys):
            continue
        base = round(sum(floor[k] for k in twin_keys), 3)
        total_own += own
        total_floor += base
        lines.append(f"| {label} | {own} | {base} | {own - base:.2f} |")
    lines.append(f"| all | {total_own:.2f} | {total_floor:.2f} | {total_own - total_floor:.2f} |")
    return lines


def _shape_text(layers: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{layer}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        for layer, kinds in layers.items()
    )


def _warm_lines(floor: dict[str, Any], layers: list[str]) -> list[str]:
    """On Spark: the JVMs' CPU to start, and each layer built again in the warm
    engine (its dbt process's CPU, its JVMs'), both processes."""
    runs = [run for run in (floor, floor.get("again") or {}) if "session_jvm_cpu_s" in run]
    if not runs:
        return []
    starts = " and ".join(f"{run['session_jvm_cpu_s']}" for run in runs)
    warm = "; ".join(
        f"{layer} "
        + " and ".join(
            f"{run.get(f'warm_{layer}_cpu_s', '-')} + {run.get(f'warm_{layer}_jvm_cpu_s', '-')}"
            for run in runs
        )
        + f" CPU s ({floor.get(f'warm_{layer}_nodes', '-')} nodes)"
        for layer in layers
    )
    return [
        f"The JVMs' CPU to start: {starts} s. Each layer built again in the warm "
        f"engine (in each process's time above), dbt's process + the JVMs': {warm}.",
    ]
