"""The bench's table of issue 20's targets, rendered from a stored result."""

from __future__ import annotations

import json
from pathlib import Path

from bench import proc_cpu
from bench.targets import markdown

RESULT = Path(__file__).resolve().parents[1] / "bench" / "results" / "2026-12-06T214529Z.json"


def _suite_row(result: dict) -> str:
    [row] = [line for line in markdown(result) if line.startswith("| test suite")]
    return row


def test_the_suite_row_names_its_cpu_by_kind_against_what_the_target_holds() -> None:
    result = json.loads(RESULT.read_text())
    before = _suite_row(result)
    assert "CPU of every process" not in before  # that result predates the measurement
    result["suite"]["cpu_by_kind"] = {
        proc_cpu.PYTEST: 852.6,
        proc_cpu.SPARK: 226.7,
        proc_cpu.DBT: 137.5,
        proc_cpu.CLI: 93.2,
        proc_cpu.POSTGRES: 18.7,
        "all": 1556.0,
    }
    row = _suite_row(result)
    assert row.startswith(before.rstrip(" |"))
    assert (
        "; CPU of every process 1556 s, where 8 min on 2 cores hold 960 s; largest: "
        "pytest and its workers 852.6 s, Spark JVMs 226.7 s, dbt processes the tests start "
        "137.5 s, olist-elt processes the tests start 93.2 s |"
    ) in row
    assert "PostgreSQL" not in row


def test_the_suite_row_sums_the_tests_over_the_workers_without_counting_them() -> None:
    """The bench does not know how many workers `./dev test` ran (the README's
    command sets them): the row must not call the cores workers."""
    row = _suite_row(json.loads(RESULT.read_text()))
    assert "1754 s of tests, summed over pytest's workers;" in row
    assert "workers;" in row and "2 workers" not in row
