"""Shared wiring for the flows: telemetry off, library logs into Prefect, step tasks."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("SODA_CORE_TELEMETRY_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "olist_elt")

import httpx
from prefect import task

T = TypeVar("T")

# Steps that touch the network or storage may be retried; transforms may not.
RETRIED_STEPS = ("ingest",)


def retry_on_io_errors(task_: Any, task_run: Any, state: Any) -> bool:
    """Retry only network and storage errors, never bad input or a failed gate."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError)


def prefect_step(name: str, fn: Callable[[], T]) -> T:
    """Run one pipeline step as a Prefect task named after the step."""
    retried = name.startswith(RETRIED_STEPS)
    wrapped = task(
        fn,
        name=name,
        retries=3 if retried else 0,
        retry_delay_seconds=[2, 5, 15] if retried else 0,
        retry_condition_fn=retry_on_io_errors if retried else None,
        persist_result=False,
    )
    return wrapped()
