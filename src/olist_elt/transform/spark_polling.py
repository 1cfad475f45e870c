"""Shorter waits for statements on a Spark Thrift Server.

dbt-spark over thrift sends a statement, then asks the server whether it finished
every `poll_interval` seconds: an integer in the profile, so at least one second per
statement that does not finish at once. Most of ours (a view, a `describe`, a test's
count) finish in a fraction of a second, so each model and test waited out a whole
second or more. Here the wait starts at 50 ms and doubles up to the profile's
`poll_interval`: a long statement is asked as rarely as before, a short one is seen
finished when it is. dbt-spark's own polling (states, errors, timeout, retries) is
kept as it is; only the interval it sleeps changes. Applies in this process (the
pipeline's dbt runs in-process); an analyst's own `dbt` keeps dbt-spark's waits.
"""

from __future__ import annotations

from typing import Any

FIRST_WAIT = 0.05


def adaptive_polling() -> None:
    """Make dbt-spark's thrift connections poll with a doubling wait. Idempotent."""
    from dbt.adapters.spark.connections import PyhiveConnectionWrapper

    if getattr(PyhiveConnectionWrapper, "_adaptive_polling", False):
        return
    original = PyhiveConnectionWrapper._execute_with_polling

    def next_wait(self: Any) -> float:
        wait = self.__dict__.get("_next_wait", FIRST_WAIT)
        self._next_wait = min(wait * 2, self.__dict__.get("_longest_wait", 1))
        return wait

    def set_longest_wait(self: Any, seconds: float) -> None:
        self._longest_wait = max(seconds, FIRST_WAIT)
        self._next_wait = FIRST_WAIT

    def execute_with_polling(self: Any, sql: str, bindings: Any) -> None:
        self._next_wait = FIRST_WAIT  # each statement starts with a short wait
        original(self, sql, bindings)

    PyhiveConnectionWrapper.poll_interval = property(next_wait, set_longest_wait)  # type: ignore[assignment,method-assign]
    PyhiveConnectionWrapper._execute_with_polling = execute_with_polling  # type: ignore[method-assign]
    PyhiveConnectionWrapper._adaptive_polling = True  # type: ignore[attr-defined]
