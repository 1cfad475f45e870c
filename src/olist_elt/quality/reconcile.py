"""Reconciliation: rows per data set at source file, raw, bronze, silver and gold, with
every difference between two layers explained by counted reasons (duplicate removed,
quarantined, rejected, filtered by rule, erased, history versions, ...). A difference
the reasons do not account for fails the run like a gate, naming data set and layers.

Each reason is counted by its own query, independently of the dbt model that applies
the rule, so a model that loses rows shows up as an unexplained difference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from olist_elt.errors import OlistEltError
from olist_elt.lake.manifest import ManifestRecord

LAYERS = ("source", "raw", "bronze", "silver", "gold")
ERASED = "erased-customer"


class ReconciliationFailed(OlistEltError):
    """Rows went missing (or appeared) between two layers with no counted reason."""

    def __init__(self, report: ReconciliationReport) -> None:
        self.report = report
        lines = [f"  - {d.dataset}: {d.describe()}" for d in report.unexplained]
        super().__init__(
            f"reconciliation failed ({len(lines)} unexplained difference(s)):\n" + "\n".join(lines)
        )


@dataclass
class Step:
    """Rows moving from one layer to the next, and why some did not."""

    dataset: str
    upstream: str
    downstream: str
    rows_in: int
    rows_out: int
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def unexplained(self) -> int:
        """rows_in - rows_out - the counted reasons (0 when all is accounted for)."""
        return self.rows_in - self.rows_out - sum(self.reasons.values())

    def describe(self) -> str:
        why = ", ".join(f"{k} {v:+,}" for k, v in self.reasons.items() if v) or "no reason"
        return (
            f"{self.upstream} {self.rows_in:,} -> {self.downstream} {self.rows_out:,} "
            f"({why}; unexplained {self.unexplained:+,})"
        )


@dataclass
class ReconciliationReport:
    """Rows per data set and layer, and every step between layers."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Step]:
        return [s for s in self.steps if s.unexplained != 0]

    @property
    def passed(self) -> bool:
        return not self.unexplained

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rows": self.rows,
            "steps": [{**asdict(s), "unexplained": s.unexplained} for s in self.steps],
        }


@dataclass(frozen=True)
class DatasetSpec:
    """How one Olist data set flows through the layers."""

    dataset: str
    bronze: str
    silver: str
    gold: str | None
    # bronze -> silver: reason -> SQL returning one count (over schemas bronze/silver)
    silver_reasons: dict[str, str]
    # silver -> gold
    gold_reasons: dict[str, str]


def _dupes(table: str, keys: str) -> str:
    return f"select count(*) - count(distinct ({keys})) from bronze.{table}"


SPECS = (
    DatasetSpec(
        "orders",
        "bronze_olist__orders",
        "silver_orders",
        "fct_orders",
        {"duplicate removed": _dupes("bronze_olist__orders", "order_id")},
        {},
    ),
    DatasetSpec(
        "order_items",
        "bronze_olist__order_items",
        "silver_order_items",
        "fct_order_items",
        {"duplicate removed": _dupes("bronze_olist__order_items", "order_id, order_item_id")},
        {
            "filtered by rule: no such order": "select count(*) from silver.silver_order_items "
            "where order_id not in (select order_id from silver.silver_orders)"
        },
    ),
    DatasetSpec(
        "order_payments",
        "bronze_olist__order_payments",
        "silver_payments",
        "fct_payments",
        {
            "duplicate removed": _dupes(
                "bronze_olist__order_payments", "order_id, payment_sequential"
            )
        },
        {
            "filtered by rule: no such order": "select count(*) from silver.silver_payments "
            "where order_id not in (select order_id from silver.silver_orders)"
        },
    ),
    DatasetSpec(
        "order_reviews",
        "bronze_olist__order_reviews",
        "silver_reviews",
        "fct_reviews",
        {"duplicate removed": _dupes("bronze_olist__order_reviews", "review_id, order_id")},
        {
            "filtered by rule: no such order": "select count(*) from silver.silver_reviews "
            "where order_id not in (select order_id from silver.silver_orders)"
        },
    ),
    DatasetSpec(
        "geolocation",
        "bronze_olist__geolocation",
        "silver_geolocation",
        None,
        {
            "aggregated: one row per zip prefix": "select count(*) - count(distinct "
            "lpad(trim(geolocation_zip_code_prefix), 5, '0')) "
            "from bronze.bronze_olist__geolocation",
            "filtered by rule: no point inside Brazil": "select count(distinct lpad(trim("
            "geolocation_zip_code_prefix), 5, '0')) - count(distinct case when "
            "cast(geolocation_lat as double) between -33.75 and 5.27 and "
            "cast(geolocation_lng as double) between -73.99 and -34.79 then "
            "lpad(trim(geolocation_zip_code_prefix), 5, '0') end) "
            "from bronze.bronze_olist__geolocation",
        },
        {},
    ),
    DatasetSpec(
        "customers",
        "bronze_olist__customers",
        "silver_customers",
        "dim_customer",
        {
            "duplicate removed": _dupes("bronze_olist__customers", "customer_id"),
            # erased customers and the one anonymous member standing for them: filled in
        },
        {},
    ),
    DatasetSpec(
        "sellers",
        "bronze_olist__sellers",
        "silver_sellers",
        "dim_seller",
        {"duplicate removed": _dupes("bronze_olist__sellers", "seller_id")},
        {},
    ),
    DatasetSpec(
        "products",
        "bronze_olist__products",
        "silver_products",
        "dim_product",
        {"duplicate removed": _dupes("bronze_olist__products", "product_id")},
        {},
    ),
)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)  # type: ignore[index]


def reconcile(
    con: duckdb.DuckDBPyConnection,
    records: list[ManifestRecord],
    gold_rows: dict[str, int],
    quarantined: dict[str, int],
    erased_customers: Callable[[], int],
    *,
    as_of: str | None = None,
    history_versions: Callable[[str], int] | None = None,
) -> ReconciliationReport:
    """Count every data set at every layer and explain each step.

    con reads schemas bronze and silver; records are the raw manifest; gold_rows the
    served tables' rows; quarantined the files the connector refused per data set (this
    run); erased_customers counts customers removed by erasure; history_versions(dim)
    the extra versions a type-2 dimension holds beyond one per key."""
    report = ReconciliationReport()
    for spec in SPECS:
        mine = [r for r in records if r.source == "olist" and r.dataset == spec.dataset]
        delivered = sum(r.rows or 0 for r in mine)
        later = sum(
            r.rows or 0
            for r in mine
            if r.status == "accepted" and as_of is not None and r.ingested_at[:10] > as_of
        )
        accepted = sum(r.rows or 0 for r in mine if r.status == "accepted") - later
        rejected = sum(r.rows or 0 for r in mine if r.status != "accepted")
        bronze = _count(con, f"select count(*) from bronze.{spec.bronze}")
        silver = _count(con, f"select count(*) from silver.{spec.silver}")
        rows = {"source": delivered, "raw": accepted, "bronze": bronze, "silver": silver}
        report.steps.append(
            Step(
                spec.dataset,
                "source",
                "raw",
                delivered,
                accepted,
                {"rejected by a gate": rejected, "ingested after the as-of date": later},
            )
        )
        if quarantined.get(spec.dataset):
            rows["quarantined files"] = quarantined[spec.dataset]
        report.steps.append(Step(spec.dataset, "raw", "bronze", accepted, bronze))
        reasons = {name: _count(con, sql) for name, sql in spec.silver_reasons.items()}
        if spec.dataset == "customers":
            erased = erased_customers()
            anonymous = _count(
                con, f"select count(*) from silver.silver_customers where customer_id = '{ERASED}'"
            )
            reasons["erased"] = erased
            reasons["anonymous member added"] = -anonymous
        report.steps.append(Step(spec.dataset, "bronze", "silver", bronze, silver, reasons))
        if spec.gold is not None:
            gold = gold_rows.get(spec.gold, 0)
            rows["gold"] = gold
            reasons = {name: _count(con, sql) for name, sql in spec.gold_reasons.items()}
            if history_versions is not None and spec.gold.startswith("dim_"):
                reasons["history versions added"] = -history_versions(spec.gold)
            report.steps.append(Step(spec.dataset, "silver", "gold", silver, gold, reasons))
        report.rows[spec.dataset] = rows
    return report
