"""The suite's bound with dbt's and Spark's fixed costs at their floors.

`targets._suite_logic_free` takes away every dbt process the tests start, every Spark
JVM and PostgreSQL's servers (they may run the builds' SQL) and puts back only the
runs' build nodes at the DuckDB twin's CPU: a bound that counts none of the cost that
starting dbt and Spark has whatever the SQL. This puts back, from the same result,
what the cheapest such work costs on this machine, measured beside it:

- each dbt process the tests start imports dbt: the twin's CPU to import it;
- each pyspark session and each loopback cluster the tests start: the Spark twins'
  JVM CPU to start them (the session's driver; the cluster's master, worker and
  Thrift Server until it answers), olist-elt's Spark settings with the short-run JVM
  options the cluster and the suite's session take;
- each node of the runs' Spark builds (bronze, silver): the Spark twins' CPU a node
  in a warm engine (the same builds run again in the same JVMs), their dbt process's
  and their JVMs', instead of the DuckDB twin's.

Every floor is the cheaper of the twin's two processes; what either part leaves out
(a dbt process's parse and its command, a JVM shorter than the poll) only lowers it.
"""

from __future__ import annotations

from typing import Any

from bench import proc_cpu

# the suite's builds by target, from its run records, and the twin of each engine
SPARK_BUILDS = {
    "spark (bronze, silver)": "spark",
    "spark_thrift (bronze, silver)": "spark_thrift",
}
STARTS = {proc_cpu.SESSION_START: "spark", proc_cpu.CLUSTER_START: "spark_thrift"}


def _cheaper(twin: dict[str, Any], figure: Any) -> float | None:
    """The lower of a figure over the twin's two processes, None if either lacks it."""
    values = [figure(run) for run in (twin, twin.get("again") or {})]
    return None if not twin or None in values else min(values)


def _spark_node(run: dict[str, Any]) -> float | None:
    """CPU a node of the twin's builds in a warm engine: its dbt process's and the
    JVMs'. A node costs no less in the suite, whose engines are at best as warm."""
    warm = [key for key in run if key.startswith("warm_") and key.endswith("_nodes")]
    layers = [key[len("warm_") : -len("_nodes")] for key in warm]
    keys = [f"warm_{layer}_{part}" for layer in layers for part in ("cpu_s", "jvm_cpu_s")]
    if not layers or any(key not in run for key in keys):
        return None
    return sum(run[key] for key in keys) / sum(run[f"warm_{x}_nodes"] for x in layers)


def floors(suite: dict[str, Any], twins: dict[str, Any]) -> dict[str, Any] | None:
    """What the floors put back: CPU seconds in all ('cpu'), the Spark nodes whose
    DuckDB-twin CPU they replace ('spark_nodes'), and each part with its count and
    unit. None for a result without the counts or the twins' figures."""
    counts = suite.get("process_counts") or {}
    builds = (suite.get("pipeline_runs") or {}).get("builds_by_target") or {}
    imports = _cheaper(twins.get("duckdb") or {}, lambda run: run.get("import_cpu_s"))
    starts = {
        kind: _cheaper(twins.get(engine) or {}, lambda run: run.get("session_jvm_cpu_s"))
        for kind, engine in STARTS.items()
    }
    nodes = {
        engine: _cheaper(twins.get(engine) or {}, _spark_node) for engine in SPARK_BUILDS.values()
    }
    if not counts or imports is None or None in (*starts.values(), *nodes.values()):
        return None
    parts = {
        "dbt imports": (counts.get(proc_cpu.DBT, 0), imports),
        **{kind: (counts.get(kind, 0), cpu) for kind, cpu in starts.items()},
        **{
            f"{engine} nodes": ((builds.get(key) or {}).get("nodes", 0), nodes[engine])
            for key, engine in SPARK_BUILDS.items()
        },
    }
    return {
        "cpu": sum(n * unit for n, unit in parts.values()),
        "spark_nodes": sum((builds.get(key) or {}).get("nodes", 0) for key in SPARK_BUILDS),
        "parts": parts,
    }


def sentence(bound: dict[str, Any], put: dict[str, Any], held: Any) -> str:
    """The clause of the suite's row that states the bound with the floors."""
    parts = put["parts"]
    dbt_n, dbt_unit = parts["dbt imports"]
    session_n, session_unit = parts[proc_cpu.SESSION_START]
    cluster_n, cluster_unit = parts[proc_cpu.CLUSTER_START]
    spark_ms = ", ".join(
        f"{1000 * parts[f'{engine} nodes'][1]:.0f} ms ({parts[f'{engine} nodes'][0]} nodes, "
        f"{engine})"
        for engine in SPARK_BUILDS.values()
    )
    cpu = bound["cpu"] - bound["per_node"] * put["spark_nodes"] + put["cpu"]
    return (
        f"; with the fixed cost of starting dbt and Spark at its floor measured in this "
        f"run instead of none (dbt processes started: {dbt_n}, each at the twin's "
        f"{dbt_unit:.2f} CPU s to import dbt; pyspark sessions started: {session_n}, each "
        f"at {session_unit:.1f} CPU s of JVM; loopback clusters started: {cluster_n}, each "
        f"at {cluster_unit:.1f} CPU s of JVM; the Spark builds' nodes at the Spark twins' "
        f"CPU a node in a warm engine, their JVMs' included: {spark_ms}), at least "
        f"{held(cpu)} (see bench/suite_floors.py)"
    )
