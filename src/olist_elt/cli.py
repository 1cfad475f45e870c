"""The `olist-elt` command line: thin, parses and delegates."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from olist_elt.errors import OlistEltError
from olist_elt.settings import REPO_ROOT, Settings, load_settings

app = typer.Typer(
    help="olist-elt: Olist CSVs and economic data -> raw -> dbt bronze/silver/gold.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
audit_app = typer.Typer(help="Audit trail: verify the hash chain.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
raw_app = typer.Typer(help="The raw zone's manifest.", no_args_is_help=True)
app.add_typer(raw_app, name="raw")
warehouse_app = typer.Typer(help="The PostgreSQL warehouse.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")
vault_app = typer.Typer(help="Secrets: set, get, list, rotate.", no_args_is_help=True)
app.add_typer(vault_app, name="vault")
stream_app = typer.Typer(help="Order events on NATS JetStream.", no_args_is_help=True)
app.add_typer(stream_app, name="stream")
dashboards_app = typer.Typer(help="Dashboards as code (dashboards/*.yml).", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")
spark_app = typer.Typer(help="The Spark target.", no_args_is_help=True)
app.add_typer(spark_app, name="spark")


def _stream_password(settings: Settings, name: str) -> str:
    """A NATS password from the vault."""
    return _open_vault(settings).get(name, actor=f"cli.stream.{name}")


@stream_app.command("setup")
def stream_setup(
    user: Annotated[str, typer.Option(help="An operator user allowed to manage streams")],
) -> None:
    """Create the stream and the connector's durable consumer (idempotent)."""
    settings = _setup(False)
    from olist_elt.connectors.stream import ensure_stream, run

    try:
        run(
            ensure_stream(
                settings.stream_servers,
                user,
                _stream_password(settings, "stream_operator_password"),
            )
        )
    except OlistEltError as exc:
        raise _fail(exc) from None
    out.print("stream RAW_ORDERS and consumer olist-raw-orders ready")


@stream_app.command("publish")
def stream_publish(
    count: Annotated[int, typer.Option(help="How many sample order events")] = 100,
    user: Annotated[str, typer.Option(help="Publisher user")] = "svc-publisher",
) -> None:
    """Publish sample order events to raw.orders.ingest (for tests and demos)."""
    settings = _setup(False)
    from olist_elt.connectors.stream import publish, run, sample_events

    try:
        n = run(
            publish(
                settings.stream_servers,
                user,
                _stream_password(settings, "stream_publisher_password"),
                sample_events(count),
            )
        )
    except OlistEltError as exc:
        raise _fail(exc) from None
    out.print(f"published {n} events")


@stream_app.command("consume")
def stream_consume(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Drain raw.orders.ingest into raw in micro-batches (exactly once in raw)."""
    settings = _setup(verbose)
    from olist_elt.connectors.stream import OrderEventsConnector, consume, run
    from olist_elt.pipeline import lake_writer, new_run_id

    try:
        result = run(
            consume(
                settings.stream_servers,
                settings.stream_user,
                _stream_password(settings, "stream_connector_password"),
                writer=lake_writer(settings, OrderEventsConnector.service_identity),
                run_id=new_run_id(),
            )
        )
    except OlistEltError as exc:
        raise _fail(exc) from None
    out.print(
        f"{result.batches} batches, {result.written} events written, "
        f"{result.redelivered} redelivered (already in raw), {result.rejected} rejected"
    )


def _open_vault(settings: Settings) -> Any:
    """The configured vault, audited."""
    from olist_elt.security.audit import AuditLog
    from olist_elt.security.vault import open_vault

    return open_vault(settings, AuditLog(settings.audit_path))


@vault_app.command("set")
def vault_set(
    name: Annotated[str, typer.Argument(help="Secret name")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the value from stdin")] = False,
) -> None:
    """Store a secret; the value is prompted for (hidden) or read from stdin."""
    settings = _setup(False)
    value = sys.stdin.read().rstrip("\n") if stdin else typer.prompt("value", hide_input=True)
    if not value:
        raise _fail(OlistEltError("refusing to store an empty secret"))
    try:
        _open_vault(settings).set(name, value, actor="cli")
    except OlistEltError as exc:
        raise _fail(exc) from None
    out.print(f"stored {name}")


@vault_app.command("get")
def vault_get(
    name: Annotated[str, typer.Argument(help="Secret name")],
    reveal: Annotated[bool, typer.Option(help="Print the value (audited)")] = False,
) -> None:
    """Check a secret exists; print its value only with --reveal."""
    settings = _setup(False)
    try:
        value = _open_vault(settings).get(name, actor="cli" if not reveal else "cli.reveal")
    except OlistEltError as exc:
        raise _fail(exc) from None
    if reveal:
        print(value)
    else:
        out.print(f"{name}: set ({len(value)} characters); --reveal prints it")


@vault_app.command("list")
def vault_list() -> None:
    """The names of the secrets (never their values)."""
    settings = _setup(False)
    try:
        for name in _open_vault(settings).names():
            out.print(name)
    except OlistEltError as exc:
        raise _fail(exc) from None


@vault_app.command("rotate")
def vault_rotate() -> None:
    """New key, every secret re-encrypted, old key retired (file backend); audited."""
    settings = _setup(False)
    try:
        count = _open_vault(settings).rotate(actor="cli")
    except OlistEltError as exc:
        raise _fail(exc) from None
    out.print(f"rotated: {count} secrets re-encrypted with a new key; the old key is retired")


console = Console(stderr=True)
out = Console()

TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


def _setup(verbose: bool) -> Settings:
    """Telemetry off, logging configured, settings validated (a bad one exits 2)."""
    os.environ.update(TELEMETRY_OFF)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return load_settings()
    except OlistEltError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _fail(exc: Exception) -> typer.Exit:
    """Print a clear error and return the exit to raise."""
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


def prefect_configured() -> bool:
    """True when a Prefect API (a running server or Cloud) is configured."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    try:
        from prefect.settings import get_current_settings

        return bool(get_current_settings().api.url)
    except Exception:
        return False


def _load_flow(module_file: str, attr: str) -> Any:
    """Import a flow from flows/<file>.py of the repository."""
    path = REPO_ROOT / "flows" / module_file
    spec = importlib.util.spec_from_file_location(f"olist_flows_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise OlistEltError(f"cannot load flow file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attr)


LAYER_NAMES = ("source", "raw", "bronze", "silver", "gold")


def _summary_tables(summary: Any) -> None:
    """Print seconds per step and rows per layer."""
    steps = Table(title=f"run {summary.run_id} ({summary.orchestrator}): {summary.outcome}")
    steps.add_column("step")
    steps.add_column("outcome")
    steps.add_column("seconds", justify="right")
    steps.add_column("rows", justify="right")
    for s in summary.steps:
        steps.add_row(
            s.name, s.outcome, f"{s.seconds:.2f}", "" if s.rows is None else f"{s.rows:,}"
        )
    total = sum(s.seconds for s in summary.steps)
    steps.add_row("total", "", f"{total:.2f}", "")
    out.print(steps)
    rows = Table(title="rows per layer")
    rows.add_column("layer")
    rows.add_column("relation")
    rows.add_column("rows", justify="right")
    for layer, tables in summary.layer_rows.items():
        for name, count in tables.items():
            rows.add_row(layer, name, f"{count:,}")
    out.print(rows)
    if summary.gates:
        gates = Table(title="quality gates (Soda contracts)")
        for col in ("layer", "checks", "passed", "failed", "warnings", "seconds"):
            gates.add_column(col, justify="left" if col == "layer" else "right")
        for layer, g in summary.gates.items():
            gates.add_row(
                layer,
                str(g["checks"]),
                str(g["passed"]),
                str(len(g["failed"])),
                str(len(g["warnings"])),
                f"{g['seconds']:.2f}",
            )
        out.print(gates)
    if summary.reconciliation:
        rec = summary.reconciliation
        table = Table(
            title="reconciliation (rows per layer): "
            + ("every difference explained" if rec["passed"] else "UNEXPLAINED differences")
        )
        for col in ("data set", "source", "raw", "bronze", "silver", "gold", "explained by"):
            table.add_column(
                col, justify="left" if col in ("data set", "explained by") else "right"
            )
        for dataset, counts in rec["rows"].items():
            reasons = {}
            for step in rec["steps"]:
                if step["dataset"] == dataset:
                    for name, n in step["reasons"].items():
                        if n:
                            reasons[name] = reasons.get(name, 0) + n
            table.add_row(
                dataset,
                *(f"{counts[k]:,}" if k in counts else "-" for k in LAYER_NAMES),
                "; ".join(f"{k} {v:,}" for k, v in reasons.items()) or "-",
            )
        out.print(table)
    if summary.incremental:
        mode = f"full refresh ({summary.full_refresh})" if summary.full_refresh else "incremental"
        read = ", ".join(
            f"{m.removeprefix('bronze_olist__')} {c['objects']} ({c['rows']:,} rows)"
            for m, c in summary.incremental.items()
        )
        out.print(f"{mode}: raw objects read: {read}")
    quarantined = summary.ingest.get("quarantined", [])
    for q in quarantined:
        console.print(f"[yellow]quarantined[/yellow] {q['file']}: {q['reason']}: {q['detail']}")


@app.command()
def run(
    source: Annotated[
        str | None, typer.Argument(help="Folder, .zip or URL of the Olist CSVs; default: sample")
    ] = None,
    scale: Annotated[float | None, typer.Option(help="Sample scale when no source")] = None,
    seed: Annotated[int | None, typer.Option(help="Sample seed when no source")] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="local (all on DuckDB), warehouse (gold on PostgreSQL) or spark "
            "(bronze and silver on Spark, gold on PostgreSQL)"
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
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole pipeline once: ingest, then dbt bronze, silver and gold.

    Only raw objects not processed yet are read (incremental); --full-refresh reads
    all of raw. When no input changed since the last good run (raw objects, erasures,
    models, contracts), nothing is rebuilt but every quality gate still runs.
    --from/--to replay those ingest dates in order from what raw holds (no ingest).
    """
    settings = _setup(verbose)
    updates = {"sample_scale": scale, "sample_seed": seed, "target": target}
    if any(v is not None for v in updates.values()):
        try:
            settings = load_settings(
                **{**settings.model_dump(), **{k: v for k, v in updates.items() if v is not None}}
            )
        except OlistEltError as exc:
            raise _fail(exc) from None
    from olist_elt.pipeline import run_backfill, run_pipeline

    started = time.perf_counter()
    if (from_date is None) != (to_date is None):
        raise _fail(OlistEltError("a backfill needs both --from and --to"))
    if from_date is not None and to_date is not None:
        try:
            with console.status("backfill") as status:
                days = run_backfill(
                    settings,
                    from_date.date(),
                    to_date.date(),
                    on_step=lambda name: status.update(f"[bold]{name}[/bold] ..."),
                )
        except OlistEltError as exc:
            raise _fail(exc) from None
        for day in days:
            read = sum(c["rows"] for c in day.incremental.values())
            out.print(f"{day.as_of}: run {day.run_id} {day.outcome}, {read:,} raw rows read")
        _summary_tables(days[-1])
        out.print(f"backfill of {len(days)} day(s): {time.perf_counter() - started:.1f}s")
        return
    try:
        if prefect_configured():
            console.print("Prefect API configured: running the elt_pipeline flow")
            flow = _load_flow("elt_pipeline.py", "elt_pipeline")
            summary = flow(
                source=source,
                scale=settings.sample_scale,
                seed=settings.sample_seed,
                target=settings.target,
            )
        else:
            console.print(
                "No Prefect server configured (PREFECT_API_URL unset): running the same "
                "steps in-process, recorded the same way."
            )
            with console.status("starting") as status:
                summary = run_pipeline(
                    settings,
                    source,
                    on_step=lambda name: status.update(f"[bold]{name}[/bold] ..."),
                    force_rebuild=full_rebuild,
                    full_refresh=full_refresh,
                )
    except OlistEltError as exc:
        raise _fail(exc) from None
    if summary.skipped_build:
        console.print(f"No rebuild: {summary.skipped_build}; all gates ran on the current data.")
    _summary_tables(summary)
    where = (
        f"PostgreSQL {settings.pg_host}:{settings.pg_port}/{settings.pg_database} (schema gold)"
        if settings.target != "local"
        else f"{settings.warehouse_path} (schema gold)"
    )
    out.print(
        f"star schema: {where}; "
        f"run record: {settings.lake_dir / 'runs' / (summary.run_id + '.json')}; "
        f"{time.perf_counter() - started:.1f}s"
    )
    if summary.dashboards.get("index"):
        failed = summary.dashboards.get("errors") or []
        note = f" ({len(failed)} card(s) failed: see the log)" if failed else ""
        out.print(f"dashboards: open {summary.dashboards['index']}{note}")
    elif summary.dashboards.get("error"):
        out.print(f"dashboards not rendered: {summary.dashboards['error']}")


@app.command()
def sample(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the 9 CSVs to")],
    scale: Annotated[float, typer.Option(help="1.0 = the real row counts")] = 1.0,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes")] = 42,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Generate the Olist-shaped sample CSVs."""
    _setup(verbose)
    from olist_elt.sample import generate_sample

    t0 = time.perf_counter()
    with console.status("generating") as status:
        counts = generate_sample(
            out_dir, scale, seed, progress=lambda ds, n: status.update(f"wrote {ds}: {n:,} rows")
        )
    table = Table(title=f"sample scale {scale:g} seed {seed} -> {out_dir}")
    table.add_column("dataset")
    table.add_column("rows", justify="right")
    for ds, n in counts.items():
        table.add_row(ds, f"{n:,}")
    out.print(table)
    out.print(f"{sum(counts.values()):,} rows in {time.perf_counter() - t0:.1f}s")


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="Folder, .zip or URL of the Olist CSVs")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Validate the Olist files into raw; bad ones go to quarantine with a reason."""
    settings = _setup(verbose)
    from olist_elt.pipeline import ingest as ingest_step
    from olist_elt.pipeline import new_run_id

    try:
        result = ingest_step(settings, source, new_run_id())
    except OlistEltError as exc:
        raise _fail(exc) from None
    table = Table(title=f"ingest {result.run_id}")
    for col in ("file", "outcome", "rows", "detail"):
        table.add_column(col)
    for f in result.files:
        table.add_row(f.file, f.outcome, f"{f.rows:,}", f.detail or f.object_key or "")
    out.print(table)
    if result.quarantined:
        raise typer.Exit(1)


@app.command()
def build(
    layer: Annotated[
        str | None, typer.Option(help="bronze, silver or gold; default: all three in order")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run dbt build per layer on what raw holds now."""
    settings = _setup(verbose)
    from olist_elt.pipeline import LAYERS, build_layer, layer_row_counts
    from olist_elt.transform.dbt import Dbt

    dbt = Dbt(settings)
    try:
        for name in [layer] if layer else list(LAYERS):
            t0 = time.perf_counter()
            build_layer(dbt, name)
            counts = layer_row_counts(settings, name)
            out.print(
                f"{name}: {len(counts)} relations, {sum(counts.values()):,} rows, "
                f"{time.perf_counter() - t0:.1f}s"
            )
    except OlistEltError as exc:
        raise _fail(exc) from None


@app.command()
def erase(
    customer_unique_id: Annotated[
        str, typer.Option("--customer-unique-id", help="The person to erase (as in the export)")
    ],
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild silver and gold now so the erasure takes effect")
    ] = True,
    requested_by: Annotated[str, typer.Option(help="Who asked, for the audit trail")] = "dpo",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Erase a customer on request: recorded (pseudonym only), audited, applied on rebuild."""
    settings = _setup(verbose)
    from olist_elt.pipeline import apply_erasure, record_erasure

    try:
        pseudonym, added = record_erasure(settings, customer_unique_id, requested_by)
        out.print(
            f"erasure {'recorded' if added else 'already recorded'} "
            f"(register keeps only the pseudonym {pseudonym[:12]}...)"
        )
        if rebuild:
            apply_erasure(settings)
            out.print("silver and gold rebuilt: nothing in them links to this person any more")
        else:
            out.print("applies on the next `olist-elt run` or `olist-elt build`")
    except OlistEltError as exc:
        raise _fail(exc) from None


@app.command()
def check(
    layer: Annotated[
        str | None, typer.Option(help="bronze, silver or gold; default: all three")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the Soda quality gates alone on the warehouse as it is (for analysts)."""
    settings = _setup(verbose)
    from olist_elt.pipeline import LAYERS, check_layer

    failed = False
    try:
        for name in [layer] if layer else list(LAYERS):
            report = check_layer(settings, name)
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
        raise _fail(exc) from None
    if failed:
        raise typer.Exit(1)


@app.command()
def lifecycle(
    older_than_days: Annotated[
        int | None, typer.Option(help="Default: OLIST_RAW_RETENTION_DAYS (90)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Move raw objects older than N days to the cold zone (verified by sha256)."""
    settings = _setup(verbose)
    from olist_elt.pipeline import run_lifecycle

    try:
        moves = run_lifecycle(settings, older_than_days)
    except OlistEltError as exc:
        raise _fail(exc) from None
    for m in moves:
        out.print(f"{m.source_key} -> {m.cold_key}")
    out.print(f"{len(moves)} object(s), {sum(m.bytes for m in moves):,} bytes moved to cold")


@warehouse_app.command("roles")
def warehouse_roles(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Create or update the warehouse database, loader role and read-only BI role."""
    settings = _setup(verbose)
    from olist_elt.warehouse.postgres import ensure_roles

    try:
        ensure_roles(settings)
    except OlistEltError as exc:
        raise _fail(exc) from None
    out.print(
        f"database {settings.pg_database}: loader role {settings.pg_loader_role} (writes), "
        f"BI role {settings.pg_bi_role} (reads gold only); passwords are in the vault"
    )


@raw_app.command("readmit")
def raw_readmit(
    sha256_or_run_id: Annotated[str, typer.Argument(help="A raw object's sha256 or a run id")],
    actor: Annotated[str, typer.Option(help="Who decided, for the audit trail")] = "operator",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Accept again raw objects a quality gate rejected (after a false alarm)."""
    settings = _setup(verbose)
    from olist_elt.pipeline import readmit

    records = readmit(settings, sha256_or_run_id, actor)
    if not records:
        console.print(f"no rejected raw object matches {sha256_or_run_id}")
        raise typer.Exit(1)
    for r in records:
        out.print(f"readmitted {r.object_key}")


@audit_app.command("verify")
def audit_verify(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Check the audit log's hash chain; report the first bad record."""
    settings = _setup(verbose)
    from olist_elt.security.audit import AuditLog

    result = AuditLog(settings.audit_path).verify()
    if result.ok:
        out.print(f"audit log OK: {result.records} records ({settings.audit_path})")
        return
    console.print(
        f"[red]audit log broken[/red] at line {result.bad_line}: {result.problem} "
        f"({settings.audit_path})"
    )
    raise typer.Exit(1)


if __name__ == "__main__":
    app()


@spark_app.command("pads")
def spark_pads(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for pii_ipad and pii_opad")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Write the PII key's HMAC pads as secret files (mode 600) for a Spark Thrift
    Server (docker-compose's spark-thrift reads them as conf, never as SQL)."""
    settings = _setup(verbose)
    from olist_elt.transform.duckdb_plugin import pii_pads

    try:
        pads = pii_pads(settings.vault_path, settings.vault_key_file, settings.audit_path)
    except OlistEltError as exc:
        raise _fail(exc) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pad in zip(("pii_ipad", "pii_opad"), pads, strict=True):
        path = out_dir / name
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(pad.hex())
    out.print(f"wrote {out_dir / 'pii_ipad'} and {out_dir / 'pii_opad'} (mode 600)")


@dashboards_app.command("render")
def dashboards_render(
    engine: Annotated[
        str | None,
        typer.Option(help="duckdb or postgres; default: where the target serves gold"),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the HTML")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Write the static HTML dashboards (no server needed) from the served gold."""
    settings = _setup(verbose)
    from olist_elt.dashboards.commands import render_dashboards

    try:
        pages = render_dashboards(settings, engine, out_dir)
    except OlistEltError as exc:
        raise _fail(exc) from None
    for page in pages:
        state = "ok" if not page.errors else f"{len(page.errors)} card(s) failed"
        out.print(f"{page.path}: {page.charts} charts, {state}")
        for error in page.errors:
            out.print(f"  - {error}")
    if any(p.errors for p in pages):
        raise typer.Exit(1)


@dashboards_app.command("sync")
def dashboards_sync(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Provision the dashboards in Metabase (idempotent)."""
    settings = _setup(verbose)
    from olist_elt.dashboards.commands import sync_dashboards

    try:
        report = sync_dashboards(settings)
    except OlistEltError as exc:
        raise _fail(exc) from None
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
        raise _fail(exc) from None
    current = EXPOSURES_FILE.read_text() if EXPOSURES_FILE.exists() else ""
    if check:
        if current != text:
            out.print(f"{EXPOSURES_FILE} is out of date: run olist-elt dashboards exposures")
            raise typer.Exit(1)
        out.print(f"{EXPOSURES_FILE} is up to date")
        return
    EXPOSURES_FILE.write_text(text)
    out.print(f"wrote {EXPOSURES_FILE}")


@app.command()
def deployments(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """List the Prefect deployments of prefect.yaml, their schedules and next runs
    (each flow is imported and its parameters checked)."""
    _setup(verbose)
    from olist_elt.deployments import load_deployments

    try:
        found = load_deployments()
    except OlistEltError as exc:
        raise _fail(exc) from None
    out.print(f"{len(found)} deployments in prefect.yaml (work pool, schedule, next run):")
    for d in found:
        params = ", ".join(f"{k}={v}" for k, v in d.parameters.items())
        schedules = "; ".join(f"cron '{cron}' ({tz})" for cron, tz in d.schedules) or "none"
        runs = "; ".join(n.isoformat(timespec="minutes") for n in d.next_runs) or "-"
        out.print(
            f"  {d.name}: flow {d.flow_name}{f'({params})' if params else ''}, "
            f"pool {d.work_pool}, {schedules}, next {runs}",
            soft_wrap=True,
        )


@app.command()
def status(
    runs: Annotated[int, typer.Option(help="How many of the last runs to show")] = 10,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The last runs (outcome, failing step, seconds) and each source's freshness."""
    settings = _setup(verbose)
    import json

    from olist_elt.ops.freshness import source_freshness
    from olist_elt.pipeline import lake_manifest

    records = sorted((settings.lake_dir / "runs").glob("2*.json"), reverse=True)[:runs]
    if not records:
        out.print(f"no runs recorded in {settings.lake_dir / 'runs'} yet")
    out.print(f"last {len(records)} run(s), newest first:")
    for path in records:
        run = json.loads(path.read_text())
        failed = next((s for s in run.get("steps", []) if s["outcome"] == "failed"), None)
        seconds = sum(s["seconds"] for s in run.get("steps", []))
        where = f" at '{failed['name']}' ({run.get('error_class')})" if failed else ""
        out.print(
            f"  {run['run_id']}  {run.get('target', '')}  {run.get('outcome', '')}{where}  "
            f"{seconds:.1f}s",
            soft_wrap=True,
        )
    try:
        found = source_freshness(
            lake_manifest(settings).records(), settings.freshness_max_age_hours
        )
    except OlistEltError as exc:
        raise _fail(exc) from None
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
