"""Lifecycle: only old raw objects move, none is lost, and bronze rebuilds from cold."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from olist_elt.lake.lifecycle import LifecycleError, move_to_cold, run_lifecycle
from olist_elt.lake.manifest import Manifest, manifest_key
from olist_elt.lake.storage import LocalStorage
from olist_elt.run.inputs import ingest_olist
from olist_elt.run.lock import RunLocked
from olist_elt.run.pipeline import run_pipeline
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings
from olist_elt.targets import target_for
from tests.conftest import API_NOW, lake_held_by_another_process, workspace_settings

pytestmark = pytest.mark.slow


def _backdate(settings: Settings, datasets: set[str], days: int) -> None:
    storage = LocalStorage(settings.lake_dir)
    for record in Manifest(storage).records("olist"):
        if record.dataset in datasets:
            key = manifest_key(record.source, record.dataset, record.sha256)
            data = json.loads(storage.read_bytes(key))
            data["ingested_at"] = (API_NOW - timedelta(days=days)).isoformat()
            storage.put_bytes(key, json.dumps(data).encode())


def test_old_objects_move_to_cold_verified_and_bronze_rebuilds_from_cold(
    built_copy: Settings, sample_dir: Path
) -> None:
    settings = built_copy  # one good run behind it
    before = target_for(settings).served_counts()
    old = {"orders", "order_items", "customers"}
    _backdate(settings, old, days=120)
    storage = LocalStorage(settings.lake_dir)
    audit = AuditLog(settings.audit_path)

    moves = move_to_cold(storage, audit, older_than_days=90, now=API_NOW)

    records = Manifest(storage).records("olist")
    assert {m.cold_key.split("/")[3] for m in moves} == old
    for record in records:
        if record.dataset in old:
            assert record.zone == "cold" and record.object_key.startswith("cold/raw/olist/")
            assert storage.sha256(record.object_key) == record.sha256
            assert not storage.exists(record.object_key.removeprefix("cold/"))
        else:
            assert record.zone == "raw" and storage.exists(record.object_key)
    assert len(records) == 9  # nothing lost
    assert move_to_cold(storage, audit, older_than_days=90, now=API_NOW) == []  # idempotent
    moved = [r for r in audit.records() if r["action"] == "lifecycle.move"]
    assert len(moved) == 3 and all(r["actor"] == "svc-lifecycle" for r in moved)

    summary = run_pipeline(settings, sample_dir)  # rebuild from raw + cold
    assert summary.outcome == "success"
    assert target_for(settings).served_counts() == before


def test_a_copy_that_does_not_match_its_sha256_keeps_the_raw_object(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = workspace_settings(tmp_path)
    from olist_elt.run.inputs import ingest_olist

    ingest_olist(settings, sample_dir, "r1")
    _backdate(settings, {"sellers"}, days=400)
    storage = LocalStorage(settings.lake_dir)
    monkeypatch.setattr(storage, "sha256", lambda key: "0" * 64)
    with pytest.raises(LifecycleError, match="raw object was kept"):
        move_to_cold(storage, AuditLog(settings.audit_path), older_than_days=90, now=API_NOW)
    record = next(r for r in Manifest(storage).records() if r.dataset == "sellers")
    assert record.zone == "raw" and storage.exists(record.object_key)
    assert not list(storage.list("cold"))


def test_the_lifecycle_while_a_run_holds_the_lake_is_refused_and_moves_nothing(
    tmp_path: Path, sample_dir: Path
) -> None:
    """A full refresh reads every raw object: the lifecycle does not move one from
    under it. Refused, naming the run; nothing moved."""
    settings = workspace_settings(tmp_path)
    ingest_olist(settings, sample_dir, "test-ingest")
    _backdate(settings, {"orders"}, days=120)
    before = {
        r.sha256: (r.zone, r.object_key)
        for r in Manifest(LocalStorage(settings.lake_dir)).records()
    }

    with (
        lake_held_by_another_process(settings, "the-daily-run"),
        pytest.raises(RunLocked, match="run the-daily-run"),
    ):
        run_lifecycle(settings, older_than_days=90)

    storage = LocalStorage(settings.lake_dir)
    assert {r.sha256: (r.zone, r.object_key) for r in Manifest(storage).records()} == before
    assert all(storage.exists(key) for _, key in before.values())
    assert run_lifecycle(settings, older_than_days=90)  # once the run is over, it moves


def test_older_than_zero_days_means_every_object_not_the_default(
    tmp_path: Path, sample_dir: Path
) -> None:
    """0 is a number of days (every object ingested before now), never 'unset'; a
    negative number is refused on every path (the CLI's option, the flow's parameter)."""
    settings = workspace_settings(tmp_path)
    ingest_olist(settings, sample_dir, "test-ingest")
    with pytest.raises(LifecycleError, match="0 or more"):
        run_lifecycle(settings, older_than_days=-1)

    moves = run_lifecycle(settings, older_than_days=0)

    storage = LocalStorage(settings.lake_dir)
    assert len(moves) == 9
    assert {r.zone for r in Manifest(storage).records("olist")} == {"cold"}


def test_a_rejection_beside_the_lifecycle_keeps_both_the_move_and_the_status(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`raw reject` takes no run lock: one that lands while the lifecycle copies the
    object keeps its status through the move, and one that read the record before
    the move keeps the move (each writes the record as it is then)."""
    from olist_elt.run import rejection

    settings = workspace_settings(tmp_path)
    ingest_olist(settings, sample_dir, "test-ingest")
    _backdate(settings, {"sellers", "customers"}, days=120)
    storage = LocalStorage(settings.lake_dir)
    stale = {r.dataset: r for r in Manifest(storage).records("olist")}
    real = LocalStorage.sha256

    def checked_then_rejected(self: LocalStorage, key: str) -> str:
        found = real(self, key)
        if key == f"cold/{stale['sellers'].object_key}":  # the copy is checked: a reject now
            rejection.reject(settings, [stale["sellers"]], "by hand", "operator", "by-hand")
        return found

    monkeypatch.setattr(LocalStorage, "sha256", checked_then_rejected)
    move_to_cold(storage, AuditLog(settings.audit_path), 90, now=API_NOW)
    monkeypatch.undo()
    rejection.reject(settings, [stale["customers"]], "by hand", "operator", "by-hand")

    now = {r.dataset: r for r in Manifest(storage).records("olist")}
    for dataset in ("sellers", "customers"):
        assert (now[dataset].zone, now[dataset].status) == ("cold", "rejected"), dataset
        assert storage.exists(now[dataset].object_key)


def test_a_landing_beside_the_lifecycle_finds_the_moved_object_instead_of_landing_it_again(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes landed again (an API's answer unchanged, written without a
    digest known before) while the lifecycle moves their object (a landing takes no
    run lock): the writer read the record before the move and finds the hot object
    gone. It reads the record again and knows the moved object; it used to land the
    bytes again and write a new record over the move, leaving the cold copy a stray
    (and a rejection on the record lost)."""
    from olist_elt.connectors.olist import OlistCsvConnector
    from olist_elt.lake.raw import RawWriter

    settings = workspace_settings(tmp_path)
    ingest_olist(settings, sample_dir, "first")
    _backdate(settings, {"sellers"}, days=120)
    storage = LocalStorage(settings.lake_dir)
    [sellers] = [r for r in Manifest(storage).records("olist") if r.dataset == "sellers"]
    audit = AuditLog(settings.audit_path)
    real = LocalStorage.exists
    moving: list[str] = []

    def moved_meanwhile(self: LocalStorage, key: str) -> bool:
        if key == sellers.object_key and not moving:  # the writer checks the hot object
            moving.append(key)
            move_to_cold(storage, audit, 90, now=API_NOW)
        return real(self, key)

    monkeypatch.setattr(LocalStorage, "exists", moved_meanwhile)
    again = RawWriter(storage, audit).write_file(
        OlistCsvConnector(sample_dir, tmp_path / "landing", "again"),
        dataset="sellers",
        path=sample_dir / "olist_sellers_dataset.csv",
        ext="csv",
        rows=sellers.rows,
        schema_version=sellers.schema_version,
        run_id="again",
    )
    monkeypatch.undo()

    assert moving and not again.created
    [record] = [r for r in Manifest(storage).records("olist") if r.dataset == "sellers"]
    assert (record.zone, record.object_key) == ("cold", f"cold/{sellers.object_key}")
    assert again.record == record
    assert list(storage.list("raw/olist/sellers")) == []
    assert storage.sha256(record.object_key) == sellers.sha256
