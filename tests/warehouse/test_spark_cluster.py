"""The spark_thrift target on a real cluster: `spark up` starts a standalone master, a
worker and the Thrift Server from the installed pyspark; the pipeline builds bronze and
silver there over thrift (the same rows and values as DuckDB), gold on PostgreSQL; the
pads reach Spark through a private conf file only; `spark down` leaves no process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from olist_elt.cli import app
from olist_elt.errors import InfrastructureFailed, SettingsError
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.storage import LocalStorage
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.security.erasure import erase_person
from olist_elt.settings import Settings, load_settings
from olist_elt.targets import target_for
from olist_elt.transform.duckdb_plugin import pii_pads
from olist_elt.transform.parity import compare_layer
from olist_elt.transform.spark import (
    attach_spark_layers,
    spark_conf,
    spark_tables,
    spark_warehouse_dir,
)
from olist_elt.transform.spark_cluster import (
    ClusterState,
    SparkClusterError,
    cluster_conf,
    cluster_dir,
    group_members,
    start_cluster,
    stop_cluster,
)
from olist_elt.warehouse.postgres import gold_row_counts, login
from tests.conftest import _free_port, build_tables, copy_workspace, pg_workspace
from tests.security.test_erasure import (
    GOLD_TOTALS,
    _a_reviewing_person,
    _files_holding,
    columns_holding,
)
from tests.test_gates import _batch, _land_elsewhere, _new_order, _set

Runs = tuple[Settings, ClusterState, RunSummary, RunSummary]


@pytest.fixture(scope="module")
def cluster_runs(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_dsn: str,
    sample_dir: Path,
    built: tuple[Settings, RunSummary],
) -> Iterator[Runs]:
    """The sample through the local target (a copy of the shared run's workspace), then
    the same raw zone through spark_thrift on a one-worker cluster (small memory, free
    loopback ports)."""
    root = tmp_path_factory.mktemp("spark-cluster") / "ws"
    copy_workspace(built[0], root)
    local = built[1]
    with pg_workspace(
        root,
        postgres_dsn,
        spark_port=_free_port(),
        spark_master_port=_free_port(),
        spark_workers=1,
        spark_worker_cores=2,
        spark_worker_memory="1g",
        spark_driver_memory="1g",
    ) as settings:
        thrift_settings = settings.model_copy(update={"target": "spark_thrift"})
        try:
            state = start_cluster(thrift_settings)
            thrift = run_pipeline(thrift_settings, sample_dir)
            yield thrift_settings, state, local, thrift
        finally:
            stop_cluster(thrift_settings)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.slow
def test_thrift_target_builds_bronze_and_silver_on_the_cluster_and_gold_on_postgres(
    cluster_runs: Runs,
) -> None:
    settings, _, local, thrift = cluster_runs
    assert thrift.outcome == "success"
    names = [s.name for s in thrift.steps]
    assert names.index("spark thrift server") < names.index("dbt build bronze")
    assert "spark session" not in names
    assert names.index("publish silver") < names.index("dbt build gold")
    assert thrift.reconciliation["passed"]
    for layer in ("bronze", "silver"):
        assert spark_tables(settings, layer) == build_tables(settings, layer)
        assert thrift.layer_rows[layer] == local.layer_rows[layer]
        assert thrift.gates[layer]["passed"] > 0 and not thrift.gates[layer]["failed"]
    assert gold_row_counts(login(settings, "loader")) == local.layer_rows["gold"]


@pytest.mark.slow
def test_cluster_and_duckdb_build_the_same_silver(cluster_runs: Runs) -> None:
    settings = cluster_runs[0]
    tables = build_tables(settings, "silver")
    assert tables
    fingerprints = compare_layer(
        settings.build_database, spark_warehouse_dir(settings), "silver", tables
    )
    differ = {t: pair for t, pair in fingerprints.items() if pair[0] != pair[1]}
    assert not differ, differ
    assert all(duck.rows > 0 for duck, _ in fingerprints.values())


@pytest.mark.slow
def test_pads_reach_the_cluster_through_a_private_file_only(cluster_runs: Runs) -> None:
    settings, state, _, _ = cluster_runs
    pads = [p.hex().encode() for p in pii_pads(settings)]
    conf = cluster_dir(settings) / "conf" / "spark-defaults.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    assert all(pad in conf.read_bytes() for pad in pads)
    pids = [pid for proc in state.processes for pid in group_members(proc.pid)]
    assert len(pids) >= len(state.processes)
    for pid in pids:
        assert not any(pad in _cmdline(pid) for pad in pads), "a pad on a command line"
    for log in (cluster_dir(settings) / "logs").iterdir():
        assert not any(pad in log.read_bytes() for pad in pads), f"a pad in {log.name}"


@pytest.mark.slow
def test_every_cluster_jvm_runs_with_the_java_options_of_the_settings(cluster_runs: Runs) -> None:
    """The master, the worker, the Thrift Server and its executor: each JVM's command
    line holds spark_cluster_java_options (the client compiler, the serial collector)."""
    settings, state, _, _ = cluster_runs
    options = settings.spark_cluster_java_options.split()
    assert "-XX:TieredStopAtLevel=1" in options
    assert "-XX:ReservedCodeCacheSize=240m" in options  # the client compiler's is 48 MiB
    jvms = {}
    for proc in state.processes:
        for pid in group_members(proc.pid):
            argv = _cmdline(pid).split(b"\0")
            if argv[0].endswith(b"/java"):
                jvms[pid] = [a.decode() for a in argv]
    # master, worker, Thrift Server and an executor (which the worker started)
    for role in ("Master", "Worker", "HiveThriftServer2", "CoarseGrainedExecutorBackend"):
        assert any(any(a.endswith(role) for a in argv) for argv in jvms.values()), role
    for argv in jvms.values():
        assert all(option in argv for option in options), argv


@pytest.mark.slow
def test_a_later_run_on_the_cluster_takes_a_new_order_and_rejects_a_bad_object(
    cluster_runs: Runs, sample_dir: Path, tmp_path: Path
) -> None:
    """Incremental runs and rejection by cause on the cluster, as on DuckDB: another
    deployment lands a good new order and an orders file with a null key; the run
    finds the bad object among the two, rejects it, and gold on PostgreSQL gains the
    one order."""
    settings, _, _, first = cluster_runs
    before = gold_row_counts(login(settings, "loader"))
    good = _batch(sample_dir, "orders", tmp_path / "good", _new_order)
    bad = _batch(sample_dir, "orders", tmp_path / "bad", lambda r: _set(r, 3, order_id=""))
    for i, folder in enumerate((good, bad)):
        _land_elsewhere(settings, folder, f"cluster-landed-{i}")

    summary = run_pipeline(settings, sample_dir)

    assert summary.outcome == "success"
    [rejected] = summary.rejected
    records = Manifest(LocalStorage(settings.lake_dir)).records("olist")
    assert {r.run_id for r in records if r.sha256 == rejected["sha256"]} == {"cluster-landed-1"}
    assert any(r.run_id == "cluster-landed-0" and r.status == "accepted" for r in records)
    assert summary.layer_rows["silver"]["silver_orders"] == (
        first.layer_rows["silver"]["silver_orders"] + 1
    )
    after = gold_row_counts(login(settings, "loader"))
    assert after["fct_orders"] == before["fct_orders"] + 1
    assert summary.reconciliation["passed"]


def _spark_columns_holding(settings: Settings, values: set[str]) -> list[str]:
    """Every text column of the cluster's bronze and silver tables holding a value."""
    con = duckdb.connect()
    try:
        attach_spark_layers(con, settings, ("bronze", "silver"))
        return columns_holding(con, values)
    finally:
        con.close()


def _postgres_columns_holding(settings: Settings, values: set[str]) -> list[str]:
    """Every text column of silver and gold on PostgreSQL holding a value."""
    with login(settings, "loader").connect() as con:
        columns = con.execute(
            "select c.table_schema, c.table_name, c.column_name "
            "from information_schema.columns c join information_schema.tables t "
            "using (table_schema, table_name) "
            "where c.data_type in ('text', 'character varying') "
            "and t.table_type = 'BASE TABLE' and c.table_schema in ('silver', 'gold')"
        ).fetchall()
        return [
            f"{schema}.{table}.{column}"
            for schema, table, column in columns
            if con.execute(
                f'select count(*) from "{schema}"."{table}" where "{column}" = any(%s)',
                [sorted(values)],
            ).fetchone()[0]
        ]


def _postgres_gold_totals(settings: Settings) -> tuple:
    with login(settings, "loader").connect() as con:
        return con.execute(GOLD_TOTALS).fetchone()


@pytest.mark.slow
def test_an_erasure_leaves_the_person_in_no_table_on_the_cluster_or_postgres(
    cluster_runs: Runs, sample_dir: Path
) -> None:
    """Erasure as on DuckDB: after `erase` and a run on the cluster, the person is in no
    file of the lake (raw, Spark's tables, the cluster's logs), no bronze or silver table
    Spark wrote, no PostgreSQL table; gold's totals hold (the orders stay, as the
    anonymous member's)."""
    settings, _, _, _ = cluster_runs
    person, customer_ids, _, texts = _a_reviewing_person(sample_dir)
    needles = {person, *customer_ids, *texts}
    assert _spark_columns_holding(settings, needles)  # bronze holds them first
    before = _postgres_gold_totals(settings)

    erase_person(settings, person, "dpo@test")
    summary = run_pipeline(settings, ingest_inputs=False)

    assert summary.outcome == "success", summary.error
    assert summary.full_refresh
    assert _files_holding(settings.lake_dir, needles) == []  # raw, parquet, logs
    assert _spark_columns_holding(settings, needles) == []
    assert _postgres_columns_holding(settings, needles) == []
    assert _postgres_gold_totals(settings) == before


@pytest.mark.slow
def test_spark_down_stops_every_process_the_cluster_started(cluster_runs: Runs) -> None:
    settings, state, _, _ = cluster_runs
    # The worker's executors run in the worker's process group.
    assert len(group_members(state.processes[1].pid)) >= 2
    stopped = stop_cluster(settings)
    assert stopped == ["thrift", "worker-1", "master"]
    assert all(not group_members(proc.pid) for proc in state.processes)
    assert not (cluster_dir(settings) / "cluster.json").exists()


def test_cluster_java_options_reach_its_driver_and_executors_and_not_the_session(
    workspace: Settings,
) -> None:
    options = Settings.model_fields["spark_cluster_java_options"].default
    assert options == "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=240m"
    workspace = workspace.model_copy(update={"spark_cluster_java_options": options})
    conf = cluster_conf(workspace)
    assert conf["spark.executor.extraJavaOptions"] == options
    assert conf["spark.driver.extraJavaOptions"].endswith(" " + options)
    assert conf["spark.driver.extraJavaOptions"].startswith("-Dderby.system.home=")
    session = spark_conf(workspace)  # the in-process session keeps the JVM's defaults
    assert "spark.executor.extraJavaOptions" not in session
    assert " " not in session["spark.driver.extraJavaOptions"]
    bare = cluster_conf(workspace.model_copy(update={"spark_cluster_java_options": ""}))
    assert bare == session
    # the session's own options (test_spark checks its JVM) never reach the cluster
    own = workspace.model_copy(update={"spark_session_java_options": "-XX:+UseParallelGC"})
    assert cluster_conf(own) == conf
    taken = "-XX:+UseG1GC -Dfoo=bar -Xlog:gc*:file=/tmp/gc-%p.log -XX:MaxMetaspaceSize=256m"
    for field in ("spark_cluster_java_options", "spark_session_java_options"):
        for bad in ("-Xss4m; touch /tmp/x", "-Xss4m\n-Dx=1", "-Xmx8g", "-Dspark.ui.enabled=true"):
            with pytest.raises(SettingsError, match=f"OLIST_{field.upper()}"):
                load_settings(**{field: bad})
        assert getattr(load_settings(**{field: taken}), field) == taken


def test_thrift_target_without_a_server_tells_the_operator_to_start_one(
    workspace: Settings,
) -> None:
    settings = workspace.model_copy(update={"target": "spark_thrift", "spark_port": _free_port()})
    target = target_for(settings)
    with pytest.raises(SparkClusterError, match="olist-elt spark up"):
        target.start()


def test_a_thrift_server_gone_when_dbt_connects_is_an_infrastructure_failure(
    workspace: Settings,
) -> None:
    """The server the run checked at its start stops answering before a build connects:
    dbt-spark's 'failed to connect' is the engine's failure, never a failed build that
    would send the run looking for a bad raw object."""
    settings = workspace.model_copy(update={"target": "spark_thrift", "spark_port": _free_port()})
    with pytest.raises(InfrastructureFailed, match="the Spark Thrift Server does not answer"):
        target_for(settings).lake_dbt.run("run", "--select", "bronze_olist__orders")


def test_spark_status_and_down_without_a_cluster_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLIST_HOME", str(tmp_path))
    monkeypatch.setenv("OLIST_SPARK_PORT", str(_free_port()))
    status = CliRunner().invoke(app, ["spark", "status"])
    assert status.exit_code == 1
    assert "no answer" in status.output
    down = CliRunner().invoke(app, ["spark", "down"])
    assert down.exit_code == 0
    assert "no spark cluster was running" in down.output
