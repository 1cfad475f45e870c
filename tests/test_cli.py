"""The commands a user types, run as a user runs them (subprocesses, fresh folders)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from olist_elt.settings import REPO_ROOT
from tests.conftest import _free_port, at_once, copy_dbt_project

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "olist_elt"]


def _env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The caller's environment without any OLIST_ setting; OLIST_HOME (the folder every
    relative path resolves against, as a fresh clone's root would be) plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "DBT_"))}
    env.pop("PREFECT_API_URL", None)
    if home is not None:
        env["OLIST_HOME"] = str(home)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the dbt project and profiles in a fresh folder, as a fresh clone has them."""
    root = tmp_path_factory.mktemp("clone")
    copy_dbt_project(root / "dbt_project")
    shutil.copy(REPO_ROOT / "profiles.yml", root / "profiles.yml")
    return root


@pytest.fixture(scope="module")
def cli_runs(repo_copy: Path) -> list[subprocess.CompletedProcess[str]]:
    """`olist-elt run` with no arguments from the repository root (small scale), typed
    in two terminals at once on the new folder: no lake, vault or sample yet."""
    env = _env(
        repo_copy,
        OLIST_SAMPLE_SCALE="0.01",
        OLIST_DBT_PROJECT_DIR=str(repo_copy / "dbt_project"),
        OLIST_PROFILES_DIR=str(repo_copy),
    )
    return at_once([*CLI, "run"], 2, cwd=repo_copy, env=env)


@pytest.fixture(scope="module")
def cli_run(cli_runs: list[subprocess.CompletedProcess[str]]) -> subprocess.CompletedProcess[str]:
    """The one of the two that ran."""
    return next((r for r in cli_runs if r.returncode == 0), cli_runs[0])


def test_two_runs_typed_at_once_on_a_new_folder_build_once_and_refuse_the_other(
    cli_runs: list[subprocess.CompletedProcess[str]], repo_copy: Path
) -> None:
    """One takes the lake's run lock and builds; the other is refused, naming that
    run, and writes nothing: each sample file landed once, no run record of its own,
    no temporary file left."""
    from olist_elt.lake.manifest import Manifest
    from olist_elt.lake.storage import LocalStorage

    ran, refused = sorted(cli_runs, key=lambda r: r.returncode)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert refused.returncode == 1, (refused.stdout + refused.stderr)[-3000:]
    [record] = (repo_copy / "lake" / "runs").glob("2*.json")
    run_id = json.loads(record.read_text())["run_id"]
    said = " ".join(refused.stderr.split())  # one line, however the console wrapped it
    assert f"another run holds the lake {repo_copy / 'lake'}: run {run_id}" in said, said
    landed = Manifest(LocalStorage(repo_copy / "lake")).records("olist")
    assert len(landed) == 9 and len({r.sha256 for r in landed}) == 9
    assert [p for p in repo_copy.rglob("*") if p.name.endswith(".tmp")] == []


def test_run_with_no_arguments_builds_the_star_schema(
    cli_run: subprocess.CompletedProcess[str], repo_copy: Path
) -> None:
    assert cli_run.returncode == 0, cli_run.stderr[-3000:]
    assert "No Prefect server configured" in cli_run.stderr
    for name in ("fct_orders", "dim_customer", "dbt build gold", "rows per layer"):
        assert name in cli_run.stdout
    con = duckdb.connect(str(repo_copy / "warehouse" / "olist.duckdb"), read_only=True)
    try:
        gold = {
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'gold'"
            ).fetchall()
        }
        assert con.execute("select count(*) from gold.fct_orders").fetchone()[0] == 994
    finally:
        con.close()
    assert {
        "fct_orders",
        "fct_order_items",
        "fct_payments",
        "fct_reviews",
        "dim_customer",
        "dim_seller",
        "dim_product",
        "dim_geography",
        "dim_date",
    } <= gold
    runs = list((repo_copy / "lake" / "runs").glob("2*.json"))
    assert len(runs) == 1 and json.loads(runs[0].read_text())["outcome"] == "success"
    index = repo_copy / "build" / "dashboards" / "index.html"
    assert "dashboards: open" in cli_run.stdout and "index.html" in cli_run.stdout
    assert index.exists() and (index.parent / "sales.html").exists()
    # the pipeline's dbt artifacts and log beside the lake, none in the project's
    # target/ (what an analyst's `dbt docs serve` serves over HTTP)
    assert (repo_copy / "build" / "dbt" / "pipeline-local" / "logs" / "dbt.log").is_file()
    assert not list((repo_copy / "dbt_project").glob("target/pipeline-*"))


def test_analyst_dbt_build_passes_with_no_other_setup(
    cli_run: subprocess.CompletedProcess[str], repo_copy: Path
) -> None:
    assert cli_run.returncode == 0
    dbt = Path(sys.executable).with_name("dbt")
    done = subprocess.run(
        [str(dbt), "build", "--profiles-dir", ".."],
        cwd=repo_copy / "dbt_project",
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "ERROR=0" in done.stdout and "PASS=" in done.stdout


def test_audit_verify_reports_the_chain(
    cli_run: subprocess.CompletedProcess[str], repo_copy: Path
) -> None:
    done = subprocess.run(
        [*CLI, "audit", "verify"],
        cwd=repo_copy,
        env=_env(repo_copy),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "audit log OK" in done.stdout
    log = repo_copy / "lake" / "_audit" / "audit.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    done = subprocess.run(
        [*CLI, "audit", "verify"],
        cwd=repo_copy,
        env=_env(repo_copy),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "line 3" in done.stderr


def test_a_failing_dbt_test_rejects_the_file_naming_the_test_and_the_run_fails(
    tmp_path: Path, sample_dir: Path
) -> None:
    """The only order items file fails silver's relationships test: the file is
    rejected with the test as the reason, and the run fails at bronze, which is left
    without any order items (no pending object feeds its order items: no trial,
    not another bisection)."""
    bad = tmp_path / "in"
    shutil.copytree(sample_dir, bad)
    items = bad / "olist_order_items_dataset.csv"
    header, first, *rest = items.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = first.split(",")
    fields[2] = '"' + "0" * 32 + '"'  # a product no products file holds
    items.write_text("".join([header, ",".join(fields), *rest]), encoding="utf-8")
    done = subprocess.run(
        [*CLI, "run", str(bad)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1
    err = " ".join(done.stderr.split())
    rejection = err[err.index("rejected raw object raw/olist/order_items/") :]
    assert "(dbt build silver failed:" in rejection
    assert "relationships_silver_order_items_product_id" in rejection
    assert "failed at 'dbt build bronze'" in err
    assert "its 1 raw object(s) were rejected; deliver a corrected file" in err
    assert "no pending raw object feeds bronze_olist__order_items" in err
    con = duckdb.connect(str(tmp_path / "warehouse" / "olist.duckdb"), read_only=True)
    try:
        gold = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'gold'"
        ).fetchone()[0]
    finally:
        con.close()
    assert gold == 0  # the run stopped before gold


def test_a_bad_setting_fails_at_start_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "run"],
        cwd=tmp_path,
        env=_env(tmp_path, OLIST_SAMPLE_SCALE="-1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "OLIST_SAMPLE_SCALE" in done.stderr


def test_sample_command_writes_the_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "sample", "--scale", "0.001", "--out", str(tmp_path / "s")],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "s").glob("*.csv"))) == 9


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _without_ages(text: str) -> str:
    """status output with the freshness table's ages (hours, one decimal) masked: they
    follow the clock, and the six commands may straddle a tenth of an hour."""
    return re.sub(r"(│\s*)\d+\.\d(\s*│\s*\d+(?:\.\d+)?\s*│)", r"\1…\2", text)


def test_status_and_vault_see_the_same_lake_from_any_folder(
    cli_run: subprocess.CompletedProcess[str], repo_copy: Path
) -> None:
    elsewhere = Path(tempfile.mkdtemp())
    before = {repo_copy / "dbt_project": _listing(repo_copy / "dbt_project"), elsewhere: set()}
    outputs = {}
    for cwd in (repo_copy, elsewhere, repo_copy / "dbt_project"):
        for command in (["status"], ["vault", "list"]):
            done = subprocess.run(
                [*CLI, *command],
                cwd=cwd,
                env=_env(repo_copy, COLUMNS="200"),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            outputs.setdefault(" ".join(command), set()).add(_without_ages(done.stdout))
    assert all(len(seen) == 1 for seen in outputs.values()), outputs
    [status] = outputs["status"]
    run_id = json.loads(next((repo_copy / "lake" / "runs").glob("2*.json")).read_text())["run_id"]
    assert run_id in status and "success" in status
    assert "pii_hmac_key" in outputs["vault list"].pop()
    for folder, listing in before.items():
        assert _listing(folder) == listing, f"{folder} got stray files"
    shutil.rmtree(elsewhere)


def test_python_m_olist_elt_lists_every_command() -> None:
    done = subprocess.run(
        [*CLI, "--help"], env=_env(COLUMNS="200"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for command in (
        "run",
        "build",
        "check",
        "sample",
        "ingest",
        "raw",
        "vault",
        "audit",
        "erase",
        "status",
        "lifecycle",
        "deployments",
        "warehouse",
        "spark",
        "stream",
        "dashboards",
    ):
        assert f" {command} " in done.stdout, command


PREFECT_PROBE = (
    "import sys; from olist_elt.cli.pipeline import prefect_configured; "
    "print(prefect_configured(), 'prefect' in sys.modules)"
)


@pytest.mark.parametrize(
    ("where", "text", "expected"),
    [
        (None, "", "False False"),  # nothing can set an API: Prefect is not imported
        (
            "home/profiles.toml",
            'active = "p"\n[profiles.p]\nPREFECT_API_URL = "{url}"\n',
            "True True",
        ),
        ("cwd/prefect.toml", '[api]\nurl = "{url}"\n', "True True"),
        ("cwd/.env", "PREFECT_API_URL={url}\n", "True True"),
        ("cwd/prefect.toml", '[logging]\nlevel = "INFO"\n', "False True"),  # read, no API
        ("cwd/pyproject.toml", '[tool]\nprefect.api.url = "{url}"\n', "True True"),
        ("cwd/pyproject.toml", '[project]\ndependencies = ["prefect"]\n', "False False"),
    ],
)
def test_a_run_asks_prefect_for_its_api_only_where_a_setting_could_set_one(
    tmp_path: Path, where: str | None, text: str, expected: str
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    if where:
        (tmp_path / where).write_text(text.format(url="http://127.0.0.1:9/api"))
    env = {k: v for k, v in _env().items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)

    probe = subprocess.run(
        [sys.executable, "-c", PREFECT_PROBE], cwd=cwd, env=env, capture_output=True, text=True
    )

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().startswith(expected)


def test_a_chosen_prefect_profile_is_left_to_prefect(tmp_path: Path) -> None:
    """A profile picked by name may be one of Prefect's own (its template's `local`
    sets an API URL): Prefect is imported and its answer is the run's."""
    env = {k: v for k, v in _env().items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path), "PREFECT_PROFILE": "local"}
    probe = PREFECT_PROBE + (
        "; from prefect.settings import get_current_settings; "
        "print(bool(get_current_settings().api.url))"
    )

    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    ours, imported, prefects = done.stdout.split()
    assert imported == "True" and ours == prefects


@pytest.mark.parametrize("server", ["down", "refuses the login"])
def test_a_run_whose_prefect_api_does_not_answer_says_so_and_ingests_nothing(
    tmp_path: Path, sample_dir: Path, httpserver: HTTPServer, server: str
) -> None:
    """PREFECT_API_URL set (with a login in it) to a server that is down, or that
    answers 401: one line naming the URL without the login and what to do, no
    traceback, and the lake untouched (the files are not ingested)."""
    if server == "down":
        port = _free_port()  # a port nothing listens on
        cause = "ConnectError"
    else:
        httpserver.expect_request("/api/health").respond_with_data("no", status=401)
        port = httpserver.port
        cause = "HTTP 401"
    url = f"http://olist:s3cr3t-login@127.0.0.1:{port}/api"
    env = {k: v for k, v in _env(tmp_path / "ws").items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": url}

    done = subprocess.run(
        [*CLI, "run", str(sample_dir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, said
    assert f"(http://127.0.0.1:{port}/api) but does not answer ({cause}" in said
    assert "unset PREFECT_API_URL" in said and "nothing ran" in said
    assert "Traceback" not in said and "s3cr3t-login" not in said
    lake = tmp_path / "ws" / "lake"
    assert not (lake / "raw").exists() and not list(lake.glob("runs/2*.json"))


def test_the_build_command_is_refused_while_a_run_holds_the_lake(
    built_copy, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`olist-elt build` writes the layers a run builds and gates: while a run holds
    the lake it is refused naming the run and writes nothing; so is a raw object
    rewritten since it was landed; after, it builds."""
    import hashlib

    from typer.testing import CliRunner

    from olist_elt.cli import app
    from olist_elt.run.inputs import ingest_olist, lake_manifest
    from tests.conftest import lake_held_by_another_process, workspace_env
    from tests.test_gates import _batch, _new_order

    settings = built_copy
    for name, value in workspace_env(settings).items():
        monkeypatch.setenv(name, value)
    before = hashlib.sha256(settings.build_database.read_bytes()).hexdigest()

    with lake_held_by_another_process(settings, "the-daily-run"):
        refused = CliRunner().invoke(app, ["build", "--layer", "bronze"])

    assert refused.exit_code == 1
    assert "another run holds the lake" in refused.output and "the-daily-run" in refused.output
    assert hashlib.sha256(settings.build_database.read_bytes()).hexdigest() == before
    # bronze reads back first, as a run does, what no good run built from: a file
    # `olist-elt ingest` landed, rewritten since, is refused, naming it
    ingest_olist(settings, _batch(sample_dir, "orders", tmp_path, _new_order), "landed")
    [landed] = [r for r in lake_manifest(settings).records() if r.run_id == "landed"]
    path = settings.lake_dir / landed.object_key
    original = path.read_bytes()
    path.write_bytes(original + b"\n")
    refused = CliRunner().invoke(app, ["build", "--layer", "bronze"])
    assert refused.exit_code == 1 and "raw object(s) differ" in refused.output, refused.output
    assert hashlib.sha256(settings.build_database.read_bytes()).hexdigest() == before
    path.write_bytes(original)
    built = CliRunner().invoke(app, ["build", "--layer", "bronze"])
    assert built.exit_code == 0, built.output[-2000:]
    assert "bronze: " in built.output and " relations, " in built.output


def test_raw_reject_and_readmit_change_the_manifest_audit_and_ask_for_a_full_refresh(
    built_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's `raw reject` marks an accepted object rejected (the object itself
    untouched), audited under their name, and the next build must be a full refresh
    so its rows leave; `raw readmit` undoes it the same way; a sha256 that matches
    nothing in that state is refused with exit 1."""
    import hashlib

    from typer.testing import CliRunner

    from olist_elt.cli import app
    from olist_elt.lake.manifest import Manifest
    from olist_elt.lake.storage import open_storage
    from olist_elt.run.state import full_refresh_reason
    from olist_elt.security.audit import AuditLog
    from tests.conftest import workspace_env

    settings = built_copy
    for name, value in workspace_env(settings).items():
        monkeypatch.setenv(name, value)

    def said(result) -> str:  # the console may wrap a long key anywhere: no whitespace
        return "".join(result.output.split())

    def record():
        [found] = [
            r for r in Manifest(open_storage(settings, "tests")).records() if r.sha256 == sha
        ]
        return found

    [sha] = [
        r.sha256
        for r in Manifest(open_storage(settings, "tests")).records("olist")
        if r.dataset == "sellers"
    ]
    stored = settings.lake_dir / record().object_key
    content = hashlib.sha256(stored.read_bytes()).hexdigest()
    assert full_refresh_reason(settings) is None

    rejected = CliRunner().invoke(
        app, ["raw", "reject", sha, "--reason", "wrong export", "--actor", "alice"]
    )
    assert rejected.exit_code == 0, rejected.output
    assert f"rejected{record().object_key}" in said(rejected)
    assert record().status == "rejected" and record().rejected_reason == "by alice: wrong export"
    assert full_refresh_reason(settings) == "1 raw object(s) rejected"
    again = CliRunner().invoke(app, ["raw", "reject", sha, "--reason", "twice"])
    assert again.exit_code == 1 and f"noacceptedrawobjectmatches{sha}" in said(again)

    readmitted = CliRunner().invoke(app, ["raw", "readmit", sha, "--actor", "bob"])
    assert readmitted.exit_code == 0, readmitted.output
    assert record().status == "accepted" and record().rejected_reason is None
    assert full_refresh_reason(settings) == "1 raw object(s) readmitted"
    unknown = CliRunner().invoke(app, ["raw", "readmit", "0" * 64])
    assert unknown.exit_code == 1 and "norejectedrawobjectmatches" in said(unknown)

    # the object's bytes never changed; the decisions are in the audit log by name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == content
    trail = [
        (r["actor"], r["action"], r["outcome"])
        for r in AuditLog(settings.audit_path).records()
        if r.get("object") == record().object_key and r["action"] != "raw.write"
    ]
    assert trail == [("alice", "raw.reject", "rejected"), ("bob", "raw.readmit", "accepted")]


def test_raw_verify_names_a_landing_deleted_with_its_manifest_record(
    built_copy, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone deletes a raw object and its manifest record: no record is left to read
    back, but compliance's `raw verify` finds the landing in the audit trail, exits 1
    naming it, audits the finding and alerts. With no backup, an operator's `raw
    forget` records the loss (audited): the next build is a full refresh, and the
    check passes again."""
    import hashlib

    from typer.testing import CliRunner

    from olist_elt.cli import app
    from olist_elt.lake.manifest import Manifest, manifest_key
    from olist_elt.lake.storage import LocalStorage
    from olist_elt.run.state import full_refresh_reason
    from olist_elt.security.audit import AuditLog
    from tests.conftest import workspace_env

    settings = built_copy
    alerts = tmp_path / "alerts.jsonl"
    for name, value in (workspace_env(settings) | {"OLIST_ALERT_FILE": str(alerts)}).items():
        monkeypatch.setenv(name, value)
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    lines = (sample_dir / "olist_sellers_dataset.csv").read_bytes().splitlines(keepends=True)
    content = b"".join(lines[:-1])  # one seller fewer: bytes the lake does not hold yet
    (delivery / "olist_sellers_dataset.csv").write_bytes(content)
    landed = CliRunner().invoke(app, ["ingest", str(delivery)])
    assert landed.exit_code == 0, landed.output
    storage = LocalStorage(settings.lake_dir)
    digest = hashlib.sha256(content).hexdigest()
    [new] = [r for r in Manifest(storage).records() if r.sha256 == digest]
    checked = CliRunner().invoke(app, ["raw", "verify"])
    assert checked.exit_code == 0 and "raw zone OK" in checked.output, checked.output

    storage.delete(new.object_key)
    storage.delete(manifest_key(new.source, new.dataset, new.sha256))
    checked = CliRunner().invoke(app, ["raw", "verify", "--actor", "carol"])

    said = "".join(checked.output.split())  # the console may wrap a long key anywhere
    assert checked.exit_code == 1, checked.output
    assert f"{new.object_key}:landed" in said and "itsmanifestrecordisgone" in said
    trail = [
        (r["actor"], r["object"], r["outcome"])
        for r in AuditLog(settings.audit_path).records()
        if r["action"] == "raw.verify"
    ][-2:]
    assert trail == [("svc-transformer", new.object_key, "unrecorded"), ("carol", "raw", "failed")]
    [alert] = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert alert["event"] == "raw_changed" and new.object_key in alert["message"]

    forgot = CliRunner().invoke(
        app, ["raw", "forget", new.sha256, "--reason", "no backup", "--actor", "dana"]
    )
    assert forgot.exit_code == 0 and new.object_key in "".join(forgot.output.split())
    assert full_refresh_reason(settings) == "1 raw object(s) lost"
    [lost] = [r for r in AuditLog(settings.audit_path).records() if r["action"] == "raw.forget"]
    assert (lost["actor"], lost["object"], lost["detail"]["reason"]) == (
        "dana",
        new.object_key,
        "no backup",
    )
    checked = CliRunner().invoke(app, ["raw", "verify"])
    assert checked.exit_code == 0 and "raw zone OK" in checked.output, checked.output
    again = CliRunner().invoke(app, ["raw", "forget", new.sha256, "--reason", "twice"])
    assert again.exit_code == 1 and "nounrecordedlanding" in "".join(again.output.split())


def test_raw_verify_names_files_in_the_raw_zone_no_manifest_record_names(
    built_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files put into raw outside olist-elt (hot and cold), one of them a copy of a
    landed object under another day, and an erased object's bytes left behind: no
    build reads them, but the raw zone holds only what registered connectors landed.
    `raw verify` exits 1 naming each as stray with its sha256, audits them, and passes
    again once they are gone. A landing halfway (its bytes, not yet its record) and a
    file a lifecycle move is deleting finish while the check waits to look again,
    and a move's cold copy is there before its record names it: none is a stray."""
    import hashlib
    from dataclasses import replace
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from olist_elt.cli import app
    from olist_elt.lake import verify
    from olist_elt.lake.manifest import Manifest, manifest_key
    from olist_elt.lake.storage import LocalStorage
    from olist_elt.security.audit import AuditLog
    from tests.conftest import workspace_env

    settings = built_copy
    for name, value in workspace_env(settings).items():
        monkeypatch.setenv(name, value)
    storage = LocalStorage(settings.lake_dir)
    records = Manifest(storage).records("olist")
    [orders] = [r for r in records if r.dataset == "orders"]
    copied = orders.object_key.replace("ingest_date=", "ingest_date=1999-01-01-was-")
    planted = {
        copied: storage.read_bytes(orders.object_key),
        "cold/raw/olist/orders/ingest_date=2020-01-01/planted.csv": b"order_id\nx\n",
    }
    for key, data in planted.items():
        storage.put_bytes(key, data)
    # an erased object's bytes: its record says erased, so no record names them
    [sellers] = [r for r in records if r.dataset == "sellers"]
    Manifest(storage).update(sellers, lambda r: replace(r, status="erased"))
    planted[sellers.object_key] = storage.read_bytes(sellers.object_key)
    [customers] = [r for r in records if r.dataset == "customers"]
    landing = settings.lake_dir / manifest_key(
        customers.source, customers.dataset, customers.sha256
    )
    record = landing.read_bytes()
    landing.unlink()
    # a lifecycle move halfway: the cold copy read back, the record not yet changed
    [products] = [r for r in records if r.dataset == "products"]
    storage.copy(products.object_key, f"cold/{products.object_key}")
    leaving = "raw/olist/orders/ingest_date=2020-01-02/moved-to-cold.csv"
    storage.put_bytes(leaving, b"order_id\ny\n")
    waits = []

    def meanwhile(seconds: float) -> None:
        waits.append(seconds)
        landing.write_bytes(record)  # the landing writes its record
        if storage.exists(leaving):
            storage.delete(leaving)  # the move deletes the hot copy

    monkeypatch.setattr(verify, "time", SimpleNamespace(sleep=meanwhile))

    checked = CliRunner().invoke(app, ["raw", "verify", "--actor", "erin"])

    said = "".join(checked.output.split())  # the console may wrap a long key anywhere
    assert checked.exit_code == 1, checked.output
    for key, data in planted.items():
        assert f"{key}:nomanifestrecordnamesit" in said, (key, checked.output)
        assert hashlib.sha256(data).hexdigest()[:12] in said
    found = {
        r["object"]: r["detail"]["found"]
        for r in AuditLog(settings.audit_path).records()
        if r["action"] == "raw.verify" and r["outcome"] == "stray"
    }
    assert found == {k: hashlib.sha256(d).hexdigest() for k, d in planted.items()}
    assert waits == [verify.CONFIRM_AFTER_S]  # looked at again once, then reported
    for key in planted:
        storage.delete(key)
    checked = CliRunner().invoke(app, ["raw", "verify"])
    assert checked.exit_code == 0 and "raw zone OK" in checked.output, checked.output


def test_status_on_a_new_folder_leaves_what_dbt_wrote_to_the_owner(tmp_path: Path) -> None:
    """`status` parses the project outside a run: its dbt target (logs, manifest, the
    kept parse), and one an older version left open, are the owner's only after it."""
    target = tmp_path / "target"
    old = target / "pipeline-local"  # as a command outside a run used to leave it
    old.mkdir(parents=True)
    old.chmod(0o755)

    done = subprocess.run(
        [*CLI, "status"],
        cwd=tmp_path,
        env=_env(tmp_path, OLIST_DBT_TARGET_PATH=str(target)),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert (old / "logs" / "dbt.log").is_file()
    assert stat.S_IMODE(old.stat().st_mode) == 0o700
    for path in old.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else mode & 0o700), (path, oct(mode))
