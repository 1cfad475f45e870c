"""The embedded target: the pipeline builds every layer in its own DuckDB file; BI
tools read a separate file holding gold and ops, replaced atomically by publish."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from olist_elt.ops.history import write_duckdb
from olist_elt.quality.gates import GateReport, duckdb_data_source, run_gate
from olist_elt.run.steps import Kind, Step
from olist_elt.targets import snapshot_guard
from olist_elt.targets.base import Target, build_step, open_build
from olist_elt.transform import project
from olist_elt.warehouse.publish import (
    LIVE_SCHEMA,
    base_tables,
    checksums,
    leftover_copies,
    refresh_served,
    row_counts,
    serve_copy,
)

log = logging.getLogger(__name__)
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
    """DuckDB for everything: bronze, silver, gold (staged and gated), all in the build
    database; publish copies gated gold, ops and the reference seeds into the served
    file."""

    name = "local"
    served_engine = "duckdb"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._adopt_old_layout()

    def _adopt_old_layout(self) -> None:
        """A lake built before the build database existed kept everything (bronze,
        silver, snapshots) in the served file: that file becomes the build database
        once, so no history is lost."""
        build, served = self.settings.build_database, self.settings.warehouse_path
        if build.exists() or not served.exists():
            return
        with self._open(served) as con:
            if not base_tables(con, "bronze"):
                return
        build.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(served, build)
        log.warning("adopted %s as the build database %s (one-time move)", served, build)

    @staticmethod
    @contextmanager
    def _open(path: Any) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            yield con
        finally:
            con.close()

    def gold_steps(
        self,
        gate: Callable[[str, Callable[[], GateReport]], GateReport],
        full_refresh: bool = True,
    ) -> list[Step[Any]]:
        return [
            build_step(self, "gold", full_refresh),
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
        # before the served file is replaced: a failure here leaves the served gold
        # as the last good run left it
        self._drop_build_copy_of_gold()
        build = self.settings.build_database
        counts = serve_copy(build, self.settings.warehouse_path, self.staging_schema())
        self.audit().append(
            "svc-publisher",
            "publish",
            f"{self.settings.warehouse_path.name}:{LIVE_SCHEMA}",
            "ok",
            tables=len(counts),
            rows=sum(counts.values()),
        )
        return counts

    def _drop_build_copy_of_gold(self) -> None:
        """Earlier versions published into a `gold` schema of the build database as
        well as into the served file: a third copy of gold that nothing reads. It goes
        at the next publish."""
        con = open_build(self.settings.build_database)
        try:
            if base_tables(con, LIVE_SCHEMA, ("BASE TABLE", "VIEW")):
                con.execute(f'drop schema "{LIVE_SCHEMA}" cascade')
                log.info(
                    "dropped the build database's copy of %s (the served file holds it)",
                    LIVE_SCHEMA,
                )
        finally:
            con.close()

    def clean_leftovers(self, staging: str, built: list[str]) -> list[str]:
        """Tables in gold's staging schema that no gold model builds (a switched-off
        model's table would be published stale), and the copies of gold a killed
        publish left beside the served file. The rest is kept between runs: the
        incremental facts build on it."""
        copies = leftover_copies(self.settings.warehouse_path)
        for copy in copies:
            copy.unlink(missing_ok=True)
        removed = [copy.name for copy in copies]
        if not self.has_lake_build():
            return removed
        con = open_build(self.settings.build_database)
        try:
            stale = [t for t in base_tables(con, staging) if t not in built]
            for table in stale:
                con.execute(f'drop table "{staging}"."{table}"')
            return removed + [f"{staging}.{t}" for t in stale]
        finally:
            con.close()

    def served_counts(self) -> dict[str, int]:
        if not self.settings.warehouse_path.exists():
            return {}
        with self._open(self.settings.warehouse_path) as con:
            return row_counts(con, LIVE_SCHEMA)

    def served_checksums(self) -> dict[str, str]:
        if not self.settings.warehouse_path.exists():
            return {}
        with self._open(self.settings.warehouse_path) as con:
            return checksums(con, LIVE_SCHEMA)

    def check_served(self) -> GateReport:
        with self._open(self.settings.warehouse_path) as con:
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

    def snapshot_transaction(self, action: Callable[[snapshot_guard.Database], Any]) -> Any:
        if not self.has_lake_build():
            return None
        con = open_build(self.settings.build_database)
        try:
            con.execute("begin")
            done = action(snapshot_guard.Database(con.execute))
            con.execute("commit")
            return done
        finally:
            con.close()

    def rewind_snapshots(self, day: date) -> dict[str, int]:
        if not self.has_lake_build():
            return {}
        snapshot_guard.before_rewind(self)  # a failed run's versions go first
        con = open_build(self.settings.build_database)
        try:
            snaps = [
                s for s in project.snapshots(self.manifest) if s.name in base_tables(con, s.schema)
            ]
            return rewind(
                lambda sql, cutoff: int(con.execute(sql, [cutoff]).fetchone()[0]),  # type: ignore[index]
                snaps,
                day,
            )
        finally:
            con.close()

    def record_history(self, summary: dict[str, Any]) -> str:
        self.settings.build_database.parent.mkdir(parents=True, exist_ok=True)
        write_duckdb(str(self.settings.build_database), summary)
        # the Operations page reads the served file: its ops schema is written again
        # (gold is what the publish served)
        if self.settings.build_database.exists():
            refresh_served(self.settings.build_database, self.settings.warehouse_path, ("ops",))
        return f"{self.settings.warehouse_path}:ops"

    def describe_served(self) -> str:
        return f"{self.settings.warehouse_path} (schema gold)"
