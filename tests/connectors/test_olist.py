"""The Olist connector: validation before raw, quarantine with reasons, idempotency."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from olist_elt.connectors.olist import OlistCsvConnector
from olist_elt.errors import OlistEltError
from olist_elt.lake.lander import Lander
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.raw import RawWriter
from olist_elt.lake.registry import Connector, RawItem, Refused
from olist_elt.lake.storage import LocalStorage
from olist_elt.security.audit import AuditLog
from olist_elt.security.exceptions import RawWriteRefused
from olist_elt.settings import Settings

ORDERS = "olist_orders_dataset.csv"
CUSTOMERS = "olist_customers_dataset.csv"
GEOLOCATION = "olist_geolocation_dataset.csv"


def _writer(settings: Settings) -> RawWriter:
    return RawWriter(LocalStorage(settings.lake_dir), AuditLog(settings.audit_path))


def _raw_objects(settings: Settings) -> list[str]:
    storage = LocalStorage(settings.lake_dir)
    return [k for k in storage.list("raw/olist")]


def _ingest(settings: Settings, source: Path | str, run_id: str = "r1"):
    connector = OlistCsvConnector(source, settings.landing_dir, run_id)
    lander = Lander(LocalStorage(settings.lake_dir), AuditLog(settings.audit_path))
    return lander.land(connector, connector.read(lander.view(connector)), run_id)


def _one_file(tmp_path: Path, sample_dir: Path, name: str) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    shutil.copy(sample_dir / name, folder / name)
    return folder


def _assert_quarantined_only(settings: Settings, result, name: str, reason: str) -> dict:
    assert [f.outcome for f in result.files] == ["quarantined"]
    assert result.files[0].reason == reason
    assert _raw_objects(settings) == []
    assert Manifest(LocalStorage(settings.lake_dir)).records() == []
    qdir = settings.lake_dir / "quarantine" / "olist" / result.run_id
    assert (qdir / name).exists()
    payload = json.loads((qdir / f"{name}.reason.json").read_text())
    assert payload["reason"] == reason
    actions = [(r["action"], r["outcome"]) for r in AuditLog(settings.audit_path).records()]
    assert ("quarantine", "rejected") in actions
    return payload


def test_sample_folder_lands_in_raw_with_one_manifest_record_per_file(
    workspace: Settings, sample_dir: Path
) -> None:
    result = _ingest(workspace, sample_dir)
    assert len(result.ingested) == 9 and not result.quarantined
    records = Manifest(LocalStorage(workspace.lake_dir)).records("olist")
    assert len(records) == 9
    for rec in records:
        assert rec.object_key.startswith(f"raw/olist/{rec.dataset}/ingest_date=")
        assert rec.object_key.endswith(f"/{rec.sha256}.csv")
        assert rec.connector == "olist-csv" and rec.service_identity == "svc-connector-olist"
        assert rec.run_id == "r1" and rec.rows > 0
        assert (workspace.lake_dir / rec.object_key).stat().st_size == rec.bytes


def test_reingesting_identical_bytes_is_a_noop(workspace: Settings, sample_dir: Path) -> None:
    _ingest(workspace, sample_dir, "r1")
    before = _raw_objects(workspace)
    again = _ingest(workspace, sample_dir, "r2")
    assert [f.outcome for f in again.files] == ["duplicate"] * 9
    assert _raw_objects(workspace) == before
    assert {r.run_id for r in Manifest(LocalStorage(workspace.lake_dir)).records()} == {"r1"}


def test_truncated_csv_goes_to_quarantine_with_reason(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    folder = _one_file(tmp_path, sample_dir, ORDERS)
    data = (folder / ORDERS).read_bytes()
    (folder / ORDERS).write_bytes(data[: len(data) // 2 + 7])  # cut inside a row
    payload = _assert_quarantined_only(workspace, _ingest(workspace, folder), ORDERS, "parse_error")
    assert "does not parse" in payload["detail"]


def test_wrong_header_goes_to_quarantine_naming_the_columns(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    folder = _one_file(tmp_path, sample_dir, ORDERS)
    text = (folder / ORDERS).read_text(encoding="utf-8")
    (folder / ORDERS).write_text(text.replace('"order_status"', '"status"', 1), encoding="utf-8")
    payload = _assert_quarantined_only(
        workspace, _ingest(workspace, folder), ORDERS, "header_mismatch"
    )
    assert "missing ['order_status']" in payload["detail"]
    assert "1 unexpected (first: ['status'])" in payload["detail"]


def test_dropped_column_is_schema_drift_and_quarantined(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    folder = _one_file(tmp_path, sample_dir, CUSTOMERS)
    lines = (folder / CUSTOMERS).read_text(encoding="utf-8").splitlines()
    (folder / CUSTOMERS).write_text(
        "\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n", encoding="utf-8"
    )
    payload = _assert_quarantined_only(
        workspace, _ingest(workspace, folder), CUSTOMERS, "header_mismatch"
    )
    assert "customer_state" in payload["detail"]


def test_latin1_file_goes_to_quarantine_as_an_encoding_error(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    folder = _one_file(tmp_path, sample_dir, CUSTOMERS)
    text = (folder / CUSTOMERS).read_text(encoding="utf-8")
    assert any(ch in text for ch in "ãéíóâç")
    (folder / CUSTOMERS).write_bytes(text.encode("latin-1"))
    payload = _assert_quarantined_only(workspace, _ingest(workspace, folder), CUSTOMERS, "encoding")
    assert "not UTF-8" in payload["detail"]


def test_unknown_file_and_empty_file_are_quarantined(workspace: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    (folder / ORDERS).write_text("")
    result = _ingest(workspace, folder)
    assert sorted((f.file, f.reason) for f in result.files) == [
        ("notes.csv", "unknown_file"),
        (ORDERS, "empty"),
    ]
    assert _raw_objects(workspace) == []


def test_good_files_land_even_when_a_sibling_is_quarantined(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    shutil.copytree(sample_dir, folder)
    (folder / ORDERS).write_bytes((folder / ORDERS).read_bytes()[:-5])
    result = _ingest(workspace, folder)
    assert len(result.ingested) == 8
    assert [f.file for f in result.quarantined] == [ORDERS]
    datasets = {r.dataset for r in Manifest(LocalStorage(workspace.lake_dir)).records()}
    assert "orders" not in datasets and len(datasets) == 8


def _zip_bytes(sample_dir: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(sample_dir.glob("*.csv")):
            zf.write(p, arcname=p.name)
    return buf.getvalue()


def test_zip_like_the_public_download_is_ingested(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "brazilian-ecommerce.zip"
    archive.write_bytes(_zip_bytes(sample_dir))
    result = _ingest(workspace, archive)
    assert len(result.ingested) == 9


def test_url_is_downloaded_with_a_retry_after_a_500(
    workspace: Settings, sample_dir: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_ordered_request("/olist.zip").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/olist.zip").respond_with_data(
        _zip_bytes(sample_dir), content_type="application/zip"
    )
    result = _ingest(workspace, httpserver.url_for("/olist.zip"))
    assert len(result.ingested) == 9
    httpserver.check_assertions()


def test_url_answering_404_is_a_clear_error_with_nothing_in_raw(
    workspace: Settings, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/missing.zip").respond_with_data("no", status=404)
    with pytest.raises(Exception, match="404"):
        _ingest(workspace, httpserver.url_for("/missing.zip"))
    assert _raw_objects(workspace) == []


def test_missing_input_is_a_clear_error(workspace: Settings, tmp_path: Path) -> None:
    with pytest.raises(OlistEltError, match="does not exist"):
        _ingest(workspace, tmp_path / "nope")


class RogueWriter(Connector):
    """Looks like a connector but was never registered."""

    name = "rogue"
    version = "0.0.1"
    source = "olist"
    service_identity = "svc-rogue"


class ImpostorOlist(OlistCsvConnector):
    """Same name as the official connector, different class."""


def test_unregistered_writer_is_refused_and_audited(workspace: Settings, sample_dir: Path) -> None:
    writer = _writer(workspace)
    for rogue in (RogueWriter(), ImpostorOlist(sample_dir, workspace.landing_dir, "r")):
        with pytest.raises(RawWriteRefused, match="not a registered connector"):
            writer.write_file(
                rogue,
                dataset="orders",
                path=sample_dir / ORDERS,
                ext="csv",
                rows=1,
                schema_version="x",
                run_id="r",
            )
    assert _raw_objects(workspace) == []
    refused = [r for r in AuditLog(workspace.audit_path).records() if r["outcome"] == "refused"]
    assert [r["actor"] for r in refused] == ["svc-rogue", "svc-connector-olist"]


def test_official_connector_cannot_escape_its_prefix(workspace: Settings, sample_dir: Path) -> None:
    with pytest.raises(RawWriteRefused):
        _writer(workspace).write_file(
            OlistCsvConnector(sample_dir, workspace.landing_dir, "r"),
            dataset="../bcb/series",
            path=sample_dir / ORDERS,
            ext="csv",
            rows=1,
            schema_version="x",
            run_id="r",
        )
    assert not (workspace.lake_dir / "raw" / "bcb").exists()


class ReadOnlyStorage(LocalStorage):
    """A lake that answers reads and refuses every write."""

    def put_file(self, key: str, path: Path) -> None:
        raise PermissionError(f"read-only lake: {key}")

    def put_bytes(self, key: str, data: bytes) -> None:
        raise PermissionError(f"read-only lake: {key}")


def test_the_connector_yields_what_it_read_without_writing_anything(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    folder = _one_file(tmp_path, sample_dir, ORDERS)
    (folder / "notes.txt").write_text("not an olist file\n")
    storage = ReadOnlyStorage(workspace.lake_dir)
    connector = OlistCsvConnector(folder, workspace.landing_dir, "r1")
    lander = Lander(storage, AuditLog(workspace.audit_path))
    items = list(connector.read(lander.view(connector)))
    kinds = sorted((type(i).__name__, i.name) for i in items)
    assert kinds == [("RawItem", ORDERS), ("Refused", "notes.txt")]
    item = next(i for i in items if isinstance(i, RawItem))
    refused = next(i for i in items if isinstance(i, Refused))
    assert item.dataset == "orders" and item.rows and item.rows > 0 and item.sha256
    assert refused.reason == "unknown_file"
    assert not workspace.lake_dir.exists() or not any(workspace.lake_dir.rglob("*"))


def test_the_lander_refuses_an_unregistered_connector_before_reading_it(
    workspace: Settings,
) -> None:
    read = []

    class Sneaky(RogueWriter):
        def read(self, lake):
            read.append(True)
            yield RawItem("orders", "csv", "x.csv", 1, "x", data=b"a\n1\n")

    lander = Lander(LocalStorage(workspace.lake_dir), AuditLog(workspace.audit_path))
    connector = Sneaky()
    with pytest.raises(RawWriteRefused, match="not a registered connector"):
        lander.land(connector, connector.read(lander.view(connector)), "r")
    assert read == [] and _raw_objects(workspace) == []


def _wide_orders(folder: Path, columns: int = 12_000) -> Path:
    """An orders file of about 120 KB whose header has thousands of columns."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ORDERS
    header = ",".join(f"c{i:05d}" for i in range(columns))
    path.write_text(header + "\n" + ",".join("x" for _ in range(columns)) + "\n")
    return folder


def test_a_12000_column_header_is_quarantined_and_later_ingests_still_work(
    tmp_path: Path, workspace: Settings, sample_dir: Path
) -> None:
    wide = _wide_orders(tmp_path / "wide")
    assert (wide / ORDERS).stat().st_size > 100_000
    result = _ingest(workspace, wide, run_id="r-wide")
    assert [f.outcome for f in result.files] == ["quarantined"]

    later = _ingest(workspace, _one_file(tmp_path, sample_dir, CUSTOMERS), run_id="r-next")

    assert [f.outcome for f in later.files] == ["ingested"]
    audit = AuditLog(workspace.audit_path)
    assert audit.verify().ok
    assert max(len(line) for line in audit.path.read_bytes().splitlines()) < 8192
    assert [r["action"] for r in audit.records()][-1] == "raw.write"


@pytest.mark.parametrize("quoted", [True, False])
def test_rows_repeating_the_header_go_to_quarantine_with_reason(
    workspace: Settings, sample_dir: Path, tmp_path: Path, quoted: bool
) -> None:
    folder = _one_file(tmp_path, sample_dir, ORDERS)
    lines = (folder / ORDERS).read_text(encoding="utf-8").splitlines()
    header = lines[0] if quoted else lines[0].replace('"', "")
    lines.insert(len(lines) // 2, header)
    (folder / ORDERS).write_text("\n".join(lines) + "\n", encoding="utf-8")

    payload = _assert_quarantined_only(
        workspace, _ingest(workspace, folder), ORDERS, "repeated_header"
    )

    assert "repeated as a data row 1 time(s)" in payload["detail"]


def test_an_unreadable_audit_key_stops_the_landing_before_anything_is_written(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    from olist_elt.security.audit_anchor import AuditAnchor
    from olist_elt.security.exceptions import BadVaultKey

    def no_key() -> bytes:
        raise BadVaultKey("vault key file is missing; restore it")

    audit = AuditLog(workspace.audit_path, anchor=AuditAnchor(tmp_path / "anchor.json", no_key))
    connector = OlistCsvConnector(sample_dir, workspace.landing_dir, "r1")
    lander = Lander(LocalStorage(workspace.lake_dir), audit)

    with pytest.raises(BadVaultKey):
        lander.land(connector, connector.read(lander.view(connector)), "r1")

    assert _raw_objects(workspace) == []


def test_a_new_file_is_read_once_for_its_hash_and_utf8_check(
    workspace: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source is read once, into the stage; the hash and the UTF-8 check come from
    that copy (no separate pass of either), and the landed object's sha is the file's."""
    import hashlib

    from olist_elt.connectors.olist import helpers
    from olist_elt.lake import raw

    folder = _one_file(tmp_path, sample_dir, ORDERS)
    size = (folder / ORDERS).stat().st_size
    read_from_source: list[int] = []
    real_open = helpers.open_regular

    class Counting(io.RawIOBase):
        def __init__(self, inner) -> None:
            self.inner = inner

        def fileno(self) -> int:
            return self.inner.fileno()

        def read(self, n: int = -1) -> bytes:
            data = self.inner.read(n)
            read_from_source.append(len(data))
            return data

        def close(self) -> None:
            self.inner.close()
            super().close()

    monkeypatch.setattr(helpers, "open_regular", lambda path: Counting(real_open(path)))

    def no_second_hash(path: Path) -> str:
        raise AssertionError("the file was hashed in a pass of its own")

    monkeypatch.setattr(raw, "sha256_file", no_second_hash)
    result = _ingest(workspace, folder)
    assert [f.outcome for f in result.files] == ["ingested"]
    assert sum(read_from_source) == size  # every byte once, no second read of the source
    (record,) = Manifest(LocalStorage(workspace.lake_dir)).records()
    assert record.sha256 == hashlib.sha256((folder / ORDERS).read_bytes()).hexdigest()


def test_a_repeated_delivery_is_hashed_where_it_lies_not_copied_or_parsed(
    workspace: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes raw already holds are known by their hash, taken from the file in place:
    no copy into the stage, no UTF-8 check, no parse. A file of the same size with
    other bytes is staged and validated as any new file."""
    import olist_elt.connectors.olist as connector_module

    folder = _one_file(tmp_path, sample_dir, ORDERS)
    first = _ingest(workspace, folder, "r1")
    assert [f.outcome for f in first.files] == ["ingested"]
    staged: list[str] = []
    validated: list[str] = []
    real_stage, real_validate = connector_module.stage_file, connector_module.validate_file

    def counting_stage(path: Path, stage: Path):
        staged.append(path.name)
        return real_stage(path, stage)

    def counting_validate(item):
        validated.append(item.name)
        return real_validate(item)

    monkeypatch.setattr(connector_module, "stage_file", counting_stage)
    monkeypatch.setattr(connector_module, "validate_file", counting_validate)
    again = _ingest(workspace, folder, "r2")
    assert [f.outcome for f in again.files] == ["duplicate"]
    assert again.files[0].sha256 == first.files[0].sha256
    assert staged == [] and validated == []
    # the same size, one byte changed: a new file, copied, checked and landed
    data = bytearray((folder / ORDERS).read_bytes())
    at = data.index(b'"delivered"') + 1  # an order's status, not a header name
    data[at : at + 9] = b"DELIVERED"
    (folder / ORDERS).write_bytes(bytes(data))
    changed = _ingest(workspace, folder, "r3")
    assert [f.outcome for f in changed.files] == ["ingested"]
    assert staged == [ORDERS] and validated == [ORDERS]
    assert len(_raw_objects(workspace)) == 2


def test_bad_utf8_past_the_first_chunk_is_located_by_byte_and_line(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    from olist_elt.connectors.olist.settings import CHUNK

    folder = _one_file(tmp_path, sample_dir, ORDERS)
    data = (folder / ORDERS).read_bytes()
    lines = data.splitlines(keepends=True)
    while len(data) < CHUNK * 8 + 1000:  # past the copy's first chunk
        data += b"".join(lines[1:])
    cut = data.index(b"\n", CHUNK * 8 + 10) + 1  # the start of a line past the first chunk
    bad = data[:cut] + b"\xe9" + data[cut:]
    (folder / ORDERS).write_bytes(bad)
    payload = _assert_quarantined_only(workspace, _ingest(workspace, folder), ORDERS, "encoding")
    line = bad[:cut].count(b"\n") + 1
    assert f"not UTF-8 at byte {cut} (line {line})" in payload["detail"]


def test_a_header_whose_quote_runs_on_is_quarantined_and_its_siblings_land(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """The header's last quote missing: the csv module reads on into the data until
    its field limit (the geolocation file quotes nothing else); the file is refused as
    a header mismatch, the next one lands."""
    folder = _one_file(tmp_path, sample_dir, GEOLOCATION)
    _one_file(tmp_path, sample_dir, CUSTOMERS)
    data = (folder / GEOLOCATION).read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header.endswith(b'"') and len(rest) > 131072  # past the csv module's limit
    (folder / GEOLOCATION).write_bytes(header[:-1] + b"\n" + rest)

    result = _ingest(workspace, folder)

    outcomes = {f.file: (f.outcome, f.reason) for f in result.files}
    assert outcomes == {
        CUSTOMERS: ("ingested", None),
        GEOLOCATION: ("quarantined", "header_mismatch"),
    }
    detail = next(f.detail for f in result.files if f.file == GEOLOCATION) or ""
    assert "not a CSV header row" in detail and "field limit" in detail


def test_a_header_that_runs_on_into_the_rows_shows_none_of_them(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """The orders header's last quote missing: the next row's first quote closes it, so
    the header reads as one row over two lines; what it took from that row is data,
    never named as unexpected columns."""
    folder = _one_file(tmp_path, sample_dir, ORDERS)
    data = (folder / ORDERS).read_bytes()
    header, rest = data.split(b"\n", 1)
    (folder / ORDERS).write_bytes(header[:-1] + b"\n" + rest)
    second = rest.split(b"\n", 1)[0].decode()

    payload = _assert_quarantined_only(
        workspace, _ingest(workspace, folder), ORDERS, "header_mismatch"
    )

    assert "runs on over 2 lines" in payload["detail"]
    values = [v.strip('"') for v in second.split(",") if v.strip('"')]
    assert not any(v in payload["detail"] for v in values), payload["detail"]


def test_a_header_repeated_with_its_byte_order_mark_is_a_repeated_header(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """A file that starts with a BOM, joined to itself whole (cat f f)."""
    name = "product_category_name_translation.csv"
    folder = _one_file(tmp_path, sample_dir, name)
    data = (folder / name).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    (folder / name).write_bytes(data + data)

    payload = _assert_quarantined_only(
        workspace, _ingest(workspace, folder), name, "repeated_header"
    )

    assert "repeated as a data row 1 time(s)" in payload["detail"]


MARKER = "row-text-4f2a"  # in the bad row only: no reason, log or audit record shows it


@pytest.mark.parametrize(
    ("bad_row", "cause"),
    [
        (f'"{MARKER}","x","y"', "Expected Number of Columns: 8 Found: 3"),
        (f'"{MARKER}","x,"y","z","a","b","c","d"', "Value with unterminated quote found."),
        (f'"{MARKER}","{"y" * 2_100_000}","","","","","",""', "Maximum line size of 2000000"),
    ],
    ids=["too few columns", "unterminated quote", "line too long"],
)
def test_a_row_that_does_not_parse_is_told_by_its_line_and_cause_without_its_text(
    workspace: Settings, sample_dir: Path, tmp_path: Path, bad_row: str, cause: str
) -> None:
    folder = _one_file(tmp_path, sample_dir, ORDERS)
    lines = (folder / ORDERS).read_text(encoding="utf-8").splitlines()
    lines.insert(40, bad_row)  # line 41 of the file, the header being line 1
    (folder / ORDERS).write_text("\n".join(lines) + "\n", encoding="utf-8")

    payload = _assert_quarantined_only(workspace, _ingest(workspace, folder), ORDERS, "parse_error")

    assert payload["detail"].startswith(f"the CSV does not parse at line 41: {cause}")
    assert MARKER not in payload["detail"]
    assert MARKER.encode() not in workspace.audit_path.read_bytes()


def test_the_engine_running_out_of_memory_blames_no_file(
    workspace: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB failing for itself (here: memory) while parsing a good file is not the
    file's fault: nothing is quarantined, the error goes up as the engine's."""
    import duckdb

    connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda: connect(config={"memory_limit": "1MB"}))
    folder = _one_file(tmp_path, sample_dir, "olist_geolocation_dataset.csv")

    with pytest.raises(duckdb.OutOfMemoryException):
        _ingest(workspace, folder)

    assert not (workspace.lake_dir / "quarantine").exists()
    assert _raw_objects(workspace) == []


def test_a_nul_byte_is_an_encoding_error_located_by_byte_and_line(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """Valid UTF-8, but PostgreSQL stores no NUL in text: refused at the door on every
    target, not at gold on one of them."""
    folder = _one_file(tmp_path, sample_dir, ORDERS)
    data = (folder / ORDERS).read_bytes()
    at = data.index(b"\n", len(data) // 2) + 2  # inside the first field of a line
    bad = data[:at] + b"\x00" + data[at:]
    (folder / ORDERS).write_bytes(bad)

    payload = _assert_quarantined_only(workspace, _ingest(workspace, folder), ORDERS, "encoding")

    line = bad[:at].count(b"\n") + 1
    assert f"a NUL byte at byte {at} (line {line})" in payload["detail"]
