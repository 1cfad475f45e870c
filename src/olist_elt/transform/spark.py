"""The in-process Spark session the `spark` target's dbt (method: session) runs on.

dbt-spark's session method calls `SparkSession.builder.getOrCreate()`, so the session
made here, with the lake as its warehouse folder and the PII key's pads in its conf, is
the one dbt uses. The pads are read by the masking macros as `${spark.olist.pii_ipad}`
when Spark parses the statement; they never appear in compiled SQL or dbt artifacts.
The standalone cluster (`transform/spark_cluster.py`) runs with the same settings
(`spark_conf`) and gets the pads from a conf file only its owner can read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from olist_elt.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark keeps only `spark.*` keys from a conf file or `--conf`, so the pads are
# `spark.` keys. (Not redacted: Spark's redaction also rewrites `${...}` substitution,
# which would hash every key with the text "*********(redacted)". The UI that would
# list them is off.)
IPAD_CONF = "spark.olist.pii_ipad"
OPAD_CONF = "spark.olist.pii_opad"


def spark_warehouse_dir(settings: Settings) -> str:
    """Where Spark writes the bronze and silver parquet tables: inside the lake."""
    return str(settings.lake_dir / "spark")


def engine_conf(settings: Settings) -> dict[str, str]:
    """Spark settings of every olist-elt Spark wherever its tables live: the session,
    the loopback cluster and docker-compose's Thrift Server (`spark pads` writes them
    into its conf file)."""
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.sources.default": "parquet",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # A Thrift Server logs each statement after `${...}` substitution at INFO.
        "spark.log.level": "WARN",
    }


def spark_conf(settings: Settings) -> dict[str, str]:
    """The engine settings with the tables and their metastore in the lake folder."""
    warehouse = spark_warehouse_dir(settings)
    metastore = f"{warehouse}/_metastore"
    return {
        **engine_conf(settings),
        "spark.sql.warehouse.dir": warehouse,
        # A Derby metastore kept with the tables, so a later run (or `--select
        # silver`) finds bronze. Embedded Derby admits one JVM at a time: the
        # session and the loopback cluster take turns on a lake.
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore}/db;create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={metastore}",
    }


def with_java_options(
    conf: dict[str, str], options: str, executors: bool = False
) -> dict[str, str]:
    """conf with JVM options added to the driver's (after the metastore's) and, for a
    cluster, set as its executors'; empty options leave the JVM's defaults."""
    options = options.strip()
    if not options:
        return conf
    added = {"spark.driver.extraJavaOptions": f"{conf['spark.driver.extraJavaOptions']} {options}"}
    if executors:
        added["spark.executor.extraJavaOptions"] = options
    return {**conf, **added}


def pads_conf(settings: Settings) -> dict[str, str]:
    """The PII key's HMAC pads as Spark settings (hex): for a conf file of mode 600."""
    from olist_elt.transform.duckdb_plugin import pii_pads

    ipad, opad = pii_pads(settings)
    return {IPAD_CONF: ipad.hex(), OPAD_CONF: opad.hex()}


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, created so from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def write_conf_file(path: Path, conf: dict[str, str]) -> None:
    """A spark-defaults.conf style properties file, mode 600."""
    write_private(path, "".join(f"{key} {value}\n" for key, value in conf.items()))


def spark_session(settings: Settings) -> SparkSession:
    """Start (or reuse) the local Spark session, with the pads for pseudonymization."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", "python3")
    builder = SparkSession.builder.appName("olist-elt").master(settings.spark_master)
    builder = builder.config("spark.driver.memory", settings.spark_driver_memory)
    # the driver's JVM options are read when pyspark starts its JVM, in getOrCreate
    conf = with_java_options(spark_conf(settings), settings.spark_session_java_options)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for key, value in pads_conf(settings).items():
        spark.conf.set(key, value)
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
