"""Run a card's SQL on the served star schema: the local DuckDB file or PostgreSQL
(as the read-only BI role, as Metabase does)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import duckdb
import psycopg

from olist_elt.errors import OlistEltError
from olist_elt.settings import Settings


class CardQueryError(OlistEltError):
    """A card's SQL failed on the served schema. The message is the engine's error
    class (and SQLSTATE) only: an engine's message can quote a row value."""

    def __init__(self, error_class: str, sqlstate: str | None = None) -> None:
        self.error_class = error_class
        self.sqlstate = sqlstate
        super().__init__(f"{error_class} (SQLSTATE {sqlstate})" if sqlstate else error_class)


@dataclass
class CardResult:
    """Columns and rows of one card's query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        """The values of one column (Decimals as floats, for charts)."""
        i = self.columns.index(name)
        return [float(r[i]) if isinstance(r[i], Decimal) else r[i] for r in self.rows]


class Runner(Protocol):
    def __call__(self, sql: str) -> CardResult: ...


@contextmanager
def card_runner(settings: Settings, engine: str) -> Iterator[Runner]:
    """A function that runs card SQL on 'duckdb' (the local file, read-only) or
    'postgres' (the warehouse, as the BI role)."""
    if engine == "duckdb":
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)

        def run_duckdb(sql: str) -> CardResult:
            cur = con.execute(sql)
            return CardResult([d[0] for d in cur.description], cur.fetchall())

        try:
            yield _named(run_duckdb)
        finally:
            con.close()
    elif engine == "postgres":
        from olist_elt.warehouse.postgres import login

        with login(settings, "bi").connect() as pg:
            pg.read_only = True

            def run_postgres(sql: str) -> CardResult:
                # Rolled back whether it worked or not: a failed statement leaves the
                # transaction aborted, and every later card would fail with it.
                try:
                    cur = pg.execute(sql)  # type: ignore[arg-type]
                    rows = cur.fetchall()
                    return CardResult([d.name for d in cur.description or []], rows)
                finally:
                    pg.rollback()

            yield _named(run_postgres)
    else:
        raise OlistEltError(f"unknown engine {engine!r}: duckdb or postgres")


def _named(run: Runner) -> Runner:
    """Errors name the engine's error class, never its message (which can quote a
    value from a row) nor a stack trace."""

    def wrapped(sql: str) -> CardResult:
        try:
            return run(sql)
        except psycopg.Error as exc:
            raise CardQueryError(type(exc).__name__, exc.sqlstate) from None
        except duckdb.Error as exc:
            raise CardQueryError(type(exc).__name__) from None

    return wrapped
