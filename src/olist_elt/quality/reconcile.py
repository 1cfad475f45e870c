"""Reconciliation: rows per data set at source file, raw, bronze, silver and gold, with
every difference between two layers explained by counted reasons (duplicate removed,
quarantined, rejected, filtered by rule, erased, history versions, ...). A difference
the reasons do not account for fails the run like a gate, naming data set and layers.

Each reason is counted by its own query, independently of the dbt model that applies
the rule, so a model that loses rows shows up as an unexplained difference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from olist_elt.errors import OlistEltError
from olist_elt.lake.manifest import ManifestRecord
from olist_elt.security.audit import AuditLog
from olist_elt.transform import project

if TYPE_CHECKING:
    from olist_elt.targets.base import Target

LAYERS = ("source", "raw", "bronze", "silver", "gold")


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


AUDIT_RELATION = "audit.audit_reconciliation_reasons"


def erased_rows(records: list[ManifestRecord]) -> int:
    """Rows an erasure took out of raw: each erased object's rows less its successor's."""
    rows = {r.sha256: r.rows or 0 for r in records}
    return sum(
        (r.rows or 0) - rows.get(r.superseded_by, r.rows or 0)
        for r in records
        if r.status == "erased" and r.superseded_by
    )


def reconcile(
    records: list[ManifestRecord],
    datasets: dict[str, dict[str, str]],
    count: Callable[[str, str], int],
    reasons: list[tuple[str, str, str, int]],
    gold_rows: dict[str, int],
    quarantined: dict[str, int],
    *,
    as_of: str | None = None,
    history_versions: Callable[[str], int | None] | None = None,
) -> ReconciliationReport:
    """Count every data set at every layer and explain each step.

    datasets: per raw data set, its bronze, silver and (optional) gold model, as the
    dbt project declares them; count(schema, table) counts a lake relation; reasons
    are the audit model's rows (data set, layer, reason, rows left out); gold_rows the
    gold tables' rows; quarantined the files the connector refused per data set (this
    run); history_versions(dim) the extra versions a type-2 dimension holds."""
    report = ReconciliationReport()
    for dataset, models in datasets.items():
        mine = [r for r in records if r.source == "olist" and r.dataset == dataset]
        # an erasure's new version is no delivery of its own: its rows were delivered
        # in the object it supersedes, less the person's rows
        delivered = sum(r.rows or 0 for r in mine if not r.supersedes)
        later = sum(
            r.rows or 0
            for r in mine
            if r.status == "accepted" and as_of is not None and r.ingested_at[:10] > as_of
        )
        accepted = sum(r.rows or 0 for r in mine if r.status == "accepted") - later
        rejected = sum(r.rows or 0 for r in mine if r.status == "rejected")
        erased = erased_rows(mine)
        bronze = count("bronze", models["bronze"])
        silver = count("silver", models["silver"])
        rows = {"source": delivered, "raw": accepted, "bronze": bronze, "silver": silver}
        report.steps.append(
            Step(
                dataset,
                "source",
                "raw",
                delivered,
                accepted,
                {
                    "rejected by a gate": rejected,
                    "ingested after the as-of date": later,
                    "erased on request": erased,
                },
            )
        )
        if quarantined.get(dataset):
            rows["quarantined files"] = quarantined[dataset]
        report.steps.append(Step(dataset, "raw", "bronze", accepted, bronze))
        explained = {r: n for d, layer, r, n in reasons if d == dataset and layer == "silver"}
        report.steps.append(Step(dataset, "bronze", "silver", bronze, silver, explained))
        gold_model = models.get("gold")
        if gold_model is not None:
            gold = gold_rows.get(gold_model, 0)
            rows["gold"] = gold
            explained = {r: n for d, layer, r, n in reasons if d == dataset and layer == "gold"}
            versions = history_versions(gold_model) if history_versions else None
            if versions is not None:
                explained["history versions added"] = -versions
            report.steps.append(Step(dataset, "silver", "gold", silver, gold, explained))
        report.rows[dataset] = rows
    return report


def reconcile_run(
    target: Target,
    summary: Any,
    records: list[ManifestRecord],
    *,
    staged: bool,
    record: bool = True,
) -> ReconciliationReport:
    """Reconcile a run's layers on its Target (gold in staging before it is published,
    or as served when nothing was rebuilt); kept in the run record and audited unless
    record is false (a trial build); an unexplained difference raises
    ReconciliationFailed."""
    from olist_elt.connectors.olist import OLIST_FILES

    by_file = {f.file_name: f.dataset for f in OLIST_FILES.values()}
    quarantined: dict[str, int] = {}
    for item in summary.ingest.get("quarantined", []) if summary else []:
        dataset = by_file.get(item["file"])
        if dataset:
            quarantined[dataset] = quarantined.get(dataset, 0) + 1
    gold_manifest = target.gold_manifest

    def versions(model: str) -> int | None:
        snap = project.snapshot_of(gold_manifest, model)
        if snap is None:
            return None
        return int(
            target.gold_scalar(
                f"select count(*) - count(distinct {snap.unique_key}) "
                f"from {snap.schema}.{snap.name}"
            )
        )

    with target.lake_connection() as con:

        def count(schema: str, table: str) -> int:
            return int(con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0])  # type: ignore[index]

        reasons = [
            (str(d), str(layer), str(r), int(n or 0))
            for d, layer, r, n in con.execute(
                f"select dataset, layer, reason, row_count from {AUDIT_RELATION}"
            ).fetchall()
        ]
        report = reconcile(
            records,
            project.reconciled_datasets(target.manifest),
            count,
            reasons,
            target.staged_counts() if staged else target.served_counts(),
            quarantined,
            as_of=target.settings.as_of.isoformat() if target.settings.as_of else None,
            history_versions=versions,
        )
    if not record:
        if not report.passed:
            raise ReconciliationFailed(report)
        return report
    summary.reconciliation = report.to_dict()
    AuditLog(target.settings.audit_path).append(
        "svc-reconciliation",
        "reconcile",
        summary.run_id,
        "passed" if report.passed else "failed",
        unexplained=[f"{s.dataset}: {s.describe()}" for s in report.unexplained],
    )
    if not report.passed:
        raise ReconciliationFailed(report)
    return report
