"""The sample generator: real file names, headers, row counts and quirks."""

from __future__ import annotations

import csv
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from olist_elt.sample import OLIST_FILES, generate_sample, generator
from olist_elt.sample.generator import REAL_ROWS
from olist_elt.sample.reference import CATEGORY_TRANSLATIONS
from tests.conftest import TEST_SCALE


def _read(sample_dir: Path, dataset: str) -> list[dict[str, str]]:
    path = sample_dir / OLIST_FILES[dataset].file_name
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))
    }


def test_writes_the_nine_files_with_their_real_headers(sample_dir: Path) -> None:
    for spec in OLIST_FILES.values():
        with open(sample_dir / spec.file_name, encoding="utf-8-sig", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == spec.columns


def test_row_counts_follow_the_scale(sample_dir: Path) -> None:
    for dataset, real in REAL_ROWS.items():
        assert len(_read(sample_dir, dataset)) == round(real * TEST_SCALE), dataset
    assert len(_read(sample_dir, "category_translation")) == 71


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", scale=0.005, seed=1)
    generate_sample(tmp_path / "b", scale=0.005, seed=1)
    generate_sample(tmp_path / "c", scale=0.005, seed=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (
        _digest(tmp_path / "a")["olist_orders_dataset.csv"]
        != _digest(tmp_path / "c")["olist_orders_dataset.csv"]
    )


def test_two_generators_writing_one_folder_at_once_leave_whole_files_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_sample(tmp_path / "alone", scale=0.005, seed=1)
    # each file is written by both before either renames it into place
    both_written = threading.Barrier(2, timeout=30)
    write_lines = generator._write_lines

    def write_then_wait(*args: object) -> int:
        rows = write_lines(*args)  # type: ignore[arg-type]
        both_written.wait()
        return rows

    monkeypatch.setattr(generator, "_write_lines", write_then_wait)
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(generate_sample, tmp_path / "both", 0.005, 1) for _ in range(2)]
        for run in runs:
            run.result()  # neither lost its temp file to the other
    assert _digest(tmp_path / "both") == _digest(tmp_path / "alone")
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == sorted(
        _digest(tmp_path / "alone")
    )


def test_headers_are_quoted_and_keep_the_misspelled_lenght_columns(sample_dir: Path) -> None:
    first = (sample_dir / "olist_products_dataset.csv").read_bytes().split(b"\n", 1)[0]
    assert first.startswith(b'"product_id","product_category_name","product_name_lenght"')
    assert b'"product_description_lenght"' in first


def test_translation_file_starts_with_a_bom_and_uses_crlf(sample_dir: Path) -> None:
    raw = (sample_dir / "product_category_name_translation.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfproduct_category_name,")
    assert b"\r\n" in raw
    assert b"\r\n" not in (sample_dir / "olist_orders_dataset.csv").read_bytes()


def test_reviews_hold_multiline_quoted_emoji_text(sample_dir: Path) -> None:
    messages = [r["review_comment_message"] for r in _read(sample_dir, "order_reviews")]
    assert any("\n" in m for m in messages)
    assert any('"' in m for m in messages)
    assert any("," in m for m in messages)
    assert any(any(ord(ch) > 0xFFFF for ch in m) for m in messages)  # emoji
    assert any("ã" in m or "é" in m for m in messages)
    assert sum(1 for m in messages if m == "") > len(messages) / 3


def test_review_ids_repeat_across_orders_and_orders_get_several_reviews(
    sample_dir: Path,
) -> None:
    rows = _read(sample_dir, "order_reviews")
    orders_per_review: dict[str, set[str]] = {}
    reviews_per_order: dict[str, set[str]] = {}
    for r in rows:
        orders_per_review.setdefault(r["review_id"], set()).add(r["order_id"])
        reviews_per_order.setdefault(r["order_id"], set()).add(r["review_id"])
    assert any(len(v) > 1 for v in orders_per_review.values())
    assert any(len(v) > 1 for v in reviews_per_order.values())


def test_delivery_timestamps_follow_the_order_status(sample_dir: Path) -> None:
    for o in _read(sample_dir, "orders"):
        if o["order_status"] != "delivered":
            assert o["order_delivered_customer_date"] == "", o
        if o["order_status"] == "created":
            assert o["order_approved_at"] == ""
    delivered = [o for o in _read(sample_dir, "orders") if o["order_status"] == "delivered"]
    assert all(o["order_delivered_customer_date"] for o in delivered[:50])


def test_payments_include_not_defined_and_zero_installments(sample_dir: Path) -> None:
    payments = _read(sample_dir, "order_payments")
    assert any(p["payment_type"] == "not_defined" for p in payments)
    assert any(p["payment_installments"] == "0" for p in payments)
    assert {p["payment_type"] for p in payments} >= {"credit_card", "boleto", "voucher"}


def test_zip_prefixes_come_with_and_without_leading_zeros(sample_dir: Path) -> None:
    customer_zips = [c["customer_zip_code_prefix"] for c in _read(sample_dir, "customers")]
    assert all(len(z) == 5 for z in customer_zips)
    assert any(z.startswith("0") for z in customer_zips)
    geo_zips = [g["geolocation_zip_code_prefix"] for g in _read(sample_dir, "geolocation")]
    assert any(len(z) == 4 for z in geo_zips)  # leading zero dropped


def test_geolocation_has_duplicates_accents_and_points_outside_brazil(sample_dir: Path) -> None:
    rows = _read(sample_dir, "geolocation")
    keys = [tuple(r.values()) for r in rows]
    assert len(set(keys)) < len(keys)
    assert any(float(r["geolocation_lat"]) > 6 for r in rows)
    cities = {r["geolocation_city"] for r in rows}
    assert "são paulo" in cities and "sao paulo" in cities


def test_products_use_73_categories_of_which_2_have_no_translation(sample_dir: Path) -> None:
    translated = {pt for pt, _ in CATEGORY_TRANSLATIONS}
    used = {p["product_category_name"] for p in _read(sample_dir, "products")}
    assert "" in used  # products without a category
    assert used - translated - {""}  # categories the translation file lacks
