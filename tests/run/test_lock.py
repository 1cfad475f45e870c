"""The lake's run lock: re-entered by a backfill's days and an erasure's rebuild, with
the run inside named; waited for by a caller that may wait."""

from __future__ import annotations

import time

import pytest

from olist_elt.run.lock import RunLocked, holder, live_runs, run_lock
from olist_elt.settings import Settings
from tests.conftest import lake_held_by_another_process


def test_the_run_inside_a_held_lock_is_live_and_named(workspace: Settings) -> None:
    with run_lock(workspace, "backfill 2026-01-01..2026-01-02 ab12"):
        assert live_runs(workspace) == {"backfill 2026-01-01..2026-01-02 ab12"}
        with run_lock(workspace, "20260101T000000Z-aaaaaa"):
            assert live_runs(workspace) == {
                "backfill 2026-01-01..2026-01-02 ab12",
                "20260101T000000Z-aaaaaa",
            }
        with run_lock(workspace, "20260102T000000Z-bbbbbb"):
            assert (holder(workspace) or {}).get("current") == "20260102T000000Z-bbbbbb"
        assert live_runs(workspace) == {"backfill 2026-01-01..2026-01-02 ab12"}
    assert live_runs(workspace) == set() and holder(workspace) is None


def test_a_caller_that_may_wait_gets_the_lock_when_the_run_ends(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import olist_elt.run.lock as lock_module

    monkeypatch.setattr(lock_module, "POLL_SECONDS", 0.1)
    with lake_held_by_another_process(workspace, seconds=1.0):
        with pytest.raises(RunLocked, match="run the-daily-run"), run_lock(workspace, "now"):
            pass
        t0 = time.monotonic()
        with run_lock(workspace, "lifecycle", wait=60):  # the other process ends at 1 s
            assert (holder(workspace) or {}).get("run_id") == "lifecycle"
        assert time.monotonic() - t0 < 60


def test_a_caller_that_waited_in_vain_is_told_how_long(workspace: Settings) -> None:
    with (
        lake_held_by_another_process(workspace),
        pytest.raises(RunLocked, match=r"run the-daily-run .*\(waited 1 s\)"),
        run_lock(workspace, "lifecycle", wait=1),
    ):
        pass
