"""History, late data and reconciliation: SCD2 dimensions, incremental bronze and
silver keyed on the raw manifest, backfills, and rows accounted for at every layer."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from olist_elt.connectors.olist import OlistCsvConnector
from olist_elt.errors import PipelineFailed
from olist_elt.lake.lander import Lander
from olist_elt.lake.storage import LocalStorage
from olist_elt.run.lock import RunLocked
from olist_elt.run.lock import holder as lock_holder
from olist_elt.run.pipeline import run_backfill, run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.run.state import full_refresh_reason
from olist_elt.sample import generate_sample
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings
from olist_elt.targets.base import Target
from olist_elt.transform.parity import TableFingerprint, fingerprint
from tests.conftest import (
    TEST_SCALE,
    TEST_SEED,
    copy_workspace,
    every_layer,
    lake_held_by_another_process,
    workspace_env,
    workspace_settings,
)
from tests.test_cli import CLI, _env

pytestmark = pytest.mark.slow

ORDERS = "olist_orders_dataset.csv"
CUSTOMERS = "olist_customers_dataset.csv"
ITEMS = "olist_order_items_dataset.csv"
REVIEWS = "olist_order_reviews_dataset.csv"
# The gold facts whose recomputed orders are measured (recomputed_orders).
FACTS = ("fct_orders", "fct_order_items", "fct_payments", "fct_reviews")


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# The instants each delivery lands (the connector's clock), one day apart: the sample,
# a day of new and updated orders, a customer's move, an order placed after it, late
# records. Fixed, so that no test here depends on the wall clock or the date.
DAYS = tuple(datetime(2026, 1, 9, 6, 0, tzinfo=UTC) + timedelta(days=i) for i in range(5))
SAO_PAULO = timedelta(hours=-3)  # the source's timestamps are São Paulo wall-clock times


def _local(instant: datetime) -> datetime:
    return (instant + SAO_PAULO).replace(tzinfo=None)


def _order_id(label: str) -> str:
    return hashlib.md5(f"test_history/{label}".encode()).hexdigest()


@dataclass
class Deliveries:
    """The history's deliveries after the sample, one folder per day of DAYS[1:]."""

    orders_day: Path
    updated: set[str]
    new: set[str]
    move_day: Path
    mover: str
    after_move: Path
    mover_order: str
    late_day: Path
    late: dict[str, str]


def make_deliveries(sample_dir: Path, out: Path) -> Deliveries:
    header, orders = _read(sample_dir / ORDERS)
    shipped = [o for o in orders if o["order_status"] == "shipped"][:2]
    assert len(shipped) == 2, "the sample has shipped orders to deliver"
    updated_rows = []
    for order in shipped:
        bought = datetime.strptime(order["order_purchase_timestamp"], "%Y-%m-%d %H:%M:%S")
        updated_rows.append(
            {
                **order,
                "order_status": "delivered",
                "order_delivered_customer_date": _ts(bought + timedelta(days=6)),
            }
        )
    landed = _local(DAYS[1])  # the orders were placed in the hours before they landed
    delivered = [o for o in orders if o["order_status"] == "delivered"]
    new_rows = []
    for i, template in enumerate(delivered[:3]):
        new_rows.append(
            {
                **template,
                "order_id": _order_id(f"new-{i}"),
                "order_status": "processing",
                "order_purchase_timestamp": _ts(landed - timedelta(hours=5 + i)),
                "order_approved_at": _ts(landed - timedelta(hours=4 + i)),
                "order_delivered_carrier_date": "",
                "order_delivered_customer_date": "",
                "order_estimated_delivery_date": _ts(
                    (landed + timedelta(days=12)).replace(hour=0, minute=0, second=0)
                ),
            }
        )
    orders_day = out / "orders-day"
    _write(orders_day / ORDERS, header, updated_rows + new_rows)

    c_header, customers = _read(sample_dir / CUSTOMERS)
    mover = next(c for c in customers if c["customer_state"] != "AM")
    moved = {
        **mover,
        "customer_zip_code_prefix": "69005",
        "customer_city": "manaus",
        "customer_state": "AM",
    }
    # The sample's customers plus the mover's new address: a re-delivered export.
    move_day = out / "move-day"
    _write(
        move_day / CUSTOMERS,
        c_header,
        [moved if c["customer_id"] == mover["customer_id"] else c for c in customers],
    )
    # An order placed after the move landed (DAYS[2]), one hour before it lands itself.
    mover_order = _mover_order(orders, mover["customer_id"], _local(DAYS[3]) - timedelta(hours=1))
    after_move = out / "order-after-move"
    _write(after_move / ORDERS, header, [mover_order])
    new = {o["order_id"] for o in new_rows}
    late_day = out / "late-day"
    late = make_late_day(sample_dir, sorted(new)[0], late_day)
    return Deliveries(
        orders_day,
        {o["order_id"] for o in shipped},
        new,
        move_day,
        mover["customer_id"],
        after_move,
        mover_order["order_id"],
        late_day,
        late,
    )


def _mover_order(orders: list[dict[str, str]], customer_id: str, bought: datetime) -> dict:
    return {
        **next(o for o in orders if o["customer_id"] == customer_id),
        "order_id": _order_id("after-move"),
        "order_status": "processing",
        "order_purchase_timestamp": _ts(bought),
        "order_approved_at": _ts(bought),
        "order_delivered_carrier_date": "",
        "order_delivered_customer_date": "",
        "order_estimated_delivery_date": _ts(
            (bought + timedelta(days=12)).replace(hour=0, minute=0, second=0)
        ),
    }


def ingest_on(settings: Settings, folder: Path, day: datetime) -> None:
    """Land a delivery as the connector would have on that day."""
    lander = Lander(
        LocalStorage(settings.lake_dir), AuditLog(settings.audit_path), clock=lambda: day
    )
    connector = OlistCsvConnector(folder, settings.landing_dir, "t")
    result = lander.land(connector, connector.read(lander.view(connector)), "t")
    assert not result.quarantined, result.quarantined


def make_late_day(sample_dir: Path, late_order: str, out: Path) -> dict[str, str]:
    """A later day with late records: the items of an order delivered without them
    (one of the new orders), and a second, later review of a reviewed order."""
    i_header, items = _read(sample_dir / ITEMS)
    _write(out / ITEMS, i_header, [{**items[0], "order_id": late_order, "order_item_id": "1"}])
    r_header, reviews = _read(sample_dir / REVIEWS)
    reviewed = next(r for r in reviews if r["review_score"] != "1")
    created = datetime.strptime(reviewed["review_creation_date"], "%Y-%m-%d %H:%M:%S")
    late_review = {
        **reviewed,
        "review_id": _order_id("late-review"),
        "review_score": "1",
        "review_creation_date": _ts(created + timedelta(days=2)),
        "review_answer_timestamp": _ts(created + timedelta(days=3)),
    }
    _write(out / REVIEWS, r_header, [late_review])
    return {"items": late_order, "review": reviewed["order_id"]}


def recomputed_orders(settings: Settings) -> dict[str, set[str]]:
    """The orders each gold fact's last build selected: the select dbt compiled for it
    in that run (with the run's own cut-off), evaluated again right after the run on
    the build database. A full build selects every order. (The open orders whose
    overdue bucket moved, which fct_orders also recomputes, are not seen: by then the
    table holds the new end date.)"""
    compiled = settings.dbt_target_path / "pipeline-local" / "compiled" / "olist_elt"
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        out = {}
        for fact in FACTS:
            select = (compiled / "models" / "gold" / f"{fact}.sql").read_text()
            rows = con.execute(f"select distinct order_id from ({select})").fetchall()
            out[fact] = {o for (o,) in rows}
        return out
    finally:
        con.close()


def staged_orders(settings: Settings) -> dict[str, set[str]]:
    """The orders each staged gold fact holds."""
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        return {
            fact: {
                o for (o,) in con.execute(f"select order_id from gold_staging.{fact}").fetchall()
            }
            for fact in FACTS
        }
    finally:
        con.close()


def table_fingerprints(settings: Settings, schemas: tuple[str, ...]) -> dict[str, TableFingerprint]:
    """Each table of these schemas as the run left it (gold: as it was served)."""
    con = every_layer(settings)
    try:
        con.execute("set TimeZone = 'UTC'")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'memory' and list_contains(?, table_schema) order by 1, 2",
            [list(schemas)],
        ).fetchall()
        assert {s for s, _ in tables} == set(schemas)  # no schema compared empty
        return {f"{s}.{t}": fingerprint(con, f'"{s}"."{t}"') for s, t in tables}
    finally:
        con.close()


def rows_by_key(settings: Settings, relation: str, key: str) -> dict[str, tuple]:
    con = every_layer(settings)
    try:
        cur = con.execute(f"select * from {relation}")
        names = [d[0] for d in cur.description]
        return {row[names.index(key)]: row for row in cur.fetchall()}
    finally:
        con.close()


def pseudonym_of(settings: Settings, customer_id: str) -> str:
    from olist_elt.security.erasure import keyed_pseudonym
    from olist_elt.security.vault import PII_KEY_NAME, open_vault

    vault = open_vault(settings, AuditLog(settings.audit_path))
    return keyed_pseudonym(vault.get(PII_KEY_NAME), customer_id)


def customer_versions(settings: Settings, customer_id: str) -> list[str]:
    """The state of each version of a customer in the SCD2 snapshot, oldest first."""
    build = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        return [
            state
            for (state,) in build.execute(
                "select state_code from snapshots.customers_snapshot where customer_id = ? "
                "order by dbt_valid_from",
                [pseudonym_of(settings, customer_id)],
            ).fetchall()
        ]
    finally:
        build.close()


def rewound_versions(settings: Settings) -> dict[str, int]:
    """The snapshot versions the workspace's one backfill removed, by snapshot (its
    audit record)."""
    [started] = [r for r in AuditLog(settings.audit_path).records() if r["action"] == "backfill"]
    return started["detail"]["snapshot_versions_removed"]


@dataclass
class History:
    settings: Settings
    deliveries: Deliveries
    first: RunSummary
    idle: RunSummary
    orders_day: RunSummary
    move_day: RunSummary
    late_day: RunSummary
    silver_before: dict[str, tuple]
    silver_after_orders: dict[str, tuple]
    refreshed: Settings
    written_idle: dict[str, set[str]]
    written_orders_day: dict[str, set[str]]
    present_orders_day: dict[str, set[str]]
    written_late_day: dict[str, set[str]]
    present_late_day: dict[str, set[str]]
    late: dict[str, str]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> History:
    """Daily runs: each delivery lands on its day of DAYS (the connector's clock), then
    the pipeline runs on what raw holds."""
    root = tmp_path_factory.mktemp("history")
    settings = workspace_settings(root / "ws", apis="off")
    d = make_deliveries(sample_dir, root / "deliveries")

    def day(i: int, folder: Path, **kwargs: bool) -> RunSummary:
        ingest_on(settings, folder, DAYS[i])
        summary = run_pipeline(settings, ingest_inputs=False, **kwargs)
        assert summary.outcome == "success", summary.error
        return summary

    first = day(0, sample_dir)
    idle = day(0, sample_dir, force_rebuild=True)  # the same files delivered again
    written_idle = recomputed_orders(settings)
    before = rows_by_key(settings, "silver.silver_orders", "order_id")
    orders_day = day(1, d.orders_day)
    written_orders_day = recomputed_orders(settings)
    present_orders_day = staged_orders(settings)
    after_orders = rows_by_key(settings, "silver.silver_orders", "order_id")
    day(2, d.move_day)  # the move arrives (customers only), then an order placed after it
    move_day = day(3, d.after_move)
    # Late records: the items of an order that came without them, a later review.
    late_day = day(4, d.late_day)
    written_late_day = recomputed_orders(settings)
    present_late_day = staged_orders(settings)
    # The same raw zone rebuilt in one go (full refresh), in a copy of the workspace.
    refreshed = copy_workspace(settings, root / "refreshed", apis="off")
    run_pipeline(refreshed, ingest_inputs=False, force_rebuild=True, full_refresh=True)
    return History(
        settings,
        d,
        first,
        idle,
        orders_day,
        move_day,
        late_day,
        before,
        after_orders,
        refreshed,
        written_idle,
        written_orders_day,
        present_orders_day,
        written_late_day,
        present_late_day,
        d.late,
    )


def test_a_second_run_with_no_new_raw_objects_reads_nothing(history: History) -> None:
    assert history.first.incremental["bronze_olist__orders"]["rows"] > 0
    assert history.idle.outcome == "success" and history.idle.full_refresh is None
    assert history.idle.incremental
    assert all(c == {"objects": 0, "rows": 0} for c in history.idle.incremental.values())
    assert history.idle.layer_rows == history.first.layer_rows


def test_a_run_with_no_new_raw_objects_recomputes_no_gold_fact(history: History) -> None:
    assert history.written_idle == {fact: set() for fact in FACTS}


def test_a_one_day_run_reads_only_that_days_raw_objects_in_every_layer(
    history: History,
) -> None:
    d = history.deliveries
    day = d.updated | d.new
    # bronze: the day's one raw object, nothing else
    read = history.orders_day.incremental
    assert read["bronze_olist__orders"] == {"objects": 1, "rows": 5}
    assert all(c["objects"] == 0 for m, c in read.items() if m != "bronze_olist__orders")
    # silver: the keys that object touched (test_a_day_of_new_and_updated_orders...)
    # gold: each fact recomputed the day's orders only, not every order
    present = history.present_orders_day
    for fact in FACTS:
        assert history.written_orders_day[fact] == day & present[fact], fact
    assert len(present["fct_orders"]) > 10 * len(day)


def test_late_records_recompute_only_their_orders(history: History) -> None:
    late, written = history.late, history.written_late_day
    assert history.late_day.outcome == "success"
    assert history.late_day.incremental["bronze_olist__order_items"]["objects"] == 1
    assert history.late_day.incremental["bronze_olist__order_reviews"]["objects"] == 1
    touched = {late["items"], late["review"]}
    for fact in FACTS:
        assert written[fact] == touched & history.present_late_day[fact], fact
    assert written["fct_orders"] == touched
    con = duckdb.connect(str(history.settings.warehouse_path), read_only=True)
    try:
        item_count, score = con.execute(
            "select max(case when order_id = ? then item_count end), "
            "max(case when order_id = ? then review_score end) from gold.fct_orders",
            [late["items"], late["review"]],
        ).fetchone()
    finally:
        con.close()
    assert item_count == 1 and score == 1  # the late items counted, the later review shown


def test_a_day_of_new_and_updated_orders_changes_exactly_those_rows(history: History) -> None:
    d = history.deliveries
    read = history.orders_day.incremental
    assert read["bronze_olist__orders"] == {"objects": 1, "rows": 5}
    assert all(c["objects"] == 0 for m, c in read.items() if m != "bronze_olist__orders")
    before, after = history.silver_before, history.silver_after_orders
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == d.updated | d.new
    assert set(before) - set(after) == set()
    for order_id in d.updated:  # shipped -> delivered, from the later object
        assert "delivered" in after[order_id] and "shipped" in before[order_id]


def test_a_customer_moving_city_gets_a_second_version_and_old_orders_keep_the_old_one(
    history: History,
) -> None:
    settings, d = history.settings, history.deliveries
    pseudonym = pseudonym_of(settings, d.mover)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        versions = con.execute(
            "select customer_key, state_code, valid_from, valid_to, is_current "
            "from gold.dim_customer where customer_id = ? order by valid_from",
            [pseudonym],
        ).fetchall()
        orders = dict(
            con.execute(
                "select order_id, customer_key from gold.fct_orders where customer_id = ?",
                [pseudonym],
            ).fetchall()
        )
    finally:
        con.close()
    states = customer_versions(settings, d.mover)  # the type-2 history taken from silver
    assert len(states) == 2 and states[0] != "AM" and states[1] == "AM"
    assert len(versions) == 2
    (old_key, old_state, _, old_to, old_current), (new_key, new_state, new_from, _, current) = (
        versions
    )
    # gold shows a state only where at least 5 persons share the location (k >= 5)
    assert old_state != "AM" and new_state in ("AM", None)
    assert old_to == new_from and not old_current and current
    assert orders.pop(d.mover_order) == new_key  # placed after the move
    assert orders and set(orders.values()) == {old_key}  # the old orders keep the old one


def test_new_customers_that_unhide_a_city_version_the_old_ones_and_reject_nothing(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    """A delivery of new customers changes what silver shows of earlier ones: a city
    fewer than k customers shared was OTHER and shows now. Those customers get a
    second version, begun by the newest raw object read. Dated by their own, older
    ingestion, it took the instant of their first version: the two versions repeated
    dim_customer's key, gold's build failed and the run rejected the good delivery."""
    settings = copy_workspace(built[0], tmp_path / "ws")
    second = tmp_path / "second"
    generate_sample(second, scale=TEST_SCALE, seed=TEST_SEED + 1)

    summary = run_pipeline(settings, second)

    assert summary.outcome == "success", summary.error
    assert summary.rejected == []
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        [(versions, instants, newest)] = con.execute(
            "select count(*), count(distinct (customer_id, dbt_valid_from)), "
            "max(_ingested_at) from snapshots.customers_snapshot"
        ).fetchall()
        unhidden = con.execute(
            "select old.customer_id, new.dbt_valid_from from snapshots.customers_snapshot old "
            "join snapshots.customers_snapshot new on old.customer_id = new.customer_id "
            "and old.dbt_valid_to = new.dbt_valid_from "
            "where old.city = 'OTHER' and new.city != 'OTHER' "
            "and new._ingested_at = old._ingested_at"  # their own row did not change
        ).fetchall()
        keys = con.execute(
            "select count(*), count(distinct customer_key) from gold_staging.dim_customer"
        ).fetchone()
    finally:
        con.close()
    assert unhidden, "no customer of the first delivery had its city shown by the second"
    assert {begun for _, begun in unhidden} == {newest}
    assert versions == instants
    assert keys[0] == keys[1] == versions


def test_incremental_history_equals_a_full_refresh(history: History) -> None:
    schemas = ("bronze", "silver", "gold")
    incremental = table_fingerprints(history.settings, schemas)
    refreshed = table_fingerprints(history.refreshed, schemas)
    assert set(incremental) == set(refreshed) and len(incremental) > 20
    differ = {t for t in incremental if incremental[t] != refreshed[t]}
    assert not differ


def test_every_run_reconciles_source_to_gold(history: History) -> None:
    rec = history.orders_day.reconciliation
    assert rec["passed"]
    orders = rec["rows"]["orders"]
    # 5 rows delivered again, 2 of them updates of existing orders
    assert orders["bronze"] - orders["silver"] == 2
    step = next(s for s in rec["steps"] if s["dataset"] == "orders" and s["upstream"] == "bronze")
    assert step["reasons"]["duplicate removed"] == 2 and step["unexplained"] == 0
    customers = history.move_day.reconciliation["steps"]
    gold = next(s for s in customers if s["dataset"] == "customers" and s["downstream"] == "gold")
    assert gold["reasons"]["history versions added"] == -1


def test_a_planted_unexplained_loss_fails_the_run_naming_data_set_and_layer(
    history: History, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copytree(history.refreshed.lake_dir.parent, tmp_path / "ws")
    settings = workspace_settings(tmp_path / "ws", apis="off")
    real_build = Target.build

    def lossy_build(self, layer, full_refresh=False):
        result = real_build(self, layer, full_refresh)
        if layer == "silver":
            con = duckdb.connect(str(settings.build_database))
            con.execute(
                "delete from silver.silver_payments where rowid in "
                "(select rowid from silver.silver_payments limit 3)"
            )
            con.close()
        return result

    monkeypatch.setattr(Target, "build", lossy_build)
    served = rows_by_key(settings, "gold.fct_payments", "payment_key")
    with pytest.raises(PipelineFailed, match=r"(?s)at 'reconcile'.*order_payments: bronze") as err:
        run_pipeline(settings, ingest_inputs=False, force_rebuild=True)
    assert "unexplained +3" in str(err.value)
    assert rows_by_key(settings, "gold.fct_payments", "payment_key") == served  # not published


@dataclass
class Backfill:
    settings: Settings
    summaries: list[RunSummary]
    # who held the lake's run lock at each step of the backfill's days
    holders: list[dict[str, str] | None]
    # dbt's reasons for parsing the whole project, logged during the backfill
    full_parses: list[str]


def dbt_log(settings: Settings) -> Path:
    """The log of the pipeline's dbt commands on the local target."""
    return settings.dbt_target_path / "pipeline-local" / "logs" / "dbt.log"


def full_parses(settings: Settings, since: int) -> list[str]:
    """The lines of the pipeline's dbt log after byte `since` where dbt parsed the
    whole project instead of reusing its parse."""
    text = dbt_log(settings).read_bytes()[since:].decode("utf-8", "replace")
    return [line for line in text.splitlines() if "Unable to do partial parsing" in line]


@pytest.fixture(scope="module")
def backfill(history: History, tmp_path_factory: pytest.TempPathFactory) -> Backfill:
    """The history's days after the sample (new and updated orders, the move, an order
    after it, late records) replayed by a backfill in a copy of its workspace: the
    customer's second version began after the first replayed day, so the backfill
    has to rewind it and make it again."""
    replayed = copy_workspace(
        history.settings, tmp_path_factory.mktemp("backfill") / "ws", apis="off"
    )
    holders: list[dict[str, str] | None] = []
    logged = dbt_log(replayed).stat().st_size  # the history's runs wrote it
    summaries = run_backfill(
        replayed,
        DAYS[1].date(),
        DAYS[-1].date(),
        on_step=lambda _: holders.append(lock_holder(replayed)),
    )
    return Backfill(replayed, summaries, holders, full_parses(replayed, logged))


def test_a_backfill_holds_the_run_lock_across_its_days(backfill: Backfill) -> None:
    """One holder from the first day's first step to the last day's last: no other
    run (a scheduled daily one) can start between two replayed days."""
    assert len(backfill.holders) > 4 * 5 and all(backfill.holders)
    (holder,) = {h["run_id"] for h in backfill.holders if h}
    assert holder.startswith(f"backfill {DAYS[1].date()}..{DAYS[-1].date()} ")
    assert holder not in {s.run_id for s in backfill.summaries}
    # the run inside it is named too (`olist-elt status` shows it running, not gone)
    currents = [h.get("current") for h in backfill.holders if h]
    assert sorted(set(currents), key=currents.index) == [s.run_id for s in backfill.summaries]
    assert lock_holder(backfill.settings) is None  # released at the end


def test_a_backfill_refused_by_a_running_run_changes_nothing(
    history: History, tmp_path: Path
) -> None:
    """Another process holds the lake (a daily run): the backfill is refused, naming
    it, before the type-2 history is rewound or the next build marked a full refresh."""
    ws = copy_workspace(history.settings, tmp_path / "ws", apis="off")
    before = table_fingerprints(ws, ("snapshots", "silver"))
    audited = len(AuditLog(ws.audit_path).records())
    pending = full_refresh_reason(ws)
    with (
        lake_held_by_another_process(ws, "the-daily-run"),
        pytest.raises(RunLocked, match="run the-daily-run"),
    ):
        run_backfill(ws, DAYS[1].date(), DAYS[-1].date())
    assert table_fingerprints(ws, ("snapshots", "silver")) == before
    assert full_refresh_reason(ws) == pending
    assert len(AuditLog(ws.audit_path).records()) == audited


def test_a_backfill_over_four_days_equals_the_four_daily_runs(
    history: History, backfill: Backfill
) -> None:
    replayed, summaries = backfill.settings, backfill.summaries
    assert [s.outcome for s in summaries] == ["success"] * 4
    assert [s.as_of for s in summaries] == [d.date().isoformat() for d in DAYS[1:]]
    assert summaries[0].full_refresh and not any(s.full_refresh for s in summaries[1:])
    # each later day reads only the raw objects landed that day
    read = [
        {m: c["objects"] for m, c in s.incremental.items() if c["objects"]} for s in summaries[1:]
    ]
    assert read == [
        {"bronze_olist__customers": 1},  # the move
        {"bronze_olist__orders": 1},
        {"bronze_olist__order_items": 1, "bronze_olist__order_reviews": 1},
    ]
    assert summaries[2].incremental["bronze_olist__orders"]["rows"] == 1
    # the day is a run-time var: every day builds on the parse the daily runs kept
    # (as a parse var, each day parsed the whole project again)
    assert backfill.full_parses == []
    schemas = ("silver", "gold", "snapshots")
    daily = table_fingerprints(history.settings, schemas)
    assert table_fingerprints(replayed, schemas) == daily
    # the type-2 history was rewound (the move's version went) and replayed (it is back)
    assert rewound_versions(replayed)["customers_snapshot"] == 1
    assert len(customer_versions(replayed, history.deliveries.mover)) == 2
    # Idempotent: the same range again, as a user replays it (`olist-elt run --from
    # --to` in a fresh process on this workspace), gives the same tables.
    home = replayed.lake_dir.parent
    done = subprocess.run(
        [*CLI, "run", "--from", DAYS[1].date().isoformat(), "--to", DAYS[-1].date().isoformat()],
        cwd=home,
        env=_env(home, COLUMNS="200", OLIST_APIS="off", **workspace_env(replayed)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    days = re.findall(r"^(\d{4}-\d{2}-\d{2}): run \S+ (\w+)", done.stdout, re.M)
    assert days == [(d.date().isoformat(), "success") for d in DAYS[1:]]
    assert table_fingerprints(replayed, schemas) == daily
