"""One storage suite for both backends (local folder, S3 on moto's server), and the
raw writer, manifest, quarantine and lifecycle on S3; IAM-enforced prefix refusal."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import boto3
import httpx
import pytest

from olist_elt.connectors.olist import OlistCsvConnector
from olist_elt.lake.lander import IngestResult, Lander
from olist_elt.lake.lifecycle import move_to_cold
from olist_elt.lake.manifest import Manifest, ManifestRecord, manifest_key
from olist_elt.lake.s3 import S3Storage, StorageAccessDenied
from olist_elt.lake.verify import RawObjectsChanged, unrecorded_landings, verify_objects
from olist_elt.security.audit import AuditLog
from tests.conftest import API_NOW

CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _bucket(endpoint: str, name: str) -> None:
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDS).create_bucket(
        Bucket=name
    )


@pytest.fixture()
def storage(lake_storage):
    """Every test here runs on both backends (see conftest.lake_storage)."""
    return lake_storage


def test_put_read_list_copy_delete(storage, tmp_path: Path) -> None:
    storage.put_bytes("a/b/one.txt", b"1")
    src = tmp_path / "two.txt"
    src.write_bytes(b"22")
    storage.put_file("a/two.txt", src)
    assert storage.read_bytes("a/b/one.txt") == b"1"
    assert list(storage.list("a")) == ["a/b/one.txt", "a/two.txt"]
    storage.copy("a/two.txt", "c/two.txt")
    assert storage.sha256("c/two.txt") == storage.sha256("a/two.txt")
    storage.delete("a/two.txt")
    assert not storage.exists("a/two.txt") and storage.exists("c/two.txt")
    with pytest.raises(FileNotFoundError):  # on S3 too: a check tells gone from failing
        storage.sha256("a/two.txt")
    with pytest.raises(ValueError):
        storage.put_bytes("../escape", b"x")


def ingest_olist(source: Path, *, writer: Lander, landing: Path, run_id: str) -> IngestResult:
    """The Olist connector read and landed on one storage backend."""
    connector = OlistCsvConnector(source, landing, run_id)
    return writer.land(connector, connector.read(writer.view(connector)), run_id)


def test_raw_writer_manifest_and_quarantine(storage, sample_dir: Path, tmp_path: Path) -> None:
    writer = Lander(storage, AuditLog(tmp_path / "audit.jsonl"))
    first = ingest_olist(sample_dir, writer=writer, landing=tmp_path / "landing", run_id="r1")
    again = ingest_olist(sample_dir, writer=writer, landing=tmp_path / "landing", run_id="r2")
    assert len(first.ingested) == 9 and len(again.duplicates) == 9
    records = Manifest(storage).records("olist")
    assert len(records) == 9 and all(storage.exists(r.object_key) for r in records)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "olist_orders_dataset.csv").write_bytes("pedido,são\n1,2\n".encode("latin-1"))
    result = ingest_olist(bad, writer=writer, landing=tmp_path / "landing", run_id="r3")
    assert result.quarantined[0].reason == "encoding"
    assert storage.exists("quarantine/olist/r3/olist_orders_dataset.csv.reason.json")
    assert len(Manifest(storage).records("olist")) == 9


def test_lifecycle_moves_old_objects_on_either_backend(
    storage, sample_dir: Path, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    ingest_olist(sample_dir, writer=Lander(storage, audit), landing=tmp_path / "l", run_id="r1")
    record = next(r for r in Manifest(storage).records() if r.dataset == "sellers")
    key = manifest_key(record.source, record.dataset, record.sha256)
    data = json.loads(storage.read_bytes(key))
    data["ingested_at"] = (API_NOW - timedelta(days=100)).isoformat()
    storage.put_bytes(key, json.dumps(data).encode())
    moves = move_to_cold(storage, audit, older_than_days=90, now=API_NOW)
    assert [m.source_key for m in moves] == [record.object_key]
    assert storage.sha256(f"cold/{record.object_key}") == record.sha256
    assert not storage.exists(record.object_key)


@pytest.fixture()
def restricted_writer(moto_endpoint: str) -> Iterator[S3Storage]:
    """An IAM user allowed to put only under raw/olist/, with auth enforced after setup."""
    _bucket(moto_endpoint, "lake-iam")
    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDS)
    iam.create_user(UserName="svc-connector-olist")
    iam.put_user_policy(
        UserName="svc-connector-olist",
        PolicyName="olist-raw-put-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:PutObject"],
                        "Resource": ["arn:aws:s3:::lake-iam/raw/olist/*"],
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="svc-connector-olist")["AccessKey"]
    httpx.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    try:
        yield S3Storage(
            "lake-iam",
            endpoint_url=moto_endpoint,
            access_key=key["AccessKeyId"],
            secret_key=key["SecretAccessKey"],
        )
    finally:
        httpx.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"1000000000")


def test_a_landing_deleted_with_its_manifest_record_is_found_in_the_audit_trail(
    storage, sample_dir: Path, tmp_path: Path
) -> None:
    """An object deleted together with its manifest record leaves no record to read
    back; its landing in the audit trail names it, audited as unrecorded. A rejected
    or cold object is still recorded, and a landing another lake's trail names (or
    one audited before landings named their lake) is not this lake's."""
    audit = AuditLog(tmp_path / "audit.jsonl")
    ingest_olist(sample_dir, writer=Lander(storage, audit), landing=tmp_path / "l", run_id="r1")
    manifest = Manifest(storage)
    by_dataset = {r.dataset: r for r in manifest.records()}
    manifest.reject(by_dataset["orders"], "a test", "2026-01-01T00:00:00")
    cold = by_dataset["sellers"]
    key = manifest_key(cold.source, cold.dataset, cold.sha256)
    data = json.loads(storage.read_bytes(key))
    data["ingested_at"] = (API_NOW - timedelta(days=100)).isoformat()
    storage.put_bytes(key, json.dumps(data).encode())
    assert move_to_cold(storage, audit, older_than_days=90, now=API_NOW)
    elsewhere = "raw/olist/orders/ingest_date=2026-01-01/" + "e" * 64 + ".csv"
    audit.append("svc-olist", "raw.write", elsewhere, "ok", sha256="e" * 64, lake="s3://b/")
    audit.append("svc-olist", "raw.write", elsewhere, "ok", sha256="f" * 64)
    assert unrecorded_landings(storage, audit.records(), manifest.records()) == []

    gone = by_dataset["products"]
    storage.delete(gone.object_key)
    storage.delete(manifest_key(gone.source, gone.dataset, gone.sha256))
    records = manifest.records()
    found = unrecorded_landings(storage, audit.records(), records)

    assert [(u.object_key, u.sha256, u.problem) for u in found] == [
        (gone.object_key, gone.sha256, "unrecorded")
    ]
    assert verify_objects(storage, audit, records, "check") == 8  # the records alone: all fine
    with pytest.raises(RawObjectsChanged, match="its manifest record is gone") as changed:
        verify_objects(storage, audit, records, "check", found)
    assert changed.value.differences == found
    audited = [(r["object"], r["outcome"]) for r in audit.records() if r["action"] == "raw.verify"]
    assert audited == [(gone.object_key, "unrecorded")]


def test_s3_refuses_a_connector_identity_outside_its_prefix(
    restricted_writer: S3Storage,
) -> None:
    restricted_writer.put_bytes("raw/olist/orders/ingest_date=2026-01-01/x.csv", b"ok")
    for key in ("raw/bcb/series_433/x.json", "silver/x.parquet", "cold/raw/olist/x.csv"):
        with pytest.raises(StorageAccessDenied, match="AccessDenied"):
            restricted_writer.put_bytes(key, b"nope")
    with pytest.raises(StorageAccessDenied):
        restricted_writer.delete("raw/olist/orders/ingest_date=2026-01-01/x.csv")
    with pytest.raises(StorageAccessDenied):
        restricted_writer.read_bytes("raw/olist/orders/ingest_date=2026-01-01/x.csv")


def test_raw_objects_read_back_on_either_backend(storage, sample_dir: Path, tmp_path: Path) -> None:
    """Each raw object against its manifest record: one deleted and one rewritten
    outside olist-elt are named and audited; one a lifecycle move took to cold after
    the records were read is read where it is now, no difference."""
    audit = AuditLog(tmp_path / "audit.jsonl")
    ingest_olist(sample_dir, writer=Lander(storage, audit), landing=tmp_path / "l", run_id="r1")
    records = Manifest(storage).records()
    assert verify_objects(storage, audit, records, "check") == 9
    by_dataset = {r.dataset: r for r in records}
    moved = by_dataset["sellers"]
    key = manifest_key(moved.source, moved.dataset, moved.sha256)
    data = json.loads(storage.read_bytes(key))
    data["ingested_at"] = (API_NOW - timedelta(days=100)).isoformat()
    storage.put_bytes(key, json.dumps(data).encode())
    move_to_cold(storage, audit, older_than_days=90, now=API_NOW)
    storage.delete(by_dataset["products"].object_key)
    altered = by_dataset["orders"]
    storage.put_bytes(altered.object_key, storage.read_bytes(altered.object_key) + b"\n")
    with pytest.raises(RawObjectsChanged) as changed:
        verify_objects(storage, audit, records, "check")
    found = {d.object_key: d for d in changed.value.differences}
    assert sorted(found) == sorted([by_dataset["products"].object_key, altered.object_key])
    assert found[by_dataset["products"].object_key].problem == "missing"
    assert (
        found[altered.object_key].found
        == hashlib.sha256(storage.read_bytes(altered.object_key)).hexdigest()
    )
    audited = [(r["object"], r["outcome"]) for r in audit.records() if r["action"] == "raw.verify"]
    assert sorted(audited) == sorted(
        [(by_dataset["products"].object_key, "missing"), (altered.object_key, "altered")]
    )


def _record(sha256: str, status: str = "accepted") -> ManifestRecord:
    """A sellers record of a raw object named by its sha256."""
    return ManifestRecord(
        "olist", "sellers", f"raw/olist/sellers/ingest_date=2026-01-01/{sha256}.csv", sha256,
        9, 1, "v1", "olist-csv", "1", "svc-connector-olist", "r", "2026-01-01T00:00:00",
        "s.csv", status=status,
    )  # fmt: skip


def test_an_erasure_carries_over_a_rejection_or_readmission_made_beside_it(storage) -> None:
    """An erasure builds the new version's record from the old one as it read it; a
    `raw reject` or `readmit` meanwhile (they take no run lock) reaches the new version
    when the old record is marked erased. A rejection after that leaves the erased
    record erased."""
    manifest = Manifest(storage)
    for old, beside, expected in (
        (_record("aa"), lambda r: manifest.reject(r, "by hand", "t1"), "rejected"),
        (
            _record("bb", "rejected"),
            lambda r: manifest.update(r, lambda now: replace(now, status="accepted")),
            "accepted",
        ),
    ):
        manifest.put(old)
        new = replace(old, sha256=old.sha256 + "2", object_key=old.object_key + "2")
        beside(old)  # after the erasure read `old`, before it marks it erased

        manifest.supersede(old, new, "t2")

        got = manifest.get("olist", "sellers", new.sha256)
        assert (got.status, got.supersedes) == (expected, old.sha256)
        assert got.rejected_reason == ("by hand" if expected == "rejected" else None)
        manifest.reject(old, "late", "t3")
        assert manifest.get("olist", "sellers", old.sha256).status == "erased"


def test_a_record_changed_meanwhile_in_a_bucket_is_changed_again_not_written_over(
    moto_endpoint: str,
) -> None:
    """An object store takes no lock: a record update writes only if the record is still
    as it read it (S3's conditional write). A rejection by another process between the
    lifecycle's read and its write is kept, and the move applied on top of it; a
    writer that is always first makes the update give up, changing nothing."""
    from olist_elt.lake.manifest import UPDATE_ATTEMPTS
    from olist_elt.lake.s3 import StorageError

    name = f"lake-{os.urandom(4).hex()}"
    _bucket(moto_endpoint, name)
    storage = S3Storage(
        name, endpoint_url=moto_endpoint, access_key="testing", secret_key="testing", prefix="l"
    )
    manifest = Manifest(storage)
    record = _record("ab")
    manifest.put(record)
    seen = []

    def move(now: ManifestRecord) -> ManifestRecord:
        seen.append(now.status)
        if len(seen) == 1:  # another process's `raw reject` between the read and the write
            manifest.put(replace(now, status="rejected", rejected_reason="by hand"))
        return replace(now, zone="cold", object_key=f"cold/{now.object_key}")

    moved = manifest.update(record, move)

    assert seen == ["accepted", "rejected"]
    assert manifest.get("olist", "sellers", "ab") == moved
    assert (moved.zone, moved.status, moved.rejected_reason) == ("cold", "rejected", "by hand")

    def always_second(now: ManifestRecord) -> ManifestRecord:
        manifest.put(replace(now, rows=now.rows + 1))  # another writer, first every time
        return replace(now, status="accepted")

    with pytest.raises(StorageError, match=f"changed {UPDATE_ATTEMPTS} times"):
        manifest.update(record, always_second)
    last = manifest.get("olist", "sellers", "ab")
    assert (last.status, last.rows) == ("rejected", 1 + UPDATE_ATTEMPTS)
