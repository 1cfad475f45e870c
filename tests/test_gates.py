"""Soda quality gates: each kind of bad batch stops the run at its layer, gold keeps
the last good data, the batch is rejected in the manifest, and a good batch passes."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from olist_elt.errors import PipelineFailed
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.storage import LocalStorage
from olist_elt.run.pipeline import run_pipeline
from olist_elt.sample import OLIST_FILES
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings
from olist_elt.targets import target_for
from tests.conftest import workspace_settings

pytestmark = pytest.mark.slow

Rows = list[dict[str, str]]


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Settings:
    """A workspace with one good run behind it."""
    settings = workspace_settings(tmp_path_factory.mktemp("gated"))
    assert run_pipeline(settings, sample_dir).outcome == "success"
    return settings


def _gold_fingerprint(settings: Settings) -> dict[str, object]:
    fp: dict[str, object] = dict(target_for(settings).served_counts())
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        fp["payments_brl"] = con.execute(
            "select sum(payment_value_brl) from gold.fct_payments"
        ).fetchone()[0]
        fp["orders_checksum"] = con.execute(
            "select sum(hash(order_id, order_status, purchased_at)) from gold.fct_orders"
        ).fetchone()[0]
        return fp
    finally:
        con.close()


def _batch(sample_dir: Path, dataset: str, tmp_path: Path, edit: Callable[[Rows], Rows]) -> Path:
    """A one-file batch: the dataset's CSV, edited, written back with the same header."""
    spec = OLIST_FILES[dataset]
    with open(sample_dir / spec.file_name, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows = edit(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(spec.columns), quoting=csv.QUOTE_ALL, lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / spec.file_name).write_text(buf.getvalue(), encoding="utf-8")
    return folder


def _set(rows: Rows, i: int, **values: str) -> Rows:
    rows[i] = {**rows[i], **values}
    return rows


CASES = {
    "null order_id": (
        "orders",
        lambda r: _set(r, 3, order_id=""),
        "bronze",
        "not_null_bronze_olist__orders_order_id",
    ),
    "duplicated order_id": (
        "orders",
        lambda r: [*r, {**r[5], "order_status": "canceled"}],
        "bronze",
        "key unique within one raw object",
    ),
    "negative price": (
        "order_items",
        lambda r: _set(r, 2, price="-5.00"),
        "silver",
        "silver_order_items.price_brl: not negative",
    ),
    "review score 7": (
        "order_reviews",
        lambda r: _set(r, 1, review_score="7"),
        "silver",
        "review_score",
    ),
    "unknown state": (
        "customers",
        lambda r: _set(r, 4, customer_state="XX"),
        "bronze",
        "customer_state",
    ),
    "purchase date in the future": (
        "orders",
        lambda r: _set(r, 6, order_purchase_timestamp="2099-01-01 10:00:00"),
        "silver",
        "purchase not in the future",
    ),
    "dropped column": ("sellers", None, "ingest", "header_mismatch"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_batch_stops_the_run_at_its_layer_and_gold_keeps_the_last_good_data(
    gated: Settings, sample_dir: Path, tmp_path: Path, case: str
) -> None:
    dataset, edit, layer, named = CASES[case]
    if edit is None:  # drop the last column from header and rows
        spec = OLIST_FILES[dataset]
        folder = tmp_path / "batch"
        folder.mkdir()
        lines = (sample_dir / spec.file_name).read_text(encoding="utf-8").splitlines()
        (folder / spec.file_name).write_text(
            "\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n", encoding="utf-8"
        )
    else:
        folder = _batch(sample_dir, dataset, tmp_path, edit)
    before = _gold_fingerprint(gated)

    with pytest.raises(PipelineFailed) as failure:
        run_pipeline(gated, folder)

    message = str(failure.value)
    step = message.split("failed at '", 1)[1].split("'", 1)[0]
    assert step.endswith(layer) or (layer == "ingest" and step == "ingest olist"), message
    assert named in message
    assert _gold_fingerprint(gated) == before
    records = Manifest(LocalStorage(gated.lake_dir)).records("olist")
    rejected = [r for r in records if r.status == "rejected" and r.dataset == dataset]
    if layer == "ingest":
        assert not rejected and all(r.original_name != folder.name for r in records)
    else:
        newest = max((r for r in records if r.dataset == dataset), key=lambda r: r.ingested_at)
        assert newest.status == "rejected"
        assert (
            f"build {layer}" in newest.rejected_reason or f"gate {layer}" in newest.rejected_reason
        )
    if layer != "ingest" and step.startswith("gate"):
        gate_records = [r for r in AuditLog(gated.audit_path).records() if r["action"] == "gate"]
        assert gate_records[-1]["outcome"] == "failed" and gate_records[-1]["object"] == layer


def test_a_later_good_batch_passes_again(gated: Settings, sample_dir: Path, tmp_path: Path) -> None:
    before = _gold_fingerprint(gated)

    def add_order(rows: Rows) -> Rows:
        new = {
            **rows[0],
            "order_id": "f" * 32,
            "order_status": "shipped",
            "order_delivered_customer_date": "",
        }
        return [*rows, new]

    summary = run_pipeline(gated, _batch(sample_dir, "orders", tmp_path, add_order))
    assert summary.outcome == "success"
    assert set(summary.gates) == {"bronze", "silver", "gold"}
    for gate in summary.gates.values():
        assert gate["checks"] > 0 and not gate["failed"] and gate["seconds"] >= 0
    after = _gold_fingerprint(gated)
    assert after["fct_orders"] == before["fct_orders"] + 1


def test_rows_lost_between_raw_and_bronze_fail_the_bronze_layer(gated: Settings) -> None:
    from dataclasses import replace

    from olist_elt.errors import DbtStepFailed

    manifest = Manifest(LocalStorage(gated.lake_dir))
    record = next(
        r for r in manifest.records("olist") if r.dataset == "sellers" and r.status == "accepted"
    )
    manifest.put(replace(record, rows=record.rows + 1))  # raw claims one row more
    try:
        with pytest.raises(DbtStepFailed, match="assert_bronze_rows_match_the_manifest"):
            target_for(gated).build("bronze")
    finally:
        manifest.put(record)
    target_for(gated).build("bronze")  # restored: passes again
