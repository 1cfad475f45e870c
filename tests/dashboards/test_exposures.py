"""dbt exposures end the lineage at the dashboards, and stay in step with them."""

from __future__ import annotations

import json

import pytest

from olist_elt.dashboards import load_dashboards
from olist_elt.dashboards.model import EXPOSURES_FILE, exposures_yaml
from olist_elt.pipeline import RunSummary, pipeline_dbt
from olist_elt.settings import Settings


def test_the_committed_exposures_match_the_dashboards() -> None:
    assert EXPOSURES_FILE.read_text() == exposures_yaml(load_dashboards()), (
        "run `olist-elt dashboards exposures`"
    )


@pytest.mark.slow
def test_dbt_docs_lists_every_dashboard_at_the_end_of_the_lineage(
    built: tuple[Settings, RunSummary], tmp_path
) -> None:
    from dbt.cli.main import dbtRunner

    dbt = pipeline_dbt(built[0])
    dbt._prepare()
    target = tmp_path / "docs"
    res = dbtRunner().invoke(["docs", "generate", "--target-path", str(target), *dbt._base_args()])
    assert res.success, res.exception
    assert (target / "index.html").exists() and (target / "catalog.json").exists()
    manifest = json.loads((target / "manifest.json").read_text())
    exposures = {uid: e for uid, e in manifest["exposures"].items()}
    for dashboard in load_dashboards():
        wanted = {f"model.olist_elt.{r.split('.', 1)[1]}" for r in dashboard.relations}
        mine = {uid for uid, e in exposures.items() if e["label"].startswith(dashboard.name)}
        listed = {node for uid in mine for node in exposures[uid]["depends_on"]["nodes"]}
        assert listed == wanted, dashboard.name
        for node in listed:  # the model's lineage continues into this dashboard
            assert mine & set(manifest["child_map"][node]), node
        for uid in mine:  # and ends there
            assert manifest["child_map"][uid] == []
