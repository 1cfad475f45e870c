"""The pipeline's steps as plain functions, and one run that chains them.

Prefect flows (flows/) wire these same functions as tasks; `olist-elt run` calls them
in-process when no Prefect server is configured. Either way the run is recorded the
same way: a RunSummary saved under lake/runs/ and an audit record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import resource
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import httpx

from olist_elt.connectors.bcb import BcbSgsConnector, ingest_bcb
from olist_elt.connectors.bcb.sample import sample_client as bcb_sample_client
from olist_elt.connectors.http import RETRIES
from olist_elt.connectors.olist import IngestResult, OlistCsvConnector, ingest_olist
from olist_elt.connectors.openweather import OpenWeatherConnector, ingest_openweather
from olist_elt.connectors.openweather.sample import sample_client as openweather_sample_client
from olist_elt.connectors.openweather.settings import API_KEY_SECRET as OPENWEATHER_KEY
from olist_elt.errors import DbtStepFailed, InputRejected, OlistEltError, PipelineFailed
from olist_elt.lake.lifecycle import Move, move_to_cold
from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.raw import RawWriter
from olist_elt.lake.storage import LocalStorage, open_storage
from olist_elt.ops.alerts import Alert, advice_for, send_alert
from olist_elt.ops.freshness import SourcesStale, source_freshness
from olist_elt.ops.history import record_history
from olist_elt.quality.gates import (
    GateFailed,
    GateReport,
    duckdb_data_source,
    postgres_data_source,
    run_gate,
)
from olist_elt.quality.reconcile import (
    ReconciliationFailed,
    ReconciliationReport,
    reconcile,
)
from olist_elt.sample.generator import OLIST_FILES, generate_sample
from olist_elt.security.audit import AuditLog
from olist_elt.security.erasure import ensure_register, request_erasure
from olist_elt.security.vault import open_vault
from olist_elt.settings import Settings
from olist_elt.transform.dbt import Dbt, DbtCommandResult
from olist_elt.transform.spark import attach_spark_layers, spark_session
from olist_elt.warehouse.postgres import (
    PgLogin,
    apply_constraints,
    constraints_from_manifest,
    drop_staging,
    gold_row_counts,
    login,
    publish_silver,
    swap_gold,
)
from olist_elt.warehouse.publish import (
    LIVE_SCHEMA,
    STAGING_SCHEMA,
    base_tables,
    row_counts,
    swap_into_live,
)

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold")
# Relations built from the API connectors; disabled (and not gated) with OLIST_APIS=off.
API_RELATIONS = frozenset(
    {
        "bronze_bcb__ipca",
        "bronze_bcb__selic_target",
        "bronze_bcb__selic_daily",
        "bronze_openweather__current",
        "silver_economic_indicators",
        "silver_weather_observations",
        "fct_economic_indicators",
        "fct_weather_daily",
        "fct_monthly_revenue",
    }
)
QUALITY_GATE = "svc-quality-gate"
LAYER_SELECTORS = {
    "bronze": ["path:seeds", "bronze"],
    "silver": ["silver"],
    # Snapshots (type-2 history of masked silver) are taken where gold is built.
    "gold": ["path:snapshots", "gold"],
}
SAMPLE_MARKER = ".sample.json"

T = TypeVar("T")
StepRunner = Callable[[str, Callable[[], T]], T]


def run_locally(name: str, fn: Callable[[], T]) -> T:
    """Run a step in this process (the default when no orchestrator wraps it)."""
    return fn()


@dataclass
class StepRecord:
    """What one step did: wall and CPU seconds, peak memory so far, rows."""

    name: str
    started_at: str
    seconds: float
    outcome: str
    rows: int | None = None
    detail: str | None = None
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    error_class: str | None = None


@dataclass
class RunSummary:
    """One pipeline run: its steps, rows per layer, outcome."""

    run_id: str
    target: str
    orchestrator: str
    started_at: str
    finished_at: str | None = None
    outcome: str = "running"
    error: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    layer_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    skipped_build: str | None = None
    dashboards: dict[str, Any] = field(default_factory=dict)
    # Per incremental bronze model: raw objects and rows this run read.
    incremental: dict[str, dict[str, int]] = field(default_factory=dict)
    full_refresh: str | None = None
    as_of: str | None = None
    reconciliation: dict[str, Any] = field(default_factory=dict)
    error_class: str | None = None
    # Per connector: files or messages accepted, duplicates, quarantined, refused, retried.
    connectors: dict[str, dict[str, int]] = field(default_factory=dict)
    freshness: list[dict[str, Any]] = field(default_factory=list)
    history: str | None = None
    alerts: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The summary as JSON."""
        return json.dumps(asdict(self), indent=1, default=str)


def new_run_id() -> str:
    """A sortable, unique run id."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def lake_writer(settings: Settings, identity: str) -> RawWriter:
    """The raw writer over the configured lake, as one connector's identity."""
    return RawWriter(open_storage(settings, identity), AuditLog(settings.audit_path))


def lake_manifest(settings: Settings, identity: str = "svc-transformer") -> Manifest:
    """The raw zone's manifest as a component sees it (read-only for the transformer)."""
    return Manifest(open_storage(settings, identity))


def ensure_sample(settings: Settings, scale: float | None = None, seed: int | None = None) -> Path:
    """Generate the sample CSVs into landing/ unless the same scale and seed are there."""
    scale = settings.sample_scale if scale is None else scale
    seed = settings.sample_seed if seed is None else seed
    out = settings.landing_dir / f"sample-scale{scale:g}-seed{seed}"
    marker = out / SAMPLE_MARKER
    if marker.exists() and all((out / f.file_name).exists() for f in OLIST_FILES.values()):
        log.info("sample data already in %s", out)
        return out
    counts = generate_sample(out, scale=scale, seed=seed)
    marker.write_text(json.dumps({"scale": scale, "seed": seed, "rows": counts}))
    log.info("generated sample data (scale %s, seed %s) in %s", scale, seed, out)
    return out


def ingest(settings: Settings, source: str | Path, run_id: str) -> IngestResult:
    """Run the Olist connector over a folder, zip or URL."""
    return ingest_olist(
        source,
        writer=lake_writer(settings, OlistCsvConnector.service_identity),
        landing=settings.landing_dir,
        run_id=run_id,
    )


def _pipeline_target_path(settings: Settings, target: str) -> Path:
    """Artifacts of the pipeline's dbt, one folder per target (partial parsing per target)."""
    base = settings.dbt_target_path or settings.dbt_project_dir / "target"
    return base / f"pipeline-{target}"


def _dbt_vars(settings: Settings) -> dict[str, Any]:
    """Vars every pipeline dbt command gets (they shape parsing)."""
    dbt_vars: dict[str, Any] = {
        "gold_schema": STAGING_SCHEMA,
        "apis_enabled": settings.apis != "off",
    }
    if settings.as_of:
        dbt_vars["as_of_ingest_date"] = settings.as_of.isoformat()
    return dbt_vars


def pipeline_dbt(settings: Settings) -> Dbt:
    """The pipeline's dbt on the lake engine: DuckDB (bronze, silver, and the local gold,
    which goes to the staging schema until its gate passes) or Spark (bronze, silver)."""
    engine = "spark" if settings.target == "spark" else "local"
    return Dbt(
        settings.model_copy(update={"target": engine}),
        dbt_vars=_dbt_vars(settings),
        target_path=_pipeline_target_path(settings, engine),
    )


@contextmanager
def lake_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only DuckDB view of the lake engine's layers: the DuckDB
    file, or (spark target) views over the parquet tables Spark wrote."""
    if settings.target == "spark":
        con = duckdb.connect()
        attach_spark_layers(con, settings, ("bronze", "silver"))
    else:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _spark_silver(settings: Settings) -> Callable[[duckdb.DuckDBPyConnection], None] | None:
    """How publish_silver reads silver on the spark target (None: the DuckDB file)."""
    if settings.target != "spark":
        return None
    return lambda con: attach_spark_layers(con, settings, ("silver",))


def _lake_kinds(settings: Settings) -> tuple[str, ...]:
    """What a layer's tables are in lake_connection: views over parquet on spark."""
    return ("VIEW",) if settings.target == "spark" else ("BASE TABLE",)


def warehouse_dbt(settings: Settings, pg: PgLogin) -> Dbt:
    """The pipeline's dbt on the warehouse target (PostgreSQL), password from the vault."""
    return Dbt(
        settings.model_copy(update={"target": "warehouse"}),
        dbt_vars=_dbt_vars(settings),
        extra_env={
            "OLIST_PG_HOST": pg.host,
            "OLIST_PG_PORT": str(pg.port),
            "OLIST_PG_USER": pg.user,
            "OLIST_PG_PASSWORD": pg.password,
            "OLIST_PG_DATABASE": pg.database,
        },
        target_path=_pipeline_target_path(settings, "warehouse"),
    )


def silver_relations(manifest: Any) -> dict[str, tuple[str, str]]:
    """Each silver table and the (schema, name) ref() resolves it to in the manifest."""
    return {
        node.name: (node.schema, node.alias)
        for node in manifest.nodes.values()
        if node.resource_type == "model"
        and "silver" in node.fqn
        and node.config.materialized != "ephemeral"
    }


def build_warehouse_gold(dbt: Dbt, pg: PgLogin) -> DbtCommandResult:
    """`dbt build` gold (and the seeds it joins) on PostgreSQL, into gold_staging."""
    drop_staging(pg)
    return dbt.run(
        "build",
        "--select",
        "path:seeds",
        "path:snapshots",
        "gold",
        "--exclude",
        "tag:lake",
        "--indirect-selection",
        "buildable",
    )


def check_postgres_gold(
    settings: Settings, pg: PgLogin, schema: str = STAGING_SCHEMA
) -> GateReport:
    """The gold contracts on PostgreSQL."""
    source = postgres_data_source(pg.host, pg.port, pg.user, pg.password, pg.database)
    return run_gate(
        source,
        "gold",
        schema=schema,
        prefix=f"{pg.database}/{schema}",
        contracts_dir=settings.soda_contracts_dir,
        exclude=API_RELATIONS if settings.apis == "off" else frozenset(),
    )


def publish_postgres_gold(settings: Settings, pg: PgLogin, manifest: Any) -> dict[str, int]:
    """Keys and indexes on the staging star schema, then the swap; audited."""
    applied = apply_constraints(pg, constraints_from_manifest(manifest, STAGING_SCHEMA))
    swap_gold(pg, settings.pg_bi_role)
    counts = gold_row_counts(pg)
    AuditLog(settings.audit_path).append(
        "svc-publisher",
        "publish",
        f"postgres:{pg.database}.gold",
        "ok",
        tables=len(counts),
        rows=sum(counts.values()),
        constraints=applied,
    )
    return counts


def _api_client(settings: Settings, sample: Callable[[], httpx.Client]) -> httpx.Client:
    """The offline stand-in by default, a real client when OLIST_APIS=live."""
    if settings.apis == "live":
        return httpx.Client(headers={"User-Agent": "olist-elt"}, follow_redirects=True)
    return sample()


API_SOURCES = ("bcb", "openweather")


def ingest_apis(
    settings: Settings, run_id: str, sources: tuple[str, ...] | list[str] = API_SOURCES
) -> dict[str, int]:
    """BCB series and/or OpenWeather capitals into raw; rows newly written per source."""
    unknown = set(sources) - set(API_SOURCES)
    if unknown:
        raise OlistEltError(f"unknown API source(s) {sorted(unknown)}: choose from {API_SOURCES}")
    counts: dict[str, int] = {}
    if "bcb" in sources:
        with _api_client(settings, bcb_sample_client) as client:
            series = ingest_bcb(
                client,
                settings.bcb_base_url,
                writer=lake_writer(settings, BcbSgsConnector.service_identity),
                run_id=run_id,
                start=settings.bcb_start_date,
            )
        counts["bcb"] = sum(s.rows for s in series)
    if "openweather" in sources:
        key = "sample"
        if settings.apis == "live":
            key = open_vault(settings, AuditLog(settings.audit_path)).get(
                OPENWEATHER_KEY, actor="svc-connector-openweather"
            )
        with _api_client(settings, openweather_sample_client) as client:
            weather = ingest_openweather(
                client,
                settings.openweather_base_url,
                key,
                writer=lake_writer(settings, OpenWeatherConnector.service_identity),
                run_id=run_id,
            )
        counts["openweather"] = len(weather.fetched)
    return counts


def build_layer(dbt: Dbt, layer: str, full_refresh: bool = False) -> DbtCommandResult:
    """`dbt build` one layer (models and their tests); full_refresh rebuilds the
    incremental models from all of raw."""
    if layer not in LAYER_SELECTORS:
        raise OlistEltError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    # "buildable": a test runs with the first layer that has all its parents, so a
    # test spanning silver and gold runs with gold, not half-built with silver.
    args = ["--select", *LAYER_SELECTORS[layer], "--indirect-selection", "buildable"]
    return dbt.run("build", *args, *(["--full-refresh"] if full_refresh else []))


def check_layer(settings: Settings, layer: str, schema: str | None = None) -> GateReport:
    """Run a layer's Soda contracts through a short-lived read-only connection."""
    with lake_connection(settings) as con:
        return run_gate(
            duckdb_data_source(con),
            layer,
            schema=schema,
            contracts_dir=settings.soda_contracts_dir,
            exclude=API_RELATIONS if settings.apis == "off" else frozenset(),
        )


def gate(
    settings: Settings,
    layer: str,
    run_id: str,
    schema: str | None = None,
    check: Callable[[], GateReport] | None = None,
) -> GateReport:
    """Run a layer's gate; audit the result; raise GateFailed on a blocking failure."""
    report = check() if check else check_layer(settings, layer, schema)
    audit = AuditLog(settings.audit_path)
    audit.append(
        "svc-quality-gate",
        "gate",
        layer,
        "passed" if report.passed else "failed",
        run_id=run_id,
        checks=len(report.checks),
        failed=[c.describe() for c in report.blocking],
        warnings=[c.describe() for c in report.warnings],
    )
    for warning in report.warnings:
        log.warning("gate %s warning: %s", layer, warning.describe())
    if report.passed:
        return report
    raise GateFailed(report)


FULL_REFRESH_MARKER = "runs/_full_refresh_needed.json"
# Incremental bronze models and the manifest data set each reads.
INCREMENTAL_BRONZE = {
    "bronze_olist__orders": ("olist", "orders"),
    "bronze_olist__order_items": ("olist", "order_items"),
    "bronze_olist__order_payments": ("olist", "order_payments"),
    "bronze_olist__order_reviews": ("olist", "order_reviews"),
    "bronze_olist__geolocation": ("olist", "geolocation"),
}


def require_full_refresh(settings: Settings, why: str) -> None:
    """Rows may have to leave the incremental tables (a rejected or readmitted batch,
    an erasure): the next build runs with --full-refresh."""
    LocalStorage(settings.lake_dir).put_bytes(
        FULL_REFRESH_MARKER,
        json.dumps({"why": why, "at": datetime.now(UTC).isoformat()}).encode(),
    )


def full_refresh_reason(settings: Settings) -> str | None:
    """Why the next build must be a full refresh, if it must."""
    path = settings.lake_dir / FULL_REFRESH_MARKER
    if not path.exists():
        return None
    return str(json.loads(path.read_text()).get("why", "requested"))


def pending_objects(
    settings: Settings, manifest: list[ManifestRecord], full_refresh: bool
) -> dict[str, dict[str, int]]:
    """Per incremental bronze model: the raw objects (and their rows) this build reads,
    i.e. accepted objects it has not processed yet (all of them on a full refresh)."""
    records = [
        r
        for r in manifest
        if r.status == "accepted"
        and (settings.as_of is None or r.ingested_at[:10] <= settings.as_of.isoformat())
    ]
    if settings.target != "spark" and not settings.warehouse_path.exists():
        full_refresh = True  # nothing built yet
    processed: dict[str, set[str]] = {m: set() for m in INCREMENTAL_BRONZE}
    if not full_refresh:
        with lake_connection(settings) as con:
            for model in INCREMENTAL_BRONZE:
                with suppress(duckdb.Error):  # not built yet: everything is pending
                    processed[model] = {
                        sha
                        for (sha,) in con.execute(
                            f'select distinct _sha256 from "bronze"."{model}"'
                        ).fetchall()
                    }
    out: dict[str, dict[str, int]] = {}
    for model, (source, dataset) in INCREMENTAL_BRONZE.items():
        todo = [
            r
            for r in records
            if (r.source, r.dataset) == (source, dataset) and r.sha256 not in processed[model]
        ]
        out[model] = {"objects": len(todo), "rows": sum(r.rows or 0 for r in todo)}
    return out


def reject_batch(settings: Settings, run_id: str, records: list[ManifestRecord], why: str) -> None:
    """Mark this run's new raw objects rejected, so later runs build without them."""
    manifest = lake_manifest(settings, QUALITY_GATE)
    audit = AuditLog(settings.audit_path)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for record in records:
        manifest.reject(record, why[:2000], now)
        audit.append("olist-elt", "raw.reject", record.object_key, "rejected", run_id=run_id)
        log.warning(
            "rejected raw object %s; `olist-elt raw readmit %s` accepts it again",
            record.object_key,
            run_id,
        )
    if records:
        require_full_refresh(settings, f"run {run_id} rejected its batch")


def readmit(settings: Settings, sha256_or_run_id: str, actor: str) -> list[ManifestRecord]:
    """Accept again raw objects a gate rejected (by sha256 or run id); audited."""
    manifest = lake_manifest(settings, QUALITY_GATE)
    chosen = [
        r
        for r in manifest.records()
        if r.status == "rejected" and sha256_or_run_id in (r.sha256, r.run_id)
    ]
    audit = AuditLog(settings.audit_path)
    for record in chosen:
        manifest.put(replace(record, status="accepted", rejected_at=None, rejected_reason=None))
        audit.append(actor, "raw.readmit", record.object_key, "accepted")
    if chosen:
        require_full_refresh(settings, f"{len(chosen)} raw object(s) readmitted")
    return chosen


def run_lifecycle(settings: Settings, older_than_days: int | None = None) -> list[Move]:
    """Move raw objects past retention to the cold zone."""
    return move_to_cold(
        open_storage(settings, "svc-lifecycle"),
        AuditLog(settings.audit_path),
        older_than_days or settings.raw_retention_days,
    )


def publish_gold(settings: Settings) -> dict[str, int]:
    """Swap the gated staging star schema into `gold` in one transaction; audited."""
    counts = swap_into_live(settings.warehouse_path, STAGING_SCHEMA, LIVE_SCHEMA)
    AuditLog(settings.audit_path).append(
        "svc-publisher",
        "publish",
        f"{settings.warehouse_path.name}:{LIVE_SCHEMA}",
        "ok",
        tables=len(counts),
        rows=sum(counts.values()),
    )
    return counts


def layer_row_counts(settings: Settings, layer: str) -> dict[str, int]:
    """Rows per table of a layer, read through a short-lived read-only connection."""
    with lake_connection(settings) as con:
        return row_counts(
            con, layer, _lake_kinds(settings) if layer != LIVE_SCHEMA else ("BASE TABLE",)
        )


def record_erasure(
    settings: Settings, customer_unique_id: str, requested_by: str
) -> tuple[str, bool]:
    """Put a person in the erasure register (keyed pseudonym only); audited."""
    audit = AuditLog(settings.audit_path)
    vault = open_vault(settings, audit)
    return request_erasure(settings.lake_dir, vault, audit, customer_unique_id, requested_by)


def apply_erasure(settings: Settings) -> None:
    """Rebuild silver and gold (gated, gold swapped in) so every erasure takes effect."""
    dbt = pipeline_dbt(settings)
    run_id = new_run_id()
    build_layer(dbt, "silver", full_refresh=True)  # erased rows leave incremental tables
    gate(settings, "silver", run_id)
    build_layer(dbt, "gold")
    gate(settings, "gold", run_id, schema=STAGING_SCHEMA)
    publish_gold(settings)
    AuditLog(settings.audit_path).append("olist-elt", "erasure.apply", "silver+gold", "ok")


def _record(
    summary: RunSummary, name: str, fn: Callable[[], T], rows: Callable[[T], int | None]
) -> T:
    """Time one step and add its record to the summary (also on failure)."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0, c0 = time.perf_counter(), time.process_time()

    def record(outcome: str, **extra: Any) -> StepRecord:
        return StepRecord(
            name,
            started,
            round(time.perf_counter() - t0, 3),
            outcome,
            cpu_seconds=round(time.process_time() - c0, 3),
            peak_rss_mb=peak_rss_mb(),
            **extra,
        )

    try:
        result = fn()
    except Exception as exc:
        summary.steps.append(record("failed", detail=str(exc), error_class=type(exc).__name__))
        raise
    summary.steps.append(record("ok", rows=rows(result)))
    return result


def _render_dashboards(settings: Settings, summary: RunSummary, step: Callable[..., Any]) -> None:
    """Last step: the static HTML dashboards from the just-published gold. A card that
    fails is reported (and fails the step), but does not undo a good publication."""
    from olist_elt.dashboards.commands import render_dashboards

    try:  # the Operations dashboard shows this run too (rewritten when it ends)
        record_history(settings, asdict(summary))
    except Exception as exc:
        log.warning("run history not written before rendering: %s", exc)
    try:
        pages = step(
            "render dashboards",
            lambda: render_dashboards(settings),
            lambda p: sum(page.charts for page in p),
        )
    except OlistEltError as exc:
        log.warning("dashboards not rendered: %s", exc)
        summary.dashboards = {"error": str(exc)}
        return
    errors = [e for page in pages for e in page.errors]
    for error in errors:
        log.warning("dashboard card failed: %s", error)
    summary.dashboards = {
        "index": str(settings.dashboards_out / "index.html"),
        "pages": [str(page.path) for page in pages],
        "errors": errors,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


LAST_SUCCESS = "runs/_last_success.json"


def project_fingerprint(settings: Settings) -> str:
    """A hash of the transformation logic: the dbt project, profiles and contracts.
    When it changes, incremental tables are rebuilt from raw (old rows were computed
    by the old logic)."""
    digest = hashlib.sha256()
    project = settings.dbt_project_dir
    files = [project / "dbt_project.yml", settings.profiles_dir / "profiles.yml"]
    for folder in (
        project / "models",
        project / "macros",
        project / "seeds",
        project / "snapshots",
        project / "tests",
        settings.soda_contracts_dir,
    ):
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        if path.exists():
            digest.update(str(path.relative_to(path.anchor)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_fingerprint(settings: Settings, records: list[ManifestRecord], project: str) -> str:
    """A hash of everything a build depends on: the raw objects (manifest records), the
    erasure register, the dbt project and contracts (project_fingerprint) and the
    target."""
    ensure_register(settings.lake_dir)  # dbt creates it too; exist before hashing
    digest = hashlib.sha256(f"{settings.target}/{settings.as_of}".encode())
    for r in sorted(records, key=lambda r: r.sha256):
        digest.update(f"{r.source}/{r.dataset}/{r.sha256}/{r.status}/{r.object_key}".encode())
    register = settings.lake_dir / "_erasure" / "requests.csv"
    if register.exists():
        digest.update(register.read_bytes())
    digest.update(project.encode())
    return digest.hexdigest()


def last_success(settings: Settings) -> dict[str, Any] | None:
    """The fingerprint and counts of the last successful run, if any."""
    path = settings.lake_dir / LAST_SUCCESS
    return json.loads(path.read_text()) if path.exists() else None


def save_summary(settings: Settings, summary: RunSummary) -> Path:
    """Keep the run's summary in the lake (runs/<run_id>.json)."""
    LocalStorage(settings.lake_dir).put_bytes(
        f"runs/{summary.run_id}.json", summary.to_json().encode("utf-8")
    )
    return settings.lake_dir / "runs" / f"{summary.run_id}.json"


def _served_gold_exists(settings: Settings) -> bool:
    """Whether the star schema the last run published is still there."""
    try:
        if settings.target != "local":
            return bool(gold_row_counts(login(settings, "loader")))
        return bool(layer_row_counts(settings, LIVE_SCHEMA))
    except Exception:  # any doubt means: rebuild
        return False


def _verify_unchanged(
    settings: Settings,
    summary: RunSummary,
    run_id: str,
    previous: dict[str, Any],
    step: Callable[..., Any],
) -> None:
    """Nothing changed since the last good run: no rebuild, but every gate runs."""
    log.info("inputs unchanged since run %s: gates only", previous.get("run_id"))
    summary.skipped_build = f"inputs unchanged since run {previous.get('run_id')}"
    for layer in ("bronze", "silver", "gold"):
        check: Callable[[], GateReport] | None = None
        if layer == "gold" and settings.target != "local":
            check = partial(check_postgres_gold, settings, login(settings, "loader"), LIVE_SCHEMA)
        report = step(
            f"gate {layer}",
            lambda layer=layer, check=check: gate(settings, layer, run_id, layer, check=check),
            lambda r: len(r.checks),
        )
        summary.gates[layer] = report.to_dict()
    for layer in ("bronze", "silver"):
        summary.layer_rows[layer] = layer_row_counts(settings, layer)
    summary.layer_rows["gold"] = (
        gold_row_counts(login(settings, "loader"))
        if settings.target == "warehouse"
        else layer_row_counts(settings, LIVE_SCHEMA)
    )


def _ingest_inputs(
    settings: Settings,
    source: str | Path | None,
    run_id: str,
    summary: RunSummary,
    step: Callable[..., Any],
) -> None:
    """The sample (when no source), the Olist connector, then the API connectors."""
    if source is None:
        source = step("sample", lambda: ensure_sample(settings))
    result = step(
        "ingest olist", lambda: ingest(settings, source, run_id), lambda r: r.rows_ingested
    )
    summary.ingest = {
        "ingested": [f.file for f in result.ingested],
        "duplicates": [f.file for f in result.duplicates],
        "quarantined": [
            {"file": f.file, "reason": f.reason, "detail": f.detail} for f in result.quarantined
        ],
    }
    if result.quarantined and settings.fail_on_quarantine:
        raise InputRejected(
            "the connector quarantined "
            + "; ".join(f"{f.file}: {f.reason}: {f.detail}" for f in result.quarantined)
            + " (fix the file and run again; OLIST_FAIL_ON_QUARANTINE=false builds on "
            "what raw already holds)"
        )
    if settings.apis != "off":
        step("ingest apis", lambda: ingest_apis(settings, run_id), lambda r: sum(r.values()))


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
) -> RunSummary:
    """Sample (if no source) -> ingest -> dbt bronze -> silver -> gold; recorded and audited.

    Bronze and silver's big tables are incremental: only raw objects not processed
    yet are read. full_refresh (or a pending reason: a rejected or readmitted batch,
    an erasure) rebuilds them from all of raw. ingest_inputs=False replays what raw
    holds (a backfill's day, with settings.as_of)."""
    run_id = new_run_id()
    summary = RunSummary(
        run_id=run_id,
        target=settings.target,
        orchestrator=orchestrator,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=settings.as_of.isoformat() if settings.as_of else None,
    )
    audit = AuditLog(settings.audit_path)
    dbt = pipeline_dbt(settings)
    new_objects: list[ManifestRecord] = []

    def step(name: str, fn: Callable[[], T], rows: Callable[[T], int | None] = lambda _: None) -> T:
        if on_step:
            on_step(name)
        return _record(summary, name, lambda: run_step(name, fn), rows)

    since = summary.started_at
    retries_before = dict(RETRIES)
    try:
        if ingest_inputs:
            sample_source = source is None
            try:
                _ingest_inputs(settings, source, run_id, summary, step)
            finally:  # counted for a failed ingest too
                records = lake_manifest(settings).records()
                summary.connectors = connector_counters(
                    settings, records, run_id, since, retries_before
                )
                summary.connectors["olist"]["duplicates"] = len(
                    summary.ingest.get("duplicates", [])
                )
            step(
                "freshness",
                lambda: check_freshness(settings, summary, records, sample_source),
                lambda found: len(found),
            )
        else:
            records = lake_manifest(settings).records()
        # The manifest as ingest left it, read once: it is stable until the run ends.
        new_objects = [r for r in records if r.run_id == run_id and r.status == "accepted"]
        project = project_fingerprint(settings)
        fingerprint = inputs_fingerprint(settings, records, project)
        previous = last_success(settings)
        if (
            not new_objects
            and not force_rebuild
            and previous is not None
            and previous.get("fingerprint") == fingerprint
            and _served_gold_exists(settings)
        ):
            _verify_unchanged(settings, summary, run_id, previous, step)
            step(
                "reconcile",
                lambda: reconcile_run(settings, summary, run_id, records, LIVE_SCHEMA),
            )
            _render_dashboards(settings, summary, step)
            summary.outcome = "success"
            return summary
        step("dbt parse", dbt.parse)
        if settings.target == "spark":
            step("spark session", lambda: spark_session(settings))
        refresh = "requested" if full_refresh else full_refresh_reason(settings)
        if refresh is None and previous is not None and previous.get("project") != project:
            refresh = f"the dbt project changed since run {previous.get('run_id')}"
        summary.full_refresh = refresh
        summary.incremental = pending_objects(settings, records, refresh is not None)
        log.info(
            "%s; raw objects to read: %s",
            f"full refresh ({refresh})" if refresh else "incremental",
            {m: c["objects"] for m, c in summary.incremental.items()},
        )
        layers = LAYERS if settings.target == "local" else ("bronze", "silver")
        for layer in layers:
            schema = STAGING_SCHEMA if layer == "gold" else layer
            step(
                f"dbt build {layer}",
                lambda layer=layer: build_layer(
                    dbt, layer, full_refresh=refresh is not None and layer != "gold"
                ),
            )
            if layer != "gold":  # counted before its gate: a failed gate's rows show too
                summary.layer_rows[layer] = layer_row_counts(settings, layer)
            report = step(
                f"gate {layer}",
                lambda layer=layer, schema=schema: gate(settings, layer, run_id, schema),
                lambda r: len(r.checks),
            )
            summary.gates[layer] = report.to_dict()
        if settings.target == "local":
            step("reconcile", lambda: reconcile_run(settings, summary, run_id, records))
            summary.layer_rows["gold"] = step(
                "publish gold", lambda: publish_gold(settings), lambda c: sum(c.values())
            )
        else:
            pg = login(settings, "loader")
            wh = warehouse_dbt(settings, pg)
            step("dbt parse warehouse", wh.parse)
            step(
                "publish silver",
                lambda: publish_silver(
                    settings,
                    pg,
                    silver_relations(wh.manifest),
                    attach_source=_spark_silver(settings),
                ),
                lambda c: sum(c.values()),
            )
            step("dbt build gold", lambda: build_warehouse_gold(wh, pg))
            report = step(
                "gate gold",
                lambda: gate(
                    settings,
                    "gold",
                    run_id,
                    STAGING_SCHEMA,
                    check=lambda: check_postgres_gold(settings, pg),
                ),
                lambda r: len(r.checks),
            )
            summary.gates["gold"] = report.to_dict()
            step("reconcile", lambda: reconcile_run(settings, summary, run_id, records))
            summary.layer_rows["gold"] = step(
                "publish gold",
                lambda: publish_postgres_gold(settings, pg, wh.manifest),
                lambda c: sum(c.values()),
            )
        _render_dashboards(settings, summary, step)
        summary.outcome = "success"
        (settings.lake_dir / FULL_REFRESH_MARKER).unlink(missing_ok=True)
        LocalStorage(settings.lake_dir).put_bytes(
            LAST_SUCCESS,
            json.dumps(
                {
                    "fingerprint": fingerprint,
                    "project": project,
                    "run_id": run_id,
                    "target": settings.target,
                }
            ).encode(),
        )
    except Exception as exc:
        summary.outcome = "failed"
        summary.error = str(exc)
        summary.error_class = type(exc).__name__
        if isinstance(exc, GateFailed):
            summary.gates[exc.report.layer] = exc.report.to_dict()
        where = summary.steps[-1].name if summary.steps else "start"
        # A failed build or gate (not a project that does not parse) blames the data.
        if isinstance(exc, DbtStepFailed | GateFailed | ReconciliationFailed) and new_objects:
            # The batch this run brought is what changed since the last good run.
            reject_batch(settings, run_id, new_objects, f"run {run_id} failed at {where}: {exc}")
        raise PipelineFailed(f"run {run_id} failed at '{where}': {exc}") from exc
    finally:
        summary.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        _operate(settings, summary)
        save_summary(settings, summary)
        audit.append(
            "olist-elt",
            "pipeline.run",
            run_id,
            summary.outcome,
            steps=[s.name for s in summary.steps],
            error=summary.error,
        )
    return summary


def _operate(settings: Settings, summary: RunSummary) -> None:
    """After every run: its history into the ops schema, and an alert when it failed
    or a source is stale. Neither may hide the run's own outcome."""
    try:
        summary.history = record_history(settings, asdict(summary))
    except Exception as exc:  # the database may be what failed; the lake record stays
        log.error("run history not written to the ops schema: %s", exc)
    stale = [f for f in summary.freshness if f["status"] in ("stale", "missing")]
    if summary.outcome == "success" and not stale:
        return
    failing = next((s.name for s in summary.steps if s.outcome == "failed"), None)
    event = "sources_stale" if stale and failing in (None, "freshness") else "run_failed"
    message = summary.error or "; ".join(f"{f['source']} is {f['status']}" for f in stale)
    summary.alerts = send_alert(
        settings,
        Alert(
            event=event,
            run_id=summary.run_id,
            target=summary.target,
            failing_step=failing,
            error_class=summary.error_class,
            message=message,
            what_to_do=advice_for("freshness" if event == "sources_stale" else failing),
            run_record=str(settings.lake_dir / "runs" / f"{summary.run_id}.json"),
            stale_sources=stale,
        ),
    )


def check_freshness(
    settings: Settings, summary: RunSummary, records: list[ManifestRecord], sample_source: bool
) -> list[Any]:
    """Freshness of every source with a maximum age. The generated sample and the
    offline API answers are reported as 'sample', not judged; a stale live source fails
    the run unless OLIST_FRESHNESS_ON_STALE=warn."""
    not_judged = {"olist"} if sample_source else set()
    if settings.apis != "live":
        not_judged |= {"bcb", "openweather"}
    found = source_freshness(records, settings.freshness_max_age_hours)
    for item in found:
        if item.source in not_judged:
            item.status = "sample" if item.latest_ingested_at else "off"
    summary.freshness = [f.to_dict() for f in found]
    stale = [f for f in found if f.status in ("stale", "missing")]
    for item in stale:
        log.warning("stale source %s", item.describe())
    if stale and settings.freshness_on_stale == "fail":
        raise SourcesStale(stale)
    return found


def _counter() -> dict[str, int]:
    keys = ("accepted", "rows_accepted", "duplicates", "quarantined", "refused", "retried")
    return dict.fromkeys(keys, 0)


def connector_counters(
    settings: Settings,
    records: list[ManifestRecord],
    run_id: str,
    since: str,
    retries_before: dict[str, int],
) -> dict[str, dict[str, int]]:
    """Per connector, for this run: objects accepted (and their rows), quarantined and
    refused writes, HTTP retries; duplicates come from the Olist ingest result."""
    mine = [r for r in records if r.run_id == run_id]
    out: dict[str, dict[str, int]] = {}
    for source in sorted({r.source for r in mine} | {"olist"}):
        accepted = [r for r in mine if r.source == source]
        out[source] = _counter() | {
            "accepted": len(accepted),
            "rows_accepted": sum(r.rows or 0 for r in accepted),
        }
    storage = open_storage(settings, "svc-transformer")
    for source, counts in out.items():
        counts["quarantined"] = sum(
            k.endswith(".reason.json") for k in storage.list(f"quarantine/{source}/{run_id}")
        )
    for record in AuditLog(settings.audit_path).records():
        if (
            record.get("action") == "raw.write"
            and record.get("outcome") == "refused"
            and str(record.get("ts", "")) >= since
        ):
            parts = str(record.get("object", "")).split("/")
            source = parts[1] if len(parts) > 1 else "unknown"
            out.setdefault(source, _counter())["refused"] += 1
    names = {"BCB": "bcb", "OpenWeather": "openweather"}
    for name, total in RETRIES.items():
        delta = total - retries_before.get(name, 0)
        if delta:
            out.setdefault(names.get(name, name.lower()), _counter())["retried"] += delta
    return out


SNAPSHOTS = ("customers_snapshot", "sellers_snapshot", "products_snapshot")
DIM_SNAPSHOT = {
    "dim_customer": ("customers_snapshot", "customer_id"),
    "dim_seller": ("sellers_snapshot", "seller_id"),
    "dim_product": ("products_snapshot", "product_id"),
}


def _erased_customer_count(settings: Settings, con: duckdb.DuckDBPyConnection) -> int:
    """Customers (latest bronze version per customer_id) whose person is in the erasure
    register; pseudonyms computed here with the vault's key, nothing is logged."""
    from olist_elt.security.erasure import erased_pseudonyms, keyed_pseudonym
    from olist_elt.security.vault import PII_KEY_NAME

    register = erased_pseudonyms(settings.lake_dir)
    if not register:
        return 0
    key = open_vault(settings, AuditLog(settings.audit_path)).get(
        PII_KEY_NAME, actor="svc-reconciliation"
    )
    latest = con.execute(
        "select customer_unique_id from (select customer_unique_id, row_number() over ("
        "partition by customer_id order by _ingested_at desc, _source_object desc) as rank "
        "from bronze.bronze_olist__customers) where rank = 1"
    ).fetchall()
    return sum(keyed_pseudonym(key, value) in register for (value,) in latest)


def reconcile_run(
    settings: Settings,
    summary: RunSummary,
    run_id: str,
    records: list[ManifestRecord],
    gold_schema: str = STAGING_SCHEMA,
) -> ReconciliationReport:
    """Reconcile this run's layers (gold in staging, before it is published; or the
    served gold when nothing was rebuilt); kept in the run record, audited; an
    unexplained difference raises ReconciliationFailed."""
    quarantined: dict[str, int] = {}
    for item in summary.ingest.get("quarantined", []):
        dataset = next(
            (f.dataset for f in OLIST_FILES.values() if f.file_name == item["file"]), None
        )
        if dataset:
            quarantined[dataset] = quarantined.get(dataset, 0) + 1
    with lake_connection(settings) as con:
        if settings.target == "local":  # gold and snapshots in the DuckDB file
            gold_rows = row_counts(con, gold_schema)

            def scalar(sql: str) -> Any:
                return con.execute(sql).fetchone()[0]  # type: ignore[index]

        else:  # gold and snapshots in PostgreSQL
            pg = login(settings, "loader")
            gold_rows = gold_row_counts(pg, gold_schema)

            def scalar(sql: str) -> Any:
                with pg.connect() as conn:
                    return conn.execute(sql).fetchone()[0]  # type: ignore[arg-type,index]

        def versions(dim: str) -> int:
            table, key = DIM_SNAPSHOT[dim]
            return int(scalar(f"select count(*) - count(distinct {key}) from snapshots.{table}"))

        report = reconcile(
            con,
            records,
            gold_rows,
            quarantined,
            lambda: _erased_customer_count(settings, con),
            as_of=settings.as_of.isoformat() if settings.as_of else None,
            history_versions=versions,
        )
    summary.reconciliation = report.to_dict()
    AuditLog(settings.audit_path).append(
        "svc-reconciliation",
        "reconcile",
        run_id,
        "passed" if report.passed else "failed",
        unexplained=[f"{s.dataset}: {s.describe()}" for s in report.unexplained],
    )
    if not report.passed:
        raise ReconciliationFailed(report)
    return report


def rewind_snapshots(settings: Settings, day: date) -> dict[str, int]:
    """Put the type-2 history back as it was at the end of an ingest date: versions
    that began later go, versions that ended later are current again. Versions are
    dated by raw ingestion times, so replaying the later days recreates them as they
    were. Returns the versions removed per snapshot."""
    cutoff = datetime.combine(day + timedelta(days=1), datetime.min.time())
    removed: dict[str, int] = {}
    statements = [
        ("delete from snapshots.{t} where dbt_valid_from >= {p}", True),
        ("update snapshots.{t} set dbt_valid_to = null where dbt_valid_to >= {p}", False),
    ]
    if settings.target == "local":
        if not settings.warehouse_path.exists():
            return removed
        con = duckdb.connect(str(settings.warehouse_path))
        try:
            existing = set(base_tables(con, "snapshots"))
            for table in SNAPSHOTS:
                if table not in existing:
                    continue
                for template, counted in statements:
                    n = con.execute(template.format(t=table, p="?"), [cutoff]).fetchone()[0]
                    if counted:
                        removed[table] = int(n)
        finally:
            con.close()
        return removed
    with login(settings, "loader").connect(autocommit=False) as pg:
        for table in SNAPSHOTS:
            found = pg.execute("select to_regclass(%s)", [f"snapshots.{table}"]).fetchone()
            if not found or found[0] is None:
                continue
            for template, counted in statements:
                cur = pg.execute(template.format(t=table, p="%s"), [cutoff])  # type: ignore[arg-type]
                if counted:
                    removed[table] = cur.rowcount
        pg.commit()
    return removed


def run_backfill(
    settings: Settings,
    start: date,
    end: date,
    *,
    run_step: StepRunner = run_locally,
    orchestrator: str = "in-process",
    on_step: Callable[[str], None] | None = None,
) -> list[RunSummary]:
    """Replay ingest dates start..end in order: the first day is rebuilt from raw as of
    that day (full refresh), each later day reads only its own raw objects, as the
    daily runs did. Nothing is ingested. Idempotent: the same range gives the same
    tables. A run without dates afterwards catches up on later ingest dates."""
    if end < start:
        raise OlistEltError(f"backfill range is empty: --from {start} is after --to {end}")
    rewound = rewind_snapshots(settings, start)
    AuditLog(settings.audit_path).append(
        "olist-elt", "backfill", f"{start}..{end}", "started", snapshot_versions_removed=rewound
    )
    summaries = []
    day = start
    while day <= end:
        log.info("backfill: ingest date %s", day)
        summaries.append(
            run_pipeline(
                settings.model_copy(update={"as_of": day}),
                run_step=run_step,
                orchestrator=orchestrator,
                on_step=on_step,
                force_rebuild=True,
                full_refresh=day == start,
                ingest_inputs=False,
            )
        )
        day += timedelta(days=1)
    return summaries
