"""The deployments of prefect.yaml load (flow imported, parameters checked) and list
their schedules; a broken one is named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from olist_elt.cli import app
from olist_elt.deployments import PREFECT_YAML, DeploymentError, load_deployments


def test_every_deployment_loads_and_lists_its_schedule() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    found = {d.name: d for d in load_deployments(now=now)}
    expected = {
        "elt-pipeline-daily": ("elt_pipeline", "0 3 * * *"),
        "ingest-olist-daily": ("ingest_olist", "30 2 * * *"),
        "lifecycle-weekly": ("lifecycle", "0 4 * * 0"),
        "raw-verify-weekly": ("raw_verify", "0 5 * * 0"),
        "ingest-weather-hourly": ("ingest_apis", "5 * * * *"),
        "ingest-bcb-daily": ("ingest_apis", "0 10 * * *"),
        "ingest-stream": ("ingest_stream", "*/5 * * * *"),
    }
    assert {n: (d.flow_name, d.schedules[0][0]) for n, d in found.items()} == expected
    assert all(d.work_pool == "olist" for d in found.values())
    # 12:00 UTC is 09:00 in São Paulo: the hourly one fires at 09:05 local.
    hourly = found["ingest-weather-hourly"].next_runs[0]
    assert hourly.astimezone(UTC) == datetime(2026, 11, 23, 12, 5, tzinfo=UTC)
    weekly = found["lifecycle-weekly"].next_runs[0]
    assert weekly.weekday() == 6 and weekly.hour == 4  # Sunday 04:00 local
    assert found["ingest-bcb-daily"].parameters == {"sources": ["bcb"]}


def test_a_parameter_the_flow_does_not_take_is_named(tmp_path: Path) -> None:
    spec = yaml.safe_load(PREFECT_YAML.read_text())
    spec["deployments"][0]["parameters"] = {"no_such_parameter": 1}
    broken = tmp_path / "prefect.yaml"
    broken.write_text(yaml.safe_dump(spec))
    (tmp_path / "flows").symlink_to(PREFECT_YAML.parent / "flows")
    with pytest.raises(DeploymentError, match="elt-pipeline-daily"):
        load_deployments(broken)


def test_the_cli_lists_the_deployments() -> None:
    result = CliRunner().invoke(app, ["deployments"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "ingest-weather-hourly" in result.output and "5 * * * *" in result.output
