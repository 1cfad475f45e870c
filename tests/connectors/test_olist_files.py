"""Files trusted by content only: links and special files refused unread, zip members
matched by base name, extraction within caps, nothing left behind."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from olist_elt.connectors.olist import OlistCsvConnector, ZipLimits
from olist_elt.lake.lander import IngestResult, Lander
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.storage import LocalStorage
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings

ORDERS = "olist_orders_dataset.csv"
CUSTOMERS = "olist_customers_dataset.csv"
SECRET = b"root:x:0:0:very-secret-marker-5f1c:/root:/bin/bash\n"


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """TMPDIR of the test's own, to see what the connector leaves behind there."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def _ingest(
    settings: Settings, source: Path, limits: ZipLimits | None = None, run_id: str = "r1"
) -> IngestResult:
    connector = OlistCsvConnector(source, settings.landing_dir, run_id, limits=limits)
    lander = Lander(LocalStorage(settings.lake_dir), AuditLog(settings.audit_path))
    return lander.land(connector, connector.read(lander.view(connector)), run_id)


def _lake_bytes(settings: Settings) -> bytes:
    return b"".join(p.read_bytes() for p in settings.lake_dir.rglob("*") if p.is_file())


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _sample_members(sample_dir: Path, folder: str = "") -> dict[str, bytes]:
    return {f"{folder}{p.name}": p.read_bytes() for p in sorted(sample_dir.glob("*.csv"))}


def test_a_symlink_named_like_an_olist_file_is_refused_unread(
    workspace: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "passwd"
    secret.write_bytes(SECRET)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / ORDERS).symlink_to(secret)

    result = _ingest(workspace, folder)

    assert [(f.outcome, f.reason) for f in result.files] == [("quarantined", "not_regular_file")]
    assert "symbolic link" in (result.files[0].detail or "")
    assert b"very-secret-marker" not in _lake_bytes(workspace)
    assert not (workspace.lake_dir / "quarantine" / "olist" / "r1" / ORDERS).exists()
    assert (workspace.lake_dir / "quarantine" / "olist" / "r1" / f"{ORDERS}.reason.json").exists()


def test_a_symlink_given_as_the_input_is_refused_unread(
    workspace: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "passwd"
    secret.write_bytes(SECRET)
    link = tmp_path / ORDERS
    link.symlink_to(secret)

    result = _ingest(workspace, link)

    assert [f.reason for f in result.files] == ["not_regular_file"]
    assert b"very-secret-marker" not in _lake_bytes(workspace)


def test_a_fifo_named_like_an_olist_file_is_refused_without_blocking(
    workspace: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / ORDERS)

    result = _ingest(workspace, folder)

    assert [(f.reason, "fifo" in (f.detail or "")) for f in result.files] == [
        ("not_regular_file", True)
    ]


def test_a_zip_holding_one_data_set_twice_is_refused_whole(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    members = {
        **_sample_members(sample_dir, "2017/"),
        f"2018/{ORDERS}": (sample_dir / ORDERS).read_bytes(),
    }
    archive = tmp_path / "olist.zip"
    archive.write_bytes(_zip(members))

    result = _ingest(workspace, archive)

    assert [(f.file, f.outcome, f.reason) for f in result.files] == [
        ("olist.zip", "quarantined", "duplicate_member")
    ]
    detail = result.files[0].detail or ""
    assert "2 members for data set orders" in detail and f"2018/{ORDERS}" in detail
    assert Manifest(LocalStorage(workspace.lake_dir)).records() == []


def test_zip_members_in_folders_are_matched_by_base_name(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "olist.zip"
    archive.write_bytes(_zip(_sample_members(sample_dir, "brazilian-ecommerce/")))

    result = _ingest(workspace, archive)

    assert len(result.ingested) == 9


def test_a_zip_bomb_is_refused_within_the_ratio_cap_and_nothing_is_left_behind(
    workspace: Settings, tmp_path: Path, private_tmp: Path
) -> None:
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({ORDERS: b"0" * (64 * 1024**2)}))
    assert archive.stat().st_size < 200_000

    result = _ingest(workspace, archive)

    assert [(f.file, f.reason) for f in result.files] == [("bomb.zip", "zip_ratio")]
    assert "OLIST_ZIP_MAX_RATIO" in (result.files[0].detail or "")
    assert list(private_tmp.iterdir()) == []
    lake_files = [p for p in workspace.lake_dir.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in lake_files) < 100_000
    assert not (workspace.lake_dir / "quarantine" / "olist" / "r1" / "bomb.zip").exists()


def test_a_zip_over_the_total_cap_is_refused(
    workspace: Settings, sample_dir: Path, tmp_path: Path, private_tmp: Path
) -> None:
    archive = tmp_path / "olist.zip"
    archive.write_bytes(_zip(_sample_members(sample_dir)))

    result = _ingest(workspace, archive, limits=ZipLimits(max_bytes=10_000, max_ratio=100))

    assert [f.reason for f in result.files] == ["zip_too_large"]
    assert "OLIST_ZIP_MAX_BYTES" in (result.files[0].detail or "")
    assert list(private_tmp.iterdir()) == []
    assert Manifest(LocalStorage(workspace.lake_dir)).records() == []


def test_a_zip_member_stored_as_a_link_is_refused(workspace: Settings, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(ORDERS)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    archive = tmp_path / "links.zip"
    archive.write_bytes(buf.getvalue())

    result = _ingest(workspace, archive)

    assert [(f.file, f.reason) for f in result.files] == [(ORDERS, "not_regular_file")]


def test_the_stage_is_removed_when_reading_stops_early(
    workspace: Settings, sample_dir: Path, private_tmp: Path
) -> None:
    connector = OlistCsvConnector(sample_dir, workspace.landing_dir, "r1")
    lander = Lander(LocalStorage(workspace.lake_dir), AuditLog(workspace.audit_path))
    items = connector.read(lander.view(connector))
    next(items)
    assert len(list(private_tmp.iterdir())) == 1

    items.close()

    assert list(private_tmp.iterdir()) == []


def _path_of_length(base: Path, name: str, length: int) -> Path:
    """base/<folders>/name, exactly `length` characters long."""
    room = length - len(str(base / name))  # each folder adds its name and a slash
    assert room != 1
    folders = []
    while room > 0:
        take = min(200, room - 1)
        if room - take - 1 == 1:
            take -= 1
        folders.append("d" * take)
        room -= take + 1
    path = base.joinpath(*folders, name)
    assert len(str(path)) == length
    return path


def test_a_symlink_to_bytes_raw_holds_is_refused_not_taken_for_a_repeated_delivery(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """A repeated delivery is hashed where it lies when its size is a raw object's;
    the size of a link (lstat: its target's path) can match too. The link is still
    refused unread, as in a first delivery: it is not followed to hashed bytes."""
    header, *rows = (sample_dir / ORDERS).read_bytes().splitlines(keepends=True)
    data = header + b"".join(rows[:3])
    first = tmp_path / "first"
    first.mkdir()
    (first / ORDERS).write_bytes(data)
    assert [f.outcome for f in _ingest(workspace, first).files] == ["ingested"]
    # the same bytes behind a path exactly as long as the landed object
    target = _path_of_length(tmp_path / "t", ORDERS, len(data))
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / ORDERS).symlink_to(target)
    assert os.lstat(folder / ORDERS).st_size == len(data)  # the size check passes

    again = _ingest(workspace, folder, run_id="r2")

    assert [(f.outcome, f.reason) for f in again.files] == [("quarantined", "not_regular_file")]
    assert "symbolic link" in (again.files[0].detail or "")


def _patched_method(data: bytes, name: str, method: int) -> bytes:
    """A zip whose member `name` claims compression method `method` (one zipfile
    cannot write: Deflate64 is 9, zstd 93), in its local and its central header."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = out.find(signature)
        while start != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if out[name_at : name_at + len(encoded)] == encoded:
                out[start + offset : start + offset + 2] = method.to_bytes(2, "little")
            start = out.find(signature, start + 4)
    return bytes(out)


@pytest.mark.parametrize("kind", ["encrypted", "zstd"])
def test_a_zip_that_cannot_be_read_is_refused_whole_naming_its_member(
    workspace: Settings, sample_dir: Path, tmp_path: Path, private_tmp: Path, kind: str
) -> None:
    archive = tmp_path / "olist.zip"
    if kind == "encrypted":  # as `zip -P` packs it, the public download's tool
        subprocess.run(
            ["zip", "-q", "-j", "-P", "secret", str(archive), str(sample_dir / ORDERS)],
            check=True,
        )
    else:
        members = {ORDERS: (sample_dir / ORDERS).read_bytes()}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        archive.write_bytes(_patched_method(buf.getvalue(), ORDERS, 93))

    result = _ingest(workspace, archive)

    assert [(f.file, f.outcome, f.reason) for f in result.files] == [
        ("olist.zip", "quarantined", "unsupported_zip")
    ]
    detail = result.files[0].detail or ""
    assert ORDERS in detail
    assert ("encrypted" in detail) if kind == "encrypted" else ("method 93" in detail)
    assert Manifest(LocalStorage(workspace.lake_dir)).records() == []
    assert list(private_tmp.iterdir()) == []


def test_a_zip_with_no_file_in_it_is_refused_as_empty(workspace: Settings, tmp_path: Path) -> None:
    archive = tmp_path / "olist.zip"
    archive.write_bytes(_zip({"brazilian-ecommerce/": b"", f"__MACOSX/._{ORDERS}": b"\x00"}))

    result = _ingest(workspace, archive)

    assert [(f.file, f.outcome, f.reason) for f in result.files] == [
        ("olist.zip", "quarantined", "empty")
    ]
    assert "holds no files" in (result.files[0].detail or "")


def test_a_zip_named_without_zip_is_read_as_one(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """As a download's URL names it (Kaggle's ends in .../brazilian-ecommerce)."""
    archive = tmp_path / "brazilian-ecommerce"
    archive.write_bytes(_zip(_sample_members(sample_dir)))

    result = _ingest(workspace, archive)

    assert len(result.ingested) == 9 and not result.quarantined


def test_a_file_named_like_a_reason_is_kept_apart_from_the_reason_it_is_named_after(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / ORDERS).write_bytes(b"")  # quarantined as empty, with its reason
    (folder / f"{ORDERS}.reason.json").write_bytes(b'{"reason": "all good, ignore"}')

    result = _ingest(workspace, folder)

    assert sorted((f.file, f.reason) for f in result.files) == [
        (ORDERS, "empty"),
        (f"{ORDERS}.reason.json", "unknown_file"),
    ]
    qdir = workspace.lake_dir / "quarantine" / "olist" / "r1"
    assert json.loads((qdir / f"{ORDERS}.reason.json").read_text())["reason"] == "empty"
    kept = qdir / f"{ORDERS}.reason.json.file"
    assert kept.read_bytes() == b'{"reason": "all good, ignore"}'
    assert (
        json.loads((qdir / f"{ORDERS}.reason.json.file.reason.json").read_text())["reason"]
        == "unknown_file"
    )
    reasons = sorted(p.name for p in qdir.iterdir() if p.name.endswith(".reason.json"))
    assert reasons == [f"{ORDERS}.reason.json", f"{ORDERS}.reason.json.file.reason.json"]
