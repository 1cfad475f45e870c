"""The bench's reading of the run records the suite's tests left."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.suite import pipeline_runs


def _record(folder: Path, run_id: str, target: str, steps: list[dict]) -> None:
    runs = folder / "lake" / "runs"
    runs.mkdir(parents=True)
    (runs / f"{run_id}.json").write_text(json.dumps({"target": target, "steps": steps}))


def test_the_runs_steps_are_summed_with_their_cpu_and_a_copied_record_counts_once(
    tmp_path: Path,
) -> None:
    build = {"name": "dbt build bronze", "seconds": 3.0, "cpu_seconds": 2.5}
    _record(
        tmp_path / "a",
        "20261207T100000Z-aaaaaa",
        "local",
        [
            {"name": "dbt parse", "seconds": 1.0, "cpu_seconds": 0.7},
            {**build, "profile": {"nodes": 15, "node_seconds": 4.0}},
            {"name": "gate bronze", "seconds": 0.5, "cpu_seconds": 0.3},
            {"name": "find bad raw objects", "seconds": 2.0, "cpu_seconds": 1.5},
            {"name": "dbt build gold", "seconds": 2.0},  # a record from before CPU was read
        ],
    )
    shutil.copytree(tmp_path / "a", tmp_path / "copy")  # a workspace copied with its lake
    _record(
        tmp_path / "b",
        "20261207T110000Z-bbbbbb",
        "warehouse",
        [{**build, "cpu_seconds": 1.5, "profile": {"nodes": 5, "node_seconds": 1.0}}],
    )

    runs = pipeline_runs(tmp_path)

    assert runs["runs"] == 2
    assert runs["by_kind"] == {
        "dbt parse": {"count": 1, "seconds": 1.0, "cpu_seconds": 0.7, "nodes": 0},
        "dbt builds": {"count": 3, "seconds": 8.0, "cpu_seconds": 4.0, "nodes": 20},
        "Soda gates": {"count": 1, "seconds": 0.5, "cpu_seconds": 0.3, "nodes": 0},
        "searches for bad files": {"count": 1, "seconds": 2.0, "cpu_seconds": 1.5, "nodes": 0},
        "every step": {"count": 6, "seconds": 11.5, "cpu_seconds": 6.5, "nodes": 20},
    }
    assert runs["builds_by_target"]["warehouse (bronze, silver)"] == {
        "builds": 1,
        "seconds": 3.0,
        "nodes": 5,
        "node_seconds": 1.0,
    }
