"""The embedded target: every layer in one DuckDB file, gold served from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from olist_elt.ops.history import write_duckdb
from olist_elt.quality.gates import GateReport, duckdb_data_source, run_gate
from olist_elt.run.steps import Kind, Step
from olist_elt.targets.base import Target, build_step
from olist_elt.transform import project
from olist_elt.warehouse.publish import LIVE_SCHEMA, base_tables, row_counts, swap_into_live

REWIND_STATEMENTS = (
    ("delete from {s}.{t} where dbt_valid_from >= ?", True),
    ("update {s}.{t} set dbt_valid_to = null where dbt_valid_to >= ?", False),
)


def rewind(execute: Callable[[str, datetime], int], snapshots: list[Any], day: date) -> dict:
    """Versions that began after the day go, versions that ended after it are current
    again (versions are dated by raw ingestion times, so a replay recreates them)."""
    cutoff = datetime.combine(day + timedelta(days=1), datetime.min.time())
    removed: dict[str, int] = {}
    for snap in snapshots:
        for template, counted in REWIND_STATEMENTS:
            n = execute(template.format(s=snap.schema, t=snap.name), cutoff)
            if counted:
                removed[snap.name] = n
    return removed


class LocalTarget(Target):
    """DuckDB for everything: bronze, silver, gold (staged, gated, swapped in)."""

    name = "local"
    served_engine = "duckdb"

    def gold_steps(
        self, gate: Callable[[str, Callable[[], GateReport]], GateReport]
    ) -> list[Step[Any]]:
        return [
            build_step(self, "gold", False),
            Step(
                "gate gold",
                Kind.GATE,
                lambda: gate("gold", lambda: self.check("gold", self.staging_schema())),
                lambda r: len(r.checks),
                layer="gold",
            ),
        ]

    def staged_counts(self) -> dict[str, int]:
        with self.lake_connection() as con:
            return row_counts(con, self.staging_schema())

    def publish(self) -> dict[str, int]:
        counts = swap_into_live(self.settings.warehouse_path, self.staging_schema(), LIVE_SCHEMA)
        self.audit().append(
            "svc-publisher",
            "publish",
            f"{self.settings.warehouse_path.name}:{LIVE_SCHEMA}",
            "ok",
            tables=len(counts),
            rows=sum(counts.values()),
        )
        return counts

    def served_counts(self) -> dict[str, int]:
        if not self.settings.warehouse_path.exists():
            return {}
        with self.lake_connection() as con:
            return row_counts(con, LIVE_SCHEMA)

    def check_served(self) -> GateReport:
        with self.lake_connection() as con:
            return run_gate(
                duckdb_data_source(con),
                "gold",
                schema=LIVE_SCHEMA,
                contracts_dir=self.settings.soda_contracts_dir,
                exclude=self.excluded(),
            )

    def gold_scalar(self, sql: str) -> Any:
        with self.lake_connection() as con:
            return con.execute(sql).fetchone()[0]  # type: ignore[index]

    def rewind_snapshots(self, day: date) -> dict[str, int]:
        if not self.settings.warehouse_path.exists():
            return {}
        con = duckdb.connect(str(self.settings.warehouse_path))
        try:
            built = set()
            for snap in project.snapshots(self.manifest):
                if snap.name in base_tables(con, snap.schema):
                    built.add(snap.name)
            snaps = [s for s in project.snapshots(self.manifest) if s.name in built]
            return rewind(
                lambda sql, cutoff: int(con.execute(sql, [cutoff]).fetchone()[0]),  # type: ignore[index]
                snaps,
                day,
            )
        finally:
            con.close()

    def record_history(self, summary: dict[str, Any]) -> str:
        self.settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        write_duckdb(str(self.settings.warehouse_path), summary)
        return f"{self.settings.warehouse_path}:ops"

    def describe_served(self) -> str:
        return f"{self.settings.warehouse_path} (schema gold)"
