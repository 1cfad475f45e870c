"""dbt's fixed cost is paid once per version of the project: a fresh process reuses the
parse an earlier process left in the pipeline's target folder (dbt's partial parsing),
and a changed model is parsed again, alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from olist_elt.settings import REPO_ROOT

pytestmark = pytest.mark.slow

PARSE = """
import sys
from pathlib import Path
from tests.conftest import workspace_settings
from olist_elt.targets import target_for
overrides = {"dbt_project_dir": Path(sys.argv[2])}
target_for(workspace_settings(Path(sys.argv[1]), **overrides)).lake_dbt.parse()
"""


def _parse_in_a_fresh_process(root: Path, project: Path) -> dict:
    """Parse as a new `olist-elt run` does; return what dbt says it parsed."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(root), str(project)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (perf,) = (root / "target").glob("pipeline-*/perf_info.json")
    return json.loads(perf.read_text())


def test_a_fresh_process_reuses_the_parse_and_a_changed_model_alone_is_parsed_again(
    tmp_path: Path,
) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs")
    )
    root = tmp_path / "workspace"

    first = _parse_in_a_fresh_process(root, project)
    assert first["is_partial_parse_enabled"]
    assert first["parsed_path_count"] > 100  # every model, test and yml file

    second = _parse_in_a_fresh_process(root, project)
    assert second["parsed_path_count"] == 0, "an unchanged project was parsed again"

    model = project / "models" / "gold" / "fct_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    third = _parse_in_a_fresh_process(root, project)
    assert 1 <= third["parsed_path_count"] < first["parsed_path_count"] // 10
