"""PostgreSQL stopping a statement or a session for a reason of its own (another
session's locks or writes, a limit, an operator) is the database's failure, never
the data's: each error is provoked here on the test PostgreSQL, through both drivers
(dbt-postgres's psycopg2, Soda's psycopg), and its words, as a failed node's message
carries them, name that cause."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

import psycopg
import psycopg2
import pytest

from olist_elt.errors import infrastructure_cause
from olist_elt.transform.dbt import without_values

DRIVER_ERRORS = (psycopg.Error, psycopg2.Error)


def _connect(driver: str, dsn: str, autocommit: bool = False) -> Any:
    if driver == "psycopg":
        return psycopg.connect(dsn, autocommit=autocommit)
    con = psycopg2.connect(dsn)
    con.autocommit = autocommit
    return con


def _run(con: Any, sql: str, params: list[Any] | None = None) -> None:
    with con.cursor() as cur:
        cur.execute(sql, params)


def _later(seconds: float, dsn: str, sql: str, pid: int) -> threading.Timer:
    """sql run on a connection of its own after `seconds`, the pid bound to it."""

    def run() -> None:
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute(sql, [pid])

    timer = threading.Timer(seconds, run)
    timer.start()
    return timer


def _statement_timeout(driver: str, dsn: str) -> None:
    with closing(_connect(driver, dsn)) as con:
        _run(con, "set statement_timeout = '20ms'")
        _run(con, "select pg_sleep(5)")


def _by_another_session(sql: str) -> Callable[[str, str], None]:
    def provoke(driver: str, dsn: str) -> None:
        with closing(_connect(driver, dsn)) as con:
            with con.cursor() as cur:
                cur.execute("select pg_backend_pid()")
                (pid,) = cur.fetchone()
            timer = _later(0.3, dsn, sql, pid)
            try:
                _run(con, "select pg_sleep(5)")
            finally:
                timer.join()

    return provoke


def _idle_in_transaction(driver: str, dsn: str) -> None:
    with closing(_connect(driver, dsn)) as con:
        _run(con, "set idle_in_transaction_session_timeout = '50ms'")
        _run(con, "select 1")  # a transaction is open, then left idle
        time.sleep(0.5)
        _run(con, "select 1")


def _tables(dsn: str, *names: str) -> Callable[[], None]:
    """Tables of these names made now; the function that drops them."""
    with psycopg.connect(dsn, autocommit=True) as setup:
        for name in names:
            setup.execute(f"create table {name} (k int, v int)")
            setup.execute(f"insert into {name} values (1, 0), (2, 0)")

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as setup:
            setup.execute(f"drop table if exists {', '.join(names)}")

    return drop


def _deadlock(driver: str, dsn: str) -> None:
    """Two sessions, each holding the table the other one asks for next (PostgreSQL
    stops one of them after deadlock_timeout, a second by default)."""
    first, second = f"deadlock_a_{time.monotonic_ns()}", f"deadlock_b_{time.monotonic_ns()}"
    drop = _tables(dsn, first, second)
    errors: list[BaseException] = []
    a, b = _connect(driver, dsn), _connect(driver, dsn)
    try:
        _run(a, f"lock table {first} in access exclusive mode")
        _run(b, f"lock table {second} in access exclusive mode")

        def b_asks_for_first() -> None:
            try:
                _run(b, f"lock table {first} in access exclusive mode")
            except DRIVER_ERRORS as exc:
                errors.append(exc)

        waiting = threading.Thread(target=b_asks_for_first)
        waiting.start()
        time.sleep(0.3)
        try:
            _run(a, f"lock table {second} in access exclusive mode")
        except DRIVER_ERRORS as exc:
            errors.append(exc)
        a.rollback()
        waiting.join(timeout=30)
        b.rollback()
    finally:
        a.close()
        b.close()
        drop()
    assert len(errors) == 1, errors  # one of the two was stopped, the other went on
    raise errors[0]


def _serialization_failure(driver: str, dsn: str) -> None:
    """Two serializable transactions, each writing what the other read."""
    table = f"serial_{time.monotonic_ns()}"
    drop = _tables(dsn, table)
    a, b = _connect(driver, dsn), _connect(driver, dsn)
    try:
        for con in (a, b):
            _run(con, "set transaction isolation level serializable")
            _run(con, f"select sum(v) from {table}")
        _run(a, f"update {table} set v = 1 where k = 1")
        _run(b, f"update {table} set v = 1 where k = 2")
        a.commit()
        b.commit()
    finally:
        a.close()
        b.close()
        drop()


LOST = "the connection to the database failed"
CASES = {
    "deadlock": (_deadlock, "two database sessions deadlocked and one was stopped"),
    "serialization failure": (
        _serialization_failure,
        "a concurrent transaction conflicted with this one",
    ),
    "statement timeout": (
        _statement_timeout,
        "a statement ran past the database's statement_timeout",
    ),
    "canceled": (
        _by_another_session("select pg_cancel_backend(%s)"),
        "the statement was canceled on the database",
    ),
    "terminated": (
        _by_another_session("select pg_terminate_backend(%s)"),
        "the database ended the session (an administrator)",
    ),
    "idle in transaction": (_idle_in_transaction, "the database ended an idle transaction"),
}
# psycopg2 tells of a session the server ended in words of its own, not the server's
PSYCOPG2_SAYS = {"terminated": LOST, "idle in transaction": LOST}


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
@pytest.mark.parametrize("case", list(CASES))
def test_postgresql_ending_a_statement_or_session_blames_no_data(
    postgres_dsn: str, case: str, driver: str
) -> None:
    provoke, cause = CASES[case]
    with pytest.raises(DRIVER_ERRORS) as raised:
        provoke(driver, postgres_dsn)
    # as a failed node's message carries it (dbt.py's _failure_message)
    message = f"Database Error in model fct_payments\n  {without_values(str(raised.value))}"
    expected = PSYCOPG2_SAYS.get(case, cause) if driver == "psycopg2" else cause
    assert infrastructure_cause(message) == expected, message
