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
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import httpx

from olist_elt.connectors.bcb import BcbSgsConnector, ingest_bcb
from olist_elt.connectors.bcb.sample import sample_client as bcb_sample_client
from olist_elt.connectors.olist import IngestResult, OlistCsvConnector, ingest_olist
from olist_elt.connectors.openweather import OpenWeatherConnector, ingest_openweather
from olist_elt.connectors.openweather.sample import sample_client as openweather_sample_client
from olist_elt.connectors.openweather.settings import API_KEY_SECRET as OPENWEATHER_KEY
from olist_elt.errors import DbtStepFailed, InputRejected, OlistEltError, PipelineFailed
from olist_elt.lake.lifecycle import Move, move_to_cold
from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.raw import RawWriter
from olist_elt.lake.storage import LocalStorage, open_storage
from olist_elt.quality.gates import (
    GateFailed,
    GateReport,
    duckdb_data_source,
    postgres_data_source,
    run_gate,
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
from olist_elt.warehouse.publish import LIVE_SCHEMA, STAGING_SCHEMA, row_counts, swap_into_live

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
    return {"gold_schema": STAGING_SCHEMA, "apis_enabled": settings.apis != "off"}


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


def build_layer(dbt: Dbt, layer: str) -> DbtCommandResult:
    """`dbt build` one layer (models and their tests)."""
    if layer not in LAYER_SELECTORS:
        raise OlistEltError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    # "buildable": a test runs with the first layer that has all its parents, so a
    # test spanning silver and gold runs with gold, not half-built with silver.
    return dbt.run(
        "build", "--select", *LAYER_SELECTORS[layer], "--indirect-selection", "buildable"
    )


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
    build_layer(dbt, "silver")
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
        summary.steps.append(record("failed", detail=str(exc)))
        raise
    summary.steps.append(record("ok", rows=rows(result)))
    return result


def _render_dashboards(settings: Settings, summary: RunSummary, step: Callable[..., Any]) -> None:
    """Last step: the static HTML dashboards from the just-published gold. A card that
    fails is reported (and fails the step), but does not undo a good publication."""
    from olist_elt.dashboards.commands import render_dashboards

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


def inputs_fingerprint(settings: Settings) -> str:
    """A hash of everything a build depends on: accepted raw objects, the erasure
    register, the dbt project, the contracts and the target."""
    ensure_register(settings.lake_dir)  # dbt creates it too; exist before hashing
    digest = hashlib.sha256(settings.target.encode())
    for r in sorted(lake_manifest(settings).records(), key=lambda r: r.sha256):
        digest.update(f"{r.source}/{r.dataset}/{r.sha256}/{r.status}/{r.object_key}".encode())
    register = settings.lake_dir / "_erasure" / "requests.csv"
    if register.exists():
        digest.update(register.read_bytes())
    project = settings.dbt_project_dir
    files = [project / "dbt_project.yml", settings.profiles_dir / "profiles.yml"]
    for folder in (
        project / "models",
        project / "macros",
        project / "seeds",
        project / "tests",
        settings.soda_contracts_dir,
    ):
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        if path.exists():
            digest.update(str(path.relative_to(path.anchor)).encode())
            digest.update(path.read_bytes())
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


def run_pipeline(
    settings: Settings,
    source: str | Path | None = None,
    *,
    run_step: StepRunner = run_locally,
    orchestrator: str = "in-process",
    on_step: Callable[[str], None] | None = None,
    force_rebuild: bool = False,
) -> RunSummary:
    """Sample (if no source) -> ingest -> dbt bronze -> silver -> gold; recorded and audited."""
    run_id = new_run_id()
    summary = RunSummary(
        run_id=run_id,
        target=settings.target,
        orchestrator=orchestrator,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    audit = AuditLog(settings.audit_path)
    dbt = pipeline_dbt(settings)
    new_objects: list[ManifestRecord] = []

    def step(name: str, fn: Callable[[], T], rows: Callable[[T], int | None] = lambda _: None) -> T:
        if on_step:
            on_step(name)
        return _record(summary, name, lambda: run_step(name, fn), rows)

    try:
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
        manifest = lake_manifest(settings)
        new_objects = [
            r for r in manifest.records() if r.run_id == run_id and r.status == "accepted"
        ]
        fingerprint = inputs_fingerprint(settings)
        previous = last_success(settings)
        if (
            not new_objects
            and not force_rebuild
            and previous is not None
            and previous.get("fingerprint") == fingerprint
            and _served_gold_exists(settings)
        ):
            _verify_unchanged(settings, summary, run_id, previous, step)
            _render_dashboards(settings, summary, step)
            summary.outcome = "success"
            return summary
        step("dbt parse", dbt.parse)
        if settings.target == "spark":
            step("spark session", lambda: spark_session(settings))
        layers = LAYERS if settings.target == "local" else ("bronze", "silver")
        for layer in layers:
            schema = STAGING_SCHEMA if layer == "gold" else layer
            step(f"dbt build {layer}", lambda layer=layer: build_layer(dbt, layer))
            report = step(
                f"gate {layer}",
                lambda layer=layer, schema=schema: gate(settings, layer, run_id, schema),
                lambda r: len(r.checks),
            )
            summary.gates[layer] = report.to_dict()
            if layer != "gold":
                summary.layer_rows[layer] = layer_row_counts(settings, layer)
        if settings.target == "local":
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
                    attach_source=partial(
                        attach_spark_layers, settings=settings, schemas=("silver",)
                    )
                    if settings.target == "spark"
                    else None,
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
            summary.layer_rows["gold"] = step(
                "publish gold",
                lambda: publish_postgres_gold(settings, pg, wh.manifest),
                lambda c: sum(c.values()),
            )
        _render_dashboards(settings, summary, step)
        summary.outcome = "success"
        LocalStorage(settings.lake_dir).put_bytes(
            LAST_SUCCESS,
            json.dumps(
                {"fingerprint": fingerprint, "run_id": run_id, "target": settings.target}
            ).encode(),
        )
    except Exception as exc:
        summary.outcome = "failed"
        summary.error = str(exc)
        where = summary.steps[-1].name if summary.steps else "start"
        # A failed build or gate (not a project that does not parse) blames the data.
        if isinstance(exc, DbtStepFailed | GateFailed) and new_objects:
            # The batch this run brought is what changed since the last good run.
            reject_batch(settings, run_id, new_objects, f"run {run_id} failed at {where}: {exc}")
        raise PipelineFailed(f"run {run_id} failed at '{where}': {exc}") from exc
    finally:
        summary.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
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
