"""`run`, `build` and `check`: the pipeline, one layer's build, the gates alone."""

from __future__ import annotations

import os
import time
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from olist_elt.cli._common import Verbose, console, fail, out, setup
from olist_elt.cli.report import print_summary
from olist_elt.errors import OlistEltError
from olist_elt.settings import Settings

Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])]


def _prefect_settings_may_set_an_api() -> bool:
    """Whether any source Prefect reads its settings from could set its API URL: a
    PREFECT_*API* variable or a chosen PREFECT_PROFILE, or .env, prefect.toml,
    pyproject.toml's [tool.prefect] in this folder, or the profiles file. When none
    can, the answer needs no Prefect import (about 2.5 s of every in-process run)."""
    # a chosen profile may be one of Prefect's own (its `local` sets an API URL)
    if os.environ.get("PREFECT_PROFILE") or any(
        name.startswith("PREFECT_") and "API" in name for name in os.environ
    ):
        return True
    try:
        with open("pyproject.toml", "rb") as file:
            if "prefect" in tomllib.load(file).get("tool", {}):
                return True
    except (OSError, tomllib.TOMLDecodeError):
        pass
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml")
    needles = {
        Path(".env"): "PREFECT_",
        Path("prefect.toml"): "",  # any setting: let Prefect read it
        profiles.expanduser(): "PREFECT_API",
    }
    for path, needle in needles.items():
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if needle in text:
            return True
    return False


def prefect_configured() -> bool:
    """True when a Prefect API (a running server or Cloud) is configured."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    if not _prefect_settings_may_set_an_api():
        return False
    try:
        from prefect.settings import get_current_settings

        return bool(get_current_settings().api.url)
    except Exception:
        return False


def prefect_unreachable() -> str | None:
    """Why the configured Prefect API cannot run the flow, None when it answers its
    health check: asked before anything starts, so a server that is down or refuses
    the login is one clear line (not Prefect's traceback) and nothing is ingested."""
    from urllib.parse import urlsplit

    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    url = str(get_current_settings().api.url or "")
    try:
        with get_client(sync_client=True) as client:
            exc = client.api_healthcheck()
    except Exception as raised:  # the client could not even be made (a bad URL)
        exc = raised
    if exc is None:
        return None
    status = getattr(getattr(exc, "response", None), "status_code", None)
    text = str(exc).splitlines()[0] if str(exc) else ""
    # a login in the URL stays out of the message, and so does any text quoting it
    why = f"HTTP {status}" if status else type(exc).__name__
    if text and not status and "://" not in text:
        why += f": {text}"
    parts = urlsplit(url)
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return (
        f"a Prefect API is configured ({shown}) but does not answer ({why}): start it "
        "(`prefect server start`) or unset PREFECT_API_URL to run in-process; nothing ran"
    )


def run(
    source: Annotated[
        str | None,
        typer.Argument(
            help="Folder, .zip or URL of the Olist CSVs; default OLIST_SOURCE, else "
            "the generated sample"
        ),
    ] = None,
    scale: Annotated[float | None, typer.Option(help="Sample scale when no source")] = None,
    seed: Annotated[int | None, typer.Option(help="Sample seed when no source")] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="local (all on DuckDB), warehouse (gold on PostgreSQL), spark "
            "(bronze and silver on an in-process Spark, gold on PostgreSQL) or "
            "spark_thrift (the same on a Spark Thrift Server: `olist-elt spark up`)"
        ),
    ] = None,
    full_rebuild: Annotated[
        bool, typer.Option("--full-rebuild", help="Rebuild even when no input changed")
    ] = False,
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Rebuild the incremental tables from all of raw"),
    ] = False,
    from_date: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="Backfill: first ingest date"),
    ] = None,
    to_date: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Backfill: last ingest date"),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Run the whole pipeline once: ingest, then dbt bronze, silver and gold.

    Only raw objects not processed yet are read (incremental); --full-refresh reads
    all of raw. When no input changed since the last good run (raw objects, erasures,
    models, contracts), nothing is rebuilt but every quality gate still runs.
    --from/--to replay those ingest dates in order from what raw holds (no ingest).
    """
    settings = setup(verbose, sample_scale=scale, sample_seed=seed, target=target)
    if (from_date is None) != (to_date is None):
        fail("a backfill needs both --from and --to")
    params: dict[str, Any] = {
        "source": source,
        "full_refresh": full_refresh,
        "full_rebuild": full_rebuild,
        "from_date": from_date.date() if from_date else None,
        "to_date": to_date.date() if to_date else None,
    }
    started = time.perf_counter()
    try:
        if prefect_configured():
            unreachable = prefect_unreachable()
            if unreachable:
                fail(unreachable)
            console.print("Prefect API configured: running the elt_pipeline flow")
            from olist_elt.deployments import load_flow

            summary = load_flow("elt_pipeline.py", "elt_pipeline")(
                **params, scale=scale, seed=seed, target=target
            )
        else:
            console.print(
                "No Prefect server configured (PREFECT_API_URL unset): running the same "
                "steps in-process, recorded the same way."
            )
            summary = _in_process(settings, params)
    except OlistEltError as exc:
        fail(exc)
    if summary.served_repairs:
        console.print(
            "The lake or the served gold differed from the last good run: built, gated and "
            "published again: " + "; ".join(summary.served_repairs)
        )
    if summary.skipped_build:
        console.print(
            f"No rebuild: {summary.skipped_build}, and the lake and the served gold are as "
            "it gated and published them (row counts, content checksums): nothing gated again."
        )
    print_summary(summary)
    from olist_elt.targets import target_for

    out.print(
        f"star schema: {target_for(settings).describe_served()}; "
        f"run record: {settings.lake_dir / 'runs' / (summary.run_id + '.json')}; "
        f"{time.perf_counter() - started:.1f}s"
    )
    if summary.dashboards.get("index"):
        failed = summary.dashboards.get("errors") or []
        note = f" ({len(failed)} card(s) failed: see the log)" if failed else ""
        out.print(f"dashboards: open {summary.dashboards['index']}{note}")
    elif summary.dashboards.get("error"):
        out.print(f"dashboards not rendered: {summary.dashboards['error']}")


def _in_process(settings: Any, params: dict[str, Any]) -> Any:
    """The same steps without an orchestrator, with a progress line."""
    from olist_elt.run.pipeline import run_backfill, run_pipeline

    with console.status("starting") as status:

        def progress(name: str) -> None:
            status.update(f"[bold]{name}[/bold] ...")

        if params["from_date"] is not None:
            days = run_backfill(settings, params["from_date"], params["to_date"], on_step=progress)
            for day in days:
                read = sum(c["rows"] for c in day.incremental.values())
                out.print(f"{day.as_of}: run {day.run_id} {day.outcome}, {read:,} raw rows read")
            return days[-1]
        return run_pipeline(
            settings,
            params["source"] or settings.source,
            on_step=progress,
            force_rebuild=params["full_rebuild"],
            full_refresh=params["full_refresh"],
        )


def build(
    layer: Annotated[
        str | None, typer.Option(help="bronze, silver or gold; default: all three in order")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Run dbt build per layer on what raw holds now (no gates, nothing published).
    It writes the layers a run builds and gates: refused while a run holds the lake.
    Bronze reads back first, as a run does, the raw objects no good run built from."""
    settings = setup(verbose)
    from olist_elt.run.lock import run_lock
    from olist_elt.targets import LAYERS, target_for

    target = target_for(settings)
    layers = [layer] if layer else list(LAYERS)
    try:
        with run_lock(settings, "olist-elt build"):
            if "bronze" in layers:
                _verify_unbuilt(settings)
            _build_layers(target, layers)
    except OlistEltError as exc:
        fail(exc)


def _verify_unbuilt(settings: Settings) -> None:
    """RawObjectsChanged (audited) when a raw object bronze may read for the first
    time was deleted or rewritten since it was landed."""
    from olist_elt.lake.verify import landings_unrecorded, verify_records
    from olist_elt.run import inputs, state

    unbuilt = state.unbuilt_records(settings, inputs.lake_manifest(settings).records())
    verify_records(settings, unbuilt, "olist-elt build", landings_unrecorded(settings))


def _build_layers(target: Any, layers: list[str]) -> None:
    for name in layers:
        t0 = time.perf_counter()
        target.build(name)
        counts = target.staged_counts() if name == "gold" else target.lake_counts(name)
        out.print(
            f"{name}: {len(counts)} relations, {sum(counts.values()):,} rows, "
            f"{time.perf_counter() - t0:.1f}s"
        )


def check(
    layer: Annotated[
        str | None, typer.Option(help="bronze, silver or gold; default: all three")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Run the Soda quality gates alone on the layers as they are (gold as served)."""
    settings = setup(verbose)
    from olist_elt.targets import LAYERS, target_for

    target = target_for(settings)
    failed = False
    try:
        for name in [layer] if layer else list(LAYERS):
            report = target.check_served() if name == "gold" else target.check(name)
            status = "[green]passed[/green]" if report.passed else "[red]FAILED[/red]"
            out.print(
                f"{name}: {status} {len(report.checks)} checks, "
                f"{len(report.blocking)} failed, {len(report.warnings)} warnings, "
                f"{report.seconds:.2f}s"
            )
            for c in report.blocking:
                out.print(f"  [red]fail[/red] {c.describe()}")
            for c in report.warnings:
                out.print(f"  [yellow]warn[/yellow] {c.describe()}")
            failed = failed or not report.passed
    except OlistEltError as exc:
        fail(exc)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(run)
    app.command()(build)
    app.command()(check)
