"""The full-refresh request between runs: a run clears only the request it planned
with; one made while it built (an erasure, a readmission by another process) stays
for the next run. The project fingerprint that asks for a rebuild from raw."""

from __future__ import annotations

import shutil
from pathlib import Path

from olist_elt.run.state import (
    clear_full_refresh,
    full_refresh_reason,
    full_refresh_request,
    project_fingerprint,
    require_full_refresh,
)
from olist_elt.settings import Settings
from tests.conftest import copy_dbt_project


def test_a_run_clears_the_request_it_planned_with(workspace: Settings) -> None:
    require_full_refresh(workspace, "2 raw object(s) readmitted")
    seen = full_refresh_request(workspace)

    clear_full_refresh(workspace, seen)

    assert full_refresh_request(workspace) is None


def test_a_request_made_while_the_run_built_stays_for_the_next_run(workspace: Settings) -> None:
    require_full_refresh(workspace, "2 raw object(s) readmitted")
    seen = full_refresh_request(workspace)
    require_full_refresh(workspace, "an erasure rewrote 3 raw object(s)")  # mid-build

    clear_full_refresh(workspace, seen)

    assert full_refresh_reason(workspace) == "an erasure rewrote 3 raw object(s)"


def test_a_run_that_planned_with_no_request_clears_none(workspace: Settings) -> None:
    require_full_refresh(workspace, "an erasure rewrote 1 raw object(s)")  # mid-build

    clear_full_refresh(workspace, None)

    assert full_refresh_reason(workspace) == "an erasure rewrote 1 raw object(s)"


def test_the_same_reason_asked_twice_is_two_requests(workspace: Settings) -> None:
    require_full_refresh(workspace, "1 raw object(s) readmitted")
    seen = full_refresh_request(workspace)
    require_full_refresh(workspace, "1 raw object(s) readmitted")

    clear_full_refresh(workspace, seen)

    assert full_refresh_reason(workspace) == "1 raw object(s) readmitted"


def test_the_project_checked_out_elsewhere_is_the_same_logic(
    workspace: Settings, tmp_path: Path
) -> None:
    """The fingerprint that decides a rebuild from raw (and keys the tests of fixed
    rows) follows the files' names and bytes, not the folder they were checked out
    into; an edited file or a renamed one is another logic."""
    elsewhere = tmp_path / "elsewhere"
    project = copy_dbt_project(elsewhere / "dbt_project")
    shutil.copytree(workspace.soda_contracts_dir, elsewhere / "contracts")
    shutil.copy(workspace.profiles_dir / "profiles.yml", elsewhere / "profiles.yml")
    moved = workspace.model_copy(
        update={
            "dbt_project_dir": project,
            "soda_contracts_dir": elsewhere / "contracts",
            "profiles_dir": elsewhere,
        }
    )
    original = project_fingerprint(workspace)
    assert project_fingerprint(moved) == original

    model = project / "models" / "gold" / "dim_date.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    edited = project_fingerprint(moved)
    assert edited != original

    model.rename(model.with_name("dim_calendar.sql"))
    assert project_fingerprint(moved) not in (original, edited)
