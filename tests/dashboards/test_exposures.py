"""dbt exposures end the lineage at the dashboards, and stay in step with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from olist_elt.dashboards import load_dashboards
from olist_elt.dashboards.model import EXPOSURES_FILE, exposures_yaml
from olist_elt.run.record import RunSummary
from olist_elt.settings import Settings
from olist_elt.transform.dbt import dbt_environment


def test_the_committed_exposures_match_the_dashboards() -> None:
    assert EXPOSURES_FILE.read_text() == exposures_yaml(load_dashboards()), (
        "run `olist-elt dashboards exposures`"
    )


@pytest.mark.slow
def test_dbt_docs_lists_every_dashboard_at_the_end_of_the_lineage(
    built: tuple[Settings, RunSummary], tmp_path
) -> None:
    settings = built[0]
    target = tmp_path / "docs"
    env = {
        **os.environ,
        **dbt_environment(settings),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    done = subprocess.run(  # as an analyst runs it
        [str(Path(sys.executable).parent / "dbt"), "docs", "generate", "--target", "local"],
        cwd=settings.dbt_project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (target / "index.html").exists() and (target / "catalog.json").exists()
    manifest = json.loads((target / "manifest.json").read_text())
    exposures = dict(manifest["exposures"].items())
    for dashboard in load_dashboards():
        gold = {r for r in dashboard.relations if r.startswith("gold.")}
        mine = {uid for uid, e in exposures.items() if e["label"].startswith(dashboard.name)}
        if not gold:  # the Operations dashboard reads the ops schema, not dbt models
            assert not mine
            continue
        wanted = {f"model.olist_elt.{r.split('.', 1)[1]}" for r in gold}
        listed = {node for uid in mine for node in exposures[uid]["depends_on"]["nodes"]}
        assert listed == wanted, dashboard.name
        for node in listed:  # the model's lineage continues into this dashboard
            assert mine & set(manifest["child_map"][node]), node
        for uid in mine:  # and ends there
            assert manifest["child_map"][uid] == []
