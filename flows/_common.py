"""Shared wiring for the flows: library logs into Prefect, one task per declared step
(retried only when its kind is I/O), and dbt nodes shown as tasks."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "olist_elt")
# library code run outside a flow run (the CLI, a test, a thread) logs to the console
# only, without a warning per record that there is no flow run to send it to
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

import httpx
from prefect import task

import olist_elt  # noqa: F401  (telemetry off before anything else loads)
from olist_elt.run.steps import Step
from olist_elt.settings import Settings, load_settings

T = TypeVar("T")
RETRY_DELAYS = [2, 5, 15]


def retry_on_io_errors(task_: Any, task_run: Any, state: Any) -> bool:
    """Retry only network and storage errors, never bad input or a failed gate."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError)


def step_tags(step: Step[Any]) -> list[str]:
    """A step's kind and layer as its task's tags, for the Prefect API a setting names
    (a server, Prefect Cloud: the UI filters by them, and concurrency limits can be set
    on them). Prefect's temporary server (a flow called with no API configured) gets
    none: Prefect asks the API for every tagged task's concurrency slots, and that
    server's SQLite answered about half of those calls 503 "database is locked", each
    a 2 s retry: 11 s of a 22 s test-scale flow run."""
    from prefect.settings import get_current_settings

    if get_current_settings().api.url is None:
        return []
    return [step.kind.value, *([step.layer] if step.layer else [])]


def task_for(step: Step[Any], fn: Callable[[], T]) -> Any:
    """The Prefect task of one declared step: named after it, retried only when its
    kind is I/O (and then only on network and storage errors), tagged with kind and
    layer where an API is configured (step_tags)."""
    retried = step.kind.retryable
    return task(
        fn,
        name=step.name,
        retries=len(RETRY_DELAYS) if retried else 0,
        retry_delay_seconds=RETRY_DELAYS if retried else 0,
        retry_condition_fn=retry_on_io_errors if retried else None,
        persist_result=False,
        tags=step_tags(step),
    )


def prefect_step(step: Step[Any], fn: Callable[[], T]) -> T:
    """Run one declared step as a Prefect task (a StepRunner for the library)."""
    return task_for(step, fn)()


def prefect_dbt_runner(manifest: Any) -> Any:
    """dbt's runner with each dbt node shown as a task run with its own state and log."""
    from olist_elt.transform.dbt_nodes import DbtNodeTasks

    return DbtNodeTasks(manifest)


def flow_settings(**overrides: Any) -> Settings:
    """Validated settings (environment and .env), with the parameters that were set."""
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})
