"""`dashboards render|sync|exposures`: dashboards as code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from olist_elt.cli._common import Verbose, fail, out, setup
from olist_elt.errors import OlistEltError

dashboards_app = typer.Typer(help="Dashboards as code (dashboards/*.yml).", no_args_is_help=True)


@dashboards_app.command("render")
def dashboards_render(
    engine: Annotated[
        str | None,
        typer.Option(help="duckdb or postgres; default: where the target serves gold"),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the HTML")] = None,
    verbose: Verbose = False,
) -> None:
    """Write the static HTML dashboards (no server needed) from the served gold."""
    settings = setup(verbose)
    from olist_elt.dashboards.commands import render_dashboards
    from olist_elt.targets import target_for

    try:
        report = render_dashboards(settings, engine or target_for(settings).served_engine, out_dir)
    except OlistEltError as exc:
        fail(exc)
    for page in report:
        state = "ok" if not page.errors else f"{len(page.errors)} card(s) failed"
        out.print(f"{page.path}: {page.charts} charts, {state}")
        for error in page.errors:
            out.print(f"  - {error}")
    if report.failed_cards:
        out.print(
            f"warning: {report.failed_cards} card(s) failed; the pages show them "
            "(OLIST_DASHBOARDS_ON_CARD_FAILURE=fail makes this an error)"
        )


@dashboards_app.command("sync")
def dashboards_sync(verbose: Verbose = False) -> None:
    """Provision the dashboards in Metabase (idempotent)."""
    settings = setup(verbose)
    from olist_elt.dashboards.commands import sync_dashboards

    try:
        report = sync_dashboards(settings)
    except OlistEltError as exc:
        fail(exc)
    for kind in ("created", "updated", "archived"):
        for item in getattr(report, kind):
            out.print(f"{kind}: {item}")
    out.print(
        f"Metabase {settings.metabase_url}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.archived)} archived, "
        f"{len(report.unchanged)} unchanged"
    )


@dashboards_app.command("exposures")
def dashboards_exposures(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if the committed file is out of date")
    ] = False,
) -> None:
    """Regenerate dbt_project/models/gold/_exposures.yml from dashboards/*.yml."""
    from olist_elt.dashboards.model import EXPOSURES_FILE, exposures_yaml, load_dashboards

    try:
        text = exposures_yaml(load_dashboards())
    except OlistEltError as exc:
        fail(exc)
    current = EXPOSURES_FILE.read_text() if EXPOSURES_FILE.exists() else ""
    if check:
        if current != text:
            fail(f"{EXPOSURES_FILE} is out of date: run olist-elt dashboards exposures")
        out.print(f"{EXPOSURES_FILE} is up to date")
        return
    EXPOSURES_FILE.write_text(text)
    out.print(f"wrote {EXPOSURES_FILE}")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.add_typer(dashboards_app, name="dashboards")
