"""Targets whose star schema is served by PostgreSQL: silver is published there from
the lake, gold is built by dbt-postgres into a staging schema, gated, then swapped in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import duckdb

from olist_elt.ops.history import write_postgres
from olist_elt.quality.gates import GateReport, postgres_data_source, run_gate
from olist_elt.run.steps import Kind, Step
from olist_elt.targets import snapshot_guard
from olist_elt.targets.base import Target, build_step, gold_vars, selection_args
from olist_elt.targets.local import rewind
from olist_elt.transform import project
from olist_elt.transform.dbt import Dbt, DbtCommandResult
from olist_elt.warehouse.keys import declared_keys, served_problems
from olist_elt.warehouse.postgres import (
    PgLogin,
    copy_schema,
    drop_previous,
    drop_schema,
    drop_tables_except,
    gold_checksums,
    gold_row_counts,
    login,
    publish_silver,
    swap_gold,
)
from olist_elt.warehouse.publish import LIVE_SCHEMA


class PostgresGoldTarget(Target):
    """Bronze and silver in the lake engine, gold in PostgreSQL."""

    served_engine = "postgres"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pg: PgLogin | None = None
        self._warehouse_dbt: Dbt | None = None

    def servers(self) -> dict[str, list[Any]]:
        s = self.settings
        return {"postgres": [s.pg_host, s.pg_port, s.pg_database]}

    @property
    def pg(self) -> PgLogin:
        """The loader's login (password from the vault), read once."""
        if self._pg is None:
            self._pg = login(self.settings, "loader")
        return self._pg

    @property
    def warehouse_dbt(self) -> Dbt:
        """The pipeline's dbt on PostgreSQL (the loader's password in its environment)."""
        if self._warehouse_dbt is None:
            pg = self.pg
            self._warehouse_dbt = self._dbt(
                "warehouse",
                extra_env={
                    "OLIST_PG_HOST": pg.host,
                    "OLIST_PG_PORT": str(pg.port),
                    "OLIST_PG_USER": pg.user,
                    "OLIST_PG_PASSWORD": pg.password,
                    "OLIST_PG_DATABASE": pg.database,
                },
            )
        return self._warehouse_dbt

    @property
    def gold_manifest(self) -> Any:
        return self.warehouse_dbt.manifest

    def reparse(self) -> None:
        super().reparse()
        if self._warehouse_dbt is not None:
            self._warehouse_dbt.parse()

    def attach_silver(self) -> Callable[[duckdb.DuckDBPyConnection], None] | None:
        """How silver is read for publishing (None: the DuckDB file)."""
        return None

    def staging_schema(self) -> str:
        return project.layer_schema(self.warehouse_dbt.manifest, "gold")

    def publish_silver(self) -> dict[str, int]:
        """Copy silver into PostgreSQL under the names ref() resolves to there."""
        return publish_silver(
            self.settings,
            self.pg,
            project.layer_relations(self.warehouse_dbt.manifest, "silver"),
            attach_source=self.attach_silver(),
        )

    def build_gold(self, full_refresh: bool = False) -> DbtCommandResult:
        """`dbt build` seeds, snapshots and gold on PostgreSQL into the staging schema,
        which is kept between runs (the order facts are incremental; publish copies
        it)."""
        dbt = self.warehouse_dbt
        gold_vars(dbt, None if full_refresh else self.gold_changed_since)
        return dbt.run(
            "build",
            *selection_args("warehouse_gold", self.fixed_row_tests),
            "--indirect-selection",
            "buildable",
            *(["--full-refresh"] if full_refresh else []),
        )

    def check_gold(self, schema: str) -> GateReport:
        """The gold contracts on a PostgreSQL schema."""
        pg = self.pg
        return run_gate(
            postgres_data_source(pg.host, pg.port, pg.user, pg.password, pg.database),
            "gold",
            schema=schema,
            prefix=f"{pg.database}/{schema}",
            contracts_dir=self.settings.soda_contracts_dir,
            exclude=project.disabled_relations(self.gold_manifest),
        )

    def gold_steps(
        self,
        gate: Callable[[str, Callable[[], GateReport]], GateReport],
        full_refresh: bool = True,
    ) -> list[Step[Any]]:
        return [
            Step("connect warehouse", Kind.IO, lambda: self.pg),
            Step("dbt parse warehouse", Kind.BOOKKEEPING, lambda: self.warehouse_dbt.parse()),
            Step(
                "publish silver",
                Kind.IO,
                self.publish_silver,
                lambda c: sum(c.values()),
                layer="silver",
            ),
            build_step(self, "gold", full_refresh),
            Step(
                "gate gold",
                Kind.GATE,
                lambda: gate("gold", lambda: self.check_gold(self.staging_schema())),
                lambda r: len(r.checks),
                layer="gold",
            ),
        ]

    def staged_counts(self) -> dict[str, int]:
        return gold_row_counts(self.pg, self.staging_schema())

    def publish(self) -> dict[str, int]:
        """Copy the gated staging schema (kept for the next incremental build) and
        swap the copy in. dbt made the keys and the BI role's select grant with each
        staging table (the gold contracts, +grants); PostgreSQL's copy keeps the
        primary keys and indexes but not foreign keys or grants, so the copy gets the
        foreign keys the contracts declare and the role's select again."""
        staging = self.staging_schema()
        publishing = f"{staging}_publish"
        keys, foreign = declared_keys(self.warehouse_dbt.manifest)
        copy_schema(self.pg, staging, publishing, foreign, self.settings.pg_bi_role)
        swap_gold(self.pg, self.settings.pg_bi_role, publishing)
        drop_previous(self.pg)
        counts = gold_row_counts(self.pg)
        self.audit().append(
            "svc-publisher",
            "publish",
            f"postgres:{self.pg.database}.{LIVE_SCHEMA}",
            "ok",
            tables=len(counts),
            rows=sum(counts.values()),
            constraints=len(keys) + len(foreign),
        )
        return counts

    def clean_leftovers(self, staging: str, built: list[str]) -> list[str]:
        """What a killed run left: the copy being published, old gold schemas, and
        in staging every table no gold model builds (a switched-off model's table
        would be published stale, a dbt temporary one too)."""
        publishing = f"{staging}_publish"
        found = [publishing] if drop_schema(self.pg, publishing) else []
        found += [f"{staging}.{t}" for t in drop_tables_except(self.pg, staging, frozenset(built))]
        return found + drop_previous(self.pg)[0]

    def served_counts(self) -> dict[str, int]:
        return gold_row_counts(self.pg)

    def served_checksums(self) -> dict[str, str]:
        return gold_checksums(self.pg)

    def check_served(self) -> GateReport:
        return self.check_gold(LIVE_SCHEMA)

    def served_extra_problems(self) -> list[str]:
        return served_problems(self.pg, self.gold_manifest, self.settings.pg_bi_role)

    def gold_scalar(self, sql: str) -> Any:
        with self.pg.connect() as conn:
            return conn.execute(sql).fetchone()[0]  # type: ignore[arg-type,index]

    def snapshot_transaction(self, action: Callable[[snapshot_guard.Database], Any]) -> Any:
        with self.pg.connect(autocommit=False) as pg:  # as the loader
            done = action(snapshot_guard.Database(pg.execute))
            pg.commit()
        return done

    def rewind_snapshots(self, day: date) -> dict[str, int]:
        snapshots = project.snapshots(self.warehouse_dbt.manifest)
        snapshot_guard.before_rewind(self)  # a failed run's versions go first
        with self.pg.connect(autocommit=False) as pg:
            built = [
                s
                for s in snapshots
                if (pg.execute("select to_regclass(%s)", [f"{s.schema}.{s.name}"]).fetchone())[0]
            ]
            removed = rewind(
                lambda sql, cutoff: pg.execute(sql.replace("?", "%s"), [cutoff]).rowcount,  # type: ignore[arg-type]
                built,
                day,
            )
            pg.commit()
        return removed

    def record_history(self, summary: dict[str, Any]) -> str:
        write_postgres(self.settings, summary)
        return f"postgres:{self.settings.pg_database}.ops"

    def describe_served(self) -> str:
        s = self.settings
        return f"PostgreSQL {s.pg_host}:{s.pg_port}/{s.pg_database} (schema {LIVE_SCHEMA})"


class WarehouseTarget(PostgresGoldTarget):
    """Bronze and silver on DuckDB, gold on PostgreSQL."""

    name = "warehouse"
