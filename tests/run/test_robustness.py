"""No BI reader, killed run, second run or locked file can stall the pipeline or make
it blame the data: infrastructure errors reject nothing, one run at a time, a killed
run shows as interrupted and its leftovers go."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from olist_elt.cli import _common as cli_common
from olist_elt.cli import app
from olist_elt.errors import PipelineFailed
from olist_elt.lake.manifest import Manifest, manifest_key
from olist_elt.lake.storage import LocalStorage
from olist_elt.ops.alerts import advice_for
from olist_elt.run.inputs import ingest_olist
from olist_elt.run.lock import RunLocked, run_lock
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings
from tests.conftest import workspace_env
from tests.test_gates import _batch, _new_order, _set

pytestmark = pytest.mark.slow


@pytest.fixture()
def served(built_copy: Settings) -> Settings:
    """A copy of the shared run's workspace for one test: one good run behind it."""
    return built_copy


def _last_run(runs: Path) -> dict:
    """The run record written last. Not the last by name: a run id starts with its
    second, and two quick runs in one second sort by their random suffix."""
    return json.loads(max(runs.glob("2*.json"), key=lambda p: p.stat().st_mtime_ns).read_text())


def _statuses(settings: Settings) -> dict[str, str]:
    return {r.run_id: r.status for r in Manifest(LocalStorage(settings.lake_dir)).records()}


READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    count = "select count(*) from gold.fct_orders"
    print(con.execute(count).fetchone()[0], flush=True)
    sys.stdin.readline()  # the run happens meanwhile
    print(con.execute(count).fetchone()[0], flush=True)
    """
)


def _while_a_reader_holds(
    served: Settings, action: Callable[[], RunSummary]
) -> tuple[int, int, RunSummary]:
    """Run action while another process holds the served file open (READER): the
    fct_orders count that reader saw before, the count it sees afterwards through the
    same connection, and what action returned."""
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(served.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdin is not None
        before = int(reader.stdout.readline())
        result = action()
        reader.stdin.write("go\n")
        reader.stdin.flush()
        kept = int(reader.stdout.readline())
    finally:
        reader.kill()
        reader.wait()
    return before, kept, result


def test_a_bi_reader_holding_the_duckdb_file_neither_blocks_a_run_nor_loses_its_view(
    served: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    def new_order_run() -> RunSummary:
        ingest_olist(served, _batch(sample_dir, "orders", tmp_path, _new_order), "landed")
        return run_pipeline(served, sample_dir)

    before, kept, summary = _while_a_reader_holds(served, new_order_run)
    con = duckdb.connect(str(served.warehouse_path), read_only=True)
    try:
        fresh = con.execute("select count(*) from gold.fct_orders").fetchone()[0]
    finally:
        con.close()
    assert summary.outcome == "success" and summary.rejected == []
    assert "rejected" not in _statuses(served).values()
    assert kept == before  # the open connection keeps the star schema it opened
    assert fresh == before + 1  # a new connection (another process) sees the new one


def test_a_bi_reader_holding_the_duckdb_file_does_not_stop_a_run_with_nothing_new(
    served: Settings, sample_dir: Path
) -> None:
    # the run checks the file the reader holds
    before, kept, summary = _while_a_reader_holds(served, lambda: run_pipeline(served, sample_dir))
    assert summary.outcome == "success" and summary.skipped_build, summary.served_repairs
    assert summary.served_repairs == [] and kept == before


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])  # read-write: DuckDB lets nobody else in
    print("holding", flush=True)
    sys.stdin.readline()
    """
)


def test_a_lock_held_on_the_build_database_fails_the_run_and_blames_no_data(
    served: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    ingest_olist(served, _batch(sample_dir, "orders", tmp_path, _new_order), "landed")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(served.build_database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(PipelineFailed, match="another process holds the build database"):
            run_pipeline(served, sample_dir)
    finally:
        holder.kill()
        holder.wait()
    assert _statuses(served)["landed"] == "accepted"  # nothing rejected
    runs = sorted((served.lake_dir / "runs").glob("2*.json"))
    failed = json.loads(runs[-1].read_text())
    assert failed["error_class"] == "InfrastructureFailed" and failed["rejected"] == []
    # the alert's advice is the failure's, not the failing step's ("fix the data or
    # the model" for a dbt build)
    advice = advice_for(failed["failing_kind"], failed["error_class"])
    assert "nothing was rejected" in advice and advice != advice_for(failed["failing_kind"])
    summary = run_pipeline(served, sample_dir)  # the holder gone: the batch goes through
    assert summary.outcome == "success" and summary.rejected == []


def test_a_gold_build_that_fails_once_and_not_again_blames_no_data(
    served: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One new orders object, and gold's build fails once with words no sign names (an
    engine's internal error, a hiccup): the trial without the object passes, and so
    does the trial with it. The failure did not come back, so the object is not
    blamed: the run fails, nothing is rejected, and the next run, a full rebuild (the
    failing build was incremental), takes the order. (A trial without the object used
    to be the only one: it was rejected.)"""
    from olist_elt.errors import DbtStepFailed
    from olist_elt.targets.base import Target

    [good_run] = sorted((served.lake_dir / "runs").glob("2*.json"))
    served_orders = json.loads(good_run.read_text())["layer_rows"]["gold"]["fct_orders"]
    ingest_olist(served, _batch(sample_dir, "orders", tmp_path, _new_order), "landed")
    real_build = Target.build
    failed_builds: list[str] = []

    def fails_once(self: Target, layer: str, full_refresh: bool = False):
        result = real_build(self, layer, full_refresh)
        if layer == "gold" and not failed_builds:
            failed_builds.append(layer)
            raise DbtStepFailed(
                "dbt build --select gold failed\n  - model.olist_elt.fct_orders: error: "
                "INTERNAL Error: Attempted to access index 3 within vector of size 3",
                ("model.olist_elt.fct_orders",),
            )
        return result

    monkeypatch.setattr(Target, "build", fails_once)
    with pytest.raises(PipelineFailed, match="INTERNAL Error"):
        run_pipeline(served, sample_dir)
    assert failed_builds == ["gold"]
    assert _statuses(served)["landed"] == "accepted"
    failed = _last_run(served.lake_dir / "runs")
    assert failed["rejected"] == [] and failed["failing_step"] == "dbt build gold"
    summary = run_pipeline(served, sample_dir)
    assert summary.outcome == "success" and summary.rejected == []
    assert summary.layer_rows["gold"]["fct_orders"] == served_orders + 1
    # the failing build was incremental: the next one rebuilt from all of raw
    assert "did not come back in a full one" in (summary.full_refresh or ""), summary


def test_a_vault_that_stops_answering_mid_run_fails_it_and_blames_no_data(
    served: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PII key is read again by dbt's DuckDB plugin when a build opens its
    connection: Vault going down after ingest fails the run there as the vault's
    failure, with no trial build and nothing rejected (it used to be a failed dbt
    build, which sent the run looking for a bad raw object)."""
    import olist_elt.transform.duckdb_plugin as plugin
    from olist_elt.security.exceptions import VaultUnavailable

    ingest_olist(served, _batch(sample_dir, "orders", tmp_path, _new_order), "landed")

    def vault_down(settings: Settings) -> tuple[bytes, bytes]:
        raise VaultUnavailable("HashiCorp Vault read of pii_key failed: ConnectionError")

    monkeypatch.setattr(plugin, "pii_pads", vault_down)
    with pytest.raises(PipelineFailed, match="HashiCorp Vault read of pii_key failed"):
        run_pipeline(served, sample_dir)
    failed = _last_run(served.lake_dir / "runs")
    assert failed["error_class"] == "VaultUnavailable", failed["error"]
    assert failed["failing_step"] == "dbt build bronze" and failed["rejected"] == []
    assert [s["name"] for s in failed["steps"] if s["outcome"] == "failed"] == ["dbt build bronze"]
    assert _statuses(served)["landed"] == "accepted"
    assert "no data was blamed" in advice_for(failed["failing_kind"], failed["error_class"])


def test_a_raw_object_changed_outside_olist_elt_fails_the_run_and_blames_no_data(
    served: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file another process landed, deleted or rewritten in the lake before a run
    builds it: the run reads it back first and fails as RawObjectsChanged, audited,
    with no build and nothing rejected (the run used to reject it as a bad batch, after
    trial builds). An object a good run built, gone when a full refresh reads it
    again, fails the build as the lake's failure, not the data's."""
    ingest_olist(served, _batch(sample_dir, "orders", tmp_path, _new_order), "landed")
    [landed] = [
        r for r in Manifest(LocalStorage(served.lake_dir)).records() if r.run_id == "landed"
    ]
    path = served.lake_dir / landed.object_key
    original = path.read_bytes()
    runs = served.lake_dir / "runs"

    def failed_run(match: str) -> dict:
        with pytest.raises(PipelineFailed, match=match):
            run_pipeline(served, sample_dir)
        return _last_run(runs)

    path.unlink()
    missing = failed_run(f"{landed.object_key}: missing")
    path.write_bytes(original.replace(b'"shipped"', b'"delivered"', 1))  # valid, not as landed
    altered = failed_run(f"{landed.object_key}: altered")
    for failed in (missing, altered):
        assert failed["error_class"] == "RawObjectsChanged", failed["error"]
        assert failed["failing_step"] == "verify raw objects" and failed["rejected"] == []
        assert not any(s["name"].startswith(("dbt build", "find bad")) for s in failed["steps"])
        assert "only registered connectors" in advice_for(
            failed["failing_kind"], failed["error_class"]
        )
    assert _statuses(served)["landed"] == "accepted"
    verified = [r for r in AuditLog(served.audit_path).records() if r["action"] == "raw.verify"]
    assert [(r["object"], r["outcome"]) for r in verified] == [
        (landed.object_key, "missing"),
        (landed.object_key, "altered"),
    ]
    # compliance's check names it too, and is audited (on consoles wide enough for
    # a whole object key on one line)
    for printer in (cli_common.out, cli_common.console):
        monkeypatch.setattr(printer, "width", 300)
    alerts = tmp_path / "alerts.jsonl"
    env = {"OLIST_LAKE_DIR": str(served.lake_dir), "OLIST_ALERT_FILE": str(alerts)}
    checked = CliRunner().invoke(app, ["raw", "verify"], env=env)
    assert checked.exit_code == 1 and f"{landed.object_key}: altered" in checked.output
    [alert] = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert alert["event"] == "raw_changed" and landed.object_key in alert["message"]
    assert alert["subject"].startswith("[olist-elt] raw objects changed outside olist-elt")
    path.write_bytes(original)  # restored: the run builds it
    summary = run_pipeline(served, sample_dir)
    assert summary.outcome == "success" and summary.rejected == []
    assert [s.rows for s in summary.steps if s.name == "verify raw objects"] == [1]
    checked = CliRunner().invoke(app, ["raw", "verify"], env=env)
    assert checked.exit_code == 0 and "raw zone OK" in checked.output, checked.output
    assert len(alerts.read_text().splitlines()) == 1  # no alert when all is as ingested
    outcomes = [r["outcome"] for r in AuditLog(served.audit_path).records() if r["object"] == "raw"]
    assert outcomes == ["failed", "ok"]  # each check audited
    # an object the good runs built, rewritten, then read again by a full refresh (the
    # batch given as the source does not deliver it again): read back first
    [sellers] = [
        r for r in Manifest(LocalStorage(served.lake_dir)).records() if r.dataset == "sellers"
    ]
    kept = served.lake_dir / sellers.object_key
    built_bytes = kept.read_bytes()
    kept.write_bytes(built_bytes + b"\n")
    batch = _batch(sample_dir, "orders", tmp_path / "again", _new_order)
    with pytest.raises(PipelineFailed, match=f"{sellers.object_key}: altered"):
        run_pipeline(served, batch, full_refresh=True)
    failed = _last_run(runs)
    assert failed["failing_step"] == "verify raw objects" and failed["rejected"] == []
    # deleted after that read-back, as the build starts (a race): the build's own
    # error is the lake's failure, not the data's
    kept.write_bytes(built_bytes)

    def delete_at_bronze(step: str) -> None:
        if step == "dbt build bronze":
            kept.unlink()

    with pytest.raises(PipelineFailed, match="missing from the lake"):
        run_pipeline(served, batch, full_refresh=True, on_step=delete_at_bronze)
    failed = _last_run(runs)
    # a full refresh read back every object it reads again (all accepted, below; the
    # batch was landed by the run before, none by this one)
    assert [s["rows"] for s in failed["steps"] if s["name"] == "verify raw objects"] == [
        len(Manifest(LocalStorage(served.lake_dir)).records())
    ]
    assert failed["error_class"] == "InfrastructureFailed", failed["error"]
    assert failed["failing_step"] == "dbt build bronze" and failed["rejected"] == []
    assert not any(s["name"] == "find bad raw objects" for s in failed["steps"])
    assert set(_statuses(served).values()) == {"accepted"}


LOCKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from olist_elt.run.lock import run_lock
    from olist_elt.settings import load_settings
    with run_lock(load_settings(lake_dir=Path(sys.argv[1])), "someone-else"):
        print("locked", flush=True)
        sys.stdin.readline()
    """
)


def test_one_run_at_a_time_per_lake(served: Settings, sample_dir: Path) -> None:
    runs_before = sorted((served.lake_dir / "runs").glob("2*.json"))
    other = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(served.lake_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked) as refused:
            run_pipeline(served, sample_dir)
    finally:
        other.kill()
        other.wait()
    message = str(refused.value)
    assert "someone-else" in message and f"pid {other.pid}" in message
    assert sorted((served.lake_dir / "runs").glob("2*.json")) == runs_before
    with run_lock(served, "now-free"):  # the holder gone, the lock is free again
        pass


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from tests.conftest import workspace_settings
    from olist_elt.run.pipeline import run_pipeline
    settings = workspace_settings(Path(sys.argv[2]))

    def kill_at(name):
        if name == sys.argv[3]:
            os.kill(os.getpid(), signal.SIGKILL)

    run_pipeline(settings, Path(sys.argv[4]), on_step=kill_at, force_rebuild=True)
    """
)


def test_a_killed_run_shows_as_interrupted_and_the_next_run_removes_its_leftovers(
    served: Settings, sample_dir: Path
) -> None:
    root = served.lake_dir.parent
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(Path.cwd()), str(root), "gate gold", str(sample_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    [record] = [
        json.loads(p.read_text())
        for p in (served.lake_dir / "runs").glob("2*.json")
        if json.loads(p.read_text())["outcome"] == "running"
    ]
    con = duckdb.connect(str(served.build_database), read_only=True)
    staged = con.execute(
        "select count(*) from information_schema.schemata where schema_name = 'gold_staging'"
    ).fetchone()[0]
    con.close()
    assert staged == 1  # the killed run left gold built but not gated
    # gold's staging schema is the build copy kept between runs (the next run
    # recomputes the orders changed since the last good build, the killed run's too);
    # a table no gold model builds is a leftover and goes
    con = duckdb.connect(str(served.build_database))
    con.execute("create table gold_staging.fct_switched_off as select 1 as order_id")
    con.close()
    # and the new served file a publish killed before its rename leaves (with its WAL)
    served_file = served.warehouse_path
    copies = [
        served_file.with_name(f".{served_file.name}.0badc0de.tmp{end}") for end in ("", ".wal")
    ]
    for copy in copies:
        copy.write_bytes(b"gold, never renamed")
    env = {"OLIST_HOME": str(root), "OLIST_LAKE_DIR": str(served.lake_dir), "COLUMNS": "200"}
    status = CliRunner().invoke(app, ["status"], env=env)
    assert f"{record['run_id']}  local  interrupted" in status.output, status.output

    summary = run_pipeline(served, sample_dir)

    cleanup = next(s for s in summary.steps if s.name == "clean up leftovers")
    assert summary.outcome == "success" and cleanup.rows == 3
    assert not any(copy.exists() for copy in copies)
    con = duckdb.connect(str(served.warehouse_path), read_only=True)
    try:
        outcome = con.execute(
            "select outcome from ops.runs where run_id = ?", [record["run_id"]]
        ).fetchone()[0]
        served_tables = {
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'gold'"
            ).fetchall()
        }
    finally:
        con.close()
    assert outcome == "interrupted"
    assert "fct_switched_off" not in served_tables


def test_what_another_process_lands_or_rejects_while_a_run_builds_is_the_lake_not_the_data(
    served: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """A connector's own deployment lands a file as a run starts its build: the run
    builds from the records it read, the next run takes the file. A `raw reject` as
    the build starts (it goes ahead beside a run) makes the build's failure the lake's:
    nothing is tried or rejected for it."""
    from olist_elt.run import rejection

    batch = _batch(sample_dir, "orders", tmp_path, _new_order)

    def land_at_bronze(step: str) -> None:
        if step == "dbt build bronze":
            ingest_olist(served, batch, "elsewhere")

    summary = run_pipeline(
        served, sample_dir, force_rebuild=True, full_refresh=True, on_step=land_at_bronze
    )

    assert summary.outcome == "success" and summary.rejected == []
    [landed] = [
        r for r in Manifest(LocalStorage(served.lake_dir)).records() if r.run_id == "elsewhere"
    ]
    following = run_pipeline(served, sample_dir)
    assert following.outcome == "success"
    assert following.layer_rows["bronze"]["bronze_olist__orders"] == (
        summary.layer_rows["bronze"]["bronze_olist__orders"] + landed.rows
    )

    [sellers] = [
        r
        for r in Manifest(LocalStorage(served.lake_dir)).records()
        if r.dataset == "sellers" and r.status == "accepted"
    ]

    def reject_at_bronze(step: str) -> None:
        if step == "dbt build bronze":
            rejection.reject(served, [sellers], "by hand", "operator", "by-hand")

    with pytest.raises(PipelineFailed, match="changed under the build"):
        run_pipeline(
            served, sample_dir, force_rebuild=True, full_refresh=True, on_step=reject_at_bronze
        )

    failed = _last_run(served.lake_dir / "runs")
    assert failed["error_class"] == "LakeChangedDuringRun" and failed["rejected"] == []
    assert not any(s["name"].startswith("find bad") for s in failed["steps"])


def test_the_build_after_a_rejection_reads_the_lake_as_the_run_first_read_it(
    served: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """Another deployment's bad orders object fails bronze's gate; while the run looks
    for it, a good orders object lands. The run rejects the bad one and builds again
    from all of raw, but as the run first read it: the good object is the next run's,
    read back first (the build after a rejection used to read the lake anew, and took
    the good object in without reading it back)."""
    bad = _batch(sample_dir, "orders", tmp_path / "bad", lambda r: _set(r, 3, order_id=""))
    good = _batch(sample_dir, "orders", tmp_path / "good", _new_order)
    ingest_olist(served, bad, "landed-bad")

    def land_while_searching(step: str) -> None:
        if step.startswith("find bad"):
            ingest_olist(served, good, "landed-good")

    summary = run_pipeline(served, sample_dir, on_step=land_while_searching)

    assert summary.outcome == "success" and summary.reconciliation["passed"]
    assert [r["object"].split("/")[2] for r in summary.rejected] == ["orders"]
    records = {r.run_id: r for r in Manifest(LocalStorage(served.lake_dir)).records()}
    assert records["landed-bad"].status == "rejected"
    assert records["landed-good"].status == "accepted"
    orders = summary.layer_rows["bronze"]["bronze_olist__orders"]
    following = run_pipeline(served, sample_dir)
    assert following.outcome == "success"
    assert following.layer_rows["bronze"]["bronze_olist__orders"] == (
        orders + records["landed-good"].rows
    )


def test_a_record_deleted_by_hand_fails_the_next_run_as_the_lakes_change(
    served: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sellers object's manifest record deleted outside olist-elt, its bytes left:
    its landing is in the audit trail, so the run names it unrecorded before it
    builds, and so does `olist-elt build`, before bronze. Without the check a run
    builds without the object: silently for a pending one like this; for one already
    built, it failed the reconciliation on the rows the incremental tables kept,
    blaming data. The check reads the trail and the records alone, built or not.
    The trail's landings name their lake's folder, and a copied workspace's trail
    names the folder it was copied from: the object is one landed in this copy (new
    bytes, one seller fewer), so its landing names this lake."""
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    lines = (sample_dir / "olist_sellers_dataset.csv").read_bytes().splitlines(keepends=True)
    (delivery / "olist_sellers_dataset.csv").write_bytes(b"".join(lines[:-1]))
    landed = ingest_olist(served, delivery, "landed-by-hand")
    assert landed.ingested and not landed.quarantined
    storage = LocalStorage(served.lake_dir)
    [sellers] = [r for r in Manifest(storage).records() if r.run_id == "landed-by-hand"]
    assert (served.lake_dir / sellers.object_key).is_file()
    (served.lake_dir / manifest_key(sellers.source, sellers.dataset, sellers.sha256)).unlink()

    with pytest.raises(PipelineFailed, match=f"{sellers.object_key}: landed .* its manifest"):
        # no input (a delivery of the same file would land it again, with a record)
        run_pipeline(served, ingest_inputs=False, force_rebuild=True)

    failed = _last_run(served.lake_dir / "runs")
    assert failed["error_class"] == "RawObjectsChanged" and failed["rejected"] == []
    assert failed["failing_step"] == "verify raw objects"

    for name, value in workspace_env(served).items():
        monkeypatch.setenv(name, value)
    before = hashlib.sha256(served.build_database.read_bytes()).hexdigest()
    refused = CliRunner().invoke(app, ["build", "--layer", "bronze"])
    said = "".join(refused.output.split())  # the console may wrap a long key anywhere
    assert refused.exit_code == 1, refused.output
    assert f"{sellers.object_key}:landed" in said and "itsmanifestrecordisgone" in said
    assert hashlib.sha256(served.build_database.read_bytes()).hexdigest() == before
