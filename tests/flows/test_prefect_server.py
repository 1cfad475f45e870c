"""The main deployment on a real Prefect server, as an engineer runs it: a work pool,
`prefect deploy --all` from prefect.yaml, a process worker. Each dbt node shows as a
task with its own state; a model failing on a bad file shows failed, the file is
rejected and the run goes on; a model that fails on any data fails its node and the
flow run; a run with no parameters takes its target and source from the environment, and the
schedules that need services start paused."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from olist_elt.security.audit import AuditLog
from olist_elt.settings import REPO_ROOT, Settings
from tests.conftest import _free_port, copy_dbt_project, pg_workspace, scratch_database
from tests.test_cli import CLI

pytestmark = pytest.mark.slow
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        # No scheduled runs fire while the test runs: only the runs it starts.
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
        # the worker asks for new runs every second, not every ten: each run the test
        # starts waited up to ten seconds for the worker to see it
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@contextlib.contextmanager
def _server_database(admin_dsn: str) -> Iterator[dict[str, str]]:
    """A new database on the test PostgreSQL for the server (dropped after), as the
    PREFECT_SERVER_DATABASE_* settings docker-compose.yml gives its server: on SQLite
    the server answered 503 (database is locked) to about half of a run's concurrency
    calls while it recorded their dbt nodes, and each cost the client a 2 s retry."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(admin_dsn)
    with scratch_database(admin_dsn, "prefect_t") as name:
        env = {
            "PREFECT_SERVER_DATABASE_DRIVER": "postgresql+asyncpg",
            "PREFECT_SERVER_DATABASE_HOST": str(parts.get("host", "127.0.0.1")),
            "PREFECT_SERVER_DATABASE_PORT": str(parts.get("port", 5432)),
            "PREFECT_SERVER_DATABASE_USER": str(parts.get("user", "postgres")),
            "PREFECT_SERVER_DATABASE_NAME": name,
        }
        if parts.get("password"):
            env["PREFECT_SERVER_DATABASE_PASSWORD"] = str(parts["password"])
        yield env


@pytest.fixture(scope="module")
def prefect_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str
) -> Iterator[tuple[str, Path]]:
    """A Prefect server on loopback with its own database; its API URL."""
    home = tmp_path_factory.mktemp("prefect")
    port = _free_port()
    with (
        _server_database(postgres_dsn) as database,
        open(home / "server.log", "w") as log,
    ):
        proc = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=_prefect_env(home) | database,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}/api"
            # on a loaded 2-core machine the server has taken over 120 s to answer
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                pytest.fail(
                    "the Prefect server did not start: " + (home / "server.log").read_text()
                )
            yield url, home
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


RUNS = textwrap.dedent(
    """
    import asyncio, json, re, sys
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterTaskRunId
    )
    from prefect.deployments import run_deployment

    async def tasks(client, flow_run):
        states, offset, runs = {}, 0, []
        while True:
            page = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])),
                limit=200,
                offset=offset,
            )
            # a task's run name is the task's name plus a short suffix (-3f2)
            for t in page:
                name = re.sub("-[0-9a-f]{3}$", "", t.name)
                states.setdefault(name, []).append(t.state.type.value)
                runs.append(t)
            if len(page) < 200:
                return states, runs
            offset += 200

    async def nodes(client, runs, name, state):
        # a node's task runs in that state: the step each ran in (its parent), its log
        found = []
        for run in [t for t in runs if t.name == name and t.state.type.value == state]:
            [parent] = [p.id for p in run.task_inputs.get("__parents__", [])][:1]
            [step] = [t.name for t in runs if t.id == parent]
            logs = await client.read_logs(
                LogFilter(task_run_id=LogFilterTaskRunId(any_=[run.id]))
            )
            found.append(
                {"step": re.sub("-[0-9a-f]{3}$", "", step), "log": [x.message for x in logs]}
            )
        return found

    async def main():
        good = await run_deployment(
            "elt_pipeline/elt-pipeline-daily", timeout=900, poll_interval=1
        )
        bad = await run_deployment(
            "elt_pipeline/elt-pipeline-daily",
            parameters={"source": sys.argv[1]},
            timeout=900,
            poll_interval=1,
        )
        # the same deployment on a project whose silver_order_items fails on any data
        broken = await run_deployment(
            "elt_pipeline/elt-pipeline-daily",
            job_variables={"env": {"OLIST_DBT_PROJECT_DIR": sys.argv[2]}},
            timeout=900,
            poll_interval=1,
        )
        async with get_client() as client:
            schedules = {}
            for d in await client.read_deployments():
                schedules[d.name] = [s.active for s in d.schedules]
            out = {"schedules": schedules}
            for key, run in (("good", good), ("bad", bad), ("broken", broken)):
                states, runs = await tasks(client, run)
                out[key] = {"state": run.state.type.value, "tasks": states}
                out[key]["tags"] = {re.sub("-[0-9a-f]{3}$", "", t.name): t.tags for t in runs}
                if key != "good":
                    model = "model silver_order_items"
                    out[key]["nodes"] = await nodes(client, runs, model, "FAILED")
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def _stop_group(proc: subprocess.Popen, grace: float = 30) -> None:
    """Stop the worker and every flow-run process it started: SIGTERM, a grace
    period, then SIGKILL to the group, so no process outlives the test. The runs are
    over by then; Prefect's process worker has at times not exited on SIGTERM within
    two minutes of them (a flow run that fails alone in a process exits at once)."""
    os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout


def test_the_daily_deployment_shows_dbt_nodes_and_fails_on_a_failing_model(
    prefect_server: tuple[str, Path], tmp_path: Path, sample_dir: Path, postgres_dsn: str
) -> None:
    url, home = prefect_server
    bad = tmp_path / "bad"
    shutil.copytree(sample_dir, bad)
    items = bad / "olist_order_items_dataset.csv"
    lines = items.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[5] = '"not a price"'  # price: the silver model's cast fails on it
    lines[1] = ",".join(cells)
    items.write_text("".join(lines), encoding="utf-8")
    broken = copy_dbt_project(tmp_path / "broken_project")
    model = broken / "models" / "silver" / "silver_order_items.sql"
    model.write_text(model.read_text().replace("select * from final", "select * from final_"))
    with pg_workspace(tmp_path / "ws", postgres_dsn) as settings:
        env = _prefect_env(home, url) | _olist_env(settings, sample_dir)
        _run([PREFECT, "work-pool", "create", "olist", "--type", "process"], env, REPO_ROOT)
        _run([PREFECT, "--no-prompt", "deploy", "--all"], env, REPO_ROOT)
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "olist", "--type", "process"],
            env=env,
            cwd=tmp_path,
            stdout=open(tmp_path / "worker.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the worker and its flow-run processes: one group
        )
        try:
            out = _run(
                [sys.executable, "-c", RUNS, str(bad), str(broken)], env, tmp_path, timeout=1800
            )
        finally:
            _stop_group(worker)
        result = json.loads(out.strip().splitlines()[-1])
        records = [
            json.loads(p.read_text()) for p in sorted((settings.lake_dir / "runs").glob("2*.json"))
        ]
        # compliance checks the trail the deployment's three flow runs left, as they would
        verified = _run(
            [*CLI, "audit", "verify"],
            env | {"COLUMNS": "1000"},  # one line, paths unbroken
            tmp_path,
        )
    # deploy --all left the stream's schedule paused, every other one on
    schedules = result["schedules"]
    assert schedules["ingest-stream"] == [False]
    assert all(all(v) for name, v in schedules.items() if name != "ingest-stream")
    good, failed = result["good"], result["bad"]
    assert good["state"] == "COMPLETED", (tmp_path / "worker.log").read_text()[-4000:]
    tasks = good["tasks"]
    for step in ("ingest olist", "dbt build bronze", "gate silver", "publish gold"):
        assert tasks.get(step) == ["COMPLETED"], step
    for node in ("model bronze_olist__orders", "model silver_orders", "model fct_orders"):
        assert tasks.get(node) == ["COMPLETED"], (node, sorted(tasks))
    assert any(name.startswith("test unique_") for name in tasks)
    # each step's task carries its kind and layer as tags on a configured API
    tags = {name: sorted(t) for name, t in good["tags"].items()}
    assert tags["ingest olist"] == ["io"] and tags["publish gold"] == ["publish"]
    assert tags["dbt build silver"] == ["silver", "transform"], tags
    assert tags["gate gold"] == ["gate", "gold"]
    # a model failing on a bad file: its node and step show failed in the UI, the run
    # finds the file responsible, rejects it and builds again without it
    bad_tasks = failed["tasks"]
    assert failed["state"] == "COMPLETED", sorted(bad_tasks.items())
    assert "FAILED" in bad_tasks.get("model silver_order_items", []), sorted(bad_tasks)
    assert "COMPLETED" in bad_tasks["model silver_order_items"]  # built again without it
    assert "FAILED" in bad_tasks["dbt build silver"]
    assert bad_tasks.get("find bad raw objects") == ["COMPLETED"]
    # a model that fails on any data: its node and the flow run fail, nothing rejected
    broken_tasks = result["broken"]["tasks"]
    assert result["broken"]["state"] == "FAILED"
    assert "FAILED" in broken_tasks.get("model silver_order_items", []), sorted(broken_tasks)
    assert "FAILED" in broken_tasks["dbt build silver"]
    # a failed node sits in the step that ran it, with dbt's lines for it as its log:
    # the error's class and model, never a row's value. The bad file's model error
    # fails again in the trial that builds with the file, before it is blamed
    steps = {key: sorted(n["step"] for n in result[key]["nodes"]) for key in ("bad", "broken")}
    assert steps == {
        "bad": ["dbt build silver", "find bad raw objects"],
        "broken": ["dbt build silver"],
    }, steps
    built = {
        key: next(n for n in result[key]["nodes"] if n["step"] == "dbt build silver")
        for key in ("bad", "broken")
    }
    for node in built.values():
        assert any("ERROR creating" in line for line in node["log"]), node["log"]
        assert any("Error in model silver_order_items" in line for line in node["log"]), node
    assert any("final_" in line for line in built["broken"]["log"])
    assert "not a price" not in json.dumps(result["bad"]["nodes"])
    assert "not a price" not in (tmp_path / "worker.log").read_text()  # nor its flow runs'
    # the run with no parameters used the environment's target and source
    assert [r["orchestrator"] for r in records] == ["prefect"] * 3
    first, second, third = records
    assert first["target"] == "warehouse" and first["outcome"] == "success"
    assert sorted(first["ingest"]["ingested"]) == sorted(p.name for p in sample_dir.glob("*.csv"))
    assert not (settings.lake_dir / "landing").exists()  # no sample was generated
    assert second["outcome"] == "success"
    assert [r["object"].split("/")[2] for r in second["rejected"]] == ["order_items"]
    assert "silver_order_items" in second["rejected"][0]["reason"]
    assert "not a price" not in json.dumps(second)  # no row value in the record
    assert third["outcome"] == "failed" and third["failing_step"] == "dbt build silver"
    # whole, and every record up to the last signed in the anchor beside the run records
    counted = re.search(
        r"audit log OK: (\d+) records, head signed in (\S+) at record (\d+)", verified
    )
    assert counted, verified
    assert counted[1] == counted[3] and Path(counted[2]) == settings.audit_anchor_path
    actions = [r["action"] for r in AuditLog(settings.audit_path).records()]
    assert actions.count("raw.reject") == 1 and "raw.write" in actions, sorted(set(actions))
    assert "silver_order_items" in third["error"] and not third["rejected"]


def _olist_env(settings: Settings, source: Path) -> dict[str, str]:
    """The environment a deployment's worker runs with: settings, never passwords."""
    return {
        "OLIST_ELT_HOME": str(REPO_ROOT),
        "OLIST_TARGET": "warehouse",
        "OLIST_SOURCE": str(source),
        "OLIST_LAKE_DIR": str(settings.lake_dir),
        "OLIST_WAREHOUSE_PATH": str(settings.warehouse_path),
        "OLIST_VAULT_PATH": str(settings.vault_path),
        "OLIST_VAULT_KEY_FILE": str(settings.vault_key_file),
        "OLIST_DBT_TARGET_PATH": str(settings.dbt_target_path),
        "OLIST_DASHBOARDS_OUT": str(settings.lake_dir.parent / "dashboards"),
        "OLIST_PG_HOST": settings.pg_host,
        "OLIST_PG_PORT": str(settings.pg_port),
        "OLIST_PG_DATABASE": settings.pg_database,
        "OLIST_PG_LOADER_ROLE": settings.pg_loader_role,
        "OLIST_PG_BI_ROLE": settings.pg_bi_role,
        "OLIST_APIS": "off",
    }
