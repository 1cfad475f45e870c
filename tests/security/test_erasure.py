"""Erasure requests: an id nobody holds is refused and changes nothing."""

from __future__ import annotations

import csv
import hashlib
import io
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from olist_elt.errors import PipelineFailed
from olist_elt.lake.lander import Lander
from olist_elt.lake.lifecycle import move_to_cold
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.quarantine import quarantine
from olist_elt.lake.storage import LocalStorage
from olist_elt.run.inputs import ingest_olist
from olist_elt.run.lock import RunLocked
from olist_elt.run.lock import holder as lock_holder
from olist_elt.run.pipeline import run_pipeline
from olist_elt.sample import OLIST_FILES
from olist_elt.security.audit import AuditLog
from olist_elt.security.erasure import (
    UnknownPerson,
    erase_person,
    keyed_pseudonym,
    record_erasure,
    register_path,
)
from olist_elt.security.erasure_raw import RawEraser
from olist_elt.security.vault import PII_KEY_NAME, open_vault
from olist_elt.settings import Settings
from olist_elt.targets import target_for
from olist_elt.targets.snapshot_guard import before_gold_build
from tests.conftest import (
    API_NOW,
    lake_held_by_another_process,
    workspace_env,
    workspace_settings,
)
from tests.test_cli import _env

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture()
def landed(tmp_path: Path, sample_dir: Path) -> Settings:
    """A workspace whose raw zone holds the sample (ingested, nothing built)."""
    settings = workspace_settings(tmp_path)
    ingest_olist(settings, sample_dir, "test-ingest")
    return settings


def _lake_files(settings: Settings) -> dict[str, bytes]:
    """Every file of the lake but the audit log and its signed head, by path."""
    audit = {settings.audit_path.resolve(), settings.audit_anchor_path.resolve()}
    return {
        str(p.relative_to(settings.lake_dir)): p.read_bytes()
        for p in sorted(settings.lake_dir.rglob("*"))
        if p.is_file() and p.resolve() not in audit
    }


def _a_person(sample_dir: Path) -> str:
    with open(sample_dir / OLIST_FILES["customers"].file_name, encoding="utf-8") as fh:
        return next(csv.DictReader(fh))["customer_unique_id"]


def test_erasing_an_unknown_id_says_so_and_changes_nothing(landed: Settings) -> None:
    before = _lake_files(landed)
    with pytest.raises(UnknownPerson) as refused:
        record_erasure(landed, UNKNOWN_ID, "dpo@test")
    assert "nothing was recorded or changed" in str(refused.value)
    assert UNKNOWN_ID not in str(refused.value)
    assert _lake_files(landed) == before
    assert not register_path(landed.lake_dir).exists()
    last = list(AuditLog(landed.audit_path).records())[-1]
    assert (last["action"], last["outcome"]) == ("erasure.request", "refused")
    assert UNKNOWN_ID not in landed.audit_path.read_text()


def test_a_known_id_is_recorded_once_and_an_unknown_one_still_refused(
    landed: Settings, sample_dir: Path
) -> None:
    person = _a_person(sample_dir)
    pseudonym, added = record_erasure(landed, person, "dpo@test")
    assert added
    assert record_erasure(landed, f" {person} ", "dpo@test") == (pseudonym, False)
    register = register_path(landed.lake_dir).read_bytes()
    with pytest.raises(UnknownPerson):
        record_erasure(landed, UNKNOWN_ID, "dpo@test")
    assert register_path(landed.lake_dir).read_bytes() == register


def test_the_erase_command_refuses_an_unknown_id_with_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "olist_elt", "erase", "--customer-unique-id", UNKNOWN_ID],
        env=_env(tmp_path, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "nothing was recorded or changed" in done.stdout + done.stderr
    assert "erasure recorded" not in done.stdout
    assert not (tmp_path / "warehouse").exists()


def test_the_erase_command_erases_and_rebuilds_under_one_hold_of_the_lake(
    built_copy: Settings, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`olist-elt erase` as the DPO types it: the erasure and its full-refresh rebuild
    under one hold of the run lock (no other run between them), the person nowhere
    after, the lock free again."""
    import olist_elt.run.pipeline as pipeline_module
    from olist_elt.cli import app

    settings = built_copy
    person, customer_ids, _, texts = _a_reviewing_person(sample_dir)
    for name, value in workspace_env(settings).items():
        monkeypatch.setenv(name, value)
    held_at_rebuild: list[dict[str, str] | None] = []
    real_run = pipeline_module.run_pipeline

    def rebuild(*args, **kwargs):
        held_at_rebuild.append(lock_holder(settings))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "run_pipeline", rebuild)
    # the command line as the console script's process has it (dbt, run in-process,
    # copies sys.argv into its log and run_results.json)
    monkeypatch.setattr(sys, "argv", ["olist-elt", "erase", "--customer-unique-id", person])

    done = CliRunner().invoke(app, ["erase", "--customer-unique-id", person])

    assert done.exit_code == 0, done.output[-3000:]
    assert "bronze, silver and gold rebuilt" in done.output
    assert [h and h["run_id"] for h in held_at_rebuild] == ["erasure by dpo"]
    needles = {person, *customer_ids, *texts}
    assert _files_holding(settings.lake_dir, needles) == []
    assert _files_holding(settings.dbt_target_path, needles) == []
    for database in (settings.build_database, settings.warehouse_path):
        assert _columns_holding(database, needles) == []
    assert lock_holder(settings) is None


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _a_reviewing_person(sample_dir: Path) -> tuple[str, set[str], set[str], set[str]]:
    """A person whose orders have review texts found in no other review: their
    customer_unique_id, customer_ids, order_ids and those texts."""
    customers = _rows(sample_dir / OLIST_FILES["customers"].file_name)
    orders = _rows(sample_dir / OLIST_FILES["orders"].file_name)
    reviews = _rows(sample_dir / OLIST_FILES["order_reviews"].file_name)
    texts = [
        (r["order_id"], r[c])
        for r in reviews
        for c in ("review_comment_title", "review_comment_message")
        if r[c]
    ]
    owners: dict[str, set[str]] = {}
    for order_id, text in texts:
        owners.setdefault(text, set()).add(order_id)
    customer_of = {o["order_id"]: o["customer_id"] for o in orders}
    person_of = {c["customer_id"]: c["customer_unique_id"] for c in customers}
    for order_id, text in sorted(texts):
        if len(text) < 12 or owners[text] != {order_id}:
            continue
        person = person_of[customer_of[order_id]]
        customer_ids = {c for c, p in person_of.items() if p == person}
        order_ids = {o for o, c in customer_of.items() if c in customer_ids}
        own = {t for o, t in texts if o in order_ids}
        if all(owners[t] <= order_ids for t in own):
            return person, customer_ids, order_ids, own
    raise AssertionError("the sample has no review text of one person only")


def test_erasure_replaces_the_raw_objects_that_hold_the_person(
    landed: Settings, sample_dir: Path
) -> None:
    person, customer_ids, order_ids, texts = _a_reviewing_person(sample_dir)
    manifest = Manifest(LocalStorage(landed.lake_dir))
    before = {(r.dataset, r.sha256): r for r in manifest.records("olist")}

    pseudonym, added, rewrites = erase_person(landed, person, "dpo@test")

    assert added
    assert sorted(r.dataset for r in rewrites) == ["customers", "order_reviews", "orders"]
    by_dataset = {r.dataset: r for r in rewrites}
    assert by_dataset["customers"].rows_removed == len(customer_ids)
    assert by_dataset["orders"].rows_changed == len(order_ids)
    assert by_dataset["orders"].rows_removed == 0
    after = {r.sha256: r for r in manifest.records("olist")}
    for rewrite in rewrites:
        old, new = after[rewrite.old_sha256], after[rewrite.new_sha256]
        assert (old.status, old.superseded_by) == ("erased", new.sha256)
        assert (new.status, new.supersedes) == ("accepted", old.sha256)
        assert new.ingested_at == old.ingested_at  # the build orders versions alike
        assert new.rows == before[(rewrite.dataset, rewrite.old_sha256)].rows - (
            rewrite.rows_removed
        )
        assert not (landed.lake_dir / old.object_key).exists()
        data = (landed.lake_dir / new.object_key).read_bytes()
        assert hashlib.sha256(data).hexdigest() == new.sha256
    # every order and every review stays: amounts and scores do not move
    orders = list(csv.DictReader(io.StringIO(_object(landed, after, by_dataset["orders"]))))
    assert len(orders) == len(_rows(sample_dir / OLIST_FILES["orders"].file_name))
    assert {o["customer_id"] for o in orders if o["order_id"] in order_ids} == {"erased-customer"}
    reviews = _object(landed, after, by_dataset["order_reviews"])
    assert len(list(csv.DictReader(io.StringIO(reviews)))) == len(
        _rows(sample_dir / OLIST_FILES["order_reviews"].file_name)
    )
    needles = {person, *customer_ids, *texts}
    assert _files_holding(landed.lake_dir, needles) == []
    erased = [
        r["detail"] for r in AuditLog(landed.audit_path).records() if r["action"] == "erasure.raw"
    ]
    assert {(r["old_sha256"], r["new_sha256"]) for r in erased} == {
        (r.old_sha256, r.new_sha256) for r in rewrites
    }
    assert all(r["person"] == pseudonym for r in erased)
    assert AuditLog(landed.audit_path).verify().ok


def test_a_replayed_copy_of_erased_bytes_is_not_landed_again(
    landed: Settings, sample_dir: Path
) -> None:
    person, customer_ids, _, _ = _a_reviewing_person(sample_dir)
    erase_person(landed, person, "dpo@test")
    result = ingest_olist(landed, sample_dir, "test-replay")
    outcomes = {f.file: f.outcome for f in result.files}
    assert outcomes[OLIST_FILES["customers"].file_name] == "duplicate"
    assert _files_holding(landed.lake_dir / "raw", {person, *customer_ids}) == []


def test_erasure_deletes_the_persons_quarantined_and_landed_copies(
    landed: Settings, sample_dir: Path
) -> None:
    person, customer_ids, _, _ = _a_reviewing_person(sample_dir)
    name = OLIST_FILES["customers"].file_name
    landing = landed.lake_dir / "landing" / "olist" / "drop"
    landing.mkdir(parents=True)
    (landing / name).write_bytes((sample_dir / name).read_bytes())
    broken = (sample_dir / name).read_bytes() + b'"unterminated\n'
    quarantined = quarantine(
        LocalStorage(landed.lake_dir),
        AuditLog(landed.audit_path),
        source="olist",
        run_id="test-bad",
        name=name,
        reason="malformed_csv",
        detail="an unterminated quote",
        actor="svc-connector-olist",
        data=broken,
    )
    # input named like a reason, as a lake quarantined it before such names were kept
    # apart (<name>.file): a file among the reasons, holding the person too
    old_layout = landed.lake_dir / "quarantine" / "olist" / "test-old" / f"{name}.reason.json"
    old_layout.parent.mkdir(parents=True)
    old_layout.write_bytes(broken)
    erase_person(landed, person, "dpo@test")
    assert not old_layout.exists()
    assert not (landing / name).exists()
    assert not (landed.lake_dir / quarantined).exists()
    assert not (landed.lake_dir / f"{quarantined}.reason.json").exists()
    assert _files_holding(landed.lake_dir, {person, *customer_ids}) == []


def _object(settings: Settings, records: dict, rewrite: object) -> str:
    record = records[rewrite.new_sha256]  # type: ignore[attr-defined]
    return (settings.lake_dir / record.object_key).read_text(encoding="utf-8")


def _files_holding(root: Path, values: set[str]) -> list[str]:
    """Every file under root whose bytes hold one of the values."""
    needles = [v.encode("utf-8") for v in values]
    return [
        str(p.relative_to(root))
        for p in sorted(root.rglob("*"))
        if p.is_file() and any(n in p.read_bytes() for n in needles)
    ]


# Orders, GMV, payments and review scores of served gold (the same SQL on DuckDB and
# PostgreSQL): an erasure must leave every one of them as it was.
GOLD_TOTALS = (
    "select (select count(*) from gold.fct_orders),"
    " (select sum(price_brl) from gold.fct_order_items),"
    " (select sum(payment_value_brl) from gold.fct_payments),"
    " (select count(*) from gold.fct_reviews),"
    " (select sum(review_score) from gold.fct_reviews)"
)


def _gold_totals(settings: Settings) -> tuple:
    """GOLD_TOTALS as the served DuckDB file holds them."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(GOLD_TOTALS).fetchone()
    finally:
        con.close()


def columns_holding(con: duckdb.DuckDBPyConnection, values: set[str]) -> list[str]:
    """Every text column of every table or view a DuckDB connection sees that holds
    one of the values."""
    found = []
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'"
    ).fetchall()
    for schema, table, column in columns:
        hits = con.execute(
            f'select count(*) from "{schema}"."{table}" where "{column}" in (select unnest(?))',
            [sorted(values)],
        ).fetchone()[0]
        if hits:
            found.append(f"{schema}.{table}.{column}")
    return found


def _columns_holding(database: Path, values: set[str]) -> list[str]:
    """Every text column of every table in a DuckDB file holding one of the values."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return columns_holding(con, values)
    finally:
        con.close()


def _saved_history_of(settings: Settings, keys: set[str]) -> int:
    """The versions of these customers in the snapshots' saved copy (it must exist)."""
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        return con.execute(
            "select count(*) from snapshots_saved.customers_snapshot"
            " where customer_id in (select unnest(?))",
            [sorted(keys)],
        ).fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
def test_after_erase_and_a_run_the_person_is_nowhere_in_the_lake_and_totals_hold(
    built_copy: Settings, sample_dir: Path
) -> None:
    settings = built_copy  # one good run of the sample behind it
    person, customer_ids, _, texts = _a_reviewing_person(sample_dir)
    needles = {person, *customer_ids, *texts}
    assert _columns_holding(settings.build_database, needles)  # bronze holds them first
    before = _gold_totals(settings)

    # a gold build after the good run whose run then died left the snapshots' copy
    assert before_gold_build(target_for(settings)) == "saved"
    pii_key = open_vault(settings).get(PII_KEY_NAME)
    keys = {keyed_pseudonym(pii_key, customer_id) for customer_id in customer_ids}
    assert _saved_history_of(settings, keys) == len(keys)

    _, _, rewrites = erase_person(settings, person, "dpo@test")

    def dies_after_gold(step: str) -> None:
        if step == "gate gold":
            raise RuntimeError("killed after the gold build")

    with pytest.raises(PipelineFailed, match="failed at 'gate gold': killed after the gold"):
        run_pipeline(settings, ingest_inputs=False, on_step=dies_after_gold)
    assert _saved_history_of(settings, keys) == 0  # the copy kept, without the person
    assert run_pipeline(settings, ingest_inputs=False).outcome == "success"
    replay = run_pipeline(settings, sample_dir)  # the old export landed once more

    assert replay.outcome == "success"
    assert _files_holding(settings.lake_dir, needles) == []
    for database in (settings.build_database, settings.warehouse_path):
        assert _columns_holding(database, needles) == []
    assert _gold_totals(settings) == before
    records = {r.sha256: r for r in Manifest(LocalStorage(settings.lake_dir)).records("olist")}
    for rewrite in rewrites:
        old = records[rewrite.old_sha256]
        assert (old.status, old.superseded_by) == ("erased", rewrite.new_sha256)
        assert records[rewrite.new_sha256].supersedes == rewrite.old_sha256
        assert not (settings.lake_dir / old.object_key).exists()
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        read = {
            sha
            for (sha,) in con.execute(
                "select distinct _sha256 from bronze.bronze_olist__customers"
                " union select distinct _sha256 from bronze.bronze_olist__orders"
                " union select distinct _sha256 from bronze.bronze_olist__order_reviews"
            ).fetchall()
        }
    finally:
        con.close()
    assert read == {r.new_sha256 for r in rewrites}  # bronze reads the new versions only
    outputs = {}
    for command in (["audit", "verify"], ["status"]):
        done = subprocess.run(
            [sys.executable, "-m", "olist_elt", *command],
            env=_env(settings.lake_dir.parent, COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs[command[0]] = done.stdout
    assert "audit log OK" in outputs["audit"]
    assert "3 raw object(s) erased on request" in outputs["status"]
    for rewrite in rewrites:
        assert f"{rewrite.old_sha256[:12]} -> {rewrite.new_sha256[:12]}" in outputs["status"]


def test_raw_erasure_leaves_no_stored_version_of_the_old_objects_on_either_backend(
    lake_storage, sample_dir: Path, tmp_path: Path
) -> None:
    from tests.lake.test_storage import ingest_olist as land_on

    versioned = getattr(lake_storage, "client", None)
    if versioned is not None:  # the compose stack's bucket keeps every version
        versioned.put_bucket_versioning(
            Bucket=lake_storage.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    audit = AuditLog(tmp_path / "audit.jsonl")
    land_on(sample_dir, writer=Lander(lake_storage, audit), landing=tmp_path / "l", run_id="r1")
    person, customer_ids, _, texts = _a_reviewing_person(sample_dir)

    eraser = RawEraser(lake_storage, audit)
    rewrites = [eraser.replace(*p, "pseudonym") for p in eraser.plan(eraser.find(person))]

    assert sorted(r.dataset for r in rewrites) == ["customers", "order_reviews", "orders"]
    needles = [v.encode("utf-8") for v in {person, *customer_ids, *texts}]
    for key in lake_storage.list("raw"):
        assert not any(n in lake_storage.read_bytes(key) for n in needles), key
    old = {r.old_sha256 for r in rewrites}
    if versioned is not None:
        pages = versioned.get_paginator("list_object_versions").paginate(Bucket=lake_storage.bucket)
        left = [
            v["Key"]
            for page in pages
            for kind in ("Versions", "DeleteMarkers")
            for v in page.get(kind, [])
            if any(sha in v["Key"] and "_manifest" not in v["Key"] for sha in old)
        ]
        assert left == []
    else:
        assert not any(sha in key for key in lake_storage.list("raw/olist") for sha in old)


def test_lifecycle_moves_the_new_versions_and_leaves_the_erased_records(
    landed: Settings, sample_dir: Path
) -> None:
    person, _, _, _ = _a_reviewing_person(sample_dir)
    _, _, rewrites = erase_person(landed, person, "dpo@test")
    storage = LocalStorage(landed.lake_dir)
    manifest = Manifest(storage)
    long_ago = (API_NOW - timedelta(days=120)).isoformat()
    for record in manifest.records():
        manifest.put(replace(record, ingested_at=long_ago))

    moves = move_to_cold(storage, AuditLog(landed.audit_path), older_than_days=90, now=API_NOW)

    moved = {m.sha256 for m in moves}
    assert len(rewrites) == 3
    assert {r.new_sha256 for r in rewrites} <= moved
    assert not moved & {r.old_sha256 for r in rewrites}
    assert all(storage.exists(r.object_key) for r in manifest.records() if r.status != "erased")


def test_an_erasure_while_a_run_holds_the_lake_is_refused_and_changes_nothing(
    landed: Settings, sample_dir: Path
) -> None:
    """Raw objects are replaced and deleted by an erasure: not under a run that may be
    reading them. Refused, naming the run; nothing is written (the operator erases
    once the run is over)."""
    before = _lake_files(landed)

    with (
        lake_held_by_another_process(landed, "the-daily-run"),
        pytest.raises(RunLocked, match="run the-daily-run"),
    ):
        erase_person(landed, _a_person(sample_dir), "dpo@test")

    after = _lake_files(landed)
    assert {k: v for k, v in after.items() if not k.startswith("runs/")} == {
        k: v for k, v in before.items() if not k.startswith("runs/")
    }
    assert not register_path(landed.lake_dir).exists()


@pytest.mark.slow
def test_an_analysts_next_dbt_run_after_an_erasure_builds_the_person_out_of_their_file(
    built_copy: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """The analyst's own DuckDB file (target dev) appends raw objects to bronze and
    recomputes silver from newer ones only: after an erasure replaced the person's
    objects, their next `dbt run` finds its tables holding objects the lake no longer
    accepts and builds those again in full, with no --full-refresh typed. The objects
    are in cold first (as the lifecycle leaves them: keys under cold/raw/)."""
    from olist_elt.lake.lifecycle import run_lifecycle
    from tests.conftest import typed_dbt
    from tests.transform.test_analyst_dbt import _analyst_env

    settings = built_copy
    run_lifecycle(settings, older_than_days=0)  # every object in cold: cold/raw/... keys
    person, customer_ids, _, texts = _a_reviewing_person(sample_dir)
    needles = {person, *customer_ids, *texts}
    env = _analyst_env(settings, tmp_path)
    dev = Path(env["OLIST_DEV_DATABASE"])
    select = ("--select", "+silver_orders", "+silver_reviews")
    first = typed_dbt(env, "run", *select)
    assert first.returncode == 0, first.stdout[-3000:]
    assert _columns_holding(dev, needles)  # the person is in the analyst's file

    erase_person(settings, person, "dpo@test")
    again = typed_dbt(env, "run", *select)

    assert again.returncode == 0, again.stdout[-3000:]
    assert _columns_holding(dev, needles) == []
    assert "no longer accepts (erased, rejected or forgotten): built again in full" in again.stdout
    assert stat.S_IMODE(dev.stat().st_mode) == 0o600  # raw personal data in bronze
