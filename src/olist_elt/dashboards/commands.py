"""The two entry points: render the dashboards to HTML, sync them to Metabase."""

from __future__ import annotations

from pathlib import Path

from olist_elt.dashboards.metabase import (
    PASSWORD_SECRET,
    MetabaseSync,
    SyncReport,
    wait_until_ready,
)
from olist_elt.dashboards.model import DASHBOARDS_DIR, api_models, load_dashboards
from olist_elt.dashboards.query import card_runner
from olist_elt.dashboards.render import RenderReport, render_all
from olist_elt.errors import OlistEltError
from olist_elt.security.audit import AuditLog
from olist_elt.security.vault import open_vault
from olist_elt.settings import Settings


def served_engine(settings: Settings) -> str:
    """Where the settings' target serves the star schema: 'duckdb' or 'postgres'."""
    from olist_elt.targets import target_for

    return target_for(settings).served_engine


class CardsFailed(OlistEltError):
    """Cards failed and settings.dashboards_on_card_failure is 'fail'."""


def render_dashboards(
    settings: Settings,
    engine: str | None = None,
    out_dir: Path | None = None,
    directory: Path = DASHBOARDS_DIR,
    served_version: str | None = None,
) -> RenderReport:
    """Query every card on the served schema and write the static HTML dashboards. A
    card whose query fails is drawn as failed (its error class only) and counted; with
    dashboards_on_card_failure 'fail', CardsFailed is raised after the pages are written.
    served_version (what the last publish served) lets a page that reads gold only
    stay as it was written from that version (render_all)."""
    engine = engine or served_engine(settings)
    source = (
        f"DuckDB {settings.warehouse_path}"
        if engine == "duckdb"
        else f"PostgreSQL {settings.pg_host}:{settings.pg_port}/{settings.pg_database}"
    )
    unavailable: frozenset[str] = frozenset()
    if settings.apis == "off":
        unavailable = frozenset(f"gold.{m}" for m in api_models())
    with card_runner(settings, engine) as run:
        report = RenderReport(
            render_all(
                load_dashboards(directory),
                run,
                out_dir or settings.dashboards_out,
                source,
                unavailable,
                served_version,
            )
        )
    if report.failed_cards and settings.dashboards_on_card_failure == "fail":
        failed = "; ".join(e for page in report for e in page.errors)
        raise CardsFailed(
            f"{report.failed_cards} dashboard card(s) failed: {failed} (set "
            "OLIST_DASHBOARDS_ON_CARD_FAILURE=warn to publish the pages anyway)"
        )
    return report


def sync_dashboards(settings: Settings, directory: Path = DASHBOARDS_DIR) -> SyncReport:
    """Provision the dashboards in Metabase (idempotent); credentials from the vault."""
    from olist_elt.warehouse.postgres import BI_SECRET

    dashboards = load_dashboards(directory)
    audit = AuditLog(settings.audit_path)
    vault = open_vault(settings, audit)
    url = settings.metabase_url.rstrip("/")
    wait_until_ready(url, settings.metabase_wait_seconds)
    sync = MetabaseSync(
        url, settings.metabase_user, vault.get(PASSWORD_SECRET, actor="svc-dashboards")
    )
    database_id = sync.ensure_database(
        settings.metabase_database_name,
        {
            "host": settings.metabase_pg_host or settings.pg_host,
            "port": settings.pg_port,
            "dbname": settings.pg_database,
            "user": settings.pg_bi_role,
            "password": vault.get(BI_SECRET, actor="svc-dashboards"),
            "ssl": False,
        },
    )
    collection_id = sync.ensure_collection(settings.metabase_collection)
    report = sync.sync(dashboards, database_id, collection_id)
    audit.append(
        "svc-dashboards",
        "dashboards.sync",
        url,
        "changed" if report.changed else "unchanged",
        created=len(report.created),
        updated=len(report.updated),
        archived=len(report.archived),
    )
    return report
