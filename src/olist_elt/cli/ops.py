"""`status`, `lifecycle` and `deployments`: what ran, old raw to cold, the schedules."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from olist_elt.cli._common import Verbose, fail, out, setup
from olist_elt.errors import OlistEltError


def status(
    runs: Annotated[int, typer.Option(help="How many of the last runs to show")] = 10,
    verbose: Verbose = False,
) -> None:
    """The last runs (outcome, failing step, seconds) and each source's freshness."""
    settings = setup(verbose)
    from olist_elt.ops.freshness import source_freshness
    from olist_elt.run.inputs import lake_manifest
    from olist_elt.run.lock import live_runs
    from olist_elt.run.record import load_records
    from olist_elt.targets import target_for
    from olist_elt.transform import project

    records = load_records(settings, runs)
    running = live_runs(settings)  # a backfill's day too
    if not records:
        out.print(f"no runs recorded in {settings.lake_dir / 'runs'} yet")
    out.print(f"last {len(records)} run(s), newest first:")
    for run in records:
        seconds = sum(s["seconds"] for s in run.get("steps", []))
        outcome = run.get("outcome", "")
        if outcome == "running" and run["run_id"] not in running:
            outcome = "interrupted"  # its process is gone: no one holds the run lock
        failing = run.get("failing_step")
        where = f" at '{failing}' ({run.get('error_class')})" if failing else ""
        rejected = f", {len(run['rejected'])} raw object(s) rejected" if run.get("rejected") else ""
        out.print(
            f"  {run['run_id']}  {run.get('target', '')}  {outcome}{where}{rejected}  "
            f"{seconds:.1f}s",
            soft_wrap=True,
        )
    manifest = lake_manifest(settings).records()
    found_rejected = [r for r in manifest if r.status == "rejected"]
    if found_rejected:
        out.print(f"{len(found_rejected)} rejected raw object(s) (`olist-elt raw readmit`):")
        for r in found_rejected:
            out.print(f"  {r.sha256[:12]}  {r.object_key}  {r.rejected_reason}", soft_wrap=True)
    erased = [r for r in manifest if r.status == "erased"]
    if erased:
        out.print(f"{len(erased)} raw object(s) erased on request (deleted, replaced by):")
        for r in erased:
            out.print(
                f"  {r.sha256[:12]} -> {(r.superseded_by or '')[:12]}  {r.source}/{r.dataset}"
                f"  {r.erased_at}",
                soft_wrap=True,
            )
    try:
        found = source_freshness(
            manifest,
            project.freshness_max_age_hours(target_for(settings).lake_dbt.manifest),
        )
    except OlistEltError as exc:
        fail(exc)
    fresh = Table(title="freshness per source (latest accepted raw data)")
    for column in ("source", "latest", "age (h)", "max (h)", "status"):
        fresh.add_column(column)
    for f in found:
        fresh.add_row(
            f.source,
            f.latest_ingested_at or "-",
            "-" if f.age_hours is None else f"{f.age_hours:.1f}",
            f"{f.max_age_hours:g}",
            f.status,
        )
    out.print(fresh)


def lifecycle(
    older_than_days: Annotated[
        int | None, typer.Option(min=0, help="Default: OLIST_RAW_RETENTION_DAYS (90)")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Move raw objects older than N days to the cold zone (verified by sha256)."""
    settings = setup(verbose)
    from olist_elt.lake.lifecycle import run_lifecycle

    try:
        moves = run_lifecycle(settings, older_than_days)
    except OlistEltError as exc:
        fail(exc)
    for m in moves:
        out.print(f"{m.source_key} -> {m.cold_key}")
    out.print(f"{len(moves)} object(s), {sum(m.bytes for m in moves):,} bytes moved to cold")


def deployments(verbose: Verbose = False) -> None:
    """List the Prefect deployments of prefect.yaml, their schedules, whether they start
    paused, and next runs (each flow is imported and its parameters checked)."""
    setup(verbose)
    from olist_elt.deployments import load_deployments

    try:
        found = load_deployments()
    except OlistEltError as exc:
        fail(exc)
    out.print(f"{len(found)} deployments in prefect.yaml (work pool, schedule, next run):")
    for d in found:
        params = ", ".join(f"{k}={v}" for k, v in d.parameters.items())
        schedules = (
            "; ".join(
                f"cron '{cron}' ({tz}){' paused' if not active else ''}"
                for cron, tz, active in d.schedules
            )
            or "none"
        )
        runs = "; ".join(n.isoformat(timespec="minutes") for n in d.next_runs) or "-"
        out.print(
            f"  {d.name}: flow {d.flow_name}{f'({params})' if params else ''}, "
            f"pool {d.work_pool}, {schedules}, next {runs}",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(status)
    app.command()(lifecycle)
    app.command()(deployments)
