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
from olist_elt.transform.spark_cluster import SparkClusterError, port_answers


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


class SparkThriftTarget(SparkTarget):
    """dbt-spark over thrift (method: thrift) on a Spark Thrift Server: the local
    cluster of `olist-elt spark up`, or the user's own at OLIST_SPARK_HOST:PORT. The
    server holds the pads and writes the tables where the lake's readers find them."""

    name = "spark_thrift"
    lake_engine = "spark_thrift"

    def servers(self) -> dict[str, list[Any]]:
        return {**super().servers(), "spark": [self.settings.spark_host, self.settings.spark_port]}

    def start(self) -> None:
        host, port = self.settings.spark_host, self.settings.spark_port
        if not port_answers(host, port):
            raise SparkClusterError(
                f"no Spark Thrift Server answers on {host}:{port}: start one with "
                "`olist-elt spark up`, or set OLIST_SPARK_HOST and OLIST_SPARK_PORT"
            )

    def start_step(self) -> Step[Any] | None:
        return Step("spark thrift server", Kind.IO, self.start)
