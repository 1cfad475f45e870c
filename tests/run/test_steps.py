"""Declared steps: every step of a run has a kind, and retries, alerts and the run
history follow the kind, never the step's name."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from olist_elt.ops.alerts import advice_for
from olist_elt.ops.history import history_rows, write_duckdb
from olist_elt.run.record import RunSummary
from olist_elt.run.steps import Kind, Step
from olist_elt.settings import REPO_ROOT, Settings

sys.path.insert(0, str(REPO_ROOT / "flows"))
from _common import retry_on_io_errors, task_for


def test_every_step_of_a_run_has_a_declared_kind(built: tuple[Settings, RunSummary]) -> None:
    _, summary = built
    kinds = {s.name: s.kind for s in summary.steps}
    assert all(kind in {k.value for k in Kind} for kind in kinds.values()), kinds
    assert kinds["ingest olist"] == "io" and kinds["gate silver"] == "gate"
    assert kinds["dbt build gold"] == "transform" and kinds["publish gold"] == "publish"
    layers = {s.name: s.layer for s in summary.steps if s.layer}
    assert layers["dbt build bronze"] == "bronze" and layers["gate gold"] == "gold"


def test_each_dbt_build_step_records_where_its_time_went(
    built: tuple[Settings, RunSummary],
) -> None:
    _, summary = built
    profiles = {s.name: s.profile for s in summary.steps if s.profile}
    assert set(profiles) == {"dbt build bronze", "dbt build silver", "dbt build gold"}
    gold = profiles["dbt build gold"]
    models, model_seconds = gold["by_type"]["model"]
    assert models >= 12 and "test" in gold["by_type"] and "snapshot" in gold["by_type"]
    assert gold["nodes"] == sum(n for n, _ in gold["by_type"].values())
    assert 0 < model_seconds <= gold["node_seconds"]
    slowest = [seconds for _, seconds in gold["slowest"]]
    assert len(slowest) == 5 and slowest == sorted(slowest, reverse=True)
    assert all(uid.split(".")[0] in gold["by_type"] for uid, _ in gold["slowest"])
    # the order facts are incremental, the dimensions and the monthly summary tables
    built = gold["models_by_materialization"]
    assert set(built) == {"incremental", "table"}, built
    assert built["incremental"][0] == 4 and built["incremental"][0] + built["table"][0] == models
    assert sum(s for _, s in built.values()) == pytest.approx(model_seconds, abs=0.01)


def test_retries_and_tags_follow_the_kind_not_the_name() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    for kind in Kind:
        # names that would fool a name-based rule ("ingest ..." used to mean retried)
        for name in ("ingest olist", "gate silver", "anything"):
            step = Step(name, kind, lambda: None, layer="silver")
            with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
                made = task_for(step, lambda: None)
            if kind is Kind.IO:
                assert made.retries == 3 and made.retry_condition_fn is retry_on_io_errors
            else:
                assert made.retries == 0 and made.retry_condition_fn is None
            assert made.tags == {kind.value, "silver"}


def test_prefects_temporary_server_gets_no_tags_to_count_slots_for() -> None:
    """With no API configured (a flow called in process), Prefect's temporary server
    takes the run: no tags, so no concurrency call per task, which its SQLite often
    answered 503 "database is locked" (a 2 s retry each)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        made = task_for(Step("gate silver", Kind.GATE, lambda: None, layer="silver"), lambda: None)
    assert made.tags == set() and made.name == "gate silver"


def test_alert_advice_follows_the_kind_not_the_name() -> None:
    assert "quality gate" in advice_for("gate")
    assert "dbt model" in advice_for("transform")
    assert "no data was blamed" in advice_for("io")
    assert advice_for("io") != advice_for("gate")
    # an error that says more than its kind wins
    assert "stopped delivering" in advice_for("gate", "SourcesStale")


def test_history_counts_rows_by_kind_and_layer_not_by_name() -> None:
    summary = {
        "run_id": "r",
        "steps": [
            {"name": "rebuild the middle", "kind": "transform", "layer": "silver", "rows": None},
            {"name": "look at it", "kind": "gate", "layer": "silver", "rows": 12},
            {"name": "dbt build gold", "kind": "bookkeeping", "layer": None, "rows": 5},
        ],
        "layer_rows": {"bronze": {"a": 10, "b": 5}, "silver": {"a": 7}},
    }
    steps = history_rows(summary)["steps"]
    # (run_id, step_no, name, started, seconds, cpu, rss, rows_in, rows_out, ...)
    assert steps[0][7:9] == (15, 7)  # transform into silver: bronze rows in, silver out
    assert steps[1][7:9] == (7, 12)  # gate on silver: silver rows in, checks out
    assert steps[2][7:9] == (5, 5)  # the name says build, the kind does not
    assert [row[-2:] for row in steps] == [
        ("transform", "silver"),
        ("gate", "silver"),
        ("bookkeeping", None),
    ]


def test_the_duckdb_history_holds_exactly_the_runs_rows(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    """Written as one JSON document per table: every value comes back as it went in
    (quotes, accents, timestamps, floats), a value JSON cannot hold (NaN) as null, and
    writing the run again replaces its rows."""
    summary = built[1].to_dict()
    summary["error"] = 'it\'s "quoted", não é?'
    summary["steps"][0] = {**summary["steps"][0], "seconds": float("nan")}
    path = str(tmp_path / "history.duckdb")
    write_duckdb(path, summary)
    write_duckdb(path, summary)
    expected = history_rows(summary)
    expected["steps"][0] = (*expected["steps"][0][:4], None, *expected["steps"][0][5:])
    con = duckdb.connect(path, read_only=True)
    try:
        for table, rows in expected.items():
            stored = con.execute(f"select * from ops.{table}").fetchall()
            assert rows, table
            assert sorted(stored, key=repr) == sorted(rows, key=repr), table
    finally:
        con.close()


def test_a_history_value_that_does_not_fit_its_column_is_refused(tmp_path: Path) -> None:
    """A count past bigint raises and the run's rows are not half written."""
    path = str(tmp_path / "history.duckdb")
    summary = {
        "run_id": "r",
        "steps": [{"name": "count", "kind": "gate", "layer": None, "rows": 2**63}],
    }
    with pytest.raises(duckdb.Error, match="9223372036854775808"):
        write_duckdb(path, summary)
    con = duckdb.connect(path, read_only=True)
    try:
        assert con.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops'"
        ).fetchone() == (0,)
    finally:
        con.close()


def test_a_failing_step_hook_fails_the_run_at_that_step_blaming_no_data() -> None:
    """A caller's on_step hook (the CLI's progress, a flow's log line) that fails: the
    run is named failing at the step it was starting, of no kind (so no data is
    blamed and nothing is searched for), and the step itself never ran."""
    from olist_elt.run.steps import execute

    summary = RunSummary("r1", "local", "in-process", "2026-01-01T00:00:00+00:00")
    ran: list[str] = []
    execute(summary, Step("ingest olist", Kind.IO, lambda: ran.append("ingest")))

    def hook(name: str) -> None:
        raise RuntimeError(f"progress display closed at {name}")

    gate = Step("gate gold", Kind.GATE, lambda: ran.append("gate"), layer="gold")
    with pytest.raises(RuntimeError, match="closed at gate gold"):
        execute(summary, gate, on_step=hook)
    assert (summary.failing_step, summary.failing_kind) == ("gate gold", None)
    assert ran == ["ingest"] and [s.name for s in summary.steps] == ["ingest olist"]
