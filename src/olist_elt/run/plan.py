"""The decision a run starts with: rebuild, or keep what the last good run built,
gated and published when nothing it depends on changed and the lake and the served
gold are still as it left them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from olist_elt.run import state
from olist_elt.run.context import RunContext
from olist_elt.run.fixed_rows import fixed_rows_key, passed
from olist_elt.run.steps import Kind, Step

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """Whether this run rebuilds, and how: the decision and the fingerprints."""

    rebuild: bool
    full_refresh: str | None
    fingerprint: str
    project: str
    previous: dict[str, Any] | None
    new_erasures: bool = False
    # the full-refresh request and the erasure register as they stood when the run
    # planned: what its build covers (a request or an erasure made later is not)
    request: bytes | None = None
    erasures: str = ""
    # the key of the tests of fixed rows this run's builds stand for (run.fixed_rows)
    fixed_rows: str = ""


def plan(ctx: RunContext, force_rebuild: bool, full_refresh: bool) -> Plan:
    """Rebuild when anything a build depends on changed since the last good run, when
    asked to, or when the lake or the served gold is not what that run left (lake row
    counts; served tables, rows, content, keys, grants); full refresh when asked or
    required, or when a lake layer changed."""
    settings = ctx.settings
    request, erasures = state.requests_now(settings)
    project_hash = state.project_fingerprint(settings)
    fingerprint = state.inputs_fingerprint(settings, ctx.records, project_hash)
    previous = state.last_success(settings)
    refresh = state.refresh_reason(settings, previous, project_hash, full_refresh)
    unchanged = (
        not ctx.new_objects
        and not force_rebuild
        and refresh is None
        and previous is not None
        and previous.get("fingerprint") == fingerprint
    )
    if unchanged:
        # inputs unchanged: the lake and the served gold must still be what that run
        # built, gated and published, or they are built, gated and published again
        # (the lake layers from all of raw: their incremental rows are in doubt)
        lake, served = ctx.run(
            Step(
                "verify unchanged",
                Kind.BOOKKEEPING,
                lambda: verify_unchanged(ctx, previous or {}),
                lambda found: len(found[0]) + len(found[1]),
            )
        )
        ctx.summary.served_repairs = lake + served
        if lake:
            refresh = f"the lake layers differ from what run {(previous or {}).get('run_id')} gated"
        if lake or served:
            log.warning("differs from the last good run: %s", ctx.summary.served_repairs)
            unchanged = False
    # the tests of fixed rows (dbt's unit tests, the seeds' tests) run unless they
    # passed under the same key (project, vars, target, engine versions, servers) in
    # this workspace's last good run or in any of this user's (run.fixed_rows); an
    # analyst's build runs them any time
    rows_key = fixed_rows_key(ctx.target, project_hash)
    ctx.target.fixed_row_tests = not passed(settings, rows_key, previous)
    new_erasures = previous is not None and previous.get("erasures", erasures) != erasures
    return Plan(
        not unchanged,
        refresh,
        fingerprint,
        project_hash,
        previous,
        new_erasures,
        request,
        erasures,
        rows_key,
    )


def verify_unchanged(ctx: RunContext, previous: dict[str, Any]) -> tuple[list[str], list[str]]:
    """How the lake layers and the served gold differ from what the last good run
    left (previous: its record): (lake, served) problems, both empty when alike."""
    missing = [key for key in state.VERIFIED if key not in previous]
    if missing:
        return [], [
            f"run {previous.get('run_id')} was recorded by an earlier version, without "
            f"{', '.join(missing)}: built and gated once more to record them"
        ]
    return ctx.target.lake_problems(previous), ctx.target.served_problems(previous)


def keep_unchanged(ctx: RunContext, decision: Plan) -> None:
    """Nothing changed since the last good run (its inputs, project, target and
    settings), and the step 'verify unchanged' found the lake layers with the row
    counts that run gated and the served gold as it published it (tables, row counts,
    content checksums, keys and grants): nothing is built or gated again. The counts
    and the reconciliation are that run's, which the same counts give again. What a
    killed run left behind is removed first, as after a parse."""
    previous = decision.previous or {}
    clean_up(ctx, lambda: previous["gold_layout"])
    since = f"inputs unchanged since run {previous.get('run_id')}"
    log.info("%s, lake and served gold as it left them: nothing to build or gate", since)
    ctx.summary.skipped_build = since
    ctx.summary.layer_rows = {**previous["lake"], "gold": previous["served"]}
    ctx.summary.reconciliation = previous["reconciliation"]
    ctx.audit().append(
        "svc-reconciliation",
        "reconcile",
        ctx.run_id,
        "unchanged",
        same_counts_as_run=previous.get("run_id"),
    )


def served_version(settings: Any) -> str | None:
    """What the served schemas hold, named by the last publish: its run and the served
    tables' checksums (a run that rebuilt nothing serves the same)."""
    last = state.last_success(settings)
    if not last or "checksums" not in last:
        return None
    return json.dumps([last["run_id"], last["checksums"]], sort_keys=True)


def clean_up(ctx: RunContext, layout: Callable[[], Any]) -> None:
    """Remove what a killed run left behind, given gold's staging schema and the
    tables its models build (from this run's parse, or as the last good run's)."""

    def clean() -> list[str]:
        staging, built = layout()
        return ctx.target.clean_leftovers(staging, list(built))

    ctx.run(Step("clean up leftovers", Kind.BOOKKEEPING, clean, len))
