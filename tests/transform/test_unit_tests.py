"""dbt's unit tests check model logic on fixed rows, and the seeds' tests read only
the seed files: a run runs them when the dbt project changed since the last good run
(there they stop broken logic before it builds anything), not on every run of the
same project; `dbt build` runs them always. The tests that read the data (the raw
manifests' included) run on every build."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from olist_elt.errors import PipelineFailed
from olist_elt.run.pipeline import run_pipeline
from olist_elt.settings import REPO_ROOT, Settings
from tests.conftest import copy_dbt_project

pytestmark = pytest.mark.slow

UNIT_TEST = "silver_orders_keeps_the_latest_ingested_version"


SEED_TEST = "test.olist_elt.unique_brazil_states_state_code."
MANIFEST_TEST = "test.olist_elt.assert_each_raw_object_listed_once"


def _unit_tests_run(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if " unit_test." in r.getMessage()]


def _ran(caplog: pytest.LogCaptureFixture, node: str) -> bool:
    return any(f" {node}" in r.getMessage() for r in caplog.records)


def test_unit_tests_run_when_the_project_changed_and_stop_broken_logic(
    built_copy: Settings, sample_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="olist_elt.transform.dbt")
    # the project of the last good run: every layer is built again, no unit test runs
    summary = run_pipeline(built_copy, sample_dir, force_rebuild=True)
    assert summary.outcome == "success"
    assert {"dbt build silver", "dbt build gold"} <= {s.name for s in summary.steps}
    assert _unit_tests_run(caplog) == []
    assert not _ran(caplog, SEED_TEST)  # the seeds are loaded, their tests left out
    assert _ran(caplog, "seed.olist_elt.brazil_states")
    assert _ran(caplog, MANIFEST_TEST)  # the manifests are data: tested every build

    # a changed model: its statuses are no longer trimmed and lowercased. The data
    # holds only clean statuses, so no data test sees it; the unit test does.
    project = copy_dbt_project(tmp_path / "dbt_project")
    model = project / "models" / "silver" / "silver_orders.sql"
    source = model.read_text()
    assert "lower(trim(order_status)) as order_status" in source
    model.write_text(source.replace("lower(trim(order_status))", "order_status"))
    caplog.clear()
    changed = built_copy.model_copy(update={"dbt_project_dir": project})
    with pytest.raises(PipelineFailed, match=UNIT_TEST):
        run_pipeline(changed, sample_dir)
    assert any(UNIT_TEST in line for line in _unit_tests_run(caplog))
    assert _ran(caplog, SEED_TEST)  # bronze, before it: the seeds' tests ran again


def test_gold_unit_test_names_fit_a_postgresql_identifier() -> None:
    """Gold is built on PostgreSQL too, where a unit test's relation is named after
    it: a name over 63 characters fails there (not on DuckDB or Spark)."""
    import yaml

    models = yaml.safe_load((REPO_ROOT / "dbt_project/models/gold/_gold__models.yml").read_text())
    names = [t["name"] for t in models["unit_tests"]]
    assert names and [n for n in names if len(n) > 63] == []
