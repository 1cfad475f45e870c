"""Rejection by cause, not by run: when a build, a gate or the reconciliation fails on
the data, find the raw objects responsible among all those pending since the last
good run (whoever ingested them), by building again with some of them held back
(a bisection), and reject exactly those; the good objects go through.

A trial build is a quiet, full-refresh build with a set of raw objects held back
(dbt var held_back_objects), as far as the layer that failed (every layer when gold
or the reconciliation did): its gates raise but are not audited, its steps are not
recorded. When the failure in a lake layer names its nodes (the models and tests dbt
failed, the data sets a gate failed), a trial builds only those and what is upstream
of them, and gates only those data sets: nothing else can change their outcome (a
model reads only its parents, a lake contract only its own data set). For the same
reason only the pending objects of the sources upstream of those nodes are suspects:
the others are never held back, and a failure none of them feeds is not the data's
(a customers file that bronze's gate stops is found in one trial, whatever else
arrived with it). Gold's trials build everything, so when a gold failure names its
nodes, the objects of the sources upstream of them are only a first guess: a trial
with them held back confirms it (the bisection then runs among them), or every
pending object is a suspect again. If the build still fails with every pending
object held back, the data is not the cause and nothing is rejected; nor when a trial
with the one suspect left passes (asked unless the failure counted rows in a full
refresh, which a trial repeats): the failure did not come back. A bad object that
only another node or a later layer catches fails the build after the rejection, and
is looked for there. Before the lake's first good run, a failure in gold or the
reconciliation blames nothing: its trials would compare with an empty gold, which
passes every check, so a broken model would look like bad files; the lake layers'
contracts judge each data set alone and are isolated then too."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from olist_elt.errors import DbtStepFailed
from olist_elt.lake.manifest import ManifestRecord
from olist_elt.quality.gates import CheckReport, GateFailed, GateReport
from olist_elt.quality.reconcile import ReconciliationFailed, reconcile_run
from olist_elt.run import state
from olist_elt.run.context import RunContext
from olist_elt.run.rejection import DATA_FAILURES
from olist_elt.transform import project

log = logging.getLogger(__name__)


def pending_objects(ctx: RunContext) -> list[ManifestRecord]:
    """Usable raw objects the last good run did not build from (all of them when no
    good run is known)."""
    return state.unbuilt_records(ctx.settings, ctx.records)


# the nodes a trial can build by name with what is upstream of them
SELECTABLE = frozenset({"model", "test", "seed"})


@dataclass(frozen=True)
class TrialScope:
    """What each trial builds: the layers up to `through` (every layer when None);
    with `nodes`, only those lake nodes and everything upstream of them, and with
    `gated` (nodes a gate named: data sets), the contracts of those alone."""

    through: str | None
    nodes: tuple[str, ...] = ()
    gated: bool = False


def named_nodes(manifest: Any, failure: GateFailed | DbtStepFailed) -> tuple[str, ...]:
    """The nodes (by name) a failure names, when it names them all and a trial can
    select them: the models and tests dbt failed, or the data sets (models) whose
    contracts a gate failed; () otherwise."""
    nodes = manifest.nodes
    if isinstance(failure, GateFailed):
        datasets = frozenset(c.dataset for c in failure.report.blocking)
        models = {n.name for n in nodes.values() if n.resource_type == "model"}
        return tuple(sorted(datasets)) if datasets and datasets <= models else ()
    if failure.nodes and all(
        u in nodes and nodes[u].resource_type in SELECTABLE for u in failure.nodes
    ):
        return tuple(sorted({nodes[u].name for u in failure.nodes}))
    return ()


def trial_scope(ctx: RunContext, failure: Exception, through: str | None) -> TrialScope:
    """The nodes a failure in a lake layer names (named_nodes). Whole layers for gold,
    the reconciliation, or a failure naming nothing a trial can select."""
    if through is None or not isinstance(failure, GateFailed | DbtStepFailed):
        return TrialScope(through)
    names = named_nodes(ctx.target.manifest, failure)
    if not names:
        return TrialScope(through)
    return TrialScope(through, names, gated=isinstance(failure, GateFailed))


def feeding(
    manifest: Any, names: tuple[str, ...], pending: list[ManifestRecord]
) -> list[ManifestRecord]:
    """The pending objects of the sources upstream of the named nodes."""
    read = project.upstream_sources(manifest, names)
    return [r for r in pending if (r.source, r.dataset) in read]


def gold_suspects(
    ctx: RunContext, failure: Exception, pending: list[ManifestRecord]
) -> list[ManifestRecord]:
    """For a failure in gold that names its nodes, the pending objects feeding them in
    gold's graph: a first guess only, as gold's trials build every layer and the
    reconciliation, which any object may fail. [] when it names none."""
    if not isinstance(failure, GateFailed | DbtStepFailed):
        return []
    manifest = ctx.target.gold_manifest
    names = named_nodes(manifest, failure)
    return feeding(manifest, names, pending) if names else []


def unseen_by_trials(check: CheckReport) -> bool:
    """A blocking check a trial's gate lets pass: a row count's (a data set whose every
    object the trial holds back is empty, which alone fails nothing)."""
    return check.check_type == "row_count"


def _quiet_gate(layer: str, check: Callable[[], GateReport]) -> GateReport:
    """A trial's gate: raises when a check blocks, except one unseen_by_trials."""
    report = check()
    if not all(unseen_by_trials(c) for c in report.blocking):
        raise GateFailed(report)
    return report


def trial_passes(ctx: RunContext, held: list[ManifestRecord], scope: TrialScope) -> bool:
    """Build with these raw objects held back: does it pass? Every layer, gold and the
    reconciliation included; with `scope.through` (a lake layer), the layers up to that
    one only: the failure being explained happened there, and what a later layer finds
    once it passes is looked for in a build of its own; with `scope.nodes`, those
    nodes and what is upstream of them only."""
    target, through = ctx.target, scope.through
    target.reparse()
    target.hold_back([r.sha256 for r in held])
    shas = {r.sha256 for r in held}
    records = [replace(r, status="rejected") if r.sha256 in shas else r for r in ctx.records]
    try:
        if scope.nodes:
            target.build_upstream(scope.nodes)
            if scope.gated and through is not None:
                only = frozenset(scope.nodes)
                _quiet_gate(through, lambda: target.check(through, only=only))
            return True
        for layer in target.lake_layers():
            target.build(layer, full_refresh=True)
            _quiet_gate(layer, lambda layer=layer: target.check(layer))
            if layer == through:
                return True
        for step in target.gold_steps(_quiet_gate):
            step.fn()
        reconcile_run(target, None, records, staged=True, record=False)
        return True
    except DATA_FAILURES as exc:
        log.info("trial with %d object(s) held back fails: %s", len(held), exc)
        return False
    finally:
        target.hold_back(None)


def counted_rows(failure: Exception) -> bool:
    """Whether the failure is a count of the data's rows (tests or checks that ran and
    found failing rows, a reconciliation's unexplained difference), which a trial
    building the same rows (a full refresh, as trials are) gives again; an error (a
    model, a test or a query that did not run) may be the engine's, and is blamed on
    an object only once a trial with it fails too."""
    if isinstance(failure, DbtStepFailed):
        return failure.counted
    if isinstance(failure, GateFailed):
        # a check a trial's gate lets pass is not counted: no trial repeats it
        return all(
            check.outcome == "failed" and not unseen_by_trials(check)
            for check in failure.report.blocking
        )
    return isinstance(failure, ReconciliationFailed)


def not_shown(ctx: RunContext, failure: Exception, objects: int, full_refresh: bool) -> None:
    """Say why no object is blamed when a trial with all of them passed. After an
    incremental build the next run rebuilds from all of raw: the rows the failure saw
    depended on the tables that build kept, and a full rebuild does not keep them."""
    if isinstance(failure, GateFailed) and all(
        unseen_by_trials(c) for c in failure.report.blocking
    ):
        log.warning(
            "the failure is a row count, which a trial cannot show (a data set a trial "
            "holds back is empty, not missing): no object is blamed; `olist-elt raw "
            "reject` one by hand if it is the cause"
        )
    elif full_refresh:
        log.warning(
            "a trial with all %d pending raw object(s) passes: the failure did not come "
            "back, so no object is blamed (an engine's failure no sign names: run again)",
            objects,
        )
    else:
        log.warning(
            "a trial with all %d pending raw object(s) passes: the failure did not come "
            "back in a full rebuild, so no object is blamed; the next run rebuilds from "
            "all of raw",
            objects,
        )
        state.require_full_refresh(
            ctx.settings, "a failure of an incremental build did not come back in a full one"
        )


def find_culprits(
    pending: list[ManifestRecord], fails_with: Callable[[list[ManifestRecord]], bool]
) -> list[ManifestRecord]:
    """The smallest sets of pending objects whose presence makes the build fail:
    halves are tried on their own; when neither half fails alone but both together
    do, the pair of halves is blamed whole."""
    if len(pending) == 1:
        return pending
    half = len(pending) // 2
    first, second = pending[:half], pending[half:]
    found = []
    if fails_with(first):
        found += find_culprits(first, fails_with)
    if fails_with(second):
        found += find_culprits(second, fails_with)
    return found or pending


def isolate(
    ctx: RunContext, failure: Exception, through: str | None = None
) -> list[ManifestRecord]:
    """The raw objects the failure is due to; raises the failure again when the data
    is not its cause (nothing pending, or a build without any pending object fails
    too). through: the lake layer the failure happened in (trials build up to it),
    None for gold or the reconciliation (trials build everything)."""
    pending = pending_objects(ctx)
    if not pending:
        raise failure
    if through is None and state.last_success(ctx.settings) is None:
        # gold's checks span data sets (joins, k-anonymity over every customer) and a
        # trial with every object held back builds an empty gold, which passes them
        # all: with no good build to start from, a broken model would blame good files
        log.warning(
            "gold failed before any good run: no raw object is blamed (a trial without "
            "them would be empty); `olist-elt raw reject` one by hand if it is the cause"
        )
        raise failure
    scope = trial_scope(ctx, failure, through)
    trials = 0

    def fails_with(included: list[ManifestRecord]) -> bool:
        # the objects a trial can hold back are `pending` as it stands when called
        nonlocal trials
        trials += 1
        keep = {r.sha256 for r in included}
        return not trial_passes(ctx, [r for r in pending if r.sha256 not in keep], scope)

    everything = pending
    shown = False  # a trial showed the build passes with every object of `pending` held back
    if scope.nodes:
        log.info("trial builds: %s and what is upstream of them", ", ".join(scope.nodes))
        # a trial builds only those nodes and their parents, which read nothing else
        pending = feeding(ctx.target.manifest, scope.nodes, pending)
        log.info("%d of %d pending raw object(s) feed them", len(pending), len(everything))
        if not pending:
            log.warning("no pending raw object feeds %s", ", ".join(scope.nodes))
            raise failure
    elif through is None and 0 < len(guess := gold_suspects(ctx, failure, pending)) < len(pending):
        # the objects of the sources upstream of the failing gold nodes: when the build
        # passes with only those held back, the culprits are among them; else any
        # pending object may be one (another gold node, the reconciliation)
        pending = guess
        shown = not fails_with([])
        log.info(
            "the build %s with the %d of %d pending raw object(s) feeding gold's failure held back",
            "passes" if shown else "still fails",
            len(guess),
            len(everything),
        )
        pending = pending if shown else everything
    if not shown and fails_with([]):
        log.warning("the build fails without any of the %d pending raw objects", len(pending))
        raise failure
    culprits = pending if len(pending) == 1 else find_culprits(pending, fails_with)
    # The one suspect left, shown by a trial without it, needs no trial with it only
    # when the failure counted rows in a full refresh: a trial (a full refresh too)
    # builds the same rows. An incremental build's rows depend on the tables it kept.
    full_refresh = ctx.summary.full_refresh is not None
    repeats = counted_rows(failure) and full_refresh
    if culprits is pending and (len(pending) > 1 or not repeats) and not fails_with(pending):
        # No trial has failed with these objects yet: the whole set find_culprits
        # blamed because no half failed alone (a set of objects each shown to fail
        # is a new list, and needs no further trial), or the one suspect left. A
        # trial with all of them passes: the failure does not come back, so no
        # object is shown to cause it
        not_shown(ctx, failure, len(pending), full_refresh)
        raise failure
    log.warning(
        "%d of %d pending raw object(s) cause the failure (%d trial builds): %s",
        len(culprits),
        len(everything),
        trials,
        [r.object_key for r in culprits],
    )
    return culprits
