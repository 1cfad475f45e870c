"""The full-refresh request between runs: a run clears only the request it planned
with; one made while it built (an erasure, a readmission by another process) stays
for the next run."""

from __future__ import annotations

from olist_elt.run.state import (
    clear_full_refresh,
    full_refresh_reason,
    full_refresh_request,
    require_full_refresh,
)
from olist_elt.settings import Settings


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
