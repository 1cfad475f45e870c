"""A pipeline run: a short composition of declared steps over the settings' Target.

Prefect flows (flows/) pass a StepRunner that makes each step a task; `olist-elt run`
runs the same steps in-process when no Prefect server is configured. Either way the
run is recorded the same way: a run record under lake/runs/ from its start, the ops
history, alerts and an audit record."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from olist_elt.errors import OlistEltError
from olist_elt.run import plan, stages, state
from olist_elt.run.context import RunContext
from olist_elt.run.lock import run_lock
from olist_elt.run.pinned import read_lake
from olist_elt.run.record import RunSummary
from olist_elt.run.steps import StepRunner, run_locally
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings
from olist_elt.targets import target_for


def run_pipeline(
    settings: Settings,
    source: str | Path | None = None,
    *,
    run_step: StepRunner = run_locally,
    orchestrator: str = "in-process",
    on_step: Callable[[str], None] | None = None,
    force_rebuild: bool = False,
    full_refresh: bool = False,
    ingest_inputs: bool = True,
    dbt_runner: Callable[..., Any] | None = None,
) -> RunSummary:
    """Sample (if no source) -> ingest -> dbt bronze -> silver -> gold -> publish.

    Bronze and silver's big tables are incremental: only raw objects not processed
    yet are read. full_refresh (or a pending reason: a rejected or readmitted batch,
    an erasure, a changed dbt project) rebuilds them from all of raw. When nothing
    changed since the last good run and the lake and the served gold are as it left
    them (row counts, content checksums), nothing is built or gated again.
    ingest_inputs=False replays what raw holds (a backfill's day, with as_of)."""
    ctx = RunContext.begin(settings, orchestrator, run_step, on_step, dbt_runner)
    with ctx.recorded():
        if ingest_inputs:
            stages.ingest(ctx, source)
        else:
            read_lake(ctx)
        decision = plan.plan(ctx, force_rebuild, full_refresh)
        if decision.rebuild:
            stages.prepare(ctx)
        else:
            plan.keep_unchanged(ctx, decision)
        if ingest_inputs:
            stages.freshness(ctx, source is None, decision)
        if decision.rebuild:
            stages.rebuild(ctx, decision)
            stages.publish(ctx, decision)
        stages.render(ctx)
    return ctx.summary


def run_backfill(
    settings: Settings,
    start: date,
    end: date,
    *,
    run_step: StepRunner = run_locally,
    orchestrator: str = "in-process",
    on_step: Callable[[str], None] | None = None,
    dbt_runner: Callable[..., Any] | None = None,
) -> list[RunSummary]:
    """Replay ingest dates start..end in order: the first day is rebuilt from raw as of
    that day (full refresh, type-2 history rewound), each later day reads only its own
    raw objects, as the daily runs did. Nothing is ingested. Idempotent: the same range
    gives the same tables. A run without dates afterwards catches up.

    The lake's run lock is held from before the rewind to the last day (RunLocked when
    another run holds it, and nothing changed): no other run, a scheduled daily one
    included, rewinds or builds between the days, where it would build later days'
    objects into a history the backfill has not replayed yet."""
    if end < start:
        raise OlistEltError(f"backfill range is empty: --from {start} is after --to {end}")
    with run_lock(settings, f"backfill {start}..{end} {secrets.token_hex(3)}"):
        # until the first day is published, the lake is not what the last good run
        # left: a run that stops in between leaves the next one a full refresh to do
        state.require_full_refresh(settings, f"a backfill from {start} rewound the history")
        rewound = target_for(settings, dbt_runner).rewind_snapshots(start)
        AuditLog(settings.audit_path).append(
            "olist-elt", "backfill", f"{start}..{end}", "started", snapshot_versions_removed=rewound
        )
        summaries = []
        day = start
        while day <= end:
            summaries.append(
                run_pipeline(
                    settings.model_copy(update={"as_of": day}),
                    run_step=run_step,
                    orchestrator=orchestrator,
                    on_step=on_step,
                    force_rebuild=True,
                    full_refresh=day == start,
                    ingest_inputs=False,
                    dbt_runner=dbt_runner,
                )
            )
            day += timedelta(days=1)
    return summaries
