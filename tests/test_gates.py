"""Quality gates and rejection by cause: each kind of bad raw object is caught at its
layer, found among the objects pending since the last good run (whoever landed it),
rejected, and the run goes on without it: gold keeps the good data, good objects
that came with it go through."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from olist_elt.errors import InfrastructureFailed, PipelineFailed
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.storage import LocalStorage
from olist_elt.quality.gates import postgres_data_source, run_gate
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.run.state import full_refresh_reason
from olist_elt.sample import OLIST_FILES
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings
from olist_elt.targets import target_for
from tests.conftest import _free_port, copy_workspace, workspace_settings

pytestmark = pytest.mark.slow

Rows = list[dict[str, str]]


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, built: tuple[Settings, RunSummary]) -> Settings:
    """A workspace with one good run behind it: a copy of the shared run's."""
    assert built[1].outcome == "success"
    return copy_workspace(built[0], tmp_path_factory.mktemp("gated") / "ws")


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
    folder.mkdir(parents=True)
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
        "bronze_olist__orders.order_id: key is present",
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
}


def _land_elsewhere(settings: Settings, folder: Path, run_id: str) -> None:
    """Land files as another deployment would (`olist-elt ingest`), not the run."""
    from olist_elt.run.inputs import ingest_olist

    result = ingest_olist(settings, folder, run_id)
    assert result.ingested and not result.quarantined


def _gate_failures(settings: Settings) -> list[tuple[str, str]]:
    return [
        (r["object"], r["outcome"])
        for r in AuditLog(settings.audit_path).records()
        if r["action"] == "gate"
    ]


def test_bad_objects_landed_by_other_deployments_are_each_rejected_at_their_layer(
    gated: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """Every case, each a raw object landed by a deployment of its own, pending
    together in one run: each is found and rejected at its layer with its check
    named, gold keeps the last good data, and the run goes on to publish."""
    before = _gold_fingerprint(gated)
    gates_before = len(_gate_failures(gated))
    landed_by = {}
    for i, (case, (dataset, edit, _, _)) in enumerate(CASES.items()):
        landed_by[case] = f"ingest-{case.replace(' ', '-')}"
        folder = _batch(sample_dir, dataset, tmp_path / str(i), edit)
        _land_elsewhere(gated, folder, landed_by[case])

    summary = run_pipeline(gated, sample_dir)

    assert summary.outcome == "success"
    assert _gold_fingerprint(gated) == before
    records = {r.run_id: r for r in Manifest(LocalStorage(gated.lake_dir)).records("olist")}
    assert sorted(r["sha256"] for r in summary.rejected) == sorted(
        records[run].sha256 for run in landed_by.values()
    )
    for case, (_, _, layer, named) in CASES.items():
        record = records[landed_by[case]]
        reason = record.rejected_reason or ""
        assert record.status == "rejected", case
        assert f"build {layer}" in reason or f"gate {layer}" in reason, (case, reason)
        assert named in reason, (case, reason)
    failed = [s for s in summary.steps if s.outcome == "failed"]
    assert {s.layer for s in failed} == {"bronze", "silver"}
    for step in failed:
        if step.kind == "gate":
            assert (step.layer, "failed") in _gate_failures(gated)[gates_before:]
    assert summary.steps[-1].name == "render dashboards"
    assert {"find bad raw objects", "publish gold"} <= {s.name for s in summary.steps}
    # the rejections asked for a full refresh, which this run's rebuild from all of raw
    # made: nothing is left asked for (the next run is incremental)
    assert full_refresh_reason(gated) is None


def test_a_file_that_fails_validation_is_quarantined_and_stops_the_run(
    gated: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    spec = OLIST_FILES["sellers"]  # drop the last column from header and rows
    folder = tmp_path / "batch"
    folder.mkdir()
    lines = (sample_dir / spec.file_name).read_text(encoding="utf-8").splitlines()
    (folder / spec.file_name).write_text(
        "\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n", encoding="utf-8"
    )
    before = _gold_fingerprint(gated)
    with pytest.raises(PipelineFailed, match=r"failed at 'ingest olist'.*header_mismatch"):
        run_pipeline(gated, folder)
    assert _gold_fingerprint(gated) == before
    records = Manifest(LocalStorage(gated.lake_dir)).records("olist")
    assert all(r.status == "accepted" or r.dataset != "sellers" for r in records)


def test_good_objects_go_through_when_bad_ones_arrive_with_them(
    gated: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    before = _gold_fingerprint(gated)
    good = _batch(sample_dir, "orders", tmp_path / "good", _new_order)
    # bad in the same ways as the gate cases, but new bytes (a case's own file was
    # rejected already, and landing it again would be a duplicate)
    bad_items = _batch(
        sample_dir, "order_items", tmp_path / "items", lambda r: _set(r, 3, price="-7.00")
    )
    bad_reviews = _batch(
        sample_dir, "order_reviews", tmp_path / "rev", lambda r: _set(r, 2, review_score="9")
    )
    for i, folder in enumerate((good, bad_items, bad_reviews)):
        _land_elsewhere(gated, folder, f"landed-{i}")

    summary = run_pipeline(gated, sample_dir)

    assert summary.outcome == "success"
    assert sorted(r["object"].split("/")[2] for r in summary.rejected) == [
        "order_items",
        "order_reviews",
    ]
    assert _gold_fingerprint(gated)["fct_orders"] == before["fct_orders"] + 1
    records = Manifest(LocalStorage(gated.lake_dir)).records("olist")
    assert any(r.run_id == "landed-0" and r.status == "accepted" for r in records)


def test_bad_objects_caught_at_two_layers_are_both_rejected_and_trials_stop_at_the_failure(
    gated: Settings, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A customers file the bronze gate stops and an items file the silver gate stops,
    landed with a good order: the first build fails at bronze, the trials build
    bronze only and find the customers file; the build after its rejection fails at
    silver, the trials build up to silver and find the items file; the next build
    passes with the good order. Gold is built once, by that last build. Each trial
    builds only the data set whose gate failed and what is upstream of it."""
    import olist_elt.targets.base as base

    built: list[str] = []
    trials: list[tuple[str, ...]] = []
    real, real_upstream = base.build_layer, base.build_upstream

    def counting(dbt, layer, *args, **kwargs):
        built.append(layer)
        return real(dbt, layer, *args, **kwargs)

    def counting_trials(dbt, nodes, *args, **kwargs):
        trials.append(nodes)
        return real_upstream(dbt, nodes, *args, **kwargs)

    monkeypatch.setattr(base, "build_layer", counting)
    monkeypatch.setattr(base, "build_upstream", counting_trials)
    before = _gold_fingerprint(gated)
    batches = {
        "good": _batch(sample_dir, "orders", tmp_path / "good", _new_order_id("d")),
        "customers": _batch(
            sample_dir, "customers", tmp_path / "cust", lambda r: _set(r, 6, customer_state="YY")
        ),
        "items": _batch(
            sample_dir, "order_items", tmp_path / "items", lambda r: _set(r, 5, price="-3.00")
        ),
    }
    for name, folder in batches.items():
        _land_elsewhere(gated, folder, f"two-layers-{name}")

    summary = run_pipeline(gated, sample_dir)

    assert summary.outcome == "success"
    reasons = {r["object"].split("/")[2]: r["reason"] for r in summary.rejected}
    assert set(reasons) == {"customers", "order_items"}
    assert reasons["customers"].startswith("gate bronze failed")
    assert reasons["order_items"].startswith("gate silver failed")
    assert [s.name for s in summary.steps].count("find bad raw objects") == 2
    assert built.count("gold") == 1 and built[-1] == "gold"
    # of the three files, only the one of the source upstream of the failing data set
    # is a suspect at each layer, and a build without it passes. The first build was
    # incremental, so a full rebuild with the customers file confirms it; the second,
    # a full rebuild after that rejection, needs no second trial for the items file
    assert trials == [
        ("bronze_olist__customers",),
        ("bronze_olist__customers",),
        ("silver_order_items",),
    ]
    assert _gold_fingerprint(gated)["fct_orders"] == before["fct_orders"] + 1


def _new_order_id(letter: str) -> Callable[[Rows], Rows]:
    """An edit that adds one shipped, undelivered order whose id is 32 times letter."""

    def add(rows: Rows) -> Rows:
        new = {
            **rows[0],
            "order_id": letter * 32,
            "order_status": "shipped",
            "order_delivered_customer_date": "",
        }
        return [*rows, new]

    return add


_new_order = _new_order_id("e")


def test_a_later_good_batch_passes_again(gated: Settings, sample_dir: Path, tmp_path: Path) -> None:
    before = _gold_fingerprint(gated)

    summary = run_pipeline(gated, _batch(sample_dir, "orders", tmp_path, _new_order_id("f")))
    assert summary.outcome == "success"
    assert set(summary.gates) == {"bronze", "silver", "gold"}
    for gate in summary.gates.values():
        assert gate["checks"] > 0 and not gate["failed"] and gate["seconds"] >= 0
    after = _gold_fingerprint(gated)
    assert after["fct_orders"] == before["fct_orders"] + 1


ONE_VERSION_CHECK = """
  - failed_rows:
      name: no customer moved
      qualifier: no_customer_moved
      query: |
        select customer_id from ${var.SCHEMA}.dim_customer group by customer_id having count(*) > 1
"""


def _history(settings: Settings) -> list[tuple]:
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        return con.execute(
            "select customer_id, zip_code_prefix_3, dbt_valid_from, dbt_valid_to "
            "from snapshots.customers_snapshot order by all"
        ).fetchall()
    finally:
        con.close()


def test_a_batch_only_golds_gate_catches_leaves_no_version_in_the_type_2_history(
    built: tuple[Settings, RunSummary],
    sample_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A customers file whose move only a gold contract refuses (an operator's check:
    no customer has a second version). The gold build that failed had written the
    move into the snapshot, and every trial build still saw it there: nothing was
    blamed, the run failed, and rejecting the file by hand would not have taken the
    version out. Every gold build of a run now starts from the history as the last
    good run left it: the file is found and rejected, and neither the snapshot nor
    the served dim_customer holds the move. A good orders file landed beside it goes
    through, and is not a suspect: dim_customer reads no orders in gold's graph, so
    one trial without the customers file shows it is the cause."""
    import olist_elt.run.isolation as isolation

    trials: list[list[str]] = []
    real_trial = isolation.trial_passes

    def counting(ctx, held, scope):
        trials.append(sorted(r.dataset for r in held))
        return real_trial(ctx, held, scope)

    monkeypatch.setattr(isolation, "trial_passes", counting)
    contracts = tmp_path / "contracts"
    shutil.copytree(built[0].soda_contracts_dir, contracts)
    with open(contracts / "gold" / "dim_customer.yml", "a", encoding="utf-8") as fh:
        fh.write(ONE_VERSION_CHECK)
    ws = copy_workspace(built[0], tmp_path / "ws", soda_contracts_dir=contracts)
    history = _history(ws)
    served = _gold_fingerprint(ws)
    moved = _batch(
        sample_dir, "customers", tmp_path, lambda r: _set(r, 0, customer_zip_code_prefix="99999")
    )
    good = _batch(sample_dir, "orders", tmp_path / "good", _new_order_id("h"))
    _land_elsewhere(ws, good, "gold-guess-orders")

    summary = run_pipeline(ws, moved)

    assert summary.outcome == "success"
    assert [r["object"].split("/")[2] for r in summary.rejected] == ["customers"]
    assert "gate gold failed" in summary.rejected[0]["reason"]
    assert "no customer moved" in summary.rejected[0]["reason"]
    assert trials == [["customers"]]
    assert _history(ws) == history
    after = _gold_fingerprint(ws)
    assert after.pop("fct_orders") == served.pop("fct_orders") + 1  # the good order
    del after["orders_checksum"], served["orders_checksum"]
    assert after == served
    con = duckdb.connect(str(ws.build_database), read_only=True)
    try:  # the copy went with the good run's publish
        assert not con.execute(
            "select * from information_schema.schemata where schema_name = 'snapshots_saved'"
        ).fetchall()
    finally:
        con.close()


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


def test_a_raw_object_listed_twice_in_its_manifest_fails_the_bronze_layer(
    gated: Settings,
) -> None:
    from olist_elt.errors import DbtStepFailed
    from olist_elt.lake.manifest import manifest_key

    manifest = Manifest(LocalStorage(gated.lake_dir))
    record = next(r for r in manifest.records("olist") if r.dataset == "sellers")
    listed = gated.lake_dir / manifest_key("olist", "sellers", record.sha256)
    twice = listed.with_name("0" * 64 + ".json")  # the same record under another key
    twice.write_bytes(listed.read_bytes())
    try:
        with pytest.raises(DbtStepFailed, match="assert_each_raw_object_listed_once"):
            target_for(gated).build("bronze")
    finally:
        twice.unlink()
    target_for(gated).build("bronze")  # listed once again: passes


def test_a_trial_leaves_out_the_seeds_tests_as_its_run_does(gated: Settings) -> None:
    """A trial builds its nodes and what is upstream of them (here the seeds
    silver_customers joins): their tests run only where the run's layer builds run
    them (a project its last good run did not test)."""

    def built(fixed_row_tests: bool) -> set[str]:
        target = target_for(gated)  # parsed afresh: a manifest serves one build of a node
        target.fixed_row_tests = fixed_row_tests
        result = target.build_upstream(("silver_customers",))
        return {node.unique_id.split(".")[2] for node in result.nodes}

    changed, unchanged = built(True), built(False)
    assert {"brazil_states", "silver_customers"} <= unchanged
    assert "unique_brazil_states_state_code" in changed - unchanged
    assert not any("brazil_states" in n and n.startswith(("unique", "not_null")) for n in unchanged)


@pytest.mark.parametrize(
    ("price", "caught_by", "then_corrected"),
    [('"not a price"', "silver_order_items", True), ('"-5.00"', "not negative", False)],
    ids=["silver's cast fails", "silver's gate fails"],
)
def test_a_bad_file_in_a_data_sets_first_delivery_is_rejected_and_the_run_names_it(
    sample_dir: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    price: str,
    caught_by: str,
    then_corrected: bool,
) -> None:
    """No good run before, and the only order_items file is bad: a price that is no
    number (silver's cast fails) or is negative (silver's gate fails). The trials hold
    back every pending object, which leaves data sets empty, not missing, and fails
    no row count: the file is found and rejected. With no accepted order_items left,
    the run stops there and says so; nothing is served. The corrected file,
    delivered, goes through (one case)."""
    settings = workspace_settings(tmp_path / "ws", apis="off")
    first = tmp_path / "first"
    shutil.copytree(sample_dir, first)
    items = first / OLIST_FILES["order_items"].file_name
    lines = items.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[5] = price
    lines[1] = ",".join(cells)
    items.write_text("".join(lines), encoding="utf-8")

    with pytest.raises(PipelineFailed, match=r"failed at 'dbt build bronze'") as err:
        run_pipeline(settings, first)

    assert (
        "no accepted raw objects for bronze_olist__order_items: its 1 raw object(s) were "
        "rejected; deliver a corrected file" in str(err.value)
    )
    records = Manifest(LocalStorage(settings.lake_dir)).records("olist")
    assert {r.dataset for r in records if r.status == "rejected"} == {"order_items"}
    assert all(r.status == "accepted" for r in records if r.dataset != "order_items")
    (rejected,) = [r for r in records if r.status == "rejected"]
    assert caught_by in (rejected.rejected_reason or "")
    # the bad value is in no output of the run (dbt printed engine errors whole)
    printed = capfd.readouterr()
    assert price.strip('"') not in printed.out + printed.err
    audited = [r for r in AuditLog(settings.audit_path).records() if r["action"] == "raw.reject"]
    assert [r["object"] for r in audited] == [rejected.object_key]
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:  # nothing served (the file holds the ops tables: the failed run's record)
        served = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'gold'"
        ).fetchone()
    finally:
        con.close()
    assert served == (0,)
    if not then_corrected:  # one case delivers the corrected file: enough
        return

    summary = run_pipeline(settings, sample_dir)  # the corrected order_items

    assert summary.outcome == "success" and not summary.rejected
    assert summary.layer_rows["gold"]["fct_order_items"] > 0


def test_a_gate_whose_database_does_not_answer_blames_no_data() -> None:
    """Soda reports a connection it could not open as an errored contract: that is the
    engine's failure, raised as such, never a failed gate (which would send the run
    looking for a bad raw object to reject)."""
    nobody = postgres_data_source("127.0.0.1", _free_port(), "postgres", "", "postgres")
    refused = r"the gold gate could not run \(\w+\): the database does not answer"
    with pytest.raises(InfrastructureFailed, match=refused):
        run_gate(nobody, "gold", prefix="postgres/gold")
