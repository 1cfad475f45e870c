"""Declared steps: a name, a kind and a function. Retries, alerts and the run history
read the kind, never the name; an orchestrator (Prefect) wraps each step through a
StepRunner without the library importing it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from olist_elt.run.record import RunSummary, StepRecord, peak_rss_mb, utc_now

T = TypeVar("T")


class Kind(StrEnum):
    """What a step does, which decides how it is retried, blamed and reported."""

    IO = "io"  # network or storage: may be retried on transient errors
    TRANSFORM = "transform"  # dbt builds: a failure may be the data's
    GATE = "gate"  # quality checks: a failure is the data's
    PUBLISH = "publish"  # makes data visible to readers
    BOOKKEEPING = "bookkeeping"  # records, decisions, reports

    @property
    def retryable(self) -> bool:
        """Only I/O is worth another try."""
        return self is Kind.IO

    @property
    def blames_data(self) -> bool:
        """A failure of this kind can mean a bad batch (never an I/O or publish one)."""
        return self in (Kind.TRANSFORM, Kind.GATE)


@dataclass(frozen=True)
class Step(Generic[T]):
    """One named step of a run: what it is (kind), which layer it concerns, and how
    to count the rows its result stands for."""

    name: str
    kind: Kind
    fn: Callable[[], T]
    rows: Callable[[T], int | None] = lambda _: None
    layer: str | None = None
    # where the step's time went, from its result (a dbt build: node counts and
    # seconds by resource type, the slowest nodes), kept in the run record
    profile: Callable[[T], dict[str, Any] | None] = lambda _: None


class StepRunner(Protocol):
    """Runs one step's function (in this process, or as an orchestrator's task)."""

    def __call__(self, step: Step[Any], fn: Callable[[], T]) -> T: ...


def run_locally(step: Step[Any], fn: Callable[[], T]) -> T:
    """Run a step in this process (the default when no orchestrator wraps it)."""
    return fn()


def execute(
    summary: RunSummary,
    step: Step[T],
    runner: StepRunner = run_locally,
    on_step: Callable[[str], None] | None = None,
) -> T:
    """Run one step through the runner; time it and add its record to the summary,
    also when it fails (the summary then names it as the failing step)."""
    # a hook that fails fails the run at this step (not "before its first"), of no
    # kind: it is no step's failure, and blames no data
    summary.failing_step, summary.failing_kind = step.name, None
    if on_step:
        on_step(step.name)
    summary.failing_kind = step.kind.value
    started = utc_now()
    t0, c0 = time.perf_counter(), time.process_time()

    def record(outcome: str, **extra: Any) -> StepRecord:
        return StepRecord(
            step.name,
            started,
            round(time.perf_counter() - t0, 3),
            outcome,
            cpu_seconds=round(time.process_time() - c0, 3),
            peak_rss_mb=peak_rss_mb(),
            kind=step.kind.value,
            layer=step.layer,
            **extra,
        )

    try:
        result = runner(step, step.fn)
    except Exception as exc:
        summary.steps.append(record("failed", detail=str(exc), error_class=type(exc).__name__))
        raise
    summary.steps.append(record("ok", rows=step.rows(result), profile=step.profile(result)))
    summary.failing_step = summary.failing_kind = None
    return result
