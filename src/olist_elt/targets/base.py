"""What every engine target knows: how to build, check, count, publish and rewind each
layer, where gold is built and where it is served. The run composes steps over one
Target and never asks which engine it is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from olist_elt.errors import InfrastructureFailed, OlistEltError
from olist_elt.quality.gates import GateReport, duckdb_data_source, run_gate
from olist_elt.run.steps import Kind, Step
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings
from olist_elt.targets import snapshot_guard
from olist_elt.transform import project
from olist_elt.transform.dbt import Dbt, DbtCommandResult
from olist_elt.warehouse.publish import row_counts

# The dbt selector of each layer (selectors.yml in the dbt project).
LAYER_SELECTOR = {"bronze": "bronze_layer", "silver": "silver_layer", "gold": "gold_layer"}
LAYERS = tuple(LAYER_SELECTOR)
# The selectors that leave out the seeds' tests (selectors.yml), for a build whose
# project already passed them.
SEEDS_TESTED = {
    "bronze_layer": "bronze_layer_tested_seeds",
    "warehouse_gold": "warehouse_gold_tested_seeds",
}
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
# the seeds' tests, as those selectors leave them out, for a build by --select
SEED_TESTS = "resource_type:test,path:seeds"


class Target(ABC):
    """One engine setup. Subclasses say where each layer lives; the run calls these."""

    name: ClassVar[str]
    # dbt target (profiles.yml) that builds the lake layers
    lake_engine: ClassVar[str] = "local"
    # where the served star schema lives: 'duckdb' (the file) or 'postgres'
    served_engine: ClassVar[str]
    # how a lake layer's relations show in lake_connection (views over parquet on Spark)
    lake_kinds: ClassVar[tuple[str, ...]] = ("BASE TABLE",)

    def __init__(self, settings: Settings, dbt_runner: Callable[..., Any] | None = None) -> None:
        self.settings = settings
        self.dbt_runner = dbt_runner
        self._lake_dbt: Dbt | None = None
        # ingestion time of the newest raw object the last good build read: an
        # incremental gold build recomputes the orders changed after it
        self.gold_changed_since: str | None = None
        # dbt's unit tests and the seeds' tests read only rows fixed in the project,
        # not the data: a run runs them when the project differs from the last good
        # run's (run.plan)
        self.fixed_row_tests = True

    # --- dbt --------------------------------------------------------------------------
    def dbt_vars(self) -> dict[str, Any]:
        """Vars every pipeline dbt command gets (they shape parsing)."""
        return {"stage_gold": True, "apis_enabled": self.settings.apis != "off"}

    def run_time_vars(self) -> dict[str, Any]:
        """Vars the builds read at run time only, never part of the kept parse.

        as_of_ingest_date (a backfill's day) narrows which raw objects bronze reads,
        in the SQL each build compiles; nothing dbt parses reads it. As a parse var
        it made every day of a backfill parse the whole project again."""
        if self.settings.as_of:
            return {"as_of_ingest_date": self.settings.as_of.isoformat()}
        return {}

    def servers(self) -> dict[str, list[Any]]:
        """The servers this target's dbt builds on (none: embedded engines only)."""
        return {}

    def _dbt(self, engine: str, extra_env: dict[str, str] | None = None) -> Dbt:
        base = self.settings.dbt_target_path
        return Dbt(
            self.settings.model_copy(update={"target": engine}),
            dbt_vars=self.dbt_vars(),
            extra_env=extra_env,
            target_path=base / f"pipeline-{engine}",
            runner=self.dbt_runner,
            runtime_vars=self.run_time_vars(),
        )

    @property
    def lake_dbt(self) -> Dbt:
        """The pipeline's dbt on the lake engine (parsed on first use)."""
        if self._lake_dbt is None:
            self._lake_dbt = self._dbt(self.lake_engine)
        return self._lake_dbt

    @property
    def manifest(self) -> Any:
        """The lake engine's parsed manifest."""
        return self.lake_dbt.manifest

    @property
    def gold_manifest(self) -> Any:
        """The parsed manifest of the engine that builds gold and the snapshots."""
        return self.manifest

    def reparse(self) -> None:
        """Parse again before building a layer a second time in one process: dbt marks
        a parsed manifest's nodes as compiled (ephemeral CTEs injected), so reusing it
        for a second build of the same models fails."""
        self.lake_dbt.parse()

    def hold_back(self, sha256s: list[str] | None) -> None:
        """Leave these raw objects out of the lake engine's next builds (a trial
        while the run looks for the objects a failure is due to, [] one that holds
        none back); None ends the trials."""
        if sha256s is not None:
            self.lake_dbt.runtime_vars["held_back_objects"] = sorted(sha256s)
        else:
            self.lake_dbt.runtime_vars.pop("held_back_objects", None)

    def lake_layers(self) -> tuple[str, ...]:
        """Layers built and gated on the lake engine (gold goes through gold_steps)."""
        return ("bronze", "silver")

    def start(self) -> None:  # noqa: B027 (a hook: most engines need nothing)
        """Start what the engine needs before a build (a Spark session)."""

    def start_step(self) -> Step[Any] | None:
        """The step that starts the engine, when it needs one."""
        return None

    def build(self, layer: str, full_refresh: bool = False) -> DbtCommandResult:
        """`dbt build` one layer (models and their tests): the lake layers on the lake
        engine, gold where the target builds it (into its staging schema)."""
        if layer == "gold":
            # the type-2 history as the last good run left it (snapshot_guard)
            snapshot_guard.before_gold_build(self)
            return self.build_gold(full_refresh)
        return build_layer(self.lake_dbt, layer, full_refresh, self.fixed_row_tests)

    def build_upstream(self, nodes: tuple[str, ...]) -> DbtCommandResult:
        """`dbt build` these lake nodes (by name) and every node upstream of them, from
        all of raw: a trial build for a failure that named its models or tests."""
        return build_upstream(self.lake_dbt, nodes, self.fixed_row_tests)

    def build_gold(self, full_refresh: bool = False) -> DbtCommandResult:
        """`dbt build` the snapshots and gold into the staging schema (kept between
        runs: the order facts are incremental)."""
        gold_vars(self.lake_dbt, None if full_refresh else self.gold_changed_since)
        return build_layer(self.lake_dbt, "gold", full_refresh, self.fixed_row_tests)

    # --- reading the lake -------------------------------------------------------------
    @contextmanager
    def lake_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived read-only DuckDB view of the lake layers."""
        con = open_build(self.settings.build_database, read_only=True)
        try:
            yield con
        finally:
            con.close()

    def has_lake_build(self) -> bool:
        """Whether the lake layers were ever built (else everything is pending)."""
        return self.settings.build_database.exists()

    def lake_counts(self, layer: str) -> dict[str, int]:
        """Rows per relation of a lake layer."""
        with self.lake_connection() as con:
            return row_counts(con, layer, self.lake_kinds)

    def processed(self, models: Iterable[str]) -> dict[str, set[str]]:
        """sha256 of the raw objects each incremental bronze model already holds (none
        for a model not built yet), through one connection."""
        held: dict[str, set[str]] = {}
        with self.lake_connection() as con:
            for model in models:
                held[model] = set()
                with suppress(duckdb.Error):
                    query = f'select distinct _sha256 from "bronze"."{model}"'
                    held[model] = {sha for (sha,) in con.execute(query).fetchall()}
        return held

    def excluded(self) -> frozenset[str]:
        """Relations this parse does not build (their contracts are not run)."""
        return project.disabled_relations(self.manifest)

    def check(
        self, layer: str, schema: str | None = None, only: frozenset[str] | None = None
    ) -> GateReport:
        """A lake layer's Soda contracts through a short-lived read-only connection
        (only: those data sets' contracts alone)."""
        with self.lake_connection() as con:
            return run_gate(
                duckdb_data_source(con),
                layer,
                schema=schema,
                contracts_dir=self.settings.soda_contracts_dir,
                exclude=self.excluded(),
                only=only,
            )

    # --- gold: built, gated, published, served ----------------------------------------
    @abstractmethod
    def snapshot_transaction(self, action: Callable[[Any], Any]) -> Any:
        """action(snapshot_guard.Database) in one transaction where gold and its
        snapshots are built; None when there is no such database yet."""

    @abstractmethod
    def gold_steps(
        self,
        gate: Callable[[str, Callable[[], GateReport]], GateReport],
        full_refresh: bool = True,
    ) -> list[Step[Any]]:
        """The steps that build gold into its staging schema and gate it there
        (incremental facts from all of silver when full_refresh)."""

    @abstractmethod
    def staged_counts(self) -> dict[str, int]:
        """Rows per table of gold in staging (before it is published)."""

    @abstractmethod
    def publish(self) -> dict[str, int]:
        """Publish the gated staging star schema for readers; rows per table."""

    @abstractmethod
    def served_counts(self) -> dict[str, int]:
        """Rows per table of the served star schema ({} when there is none)."""

    @abstractmethod
    def check_served(self) -> GateReport:
        """The gold contracts on the served star schema."""

    @abstractmethod
    def gold_scalar(self, sql: str) -> Any:
        """One value from the database where gold and snapshots are built."""

    @abstractmethod
    def rewind_snapshots(self, day: date) -> dict[str, int]:
        """Put the type-2 history back as it was at the end of an ingest date."""

    @abstractmethod
    def record_history(self, summary: dict[str, Any]) -> str:
        """Write a run to the ops schema next to the served gold; where it went."""

    def gold_layout(self) -> tuple[str, list[str]]:
        """Gold's staging schema and the tables this parse's gold models build (the
        same generate_schema_name and vars stage gold on every engine)."""
        return project.layer_schema(self.manifest, "gold"), sorted(
            project.gold_tables(self.manifest)
        )

    @abstractmethod
    def clean_leftovers(self, staging: str, built: list[str]) -> list[str]:
        """Drop what a killed run left behind (staging schemas, and in gold's staging
        schema the tables no gold model builds); what was dropped."""

    @abstractmethod
    def describe_served(self) -> str:
        """Where the served star schema is, for people."""

    @abstractmethod
    def served_checksums(self) -> dict[str, str]:
        """Per table of the served star schema, a checksum of its content."""

    def served_problems(self, previous: dict[str, Any]) -> list[str]:
        """How the served star schema differs from what the last good run published
        (previous: its record): a missing table, other row counts or content, and
        what the engine adds on publish (keys, grants). Empty when it is whole."""
        published, sums = previous["served"], previous["checksums"]
        try:
            counts, now = self.served_counts(), self.served_checksums()
            extra = self.served_extra_problems()
        except Exception as exc:  # any doubt means: rebuild
            return [f"the served gold cannot be read ({type(exc).__name__})"]
        if not counts:
            return ["no served gold"]
        problems = []
        for table, rows in sorted(published.items()):
            if table not in counts:
                problems.append(f"gold.{table} is missing")
            elif counts[table] != rows:
                problems.append(f"gold.{table} holds {counts[table]} rows, {rows} published")
            elif now.get(table) != sums.get(table):
                problems.append(f"gold.{table} holds other rows than were published")
        problems += [f"gold.{t} was not published" for t in sorted(set(counts) - set(published))]
        return problems + extra

    def lake_problems(self, previous: dict[str, Any]) -> list[str]:
        """How the lake layers differ from what the last good run built and gated
        (previous: its record): another relation set or row count (values are not
        compared: a later build reads them through its gates). Empty when alike."""
        gated = previous["lake"]
        try:
            now = {layer: self.lake_counts(layer) for layer in self.lake_layers()}
        except Exception as exc:  # any doubt means: rebuild
            return [f"the lake layers cannot be read ({type(exc).__name__})"]
        problems = []
        for layer in self.lake_layers():
            was, found = gated.get(layer, {}), now[layer]
            for table in sorted(set(was) | set(found)):
                if was.get(table) != found.get(table):
                    problems.append(
                        f"{layer}.{table} holds {found.get(table, 'no')} rows, "
                        f"{was.get(table, 'none')} when gated"
                    )
        return problems

    def served_extra_problems(self) -> list[str]:
        """What the engine's publish adds and is missing now (none on DuckDB)."""
        return []

    def staging_schema(self) -> str:
        """Where gold is built before its gate (from the parsed project)."""
        return project.layer_schema(self.manifest, "gold")

    def audit(self) -> AuditLog:
        """The audit log."""
        return AuditLog(self.settings.audit_path)


def open_build(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the build database; another process holding it is a clear
    infrastructure error (nothing is blamed on the data)."""
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise InfrastructureFailed(
            f"another process holds the build database {path}: "
            f"{str(exc).splitlines()[0]}; only the pipeline may open it (BI tools read "
            "the served file): stop that process and run again"
        ) from None


def gold_vars(dbt: Dbt, changed_since: str | None) -> None:
    """Tell the incremental gold facts which orders to recompute (all when None)."""
    if changed_since:
        dbt.runtime_vars["gold_changed_since"] = changed_since
    else:
        dbt.runtime_vars.pop("gold_changed_since", None)


def selection_args(selector: str, fixed_row_tests: bool) -> list[str]:
    """A layer's selector, with or without the tests that read only rows fixed in
    the project (dbt's unit tests, the seeds' tests): False leaves them out."""
    if fixed_row_tests:
        return ["--selector", selector]
    return ["--selector", SEEDS_TESTED.get(selector, selector), *NO_UNIT_TESTS]


def build_layer(
    dbt: Dbt, layer: str, full_refresh: bool = False, fixed_row_tests: bool = True
) -> DbtCommandResult:
    """`dbt build` one layer through its selector; full_refresh rebuilds the
    incremental models from all of raw; fixed_row_tests False leaves out the tests
    of fixed rows (selection_args)."""
    if layer not in LAYER_SELECTOR:
        raise OlistEltError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    # "buildable": a test runs with the first layer that has all its parents, so a
    # test spanning silver and gold runs with gold, not half-built with silver.
    args = selection_args(LAYER_SELECTOR[layer], fixed_row_tests)
    args += ["--indirect-selection", "buildable"]
    return dbt.run("build", *args, *(["--full-refresh"] if full_refresh else []))


def build_upstream(
    dbt: Dbt, nodes: tuple[str, ...], fixed_row_tests: bool = True
) -> DbtCommandResult:
    """`dbt build --full-refresh` of these nodes (models, tests, seeds, by name) and
    every node upstream of them; tests run where all their parents are built, as in a
    layer's build; fixed_row_tests False leaves out the unit tests and the seeds'
    tests, as selection_args does."""
    args = ["--select", *(f"+{name}" for name in nodes), "--indirect-selection", "buildable"]
    if not fixed_row_tests:
        args += [*NO_UNIT_TESTS, "--exclude", SEED_TESTS]
    return dbt.run("build", *args, "--full-refresh")


def build_step(target: Target, layer: str, full_refresh: bool) -> Step[DbtCommandResult]:
    """The declared step that builds one layer."""
    return Step(
        f"dbt build {layer}",
        Kind.TRANSFORM,
        lambda: target.build(layer, full_refresh),
        layer=layer,
        profile=DbtCommandResult.profile,
    )
