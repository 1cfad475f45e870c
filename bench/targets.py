"""Issue 20's targets set against one result: each target, the figure measured in
this run, met or missed, and for a missed one where its time goes, from this run's
own measurements (the steps, dbt's twin of the same shape, the engine profile)."""

from __future__ import annotations

from typing import Any

from bench import proc_cpu, suite_floors
from bench.dbt_floor import PARSE_KEYS
from bench.sql_alone import written_totals
from olist_elt.settings import Settings

FULL_RUN_S = 15.0  # the full run at scale 1, a fresh process, every gate on
TIMES_FLOOR = 8.0  # at scale 10, the full run against the floor of the same run
PEAK_MIB = 4096  # at scale 10
NO_NEW_DATA_PCT = 10.0  # of a full run
ONE_DAY_PCT = 20.0  # of a full run
SUITE_S = 480.0  # the README's test command, install excluded


def _gates(steps: dict[str, dict[str, Any]]) -> float:
    return sum(st["wall_s"] for name, st in steps.items() if name.startswith("gate "))


def _builds(steps: dict[str, dict[str, Any]]) -> float:
    return sum(st["wall_s"] for name, st in steps.items() if name.startswith("dbt "))


def _twin(s: dict[str, Any]) -> dict[str, Any]:
    return (s.get("dbt_floor") or {}).get("duckdb") or {}


def _twin_parse(twin: dict[str, Any]) -> float:
    """The twin's import of dbt and its parse (dbt_floor.PARSE_KEYS): a run imports dbt
    in its parse step (its first dbt command), the twin apart from its parse."""
    return sum(twin[key] for key in PARSE_KEYS)


def outside_steps(run: dict[str, Any]) -> float:
    """A run's seconds outside its steps: process start, imports, records."""
    return run["wall_s"] - sum(st["wall_s"] for st in run["steps"].values())


def _cpu_by_kind(suite: dict[str, Any]) -> str:
    """The suite's CPU by kind of process (every process on the machine) against what
    the target's minutes hold on the machine's cores: the four largest kinds."""
    by_kind = dict(suite.get("cpu_by_kind") or {})
    total = by_kind.pop("all", None)
    if not total:
        return ""
    held = SUITE_S * suite["cores"]
    largest = ", ".join(
        f"{kind.split(' (')[0]} {seconds:g} s" for kind, seconds in list(by_kind.items())[:4]
    )
    return (
        f"; CPU of every process {total:g} s, where {SUITE_S / 60:g} min on "
        f"{suite['cores']} cores hold {held:g} s; largest: {largest}"
    )


def _suite_logic_free(suite: dict[str, Any], twin: dict[str, Any]) -> dict[str, float] | None:
    """The suite's CPU with no dbt work but the twin's, everything else as measured: an
    estimated lower bound, over the machine's cores, of its wall with dbt kept. What
    every process used (proc_cpu; idle services, shell tools and pip left out), less
    everything that may be dbt's building: the pipeline runs' build steps and their
    searches for bad files (the CPU of the process that ran each step, from the run
    records), the dbt processes the tests start, Spark's JVMs and PostgreSQL's servers
    (where the Spark and warehouse builds' SQL runs; they also serve the tests' own
    queries, taken away too). 'rest' is that; 'cpu' adds the twin's CPU a node (the
    cheaper of its two runs, from scratch and with its parse kept) for the build steps'
    nodes; 'kept' is the CPU of the other dbt work taken away, as measured: 'cpu' plus
    'kept' is the suite with only the runs' own builds at the twin's cost, no bound
    (the tests' Spark and dbt processes may cost less too). A run killed before it
    wrote its record leaves its builds in the rest. None for a result without these
    figures."""
    by_kind = suite.get("cpu_by_kind") or {}
    runs = (suite.get("pipeline_runs") or {}).get("by_kind") or {}
    builds = runs.get("dbt builds") or {}
    searches = runs.get("searches for bad files") or {}
    layers = list(twin.get("shape") or {})
    per_node = [
        sum(run[f"build_{layer}_cpu_s"] for layer in layers)
        / sum(run[f"build_{layer}_nodes"] for layer in layers)
        for run in (twin, twin.get("again") or {})
        if layers and all(f"build_{layer}_cpu_s" in run for layer in layers)
    ]
    if "all" not in by_kind or "cpu_seconds" not in searches or not per_node:
        return None
    idle = (proc_cpu.OTHER, proc_cpu.PIP)
    dbt_work = (proc_cpu.DBT, proc_cpu.SPARK, proc_cpu.POSTGRES)
    kept = sum(by_kind.get(kind, 0.0) for kind in dbt_work) + searches["cpu_seconds"]
    rest = (
        by_kind["all"] - sum(by_kind.get(kind, 0.0) for kind in idle) - kept - builds["cpu_seconds"]
    )
    return {
        "per_node": min(per_node),
        "cpu": rest + min(per_node) * builds["nodes"],
        "rest": rest,
        "kept": kept,
        "cores": suite["cores"],
    }


def _suite_bound(suite: dict[str, Any], twins: dict[str, Any]) -> str:
    twin = twins.get("duckdb") or {}
    bound = _suite_logic_free(suite, twin)
    if bound is None:
        return ""
    builds = suite["pipeline_runs"]["by_kind"]["dbt builds"]
    cores = bound["cores"]
    put = suite_floors.floors(suite, twins)

    def held(cpu: float) -> str:
        wall = cpu / cores
        verdict = "over" if wall > SUITE_S else "within"
        return f"{cpu:.0f} CPU s, {wall:.0f} s on {cores} cores, {verdict}"

    return (
        f"; with every dbt node of those builds at its twin's "
        f"{1000 * bound['per_node']:.0f} ms of CPU (they took "
        f"{builds['cpu_seconds']:g} CPU s, {1000 * builds['cpu_seconds'] / builds['nodes']:.0f} "
        f"ms a node) and none of dbt's other work (the searches for bad files, the dbt "
        f"processes the tests start, Spark's JVMs, PostgreSQL's servers), every other "
        f"process's CPU as measured, the suite needs at least {held(bound['cpu'])} the "
        f"target's {SUITE_S:g} s; with no build at all, {held(bound['rest'])}; with "
        f"those builds at the twin's CPU and dbt's other work as measured (not a bound: "
        f"Spark's JVMs and PostgreSQL run some of the builds' SQL too), "
        f"{held(bound['cpu'] + bound['kept'])} (an estimate: see bench/targets.py, "
        f"_suite_logic_free)"
    ) + (suite_floors.sentence(bound, put, held) if put else "")


def _full_run_split(s: dict[str, Any]) -> str:
    """The full run's seconds: dbt's twin (fresh process: dbt's import, the parse
    from scratch, the builds), olist-elt's SQL on top of it, the Soda gates, the other
    steps and the rest."""
    full = s["full_run"]
    steps = full["steps"]
    dbt, gates = _builds(steps), _gates(steps)
    twin = _twin(s)
    text = f"dbt {dbt:.1f} s, Soda gates {gates:.1f} s"
    if twin:
        twin_dbt = _twin_parse(twin) + sum(twin[f"build_{layer}_s"] for layer in twin["shape"])
        text = (
            f"dbt {dbt:.1f} s, of which its twin with trivial SQL {twin_dbt:.1f} s and "
            f"olist-elt's SQL {dbt - twin_dbt:.1f} s; Soda gates {gates:.1f} s"
        )
    other = sum(st["wall_s"] for st in steps.values()) - dbt - gates
    rest = outside_steps(full)
    return f"{text}; ingest, publish, dashboards {other:.1f} s; start and imports {rest:.1f} s"


def _engine_split(s: dict[str, Any]) -> str:
    rows = [r for r in s.get("engine_profile") or [] if "engine_s" in r]
    if not rows:
        return ""
    alone = sum(r["engine_s"] for r in rows)
    keys = sum(r.get("contract_s") or 0 for r in rows)
    return (
        f"; the {len(rows)} slowest nodes' SQL alone in DuckDB {alone:.1f} s "
        f"(their contracts' keys {keys:.1f} s more)"
    )


def _logic_free(s: dict[str, Any], one_day: bool = False) -> dict[str, float] | None:
    """A run's seconds with every model's logic free, an estimated lower bound: its
    steps other than dbt's as measured (ingest, gates, reconcile, publish,
    dashboards) and its process start and imports; dbt's import and parse as its
    twin's (a run's parse step is where it imports dbt: measured apart, the twin's
    parse leaves that out); dbt's builds at least the CPU of writing the models' own
    rows again, with their contracts' keys, over the machine's cores (sql_alone.py
    says what that assumes). The full run writes every model's rows, and its builds
    also take at least the twin's wall and, with the writes, the twin's CPU (the
    twin parses from scratch and builds the full run's nodes); the one-day run
    writes at least its table models' rows (each rewrites all of them every run),
    with the twin's import and kept parse, and its builds take no twin figure: the
    twin builds nodes that run leaves out (unit tests, the seeds' tests). The parts:
    'dbt' (dbt's import, the parse and the builds), 'soda' (the gates), 'others'
    (the other steps, start and imports), 'all'. None for a result without these
    figures."""
    twin, written = _twin(s), s.get("written_again")
    if one_day:
        twin = {**twin.get("again", {}), "shape": twin.get("shape")}
    layers = list(twin.get("shape") or {})
    if not written or not layers or f"build_{layers[0]}_cpu_s" not in twin:
        return None
    totals = written_totals(written, "table" if one_day else None).get("all") or {}
    engine_cpu = totals.get("write_cpu_s", 0.0) + totals.get("keys_cpu_s", 0.0)
    builds = engine_cpu / written["cores"]
    if not one_day:
        twin_wall = sum(twin[f"build_{layer}_s"] for layer in layers)
        twin_cpu = sum(twin[f"build_{layer}_cpu_s"] for layer in layers)
        builds = max(twin_wall, (twin_cpu + engine_cpu) / written["cores"])
    run = s["one_day_run" if one_day else "full_run"]
    steps = run["steps"]
    soda = _gates(steps)
    others = sum(st["wall_s"] for name, st in steps.items() if not name.startswith("dbt "))
    rest = outside_steps(run)
    parts = {"dbt": _twin_parse(twin) + builds, "soda": soda, "others": others - soda + rest}
    return {**parts, "all": sum(parts.values()), "engine_cpu": engine_cpu}


def _logic_free_split(s: dict[str, Any], target_s: float) -> str:
    bound = _logic_free(s)
    if bound is None:
        return ""
    verdict = "over" if bound["all"] > target_s else "within"
    return (
        f"; with every model's logic free (dbt's twin: its import, parse and builds; "
        f"each model's own rows written "
        f"again with its keys, {bound['engine_cpu']:.1f} CPU s on "
        f"{s['written_again']['cores']} cores; the other steps as measured) the run "
        f"takes at least {bound['all']:.1f} s, {verdict} the target's {target_s:.1f} s: "
        f"dbt {bound['dbt']:.1f} s and Soda {bound['soda']:.1f} s, the other steps, "
        f"start and imports {bound['others']:.1f} s (an estimate: see bench/sql_alone.py)"
    )


def _node_seconds(steps: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Node seconds of the dbt builds (summed over dbt's threads): models by
    materialization, the other nodes by resource type."""
    out: dict[str, float] = {}
    for st in steps.values():
        p = st.get("profile") or {}
        kinds = dict(p.get("by_type") or {})
        built = p.get("models_by_materialization")
        if built:
            kinds.pop("model", None)
            kinds.update({f"{k} models": v for k, v in built.items()})
        for kind, (_, seconds) in kinds.items():
            out[kind] = out.get(kind, 0.0) + seconds
    return out


def _one_day_split(s: dict[str, Any]) -> str:
    """Where the one-day run's time goes, and the part that does not shrink with the
    day's rows: what reads whole tables (table models, snapshots, data tests: their
    node seconds over dbt's threads, a lower bound of their wall time), the Soda
    gates, publishing and the dashboards."""
    day = s["one_day_run"]
    steps = day["steps"]
    nodes = _node_seconds(steps)
    if "table models" not in nodes:  # a result from before models were split
        return ""
    wall = {name: st["wall_s"] for name, st in steps.items()}
    gates, builds = _gates(steps), _builds(steps) - wall.get("dbt parse", 0.0)
    others = wall.get("publish gold", 0.0) + wall.get("render dashboards", 0.0)
    whole = sum(nodes.get(k, 0.0) for k in ("table models", "snapshot", "test"))
    threads = Settings.model_fields["dbt_threads"].default
    bound = whole / threads + gates + others
    named = ", ".join(f"{k} {v:.1f}" for k, v in sorted(nodes.items()) if v >= 0.05)
    return (
        f"the one-day run {day['wall_s']} s: dbt parse {wall.get('dbt parse', 0):.1f} s, "
        f"builds {builds:.1f} s (node seconds: {named}), Soda gates {gates:.1f} s, "
        f"publish {wall.get('publish gold', 0):.1f} s, dashboards "
        f"{wall.get('render dashboards', 0):.1f} s. What reads whole tables every run "
        f"(table models, snapshots and data tests, at least {whole / threads:.1f} s on "
        f"dbt's {threads} threads; gates, publish, dashboards) takes at least "
        f"{bound:.1f} s, {100 * bound / s['full_run']['wall_s']:.1f}% of the full run; "
    )


def _one_day_bound(s: dict[str, Any]) -> str:
    again = _twin(s).get("again") or {}
    split = _one_day_split(s)
    if not again:
        return split or "-"
    pct = 100 * again["process_s"] / s["full_run"]["wall_s"]
    text = (
        f"{split}dbt's twin alone, parse kept, every node: {again['process_s']} s, "
        f"{pct:.1f}% of the full run"
    )
    bound = _logic_free(s, one_day=True)
    if bound is None:
        return text
    return text + (
        f"; with every model's logic free (dbt's twin's import and kept parse; each table model's "
        f"own rows written again with its keys, {bound['engine_cpu']:.1f} CPU s; the "
        f"other steps as this run's) the one-day run takes at least {bound['all']:.1f} s, "
        f"{100 * bound['all'] / s['full_run']['wall_s']:.1f}% of the full run as measured "
        f"(a faster full run only raises the share): dbt {bound['dbt']:.1f} s and Soda "
        f"{bound['soda']:.1f} s, the other steps, start and imports {bound['others']:.1f} s"
    )


def _row(target: str, figure: str, met: bool, where: str) -> str:
    return f"| {target} | {figure} | {'met' if met else 'missed'} | {'' if met else where} |"


def markdown(result: dict[str, Any]) -> list[str]:
    """The targets table of one result (the scales and the suite it measured)."""
    by_scale = {s["scale"]: s for s in result["scales"]}
    rows = []
    one = by_scale.get(1.0)
    if one:
        wall = one["full_run"]["wall_s"]
        rows.append(
            _row(
                f"full run at scale 1 ≤ {FULL_RUN_S:g} s",
                f"{wall} s",
                wall <= FULL_RUN_S,
                _full_run_split(one) + _engine_split(one) + _logic_free_split(one, FULL_RUN_S),
            )
        )
    ten = by_scale.get(10.0)
    if ten:
        ratio, peak = ten["ratio_to_floor"], ten["full_run"]["peak_rss_mib"]
        rows.append(
            _row(
                f"scale 10 ≤ {TIMES_FLOOR:g}× the floor",
                f"{ratio}× ({ten['full_run']['wall_s']} s, floor {ten['floor_s']} s)",
                ratio <= TIMES_FLOOR,
                _full_run_split(ten)
                + _engine_split(ten)
                + _logic_free_split(ten, TIMES_FLOOR * ten["floor_s"]),
            )
        )
        rows.append(
            _row(f"scale 10 peak ≤ {PEAK_MIB} MiB", f"{peak:.0f} MiB", peak <= PEAK_MIB, "")
        )
    for scale, s in sorted(by_scale.items()):
        rows.append(
            _row(
                f"no new data ≤ {NO_NEW_DATA_PCT:g}% (scale {scale:g})",
                f"{s['no_new_data_pct']}%",
                s["no_new_data_pct"] <= NO_NEW_DATA_PCT,
                "",
            )
        )
        rows.append(
            _row(
                f"one new day ≤ {ONE_DAY_PCT:g}% (scale {scale:g})",
                f"{s['one_day_pct']}% ({s['one_day_run']['wall_s']} s)",
                s["one_day_pct"] <= ONE_DAY_PCT,
                _one_day_bound(s),
            )
        )
    suite = result.get("suite")
    if suite:
        pipeline = suite.get("pipeline_runs") or {}
        runs = pipeline.get("by_kind") or {}
        builds, parses = runs.get("dbt builds") or {}, runs.get("dbt parse") or {}
        tests = sum(f["seconds"] for f in suite["files"])
        where = (
            f"{tests:.0f} s of tests, summed over pytest's workers; their pipeline runs' "
            f"dbt builds {builds.get('seconds', '-')} s ({builds.get('nodes', '-')} nodes), "
            f"parses {parses.get('seconds', '-')} s"
        )
        spark = [
            row
            for key, row in (pipeline.get("builds_by_target") or {}).items()
            if key.startswith("spark") and not key.endswith("(gold)")
        ]
        if spark:
            where += (
                f", of which Spark's bronze and silver {sum(r['seconds'] for r in spark):.0f} s "
                f"({sum(r['nodes'] for r in spark)} nodes)"
            )
        twin = _twin(one or {}).get("again") or {}
        if twin and builds.get("nodes"):
            nodes = sum(twin[f"build_{layer}_nodes"] for layer in _twin(one)["shape"])
            per_node = sum(twin[f"build_{layer}_s"] for layer in _twin(one)["shape"]) / nodes
            where += (
                f"; at the twin's {1000 * per_node:.0f} ms a node those builds would take "
                f"{per_node * builds['nodes']:.0f} s"
            )
        where += _cpu_by_kind(suite) + _suite_bound(suite, (one or {}).get("dbt_floor") or {})
        rows.append(
            _row(
                f"test suite ≤ {SUITE_S / 60:g} min",
                f"{suite['wall_s']} s ({suite['tests']} tests, {suite['skipped']} skipped)",
                suite["wall_s"] <= SUITE_S and not suite["skipped"] and not suite["failed"],
                where,
            )
        )
    if not rows:
        return []
    return [
        "",
        "## Issue 20's targets in this result",
        "",
        "| target | measured | | where the time goes (this run) |",
        "|---|---|---|---|",
        *rows,
    ]
