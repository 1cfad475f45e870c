"""The scale-out target: bronze and silver on Spark (parquet in the lake), gold on
PostgreSQL. DuckDB reads the parquet through views for the gates, counts and the
silver publication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from olist_elt.run.steps import Kind, Step
from olist_elt.targets.postgres import PostgresGoldTarget
from olist_elt.transform.spark import attach_spark_layers, spark_session


class SparkTarget(PostgresGoldTarget):
    """dbt-spark in-process (method: session) for the lake layers."""

    name = "spark"
    lake_engine = "spark"
    lake_kinds = ("VIEW",)

    def start(self) -> None:
        spark_session(self.settings)

    def start_step(self) -> Step[Any] | None:
        return Step("spark session", Kind.IO, self.start)

    @contextmanager
    def lake_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect()
        try:
            attach_spark_layers(con, self.settings, ("bronze", "silver", "audit"))
            yield con
        finally:
            con.close()

    def has_lake_build(self) -> bool:
        return (self.settings.lake_dir / "spark").exists()

    def attach_silver(self) -> Callable[[duckdb.DuckDBPyConnection], None] | None:
        return lambda con: attach_spark_layers(con, self.settings, ("silver",))
