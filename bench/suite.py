"""The README's test command timed from a fresh clone (`python -m bench --suite`):
its wall and CPU time, each test file's seconds, and the pipeline runs the tests made
(from the run records they left), so the suite's time can be set against the
pipeline's fixed cost per run."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.proc_cpu import ProcCpu
from bench.timing import timed


def pipeline_runs(basetemp: Path) -> dict[str, Any]:
    """The pipeline runs the suite's tests made, from the run records in their
    temporary folders (a record copied with a lake counts once; a run killed before
    it wrote its record is not seen: a lower bound). Per step name: how many,
    their seconds and their CPU seconds (the process that ran the step, all its
    threads); dbt builds also count the nodes they ran."""
    records: dict[str, dict[str, Any]] = {}
    for path in basetemp.glob("**/runs/2*.json"):
        try:
            records.setdefault(path.name, json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    steps: dict[str, dict[str, float]] = {}
    # the dbt builds by the run's target and layer (the Spark targets and `warehouse`
    # build gold on PostgreSQL): Spark's nodes cost far more than DuckDB's
    targets: dict[str, dict[str, float]] = {}
    for record in records.values():
        for step in record.get("steps") or []:
            row = steps.setdefault(
                step["name"], {"count": 0, "seconds": 0.0, "cpu_seconds": 0.0, "nodes": 0}
            )
            profile = step.get("profile") or {}
            row["count"] += 1
            row["seconds"] += step.get("seconds") or 0.0
            row["cpu_seconds"] += step.get("cpu_seconds") or 0.0
            row["nodes"] += profile.get("nodes") or 0
            if step["name"].startswith("dbt build"):
                layers = "gold" if step["name"].endswith(" gold") else "bronze, silver"
                build = targets.setdefault(
                    f"{record.get('target') or '?'} ({layers})",
                    {"builds": 0, "seconds": 0.0, "nodes": 0, "node_seconds": 0.0},
                )
                build["builds"] += 1
                build["seconds"] += step.get("seconds") or 0.0
                build["nodes"] += profile.get("nodes") or 0
                build["node_seconds"] += profile.get("node_seconds") or 0.0
    kinds = {
        "dbt parse": lambda n: n == "dbt parse",
        "dbt builds": lambda n: n.startswith("dbt build"),
        "Soda gates": lambda n: n.startswith("gate "),
        # the trials that look for the bad files a failure names: they build again
        "searches for bad files": lambda n: n == "find bad raw objects",
        "every step": lambda n: True,
    }
    summary = {}
    for label, match in kinds.items():
        rows = [v for k, v in steps.items() if match(k)]
        summary[label] = {
            "count": sum(r["count"] for r in rows),
            "seconds": round(sum(r["seconds"] for r in rows), 1),
            "cpu_seconds": round(sum(r["cpu_seconds"] for r in rows), 1),
            "nodes": sum(r["nodes"] for r in rows),
        }
    by_target = {
        target: {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}
        for target, row in sorted(targets.items(), key=lambda kv: -kv[1]["seconds"])
    }
    return {"runs": len(records), "by_kind": summary, "builds_by_target": by_target}


def suite_timing(work: Path) -> dict[str, Any]:
    """The README's test command from a fresh clone of this checkout's HEAD: the
    install apart (`./dev test --collect-only`), then the suite's wall time and, from
    its JUnit report, the seconds of each test file."""
    import xml.etree.ElementTree as ET

    repo = Path(__file__).resolve().parent.parent
    clone = work / "suite-clone"
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLIST_")}
    env["OLIST_ELT_NO_SKIP"] = "1"
    t0 = time.perf_counter()
    subprocess.run(
        ["./dev", "test", "--collect-only", "-q"],
        cwd=clone,
        env=env,
        check=True,
        capture_output=True,
    )
    install = time.perf_counter() - t0
    report = work / "suite.xml"
    basetemp = work / "suite-tmp"
    with ProcCpu() as by_process:
        run = timed(
            ["./dev", "test", f"--junitxml={report}", f"--basetemp={basetemp}", "-q"], env, clone
        )
    done, wall, cpu = run.done, run.wall_s, run.cpu_s
    files: dict[str, list[float]] = {}
    counts = {"tests": 0, "failed": 0, "skipped": 0}
    failed: list[str] = []
    for case in ET.parse(report).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        name = next(
            (
                "/".join(parts[:i]) + ".py"
                for i in range(len(parts), 0, -1)
                if (clone / ("/".join(parts[:i]) + ".py")).is_file()
            ),
            ".".join(parts),
        )
        files.setdefault(name, []).append(float(case.get("time") or 0))
        counts["tests"] += 1
        if any(c.tag in ("failure", "error") for c in case):
            counts["failed"] += 1
            failed.append(f"{name}::{case.get('name')}")
        counts["skipped"] += any(c.tag == "skipped" for c in case)
    ranked = sorted(files.items(), key=lambda kv: -sum(kv[1]))
    return {
        "command": "./dev test",
        "returncode": done.returncode,
        "install_s": round(install, 1),
        "failed_tests": failed,
        # the end of pytest's output: what failed and why
        "output_tail": done.stdout[-4000:] if done.returncode else "",
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cores": os.cpu_count(),
        "cpu_by_kind": by_process.by_kind(),
        "process_counts": by_process.counts(),
        "pipeline_runs": pipeline_runs(basetemp),
        **counts,
        "files": [{"file": f, "tests": len(t), "seconds": round(sum(t), 1)} for f, t in ranked],
    }


def markdown(suite: dict[str, Any]) -> list[str]:
    """The suite's section of the results."""
    cpu = suite.get("cpu_s")
    busy = (
        f" CPU {cpu} s over {suite['cores']} cores: "
        f"{100 * cpu / (suite['wall_s'] * suite['cores']):.0f}% busy."
        if cpu
        else ""
    )
    lines = [
        "",
        "## The test suite (the README's command, from a fresh clone)",
        "",
        f"`{suite['command']}`: {suite['tests']} tests, {suite['failed']} failed, "
        f"{suite['skipped']} skipped, in {suite['wall_s']} s wall "
        f"(install and collection apart: {suite['install_s']} s).{busy}",
    ]
    by_kind = suite.get("cpu_by_kind")
    if by_kind:
        lines += [
            "",
            "CPU by kind of process, every process on the machine read twice a second "
            "while the suite ran (`proc_cpu.py`): a lower bound, processes shorter than "
            "half a second and up to the last half second of each that ended are missed; "
            f"the suite's own CPU time above ({cpu} s) counts only the processes it "
            "waited for.",
            "",
            "| processes | CPU s |",
            "|---|---|",
        ]
        lines += [f"| {kind} | {seconds} |" for kind, seconds in by_kind.items()]
    counts = suite.get("process_counts")
    if counts:
        lines += [
            "",
            "Processes seen, counted apiece (each pays a fixed cost; a lower bound): "
            + "; ".join(f"{kind}: {n}" for kind, n in counts.items())
            + ".",
        ]
    runs = suite.get("pipeline_runs")
    if runs:
        lines += [
            "",
            f"The tests made at least {runs['runs']} pipeline runs (their run records):",
            "",
            "| steps | count | seconds (summed) | CPU seconds | dbt nodes |",
            "|---|---|---|---|---|",
        ]
        for label, row in runs["by_kind"].items():
            lines.append(
                f"| {label} | {row['count']} | {row['seconds']} | "
                f"{row.get('cpu_seconds', '-')} | {row['nodes']} |"
            )
        lines += build_lines(runs.get("builds_by_target") or {})
    lines += [
        "",
        "| test file | tests | seconds (sum of its tests) |",
        "|---|---|---|",
    ]
    for row in suite["files"]:
        lines.append(f"| {row['file']} | {row['tests']} | {row['seconds']} |")
    return lines


def build_lines(by_target: dict[str, dict[str, Any]]) -> list[str]:
    """The dbt builds by the pipeline target of their run and the layers they build:
    builds, wall and node seconds, nodes, and wall milliseconds a node."""
    if not by_target:
        return []
    lines = [
        "",
        "Their dbt builds by target and layer (wall milliseconds a node; the workers "
        "share the cores):",
        "",
        "| target (layers) | builds | seconds | nodes | node seconds | ms a node |",
        "|---|---|---|---|---|---|",
    ]
    for target, row in by_target.items():
        per_node = 1000 * row["seconds"] / row["nodes"] if row["nodes"] else 0
        lines.append(
            f"| {target} | {row['builds']} | {row['seconds']} | {row['nodes']} | "
            f"{row['node_seconds']} | {per_node:.0f} |"
        )
    return lines
