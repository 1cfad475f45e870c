"""One run's context: its settings, Target, record, and how each step is executed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from olist_elt.errors import PipelineFailed
from olist_elt.lake.manifest import ManifestRecord
from olist_elt.lake.private import owner_only
from olist_elt.ops.operate import after_run
from olist_elt.run.lock import run_lock
from olist_elt.run.record import (
    RunSummary,
    load_records,
    new_run_id,
    save_record,
    save_summary,
    utc_now,
)
from olist_elt.run.steps import Step, StepRunner, execute, run_locally
from olist_elt.security.audit import AuditLog, log_name
from olist_elt.settings import Settings
from olist_elt.targets import Target, target_for

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RunContext:
    """Everything the steps of one run share."""

    settings: Settings
    target: Target
    summary: RunSummary
    runner: StepRunner = run_locally
    on_step: Callable[[str], None] | None = None
    records: list[ManifestRecord] = field(default_factory=list)
    # when the run read the records it builds from (run.pinned.read_lake)
    lake_as_of: datetime | None = None

    @classmethod
    def begin(
        cls,
        settings: Settings,
        orchestrator: str = "in-process",
        runner: StepRunner = run_locally,
        on_step: Callable[[str], None] | None = None,
        dbt_runner: Callable[..., Any] | None = None,
    ) -> RunContext:
        """A new run on the Target the settings name."""
        summary = RunSummary(
            run_id=new_run_id(),
            target=settings.target,
            orchestrator=orchestrator,
            started_at=utc_now(),
            as_of=settings.as_of.isoformat() if settings.as_of else None,
        )
        return cls(settings, target_for(settings, dbt_runner), summary, runner, on_step)

    @property
    def run_id(self) -> str:
        return self.summary.run_id

    @property
    def new_objects(self) -> list[ManifestRecord]:
        """Raw objects this run brought in."""
        return [r for r in self.records if r.run_id == self.run_id and r.status == "accepted"]

    def run(self, step: Step[T]) -> T:
        """Execute one declared step, recorded in the summary."""
        return execute(self.summary, step, self.runner, self.on_step)

    def audit(self) -> AuditLog:
        return AuditLog(self.settings.audit_path)

    @contextmanager
    def recorded(self) -> Iterator[RunContext]:
        """One run at a time per lake (RunLocked otherwise). The run's record exists
        from its start (outcome 'running'); whatever happens, it ends with an outcome,
        the ops history, alerts and an audit record. A failure is raised as
        PipelineFailed naming the step."""
        # what a run writes is its owner's only
        with owner_only(), run_lock(self.settings, self.run_id):
            self.close_interrupted()
            with self._recorded():
                yield self

    def close_interrupted(self) -> list[str]:
        """Runs whose process ended before they did (killed, crashed) are marked
        interrupted, in the lake's record and in the ops history."""
        closed = []
        for record in load_records(self.settings, 50):
            if record.get("outcome") != "running" or record["run_id"] == self.run_id:
                continue
            record["outcome"] = "interrupted"
            record["error_class"] = "Interrupted"
            record["error"] = "the process ended before the run did (killed or crashed)"
            save_record(self.settings, record)
            try:
                self.target.record_history(record)
            except Exception as exc:  # the lake record stays; the database may be down
                log.error("interrupted run %s not written to ops: %s", record["run_id"], exc)
            closed.append(record["run_id"])
        return closed

    @contextmanager
    def _recorded(self) -> Iterator[None]:
        save_summary(self.settings, self.summary)
        try:
            yield
            self.summary.outcome = "success"
        except Exception as exc:
            self._failed(exc)
            where = self.summary.failing_step or "start"
            raise PipelineFailed(f"run {self.run_id} failed at '{where}': {exc}") from exc
        finally:
            self.summary.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
            after_run(self.settings, self.target, self.summary)
            save_summary(self.settings, self.summary)
            self.audit().append(
                "olist-elt",
                "pipeline.run",
                self.run_id,
                self.summary.outcome,
                steps=[s.name for s in self.summary.steps],
                error=self.summary.error,
            )
            # a second copy of the audit log's signed head, outside the log
            head = self.audit().head()
            # which log it signs: runs of one lake may keep theirs apart (OLIST_AUDIT_LOG)
            log_id = log_name(self.settings.audit_path, self.settings.lake_dir)
            self.summary.audit_head = head and {**head, "log": log_id}
            save_summary(self.settings, self.summary)

    def _failed(self, exc: Exception) -> None:
        """Record the failure (the raw objects a data failure is due to were already
        found and rejected by the build; nothing else is blamed)."""
        from olist_elt.quality.gates import GateFailed

        self.summary.outcome = "failed"
        self.summary.error = str(exc)
        self.summary.error_class = type(exc).__name__
        if isinstance(exc, GateFailed):
            self.summary.gates[exc.report.layer] = exc.report.to_dict()
