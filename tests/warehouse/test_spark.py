"""The spark target: bronze and silver on Spark (session), gold on PostgreSQL, and
parity with the local target (same rows, same values) from the same raw data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.settings import Settings
from olist_elt.transform.dbt import Dbt, compile_inline
from olist_elt.transform.parity import compare_layer
from olist_elt.transform.spark import (
    spark_session,
    spark_tables,
    spark_warehouse_dir,
    stop_spark,
)
from olist_elt.warehouse.postgres import gold_row_counts, login
from tests.conftest import build_tables, copy_workspace, pg_workspace
from tests.test_masking import REDACT, WRITINGS, _assert_redacted

pytestmark = pytest.mark.slow

# JVM options for a short run: the client compiler only (the cluster's default options)
SHORT_RUN_JVM = Settings.model_fields["spark_cluster_java_options"].default


@pytest.fixture(scope="module")
def spark_runs(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_dsn: str,
    sample_dir: Path,
    built: tuple[Settings, RunSummary],
) -> Iterator[tuple[Settings, RunSummary, RunSummary]]:
    """The sample through the local target (a copy of the shared run's workspace), then
    the same raw zone through spark."""
    root = tmp_path_factory.mktemp("spark") / "ws"
    copy_workspace(built[0], root)
    local = built[1]
    with pg_workspace(root, postgres_dsn) as settings:
        # the client compiler: on the suite's small data a JVM's run is mostly its
        # warm-up (README); the test below checks the session's JVM got them
        spark_settings = settings.model_copy(
            update={"target": "spark", "spark_session_java_options": SHORT_RUN_JVM}
        )
        try:
            spark = run_pipeline(spark_settings, sample_dir)
            yield spark_settings, local, spark
        finally:
            stop_spark()


def test_spark_target_runs_bronze_and_silver_on_spark_and_gold_on_postgres(
    spark_runs: tuple[Settings, RunSummary, RunSummary],
) -> None:
    settings, local, spark = spark_runs
    assert spark.outcome == "success"
    names = [s.name for s in spark.steps]
    assert names.index("spark session") < names.index("dbt build bronze")
    assert names[-9:] == [
        "gate silver",
        "connect warehouse",
        "dbt parse warehouse",
        "publish silver",
        "dbt build gold",
        "gate gold",
        "reconcile",
        "publish gold",
        "render dashboards",
    ]
    assert spark.reconciliation["passed"]
    # Bronze and silver are parquet tables in the lake, written by Spark.
    for layer in ("bronze", "silver"):
        assert spark_tables(settings, layer) == build_tables(settings, layer)
        assert spark.layer_rows[layer] == local.layer_rows[layer]
        assert spark.gates[layer]["passed"] > 0 and not spark.gates[layer]["failed"]
    assert gold_row_counts(login(settings, "loader")) == local.layer_rows["gold"]


def test_spark_and_duckdb_build_the_same_silver(
    spark_runs: tuple[Settings, RunSummary, RunSummary],
) -> None:
    """Same rows and values per silver table. (Bronze keeps each reader's text as
    delivered: Spark's CSV reader turns CRLF inside a quoted field into LF, and JSON
    text is kept as written; silver conforms both, so it is compared value by value.)"""
    settings = spark_runs[0]
    layer = "silver"
    tables = build_tables(settings, layer)
    assert tables
    fingerprints = compare_layer(
        settings.build_database, spark_warehouse_dir(settings), layer, tables
    )
    differ = {t: pair for t, pair in fingerprints.items() if pair[0] != pair[1]}
    assert not differ, differ
    assert all(duck.rows > 0 for duck, _ in fingerprints.values())


def test_a_second_spark_run_with_nothing_new_starts_no_spark_and_gates_nothing(
    spark_runs: tuple[Settings, RunSummary, RunSummary], sample_dir: Path
) -> None:
    settings, _, spark = spark_runs

    again = run_pipeline(settings, sample_dir)

    # the parquet lake and the gold on PostgreSQL are as the first run left them
    assert again.outcome == "success" and again.skipped_build, again.served_repairs
    assert spark.run_id in again.skipped_build and again.served_repairs == []
    names = [s.name for s in again.steps]
    assert "spark session" not in names and not any(n.startswith("gate") for n in names)
    assert again.layer_rows == spark.layer_rows


def test_the_sessions_jvm_runs_with_the_session_java_options(
    spark_runs: tuple[Settings, RunSummary, RunSummary],
) -> None:
    """OLIST_SPARK_SESSION_JAVA_OPTIONS reach the driver's JVM (pyspark starts it with
    them), beside the metastore's home."""
    spark = spark_session(spark_runs[0])  # the run's session
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    arguments = [str(a) for a in runtime.getInputArguments()]
    assert set(SHORT_RUN_JVM.split()) <= set(arguments)
    assert any(a.startswith("-Dderby.system.home=") for a in arguments)


def test_redaction_holds_on_spark(spark_runs: tuple[Settings, RunSummary, RunSummary]) -> None:
    """redact_text as dbt compiles it for Spark, run by the session the run built
    silver with, removes every fixed writing of an email, phone, CPF and CNPJ."""
    settings = spark_runs[0]
    spark = spark_session(settings)  # the run's session, before dbt's compile reuses it
    sql = compile_inline(Dbt(settings), REDACT)
    texts = [(f"contato: {value}, obrigado",) for _, value in WRITINGS]
    spark.createDataFrame(texts, ["txt"]).createOrReplaceTempView("input_texts")
    redacted = [row.redacted for row in spark.sql(sql).collect()]
    assert len(redacted) == len(WRITINGS)
    for (kind, value), text in zip(WRITINGS, redacted, strict=True):
        _assert_redacted(kind, value, text)
