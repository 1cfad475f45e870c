"""The declared steps of a pipeline run, grouped the way the run uses them: inputs,
the decision to rebuild, the layer builds and gates, and the closing steps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from olist_elt.errors import DbtStepFailed, InputRejected, OlistEltError
from olist_elt.lake.lander import IngestResult
from olist_elt.lake.verify import landings_unrecorded, verify_records
from olist_elt.ops.counters import connector_counters
from olist_elt.ops.freshness import check_freshness
from olist_elt.quality.gates import GateFailed, GateReport, enforce
from olist_elt.quality.reconcile import ReconciliationFailed, reconcile_run
from olist_elt.run import inputs, rejection, state
from olist_elt.run.context import RunContext
from olist_elt.run.fixed_rows import remember_passed
from olist_elt.run.isolation import isolate
from olist_elt.run.pinned import raise_if_lake_changed, read_lake
from olist_elt.run.plan import Plan, clean_up, served_version
from olist_elt.run.rejection import DATA_FAILURES, QUALITY_GATE
from olist_elt.run.steps import Kind, Step
from olist_elt.targets import snapshot_guard
from olist_elt.targets.base import build_step
from olist_elt.transform import project

log = logging.getLogger(__name__)


def ingest(ctx: RunContext, source: str | Path | None) -> None:
    """Sample (when no source), the Olist connector, the API connectors."""
    settings, run_id = ctx.settings, ctx.run_id
    retried: dict[str, int] = {}
    landed: list[IngestResult] = []

    def ingest_olist(source: str | Path) -> IngestResult:
        result = inputs.ingest_olist(settings, source, run_id)
        landed.append(result)
        ctx.summary.ingest = ingest_report(result)
        refuse_quarantined(ctx, result)
        return result

    try:
        if source is None:
            source = ctx.run(Step("sample", Kind.IO, lambda: inputs.ensure_sample(settings)))
        ctx.run(
            Step(
                "ingest olist",
                Kind.IO,
                lambda: ingest_olist(source),
                lambda r: r.rows_ingested,
            )
        )
        if settings.apis != "off":
            apis = ctx.run(
                Step(
                    "ingest apis",
                    Kind.IO,
                    lambda: inputs.ingest_apis(settings, run_id),
                    lambda r: sum(s["rows"] for s in r.values()),
                )
            )
            retried = {name: s["retried"] for name, s in apis.items()}
    finally:  # counted for a failed ingest too
        read_lake(ctx)
        ctx.summary.connectors = connector_counters(
            settings, ctx.records, run_id, ctx.summary.started_at, retried
        )
        ctx.summary.connectors["olist"]["duplicates"] = sum(len(r.duplicates) for r in landed)


def ingest_report(result: IngestResult) -> dict[str, Any]:
    """What the run record keeps of an ingest."""
    return {
        "ingested": [f.file for f in result.ingested],
        "duplicates": [f.file for f in result.duplicates],
        "quarantined": [
            {"file": f.file, "reason": f.reason, "detail": f.detail} for f in result.quarantined
        ],
    }


def refuse_quarantined(ctx: RunContext, result: IngestResult) -> None:
    """Stop before any transform when the connector quarantined a file (by setting)."""
    if result.quarantined and ctx.settings.fail_on_quarantine:
        raise InputRejected(
            "the connector quarantined "
            + "; ".join(f"{f.file}: {f.reason}: {f.detail}" for f in result.quarantined)
            + " (fix the file and run again; OLIST_FAIL_ON_QUARANTINE=false builds on "
            "what raw already holds)"
        )


def gate(ctx: RunContext) -> Callable[[str, Callable[[], GateReport]], GateReport]:
    """What runs a layer's gate (also for the gold a Target builds): the check,
    audited, kept in the run record, raising GateFailed on a blocking failure."""

    def run(layer: str, check: Callable[[], GateReport]) -> GateReport:
        report = check()
        ctx.summary.gates[layer] = report.to_dict()
        return enforce(report, ctx.settings.audit_path, ctx.run_id)

    return run


def gate_step(ctx: RunContext, layer: str, check: Callable[[], GateReport]) -> Step[GateReport]:
    """The declared gate step of a layer."""
    return Step(
        f"gate {layer}",
        Kind.GATE,
        lambda: gate(ctx)(layer, check),
        lambda r: len(r.checks),
        layer=layer,
    )


def freshness(ctx: RunContext, sample_source: bool, decision: Plan) -> None:
    """Each source's latest accepted raw object against the `error_after` its dbt
    sources yml declares (what `dbt source freshness` checks): from this run's parse,
    or as the last good run read them when nothing is rebuilt (same project)."""
    max_age = (
        project.freshness_max_age_hours(ctx.target.lake_dbt.manifest)
        if decision.rebuild
        else (decision.previous or {})["freshness_hours"]  # verify_unchanged saw it
    )
    ctx.run(
        Step(
            "freshness",
            Kind.GATE,
            lambda: check_freshness(ctx.settings, ctx.summary, ctx.records, sample_source, max_age),
            lambda found: len(found),
        )
    )


def prepare(ctx: RunContext) -> None:
    """Parse the dbt project, then remove what a killed run left behind."""
    target = ctx.target
    ctx.run(Step("dbt parse", Kind.BOOKKEEPING, lambda: target.lake_dbt.parse()))
    clean_up(ctx, target.gold_layout)


def build(ctx: RunContext, decision: Plan) -> None:
    """Each lake layer built and gated, then gold staged and gated."""
    target = ctx.target
    start = target.start_step()
    if start is not None:
        ctx.run(start)
    ctx.summary.full_refresh = decision.full_refresh
    incremental = project.incremental_bronze(target.manifest)
    processed = (
        target.processed(incremental)
        if decision.full_refresh is None and target.has_lake_build()
        else {}
    )
    usable = state.usable_records(ctx.settings, ctx.records)
    ctx.summary.incremental = state.pending_objects(usable, incremental, processed)
    log.info(
        "%s; raw objects to read: %s",
        f"full refresh ({decision.full_refresh})" if decision.full_refresh else "incremental",
        {m: c["objects"] for m, c in ctx.summary.incremental.items()},
    )
    for layer in target.lake_layers():
        ctx.run(build_step(target, layer, decision.full_refresh is not None))
        # counted before its gate: a failed gate's rows show too
        ctx.summary.layer_rows[layer] = target.lake_counts(layer)
        ctx.run(gate_step(ctx, layer, lambda layer=layer: target.check(layer)))
    # gold recomputes the orders changed since the last good build (all on a full
    # refresh)
    target.gold_changed_since = (
        None
        if decision.full_refresh
        else state.gold_changed_since(ctx.settings, decision.previous, ctx.records)
    )
    for step in target.gold_steps(gate(ctx), full_refresh=decision.full_refresh is not None):
        ctx.run(step)


def rebuild(ctx: RunContext, decision: Plan) -> None:
    """Build and reconcile. When that fails on the data, find the raw objects the
    failure is due to among those pending since the last good run, reject exactly
    those, and build again without them: the good objects go through. A bad object
    that fails a later layer shows in that build: it is looked for and rejected the
    same way, until the build passes or fails without any pending object."""
    verify_landed_elsewhere(ctx, decision)
    failure = _build_and_reconcile(ctx, decision)
    while failure is not None:
        where, kind = ctx.summary.failing_step, ctx.summary.failing_kind
        through = _failing_lake_layer(ctx)
        try:
            culprits = ctx.run(
                Step(
                    "find bad raw objects",
                    Kind.GATE,
                    lambda failure=failure, through=through: isolate(ctx, failure, through),
                    len,
                )
            )
        except Exception:
            ctx.summary.failing_step, ctx.summary.failing_kind = where, kind
            raise
        reason = f"{where} failed: {failure_names(failure)}"
        ctx.summary.gates_before_rejection.update(
            {layer: gate for layer, gate in ctx.summary.gates.items() if gate.get("failed")}
        )
        rejected = rejection.reject(ctx.settings, culprits, reason, QUALITY_GATE, ctx.run_id)
        ctx.summary.rejected += [
            {"object": r.object_key, "sha256": r.sha256, "reason": reason} for r in rejected
        ]
        # the build again from all of raw as it stands now covers every request made
        # so far (this rejection's, and any other process's before it)
        decision.request, decision.erasures = state.requests_now(ctx.settings)
        read_lake(ctx, ctx.lake_as_of)  # the same cut: no object the read-back missed
        decision.full_refresh = f"{len(ctx.summary.rejected)} raw object(s) rejected by this run"
        decision.fingerprint = state.inputs_fingerprint(ctx.settings, ctx.records, decision.project)
        ctx.target.reparse()
        failure = _build_and_reconcile(ctx, decision)


def verify_landed_elsewhere(ctx: RunContext, decision: Plan) -> None:
    """Read back the raw objects this build reads that another process landed (a
    connector's own deployment, `olist-elt ingest`, the stream, an earlier run): those
    no good run built from, and on a full refresh every one it reads again. One
    deleted or rewritten since fails the run as RawObjectsChanged, audited, before any
    build could blame it as bad data or build its bytes. What this run landed it has
    just hashed."""
    read = (state.usable_records if decision.full_refresh else state.unbuilt_records)(
        ctx.settings, ctx.records
    )
    others = [r for r in read if r.run_id != ctx.run_id]
    # and a landing whose record is gone: its rows stay in the incremental tables
    gone = landings_unrecorded(ctx.settings)
    if others or gone:
        ctx.run(
            Step(
                "verify raw objects",
                Kind.IO,
                lambda: verify_records(ctx.settings, others, ctx.run_id, gone),
                lambda n: n,
            )
        )


def _build_and_reconcile(ctx: RunContext, decision: Plan) -> Exception | None:
    """Build and reconcile; the failure when the data may be its cause (raised
    otherwise), None when all passed."""
    try:
        build(ctx, decision)
        reconcile(ctx, staged=True)
        return None
    except DATA_FAILURES as exc:
        kind = ctx.summary.failing_kind
        if kind is None or not Kind(kind).blames_data:
            raise
        raise_if_lake_changed(ctx, exc)
        return exc


def _failing_lake_layer(ctx: RunContext) -> str | None:
    """The lake layer (bronze, silver) whose build or gate failed, or None when gold
    or the reconciliation did: trial builds go as far as the failure did."""
    failed = next((s for s in reversed(ctx.summary.steps) if s.outcome == "failed"), None)
    layer = failed.layer if failed is not None else None
    return layer if layer in ctx.target.lake_layers() else None


def failure_names(failure: Exception) -> str:
    """What failed, by name only (checks, models), never a row's value."""
    if isinstance(failure, GateFailed):
        names = [
            f"{c.dataset}{f'.{c.column}' if c.column else ''}: {c.check}"
            for c in failure.report.blocking
        ]
    elif isinstance(failure, DbtStepFailed):
        names = list(failure.nodes)
    elif isinstance(failure, ReconciliationFailed):
        names = [f"{s.dataset}: {s.upstream} -> {s.downstream}" for s in failure.report.unexplained]
    else:
        names = []
    return f"{type(failure).__name__} ({'; '.join(names) or 'no detail'})"


def reconcile(ctx: RunContext, staged: bool) -> None:
    """Every data set counted from file to gold (staged, or as served); audited."""
    ctx.run(
        Step(
            "reconcile",
            Kind.GATE,
            lambda: reconcile_run(ctx.target, ctx.summary, ctx.records, staged=staged),
        )
    )


def publish(ctx: RunContext, decision: Plan) -> None:
    """The gated star schema published; what the run left remembered for the next
    runs (state.save_success), in the same step: a failure there fails the publish."""
    target, settings = ctx.target, ctx.settings

    def publish_and_remember() -> dict[str, int]:
        counts = target.publish()
        state.clear_full_refresh(settings, decision.request)
        built = [r.sha256 for r in state.usable_records(settings, ctx.records)]
        left = {
            "served": counts,
            "checksums": target.served_checksums(),
            "lake": {layer: ctx.summary.layer_rows[layer] for layer in target.lake_layers()},
            "freshness_hours": project.freshness_max_age_hours(target.lake_dbt.manifest),
            "reconciliation": ctx.summary.reconciliation,
            "gold_layout": target.gold_layout(),
        }
        # a rebuild ran the tests of fixed rows (or knew they passed): this good run
        # stands for them under its key
        rows_passed = decision.rebuild or not target.fixed_row_tests
        state.save_success(
            settings,
            ctx.run_id,
            decision.fingerprint,
            decision.project,
            decision.erasures,
            built,
            left,
            fixed_rows=decision.fixed_rows if rows_passed else None,
        )
        if rows_passed:
            remember_passed(settings, decision.fixed_rows)
        try:  # a copy left behind is stale from now on (another good run), never used
            snapshot_guard.after_publish(target)
        except Exception as exc:
            log.warning("the snapshots' saved copy was not dropped (%s)", exc)
        return counts

    ctx.summary.layer_rows["gold"] = ctx.run(
        Step("publish gold", Kind.PUBLISH, publish_and_remember, lambda c: sum(c.values()))
    )
    if decision.new_erasures:
        ctx.audit().append("olist-elt", "erasure.apply", "silver+gold", "ok", run_id=ctx.run_id)


def render(ctx: RunContext) -> None:
    """Last step: the static HTML dashboards from the served gold. A card that fails is
    drawn as failed and counted; it warns (the default) or, with
    OLIST_DASHBOARDS_ON_CARD_FAILURE=fail, fails the run after the pages are written.
    Neither undoes a good publication."""
    from olist_elt.dashboards.commands import CardsFailed, render_dashboards
    from olist_elt.ops.operate import write_history

    write_history(ctx.target, ctx.summary)  # the Operations page shows this run too
    settings = ctx.settings
    try:
        pages = ctx.run(
            Step(
                "render dashboards",
                Kind.PUBLISH,
                lambda: render_dashboards(
                    settings, ctx.target.served_engine, served_version=served_version(settings)
                ),
                lambda p: sum(page.charts for page in p),
            )
        )
    except CardsFailed:
        raise  # OLIST_DASHBOARDS_ON_CARD_FAILURE=fail: the pages are written, the run fails
    except OlistEltError as exc:
        ctx.summary.failing_step = ctx.summary.failing_kind = None  # reported, not fatal
        log.warning("dashboards not rendered: %s", exc)
        ctx.summary.dashboards = {"error": str(exc)}
        return
    errors = [e for page in pages for e in page.errors]
    for error in errors:
        log.warning("dashboard card failed: %s", error)
    ctx.summary.dashboards = {
        "index": str(settings.dashboards_out / "index.html"),
        "pages": [str(page.path) for page in pages],
        "errors": errors,
        "failed_cards": pages.failed_cards,
    }
