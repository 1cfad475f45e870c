"""The in-process Spark session the `spark` target's dbt (method: session) runs on.

dbt-spark's session method calls `SparkSession.builder.getOrCreate()`, so the session
made here, with the lake as its warehouse folder and the PII key's pads in its conf, is
the one dbt uses. The pads are read by the masking macros as `${olist.pii_ipad}` at
parse time; they never appear in compiled SQL or dbt artifacts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from olist_elt.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

IPAD_CONF = "olist.pii_ipad"
OPAD_CONF = "olist.pii_opad"


def spark_warehouse_dir(settings: Settings) -> str:
    """Where Spark writes the bronze and silver parquet tables: inside the lake."""
    return str(settings.lake_dir / "spark")


def spark_session(settings: Settings) -> SparkSession:
    """Start (or reuse) the local Spark session, with the pads for pseudonymization."""
    from pyspark.sql import SparkSession

    from olist_elt.transform.duckdb_plugin import pii_pads

    os.environ.setdefault("PYSPARK_PYTHON", "python3")
    warehouse = spark_warehouse_dir(settings)
    metastore = f"{warehouse}/_metastore"
    spark = (
        SparkSession.builder.appName("olist-elt")
        .master(settings.spark_master)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.warehouse.dir", warehouse)
        # A Derby metastore kept with the tables, so a later run (or `--select
        # silver`) finds bronze; the Thrift Server of docker-compose has its own.
        .config("spark.sql.catalogImplementation", "hive")
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={metastore}/db;create=true",
        )
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={metastore}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.sql.sources.default", "parquet")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    ipad, opad = pii_pads(settings.vault_path, settings.vault_key_file, settings.audit_path)
    spark.conf.set(IPAD_CONF, ipad.hex())
    spark.conf.set(OPAD_CONF, opad.hex())
    return spark


def stop_spark() -> None:
    """Stop the active session, if any (frees the JVM's memory between runs)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def spark_tables(settings: Settings, schema: str) -> list[str]:
    """Tables the spark target wrote for a schema (folders holding parquet)."""
    base = settings.lake_dir / "spark" / f"{schema}.db"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and any(p.glob("*.parquet")))


def attach_spark_layers(con: object, settings: Settings, schemas: tuple[str, ...]) -> None:
    """Views in a DuckDB connection over the spark target's parquet tables, so the
    same Soda contracts, row counts and silver publication read them."""
    from olist_elt.transform.parity import spark_table_relation

    warehouse = spark_warehouse_dir(settings)
    for schema in schemas:
        con.execute(f'create schema if not exists "{schema}"')  # type: ignore[attr-defined]
        for table in spark_tables(settings, schema):
            con.execute(  # type: ignore[attr-defined]
                f'create or replace view "{schema}"."{table}" as select * from '
                f"{spark_table_relation(warehouse, schema, table)}"
            )
