"""Operations you can see: run history in the ops schema, freshness, alerts, status."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from olist_elt.cli import app
from olist_elt.errors import PipelineFailed
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.settings import Settings
from tests.conftest import copy_workspace, workspace_settings
from tests.test_history import ingest_on

pytestmark = pytest.mark.slow


def _ops(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def two_runs(
    built: tuple[Settings, RunSummary], tmp_path_factory: pytest.TempPathFactory, sample_dir: Path
) -> tuple[Settings, RunSummary, dict]:
    """A clean run (the shared one, copied with its alert file), then a batch with a bad
    file (a negative item price): the silver gate fails on it, the run finds the file,
    rejects it and publishes without it."""
    root = tmp_path_factory.mktemp("ops")
    settings = copy_workspace(built[0], root / "ws", alert_file=root / "ws" / "alerts.jsonl")
    clean = built[1]
    bad = root / "bad"
    shutil.copytree(sample_dir, bad)
    items = bad / "olist_order_items_dataset.csv"
    header, *rows = items.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = rows[2].split(",")
    fields[5] = '"-5.00"'  # price
    rows[2] = ",".join(fields)
    items.write_text(header + "".join(rows), encoding="utf-8")
    second = run_pipeline(settings, bad)
    summary = json.loads((settings.lake_dir / "runs" / f"{second.run_id}.json").read_text())
    return settings, clean, summary


def test_the_ops_tables_hold_the_clean_run_and_the_rejected_batch(two_runs) -> None:
    settings, clean, second = two_runs
    runs = dict(
        (r[0], r[1:])
        for r in _ops(settings, "select run_id, outcome, failing_step, error_class from ops.runs")
    )
    assert runs[clean.run_id] == ("success", None, None)
    assert runs[second["run_id"]] == ("success", None, None)
    assert [r["object"].split("/")[2] for r in second["rejected"]] == ["order_items"]
    steps = _ops(
        settings,
        "select step, outcome, rows_in, rows_out, error_class from ops.steps "
        "where run_id = ? order by step_no",
        [second["run_id"]],
    )
    names = [s[0] for s in steps]
    assert names == [s["name"] for s in second["steps"]]
    # the failed gate shows, then the search for its cause, then the build without it
    failed_gate = names.index("gate silver")
    assert steps[failed_gate][1] == "failed" and steps[failed_gate][4] == "GateFailed"
    assert names[failed_gate + 1] == "find bad raw objects"
    assert steps[failed_gate + 1][1] == "ok"
    assert steps[-1][1] == "ok" and "publish gold" in names[failed_gate:]
    build = next(s for s in steps if s[0] == "dbt build silver")
    assert build[2] > 0 and build[3] > 0  # rows in (bronze) and out (silver)
    counters = dict(
        (c[0], c[1:])
        for c in _ops(
            settings,
            "select connector, accepted, duplicates, quarantined, refused from "
            "ops.connector_counters where run_id = ?",
            [second["run_id"]],
        )
    )
    assert counters["olist"] == (1, 8, 0, 0)  # the items file is new, 8 seen before
    failed_checks = _ops(
        settings,
        "select dataset, check_name from ops.gate_checks where run_id = ? and outcome = 'failed'",
        [second["run_id"]],
    )
    assert failed_checks and all("order_items" in d for d, _ in failed_checks)
    clean_rows = _ops(
        settings,
        "select sum(row_count) from ops.layer_rows where run_id = ? and layer = 'gold'",
        [clean.run_id],
    )[0][0]
    assert clean_rows == sum(clean.layer_rows["gold"].values())


def test_a_rejected_batch_alerts_with_the_object_and_what_to_do(two_runs) -> None:
    settings, _, second = two_runs
    alerts = [json.loads(line) for line in settings.alert_file.read_text().splitlines()]
    assert [a["run_id"] for a in alerts] == [second["run_id"]]  # the clean run: no alert
    alert = alerts[0]
    assert alert["event"] == "batch_rejected" and alert["failing_step"] is None
    assert second["rejected"][0]["object"] in alert["message"]
    assert "readmit" in alert["what_to_do"] and alert["run_record"].endswith(".json")
    assert "-5.00" not in json.dumps(alert)  # never a row value


def test_status_shows_both_runs_and_the_rejected_object(two_runs) -> None:
    settings, clean, second = two_runs
    env = {
        "OLIST_LAKE_DIR": str(settings.lake_dir),
        "OLIST_WAREHOUSE_PATH": str(settings.warehouse_path),
        "OLIST_VAULT_PATH": str(settings.vault_path),
        "OLIST_VAULT_KEY_FILE": str(settings.vault_key_file),
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, ["status"], env=env)
    assert result.exit_code == 0, result.output
    assert f"{second['run_id']}  local  success, 1 raw object(s) rejected" in result.output
    assert f"{clean.run_id}  local  success" in result.output
    assert "1 rejected raw object(s)" in result.output
    assert second["rejected"][0]["sha256"][:12] in result.output
    assert "olist" in result.output and "fresh" in result.output


@pytest.fixture()
def webhook(httpserver: HTTPServer) -> Iterator[list[dict]]:
    received: list[dict] = []

    def hook(request: Request) -> Response:
        received.append(json.loads(request.data))
        return Response("ok", 200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    yield received


def test_a_stale_source_alerts_through_the_webhook(
    tmp_path: Path, sample_dir: Path, httpserver: HTTPServer, webhook: list[dict]
) -> None:
    settings = workspace_settings(
        tmp_path,
        apis="off",
        freshness_on_stale="warn",
        alert_webhook_url=httpserver.url_for("/hook"),
    )
    ingest_on(settings, sample_dir, datetime.now(UTC) - timedelta(days=3))  # nothing since
    warned = run_pipeline(settings, sample_dir)
    assert warned.outcome == "success" and warned.alerts == ["webhook"]
    [alert] = webhook
    assert alert["event"] == "sources_stale" and alert["run_id"] == warned.run_id
    [stale] = alert["stale_sources"]
    assert stale["source"] == "olist" and stale["status"] == "stale"
    # max age: error_after in _olist__sources.yml
    assert 71 < stale["age_hours"] < 73 and stale["max_age_hours"] == 36
    assert "Prefect" in alert["what_to_do"] and "stale data: olist" in alert["subject"]
    assert _ops(settings, "select source, status from ops.freshness order by 1") == [
        ("bcb", "off"),  # the APIs are off in this run: shown, not judged
        ("olist", "stale"),
        ("openweather", "off"),
    ]
    strict = settings.model_copy(update={"freshness_on_stale": "fail"})
    with pytest.raises(PipelineFailed, match=r"at 'freshness'.*olist"):
        run_pipeline(strict, sample_dir)
    assert webhook[-1]["event"] == "sources_stale" and webhook[-1]["failing_step"] == "freshness"
