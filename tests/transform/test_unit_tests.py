"""dbt's unit tests check model logic on fixed rows, and the seeds' tests read only
the seed files: a run runs them when what their answer depends on (the dbt project,
vars, target, dbt and engine versions, servers) changed since a good run of this
workspace or of this user (there they stop broken logic before it builds anything),
not on every run of the same project; `dbt build` runs them always. The tests that
read the data (the raw manifests' included) run on every build."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from olist_elt.errors import PipelineFailed
from olist_elt.run import fixed_rows
from olist_elt.run.fixed_rows import fixed_rows_key
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.run.state import last_success, project_fingerprint
from olist_elt.settings import REPO_ROOT, Settings
from olist_elt.targets import target_for
from tests.conftest import copy_dbt_project, workspace_settings

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


def _key(settings: Settings) -> str:
    return fixed_rows_key(target_for(settings), project_fingerprint(settings))


def test_a_new_workspace_skips_fixed_row_tests_this_user_passed_and_an_upgrade_runs_them(
    built: tuple[Settings, RunSummary],
    sample_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, logger="olist_elt.transform.dbt")
    # the shared run passed them: its record and this user's cache say so, by key
    key = _key(built[0])
    assert last_success(built[0])["fixed_rows"] == key
    assert built[0].dbt_parse_cache is not None
    assert (built[0].dbt_parse_cache / f"fixed-rows-passed-{key[:32]}").is_file()

    # a new lake and warehouse of the same project, target and engines: every layer is
    # built and the data tested, the tests of fixed rows are not run again
    fresh = workspace_settings(tmp_path / "fresh")
    assert _key(fresh) == key
    summary = run_pipeline(fresh, sample_dir)
    assert summary.outcome == "success"
    assert {"dbt build silver", "dbt build gold"} <= {s.name for s in summary.steps}
    assert _unit_tests_run(caplog) == []
    assert not _ran(caplog, SEED_TEST)
    assert _ran(caplog, MANIFEST_TEST)
    assert last_success(fresh)["fixed_rows"] == key

    # DuckDB upgraded (a version no run has seen; a cache of its own): they run again
    # in this same workspace, pass, and the run records the new key
    real = fixed_rows._version
    monkeypatch.setattr(
        fixed_rows, "_version", lambda p: "9.9.9-upgraded" if p == "duckdb" else real(p)
    )
    upgraded = fresh.model_copy(update={"dbt_parse_cache": tmp_path / "cache"})
    new_key = _key(upgraded)
    assert new_key != key
    caplog.clear()
    summary = run_pipeline(upgraded, sample_dir, force_rebuild=True)
    assert summary.outcome == "success"
    assert any(UNIT_TEST in line for line in _unit_tests_run(caplog))
    assert _ran(caplog, SEED_TEST)
    assert last_success(upgraded)["fixed_rows"] == new_key
    assert (tmp_path / "cache" / f"fixed-rows-passed-{new_key[:32]}").is_file()


def test_the_key_of_the_tests_of_fixed_rows_follows_what_their_answer_depends_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vars that shape the models, the target and its servers, and dbt's and the
    engines' versions change the key; a backfill's day (it narrows only which raw
    objects bronze reads) and the workspace's folders do not."""
    base = workspace_settings(tmp_path / "a")
    key = _key(base)
    assert _key(workspace_settings(tmp_path / "b")) == key
    assert _key(base.model_copy(update={"as_of": date(2026, 1, 3)})) == key
    assert _key(base.model_copy(update={"apis": "off"})) != key
    warehouse = base.model_copy(update={"target": "warehouse"})
    assert _key(warehouse) != key
    other_database = warehouse.model_copy(update={"pg_database": "olist_other"})
    assert _key(other_database) != _key(warehouse)
    real = fixed_rows._version
    monkeypatch.setattr(fixed_rows, "_version", lambda p: "2.0" if p == "dbt-core" else real(p))
    assert _key(base) != key


def test_a_cache_that_cannot_be_written_leaves_the_run_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    settings = workspace_settings(tmp_path / "ws", dbt_parse_cache=blocked / "cache")
    fixed_rows.remember_passed(settings, "0" * 64)  # raises nothing
    assert "could not record the fixed-row tests' pass" in caplog.text
    assert not fixed_rows.passed(settings, "0" * 64, None)


def test_gold_unit_test_names_fit_a_postgresql_identifier() -> None:
    """Gold is built on PostgreSQL too, where a unit test's relation is named after
    it: a name over 63 characters fails there (not on DuckDB or Spark)."""
    import yaml

    models = yaml.safe_load((REPO_ROOT / "dbt_project/models/gold/_gold__models.yml").read_text())
    names = [t["name"] for t in models["unit_tests"]]
    assert names and [n for n in names if len(n) > 63] == []
