"""Shared fixtures: one sample and one built warehouse per session."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.sample import generate_sample
from olist_elt.settings import REPO_ROOT, Settings, load_settings, project_home

TEST_SCALE = 0.02
TEST_SEED = 7
# The suite's clock: 'now' to the API connectors' offline answers and to the lake
# lifecycle's age limit, never the wall clock, so no answer changes with the hour or day.
API_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

# The processes the tests start (the CLI, dbt, a Prefect worker) run this checkout's
# code, as the tests do (pyproject: pythonpath = src): a virtualenv shared with another
# clone or worktree holds an editable install of that one.
SRC = Path(__file__).resolve().parents[1] / "src"
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(SRC), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
)
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("SODA_CORE_TELEMETRY_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


# The files that take longest, longest first. `./dev test` hands whole files to its
# workers in collection order (--dist loadfile --no-loadscope-reorder): these start
# first, so no long file is left to run alone at the end while the other workers idle.
# The first three start side by side: the Spark cluster (JVMs that mostly wait on each
# other), the history module (pipeline runs that keep one core busy) and the Prefect
# server (processes that wait on each other); with the Prefect file second on two
# workers, two files of many waiting processes had shared the cores.
LONGEST_FIRST = (
    "tests/warehouse/test_spark_cluster.py",
    "tests/test_history.py",
    "tests/flows/test_prefect_server.py",
    "tests/test_masking.py",
    "tests/warehouse/test_postgres.py",
    "tests/warehouse/test_spark.py",
    "tests/test_gates.py",
    # then the other files of more than about 8 s, longest first, so that only short
    # files are left for the end: with these in collection order, the unit tests'
    # file (25 s) ran alone at the end while the other worker idled for 26 s
    "tests/test_cli.py",
    "tests/flows/test_flow_in_process.py",
    "tests/transform/test_dbt_parse.py",
    "tests/transform/test_analyst_dbt.py",
    "tests/security/test_erasure.py",
    "tests/transform/test_unit_tests.py",
    "tests/run/test_robustness.py",
    "tests/run/test_served_heals.py",
    "tests/connectors/test_stream.py",
    "tests/test_operations.py",
    "tests/transform/test_lake_sources.py",
    "tests/dashboards/test_render.py",
    "tests/lake/test_s3_pipeline.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests of the longest files first (in LONGEST_FIRST's order), the rest after
    them in their own order."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


# The lake a setting left at its default points to (OLIST_HOME, else this checkout):
# every test works in a workspace of its own, so the suite never writes here. The
# files where a stray write lands (run records, the audit log and its anchor) are
# compared before and after the session.
DEFAULT_LAKE = project_home() / "lake"


def _default_lake_files() -> dict[str, tuple[int, int]]:
    found = {}
    for folder in ("runs", "_audit"):
        for path in (DEFAULT_LAKE / folder).glob("**/*"):
            if path.is_file():
                stat = path.stat()
                found[str(path.relative_to(DEFAULT_LAKE))] = (stat.st_size, stat.st_mtime_ns)
    return found


DEFAULT_LAKE_KEY = pytest.StashKey[dict[str, tuple[int, int]]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[DEFAULT_LAKE_KEY] = _default_lake_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test (or the code it runs) that wrote into the default lake fails the run;
    with OLIST_ELT_NO_SKIP set (CI), so does any skipped test."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    before = session.config.stash.get(DEFAULT_LAKE_KEY, None)
    # once, in the process that reports (xdist's workers share the folder)
    if before is not None and not hasattr(session.config, "workerinput"):
        after = _default_lake_files()
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if changed:
            if reporter:
                reporter.write_line(
                    f"\nthe suite wrote into the default lake {DEFAULT_LAKE}: {changed}", red=True
                )
            session.exitstatus = 1
    if not os.environ.get("OLIST_ELT_NO_SKIP"):
        return
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"OLIST_ELT_NO_SKIP is set and {len(skipped)} test(s) were skipped: failing",
            red=True,
        )
        session.exitstatus = 1


DBT = str(Path(sys.executable).with_name("dbt"))


def typed_dbt(
    env: dict[str, str], *args: str, checkout: Path = REPO_ROOT, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """dbt as a person types it in a checkout's dbt_project/ (profiles.yml beside it),
    in a process of its own with env as their shell."""
    return subprocess.run(
        [DBT, *args, "--profiles-dir", ".."],
        cwd=checkout / "dbt_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def workspace_settings(root: Path, **overrides: object) -> Settings:
    """Settings whose lake, warehouse, vault and dbt target all live under root."""
    return load_settings(
        lake_dir=root / "lake",
        warehouse_path=root / "warehouse" / "olist.duckdb",
        vault_path=root / ".secrets" / "vault.json",
        vault_key_file=root / ".secrets" / "vault.key",
        dbt_target_path=root / "target",
        dashboards_out=root / "dashboards",
        sample_scale=TEST_SCALE,
        sample_seed=TEST_SEED,
        **{"apis_now": API_NOW, **overrides},
    )


def workspace_env(settings: Settings) -> dict[str, str]:
    """What a command typed in a workspace_settings workspace's folder (OLIST_HOME)
    needs besides: the settings that workspace does not keep under their defaults."""
    return {
        "OLIST_HOME": str(settings.lake_dir.parent),
        "OLIST_APIS_NOW": settings.apis_now.isoformat(),
        "OLIST_DBT_TARGET_PATH": str(settings.dbt_target_path),
        "OLIST_DASHBOARDS_OUT": str(settings.dashboards_out),
    }


def copy_workspace(settings: Settings, root: Path, **overrides: object) -> Settings:
    """A copy under root of a workspace_settings workspace (lake, warehouse, vault, dbt
    target), with its runs behind it: a test that needs one good run first starts from
    the shared one (built) instead of paying for a run of its own."""
    shutil.copytree(settings.lake_dir.parent, root)
    return workspace_settings(root, **overrides)


@contextmanager
def pg_workspace(root: Path, admin_dsn: str, **overrides: object) -> Iterator[Settings]:
    """A workspace whose warehouse is a fresh database (dropped after) on the test
    PostgreSQL, with its own loader and BI roles."""
    from psycopg.conninfo import conninfo_to_dict

    from olist_elt.warehouse.postgres import ensure_roles

    parts = conninfo_to_dict(admin_dsn)
    database = f"olist_t_{secrets.token_hex(4)}"
    settings = workspace_settings(
        root,
        pg_host=str(parts.get("host", "127.0.0.1")),
        pg_port=int(parts.get("port", 5432)),
        pg_database=database,
        pg_loader_role="olist_loader_t",
        pg_bi_role="olist_bi_t",
        pg_admin_dsn=admin_dsn,
        **overrides,
    )
    ensure_roles(settings)
    try:
        yield settings
    finally:
        drop_database(admin_dsn, database)


@contextmanager
def scratch_database(admin_dsn: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL (its name), dropped after."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True) as con:
        con.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        drop_database(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop a test database, closing whatever still holds it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as con:
        con.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@contextmanager
def lake_held_by_another_process(
    settings: Settings, run_id: str = "the-daily-run", seconds: float = 300
) -> Iterator[None]:
    """The lake's run lock held by another process (as a run holds it, its run id in
    the file) for the duration, or until `seconds` have passed (the process ends)."""
    from olist_elt.run.lock import lock_path

    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, json, sys, time\n"
            "f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.seek(0); f.truncate(); f.write(json.dumps({'run_id': sys.argv[2]})); f.flush()\n"
            "print('held', flush=True); time.sleep(float(sys.argv[3]))",
            str(path),
            run_id,
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def at_once(
    args: list[str], times: int, timeout: float = 600, **popen: Any
) -> list[subprocess.CompletedProcess[str]]:
    """One command started `times` times at once, as from that many terminals, then
    each waited for: their exit codes and output (text; popen overrides, say stderr)."""
    options: dict[str, Any] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        **popen,
    }
    procs = [subprocess.Popen(args, **options) for _ in range(times)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's real HTTP server, in a subprocess of its own (no auth until told)."""
    port = _free_port()
    env = {**os.environ, "MOTO_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto server did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def make_bucket(endpoint: str) -> str:
    """A new bucket on moto's server; its name."""
    import boto3

    name = f"lake-{os.urandom(4).hex()}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDS).create_bucket(
        Bucket=name
    )
    return name


@pytest.fixture(params=["local", "s3"])
def lake_storage(request: pytest.FixtureRequest, tmp_path: Path):
    """The lake on either backend: a folder, or a bucket on moto's server."""
    from olist_elt.lake.s3 import S3Storage
    from olist_elt.lake.storage import LocalStorage

    if request.param == "local":
        return LocalStorage(tmp_path / "lake")
    endpoint = request.getfixturevalue("moto_endpoint")
    return S3Storage(
        make_bucket(endpoint),
        endpoint_url=endpoint,
        access_key="testing",
        secret_key="testing",
        prefix="olist-lake",
    )


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample CSVs at the test scale, generated once."""
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, scale=TEST_SCALE, seed=TEST_SEED)
    return out


@pytest.fixture(scope="session")
def built(
    tmp_path_factory: pytest.TempPathFactory, sample_dir: Path
) -> tuple[Settings, RunSummary]:
    """One full pipeline run on the sample, shared by every test that reads the warehouse.
    Its alert file is in the workspace, so a copy shows what that clean run alerted."""
    root = tmp_path_factory.mktemp("built")
    settings = workspace_settings(root, alert_file=root / "alerts.jsonl")
    summary = run_pipeline(settings, sample_dir)
    return settings, summary


@pytest.fixture()
def workspace(tmp_path: Path) -> Settings:
    """Fresh settings in a per-test folder."""
    return workspace_settings(tmp_path)


@pytest.fixture()
def built_copy(built: tuple[Settings, RunSummary], tmp_path: Path) -> Settings:
    """A copy of the shared run's workspace for one test, which may run in it again."""
    return copy_workspace(built[0], tmp_path / "ws")


def every_layer(settings: Settings) -> duckdb.DuckDBPyConnection:
    """One read-only view of a run's every layer, by schema as dbt names them: bronze,
    silver, snapshots and audit from the build database, gold (what publish served),
    ops and reference from the served file."""
    con = duckdb.connect()
    for name, path in (("build", settings.build_database), ("served", settings.warehouse_path)):
        con.execute(f"attach '{path}' as {name} (read_only)")
    relations = con.execute(
        "select table_catalog, table_schema, table_name from information_schema.tables "
        "where (table_catalog = 'build' and table_schema not in ('gold', 'gold_staging', "
        "'ops', 'reference')) or (table_catalog = 'served')"
    ).fetchall()
    for catalog, schema, table in relations:
        con.execute(f'create schema if not exists memory."{schema}"')
        source = f'{catalog}."{schema}"."{table}"'
        con.execute(f'create view memory."{schema}"."{table}" as select * from {source}')
    return con


@pytest.fixture()
def warehouse(built: tuple[Settings, RunSummary]) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only, on the shared run's every layer (every_layer); closed after the test."""
    con = every_layer(built[0])
    try:
        yield con
    finally:
        con.close()


def _try_connect(dsn: str) -> bool:
    """Whether a PostgreSQL answers at dsn."""
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=3) as con:
            con.execute("select 1")
        return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL DSN: OLIST_TEST_PG_DSN (default 127.0.0.1:5432), else a throwaway
    cluster started with pytest-postgresql, else a skip that says why."""
    dsn = os.environ.get("OLIST_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    if _try_connect(dsn):
        yield dsn
        return
    try:
        executor = start_postgres(55432)
    except Exception as exc:
        pytest.skip(f"no PostgreSQL at {dsn} and none could be started: {exc}")
        return
    try:
        yield "postgresql://postgres@127.0.0.1:55432/postgres"
    finally:
        executor.stop()
        shutil.rmtree(Path(executor.datadir).parent, ignore_errors=True)


def start_postgres(port: int, postgres_options: str = "") -> Any:
    """A throwaway PostgreSQL cluster (pytest-postgresql) on 127.0.0.1:port, every
    login trusted; its executor (stop it; executor.datadir, its log at
    executor.logfile, pg_ctl at executor.executable). pg_ctl refuses to run as root:
    as root, it runs as the postgres user, in a folder of that user's."""
    import glob
    import tempfile

    from pytest_postgresql.executors import PostgreSQLExecutor

    pg_ctl = shutil.which("pg_ctl") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))), None
    )
    if pg_ctl is None:
        raise RuntimeError("no pg_ctl binary found")
    folder = Path(tempfile.mkdtemp(prefix="olist-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        wrapper = folder / "pg_ctl"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u postgres -- {pg_ctl} "$@"\n')
        wrapper.chmod(0o755)
        pg_ctl = str(wrapper)
    executor = PostgreSQLExecutor(
        executable=pg_ctl,
        host="127.0.0.1",
        port=port,
        datadir=str(folder / "data"),
        unixsocketdir=str(folder),
        logfile=str(folder / "pg.log"),
        startparams="-w",
        dbname="postgres",
        user="postgres",
        password="",
        postgres_options=postgres_options,
    )
    executor.start()
    return executor


def build_tables(settings: Settings, schema: str) -> list[str]:
    """The tables of a schema in the run's build database (DuckDB), by name."""
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        return [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "order by 1",
                [schema],
            ).fetchall()
        ]
    finally:
        con.close()


def copy_dbt_project(project: Path) -> Path:
    """A copy of the dbt project at project, as a fresh clone has it (without the
    artifacts, logs and packages of earlier dbt commands); project."""
    from olist_elt.settings import REPO_ROOT

    shutil.copytree(
        REPO_ROOT / "dbt_project",
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    return project


def project_off_its_contract(tmp_path: Path) -> Path:
    """A copy of the dbt project whose dim_date.calendar_year is made bigint while
    its contract declares integer (for the tests of dbt's contract error)."""
    project = copy_dbt_project(tmp_path / "dbt_project")
    model = project / "models" / "gold" / "dim_date.sql"
    source = model.read_text()
    assert "as integer) as calendar_year" in source
    model.write_text(source.replace("as integer) as calendar_year", "as bigint) as calendar_year"))
    return project


def run_off_contract(tmp_path: Path, env: dict[str, str], *target: str) -> None:
    """`dbt run --select dim_date` on a project off its contract, as an analyst runs
    it from the project folder: dbt stops on the drifted column with its own
    contract error."""
    import subprocess
    import sys

    from olist_elt.settings import REPO_ROOT

    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            *("run", *target, "--select", "dim_date", "--profiles-dir", str(REPO_ROOT)),
        ],
        cwd=project_off_its_contract(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode != 0
    assert "This model has an enforced contract that failed" in done.stdout, done.stdout[-3000:]
    assert "calendar_year" in done.stdout
