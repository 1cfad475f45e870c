"""dbt-spark over thrift waits for a statement with a doubling wait from 50 ms up to
the profile's poll_interval, instead of a whole poll_interval at least."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from dbt.adapters.spark import connections
from dbt.adapters.spark.connections import PyhiveConnectionWrapper, ThriftState

from olist_elt.transform.spark_polling import adaptive_polling


class Cursor:
    """A thrift cursor whose statements run for a given number of polls."""

    def __init__(self, polls_running: list[int], error_on: int | None = None) -> None:
        self.polls_running = polls_running
        self.error_on = error_on
        self.statements: list[str] = []
        self.left = 0

    def execute(self, sql: str, bindings: Any, async_: bool = False) -> None:
        assert async_
        self.statements.append(sql)
        self.left = self.polls_running[len(self.statements) - 1]

    def poll(self) -> SimpleNamespace:
        if self.left > 0:
            self.left -= 1
            return SimpleNamespace(operationState=ThriftState.RUNNING_STATE, errorMessage=None)
        failed = self.error_on == len(self.statements)
        return SimpleNamespace(
            operationState=ThriftState.ERROR_STATE if failed else ThriftState.FINISHED_STATE,
            errorMessage="boom" if failed else None,
        )


@pytest.fixture()
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(connections.time, "sleep", slept.append)
    return slept


def test_each_statement_waits_from_50_ms_doubling_up_to_the_poll_interval(
    waits: list[float],
) -> None:
    adaptive_polling()
    adaptive_polling()  # idempotent
    cursor = Cursor(polls_running=[7, 1, 0])
    wrapper = PyhiveConnectionWrapper(SimpleNamespace(cursor=lambda: cursor), poll_interval=1)
    wrapper.cursor()
    wrapper.execute("select 1")
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1, 1]
    waits.clear()
    wrapper.execute("select 2")  # the next statement starts short again
    wrapper.execute("select 3")  # finished at once: no wait at all
    assert waits == [0.05]
    assert cursor.statements == ["select 1", "select 2", "select 3"]


def test_a_failing_statement_still_raises_the_servers_error(waits: list[float]) -> None:
    adaptive_polling()
    cursor = Cursor(polls_running=[2], error_on=1)
    wrapper = PyhiveConnectionWrapper(SimpleNamespace(cursor=lambda: cursor), poll_interval=5)
    wrapper.cursor()
    with pytest.raises(Exception, match="boom"):
        wrapper.execute("select broken")
    assert waits == [0.05, 0.1]
