"""Run dbt in-process (dbtRunner), parse once, and read results from the result objects."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from olist_elt.errors import (
    DbtProjectError,
    DbtStepFailed,
    InfrastructureFailed,
    infrastructure_cause,
    own_error,
)
from olist_elt.lake.private import DIR_MODE, owner_only, private_dirs
from olist_elt.settings import Settings
from olist_elt.transform.manifest_file import SAVED_PARSE, write_manifest
from olist_elt.transform.messages import without_values
from olist_elt.transform.parse_cache import cached_parse, keep, portable_partial_parse, seed

log = logging.getLogger(__name__)


def no_console() -> list[str]:
    """dbt's console logger off, its file log (dbt.log) kept at debug unless
    DBT_LOG_LEVEL_FILE says otherwise (dbt would otherwise take the file's level from
    --log-level). With --quiet, dbt still formatted every event for the console, debug
    ones included (about a tenth of its event cost), and printed each error whole: an
    engine's error quotes the row's value ("Could not convert string ..."), which the
    run's own message strips (without_values) and the console, a worker's log or a CI
    log must not show."""
    args = ["--log-level", "none"]
    if not os.environ.get("DBT_LOG_LEVEL_FILE"):
        args += ["--log-level-file", "debug"]
    return args


NO_TELEMETRY = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
}


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The environment variables profiles.yml and the models read, all absolute."""
    env = {
        "OLIST_TARGET": settings.target,
        # the pipeline's targets write the served schemas: generate_schema_name lets
        # them build only inside a run (an analyst's dbt uses the dev targets)
        "OLIST_PIPELINE_RUN": "1",
        "OLIST_LAKE_DIR": str(settings.lake_dir),
        "OLIST_RAW_ROOT": settings.raw_root,
        "OLIST_LAKE_BACKEND": settings.lake_backend,
        "OLIST_S3_BUCKET": settings.s3_bucket,
        "OLIST_S3_PREFIX": settings.s3_prefix,
        "OLIST_S3_REGION": settings.s3_region,
        # the profile's DuckDB file: the pipeline builds in its own database, never in
        # the file BI tools hold open (that one is replaced atomically on publish)
        "OLIST_WAREHOUSE_PATH": str(settings.build_database),
        "OLIST_VAULT_PATH": str(settings.vault_path),
        "OLIST_VAULT_KEY_FILE": str(settings.vault_key_file),
        "OLIST_AUDIT_LOG": str(settings.audit_path),
        "OLIST_DBT_THREADS": str(settings.dbt_threads),
        "OLIST_SPARK_HOST": settings.spark_host,
        "OLIST_SPARK_PORT": str(settings.spark_port),
        "OLIST_SPARK_USER": settings.spark_user,
        # who may read gold on PostgreSQL: dbt grants it select (+grants)
        "OLIST_PG_BI_ROLE": settings.pg_bi_role,
        "DBT_PROFILES_DIR": str(settings.profiles_dir),
        **NO_TELEMETRY,
    }
    if settings.s3_endpoint_url:
        env["OLIST_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    env["DBT_TARGET_PATH"] = str(settings.dbt_target_path)
    return env


# A node's dbt status when it errored or its test failed.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


@dataclass
class NodeResult:
    """One dbt node's outcome."""

    unique_id: str
    resource_type: str
    status: str
    seconds: float
    message: str | None
    failures: int | None
    compiled_path: str | None
    rows_affected: int | None = None
    # how a model or snapshot is built (table, incremental, snapshot); None for others
    materialized: str | None = None


@dataclass
class DbtCommandResult:
    """A dbt command's outcome, node by node."""

    args: list[str]
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NodeResult]:
        """Nodes that errored or whose test failed."""
        return [n for n in self.nodes if n.status in FAILED_STATUSES]

    def profile(self, slowest: int = 5) -> dict[str, Any]:
        """Where the command's time went: nodes and their seconds by resource type,
        and the slowest nodes (names only)."""
        models = [n for n in self.nodes if n.resource_type == "model"]
        top = sorted(self.nodes, key=lambda n: n.seconds, reverse=True)[:slowest]
        return {
            "nodes": len(self.nodes),
            "node_seconds": round(sum(n.seconds for n in self.nodes), 3),
            "by_type": _tally(self.nodes, lambda n: n.resource_type),
            # an incremental model reads only what changed, a table its whole inputs
            "models_by_materialization": _tally(models, lambda n: n.materialized or "-"),
            "slowest": [[n.unique_id, round(n.seconds, 3)] for n in top],
        }


def _tally(nodes: list[NodeResult], key: Callable[[NodeResult], str]) -> dict[str, list[float]]:
    """Count and seconds of the nodes, by key."""
    out: dict[str, list[float]] = {}
    for node in nodes:
        kind = out.setdefault(key(node), [0, 0.0])
        kind[0] += 1
        kind[1] = round(kind[1] + node.seconds, 3)
    return out


# The commands that run nodes: each writes manifest.json and run_results.json.
NODE_COMMANDS = frozenset({"build", "run", "test", "seed", "snapshot"})


def dbt_runner(manifest: Any, callbacks: list[Callable[[Any], None]] | None = None) -> Any:
    """dbt's own programmatic runner, reusing a parsed manifest (callbacks: dbt's, each
    called with every event)."""
    from dbt.cli.main import dbtRunner

    return dbtRunner(manifest=manifest, callbacks=callbacks)


@contextmanager
def _as_dbt(argv: list[str], target_dir: Path) -> Iterator[None]:
    """One in-process dbt command as if run alone: sys.argv is the dbt command (dbt
    copies sys.argv into its log and run_results.json, and the process's own command
    line may name a person: `olist-elt erase --customer-unique-id ...`), and what it
    writes is its owner's only, in a target folder that is too (a target first made
    by a command outside a run, `olist-elt status`, was left readable by all)."""
    saved = sys.argv
    with owner_only():
        try:
            private_dirs(target_dir)
            os.chmod(target_dir, DIR_MODE)
            sys.argv = argv
            yield
        finally:
            sys.argv = saved


class Dbt:
    """One dbt project; parses once and reuses the manifest for every command.

    runner makes the object that invokes a command from the parsed manifest: dbt's
    own by default; an orchestrator passes one that shows each node (the Prefect flows)."""

    def __init__(
        self,
        settings: Settings,
        dbt_vars: dict[str, Any] | None = None,
        extra_env: dict[str, str] | None = None,
        target_path: Path | None = None,
        runner: Callable[[Any], Any] | None = None,
        runtime_vars: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        # vars that shape parsing (a change parses the project again) ...
        self.dbt_vars = dbt_vars or {}
        # ... and vars the builds read at run time only (a backfill's day, which
        # orders to recompute, which raw objects a trial holds back): never part of
        # the kept parse
        self.runtime_vars: dict[str, Any] = dict(runtime_vars or {})
        self.extra_env = extra_env or {}
        self.target_path = target_path
        self.runner = runner or dbt_runner
        self._manifest: Any = None

    @property
    def manifest(self) -> Any:
        """The parsed manifest (parses on first use)."""
        return self._manifest if self._manifest is not None else self.parse()

    def _prepare(self) -> None:
        """Export the environment dbt reads; telemetry off in this code path."""
        os.environ.update(self._environment())
        self.settings.build_database.parent.mkdir(parents=True, exist_ok=True)

    def _environment(self) -> dict[str, str]:
        env = {**dbt_environment(self.settings), **self.extra_env}
        if self.target_path is not None:
            env["DBT_TARGET_PATH"] = str(self.target_path)
        # dbt's log beside the run's artifacts, not in the project folder (dbt's
        # default), which every workspace and deployment of this install shares
        # (DBT_LOG_PATH, when set, still decides)
        env.setdefault(
            "DBT_LOG_PATH", os.environ.get("DBT_LOG_PATH") or str(self._target_dir() / "logs")
        )
        return env

    @contextmanager
    def _scoped_env(self) -> Iterator[None]:
        """The environment for one dbt command, restored after it: settings of one
        run (a bucket, a password) do not leak into the next run in this process."""
        saved = {k: os.environ.get(k) for k in self._environment()}
        self._prepare()
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _base_args(self, runtime: bool = False) -> list[str]:
        """Arguments every command takes (the vars that shape parsing; a command that
        runs also gets the run-time vars)."""
        args = [
            "--project-dir",
            str(self.settings.dbt_project_dir),
            "--profiles-dir",
            str(self.settings.profiles_dir),
            "--target",
            self.settings.target,
        ]
        dbt_vars = {**self.dbt_vars, **(self.runtime_vars if runtime else {})}
        if dbt_vars:
            args += ["--vars", json.dumps(dbt_vars)]
        return args

    def _target_dir(self) -> Path:
        if self.target_path is not None:
            return self.target_path
        return self.settings.dbt_target_path

    def _invoke(self, runner: Callable[[], Any], argv: list[str]) -> Any:
        """One dbt command on runner() in this project's environment, the DuckDB file
        released after it. An error of olist-elt's own that dbt caught (the DuckDB
        plugin's vault, audit log or lake storage) is raised as it is: a service, a
        setting or a key failed there, never the data or the project."""
        with self._scoped_env(), _as_dbt(["dbt", *argv], self._target_dir()):
            try:
                res = runner().invoke(argv)
            finally:
                release_duckdb()
        if not res.success and (own := own_error(res.exception)):
            raise own
        return res

    def parse(self) -> Any:
        """Parse the project once (partial parsing on) and keep the manifest. A
        workspace with no parse of its own starts from the one kept in the parse
        cache; dbt then parses again only what differs (the files whose environment
        changed), or everything when the project, vars or profile do. manifest.json
        is written when the parse is not the one it was written from (manifest_file)."""
        from dbt.cli.main import dbtRunner

        portable_partial_parse()
        saved = self._target_dir() / SAVED_PARSE
        cached = cached_parse(self.settings, self.dbt_vars)
        seed(cached, saved)
        argv = ["parse", "--no-write-json", *no_console(), *self._base_args()]
        res = self._invoke(dbtRunner, argv)
        if not res.success:
            raise DbtProjectError(f"dbt parse failed: {res.exception}")
        write_manifest(res.result, self._target_dir())  # unless the same parse's
        keep(saved, cached)
        self._manifest = res.result
        return self._manifest

    def run(self, command: str, *args: str) -> DbtCommandResult:
        """Run one dbt command, its console off (no_console); raise DbtStepFailed
        naming every failed node."""
        if self._manifest is None:
            self.parse()
        argv = [command, *no_console(), *args, *self._base_args(runtime=True)]
        if command in NODE_COMMANDS:
            # dbt writes manifest.json again after every such command (the parse
            # wrote it, or kept the one of the same parse): about half a second a
            # command. run_results.json is written below, as dbt would.
            argv.insert(1, "--no-write-json")
        res = self._invoke(lambda: self.runner(self._manifest), argv)
        if command in NODE_COMMANDS and hasattr(res.result, "write"):
            try:
                res.result.write(str(self._target_dir() / "run_results.json"))
            except OSError as exc:  # the command's outcome, not this file, decides
                log.warning("dbt %s: run_results.json not written: %s", command, exc)
        result = DbtCommandResult(argv, bool(res.success), _nodes(res.result))
        for node in result.nodes:
            log.info("dbt %s %s: %s in %.2fs", command, node.unique_id, node.status, node.seconds)
        if not res.success:
            message = _failure_message(command, args, result, res.exception)
            cause = infrastructure_cause(message)
            if cause:
                raise InfrastructureFailed(
                    f"dbt {command} could not run: {cause} (nothing was blamed on the data; "
                    "fix the cause and run again)\n" + message
                )
            failed = result.failed
            raise DbtStepFailed(
                message,
                tuple(n.unique_id for n in failed),
                counted=res.exception is None
                and bool(failed)
                and all(n.status == "fail" for n in failed),
            )
        return result


def compile_inline(dbt: Dbt, sql: str, *extra: str) -> str:
    """Compile a snippet of Jinja SQL with the project's macros; return the SQL."""
    from dbt.cli.main import dbtRunner

    res = dbt._invoke(
        dbtRunner, ["compile", *no_console(), "--inline", sql, *dbt._base_args(), *extra]
    )
    if not res.success:
        raise DbtProjectError(f"dbt compile --inline failed: {res.exception}")
    return res.result.results[0].node.compiled_code


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in-process.

    DuckDB allows one writer or many readers: no connection may outlive the command,
    or a reader (gates, dashboards, row counts) cannot open the file.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            env.close()


def _nodes(run_result: Any) -> list[NodeResult]:
    """Node results of a dbt RunExecutionResult (empty for other commands)."""
    out: list[NodeResult] = []
    for r in getattr(run_result, "results", None) or []:
        node = r.node
        compiled = getattr(node, "compiled_path", None)
        rows = (getattr(r, "adapter_response", None) or {}).get("rows_affected")
        out.append(
            NodeResult(
                unique_id=node.unique_id,
                resource_type=str(node.resource_type),
                status=str(r.status),
                seconds=float(r.execution_time or 0.0),
                message=r.message,
                failures=r.failures,
                compiled_path=compiled,
                rows_affected=rows,
                materialized=getattr(getattr(node, "config", None), "materialized", None),
            )
        )
    return out


def _failure_message(
    command: str, args: tuple[str, ...], result: DbtCommandResult, exc: BaseException | None
) -> str:
    """A message that names each failed node, why, and where its compiled SQL is."""
    lines = [f"dbt {command} {' '.join(args)} failed"]
    for node in result.failed:
        where = f" (compiled SQL: {node.compiled_path})" if node.compiled_path else ""
        count = f", {node.failures} failing rows" if node.failures else ""
        message = without_values(str(node.message))
        lines.append(f"  - {node.unique_id}: {node.status}{count}: {message}{where}")
    if exc is not None:
        lines.append(f"  {type(exc).__name__}: {without_values(str(exc))}")
    return "\n".join(lines)
