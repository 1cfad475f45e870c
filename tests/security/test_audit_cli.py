"""`olist-elt ingest` and `olist-elt audit verify` as an operator runs them: a hostile
file does not break later commands, and a cut audit log is named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from olist_elt.settings import Settings
from tests.conftest import workspace_env

CLI = [sys.executable, "-m", "olist_elt"]
CUSTOMERS = "olist_customers_dataset.csv"
ORDERS = "olist_orders_dataset.csv"
SELLERS = "olist_sellers_dataset.csv"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "DBT_"))}
    env.pop("PREFECT_API_URL", None)
    env["OLIST_HOME"] = str(home)
    return env


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=home, env=_env(home), capture_output=True, text=True, timeout=120
    )


def _customers(folder: Path) -> Path:
    folder.mkdir(parents=True)
    rows = ["customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state"]
    rows += [f"c{i},u{i},0100{i},sao paulo,SP" for i in range(5)]
    (folder / CUSTOMERS).write_text("\n".join(rows) + "\n")
    (folder / SELLERS).write_text(
        "seller_id,seller_zip_code_prefix,seller_city,seller_state\ns1,01001,sao paulo,SP\n"
    )
    return folder


def _wide_orders(folder: Path, columns: int = 12_000) -> Path:
    folder.mkdir(parents=True)
    header = ",".join(f"col{i:06d}" for i in range(columns))
    (folder / ORDERS).write_text(header + "\n" + ",".join(["x"] * columns) + "\n")
    return folder


def test_after_a_12000_column_header_later_commands_and_verify_are_fine(tmp_path: Path) -> None:
    wide = _wide_orders(tmp_path / "wide")
    assert (wide / ORDERS).stat().st_size > 120_000

    _cli(tmp_path, "ingest", str(wide))
    later = _cli(tmp_path, "ingest", str(_customers(tmp_path / "good")))
    verify = _cli(tmp_path, "audit", "verify")

    assert later.returncode == 0, later.stderr[-2000:]
    assert "Traceback" not in later.stderr
    assert verify.returncode == 0 and "audit log OK" in verify.stdout, verify.stderr[-2000:]
    assert "head signed" in verify.stdout


def test_verify_names_the_last_two_lines_cut(tmp_path: Path) -> None:
    assert _cli(tmp_path, "ingest", str(_customers(tmp_path / "good"))).returncode == 0
    log = tmp_path / "lake" / "_audit" / "audit.jsonl"
    lines = log.read_text().splitlines()
    assert len(lines) >= 3

    log.write_text("\n".join(lines[:-2]) + "\n")
    verify = _cli(tmp_path, "audit", "verify")

    assert verify.returncode == 1
    assert "the last 2 record(s) were cut" in verify.stderr


def test_records_cut_with_the_anchor_show_against_the_head_a_run_kept(
    built_copy: Settings,
) -> None:
    """The log's last records and its anchor deleted together: the next audited
    command anchors the shortened log anew (an audit.anchor event), but the run
    record kept a copy of the signed head, which the log no longer reaches."""
    settings = built_copy
    [record] = [json.loads(p.read_text()) for p in (settings.lake_dir / "runs").glob("2*.json")]
    kept = record["audit_head"]["records"]
    log = settings.audit_path
    lines = log.read_text().splitlines()
    assert len(lines) >= kept > 2
    log.write_text("\n".join(lines[: kept - 2]) + "\n")
    settings.audit_anchor_path.unlink()
    env = {**_env(settings.lake_dir.parent), **workspace_env(settings)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)

    assert cli("raw", "verify").returncode == 0  # audited: signs the shortened log anew
    verify = cli("audit", "verify")

    assert verify.returncode == 1, verify.stdout
    message = " ".join(verify.stderr.split())
    assert f"a run record kept the signed head at record {kept}" in message
    assert "records were cut from its end or rewritten" in message


def test_a_head_a_run_kept_of_another_log_is_not_held_against_this_one(
    built_copy: Settings,
) -> None:
    """Runs of one lake that kept their audit log apart (OLIST_AUDIT_LOG) keep that
    log's head in the same runs/ folder: signed with the same key, it is not this
    log's, and a sound log is not called cut for it."""
    from olist_elt.security.audit import AuditLog

    settings = built_copy
    anchor = AuditLog(settings.audit_path).anchor
    assert anchor is not None
    other = {"records": 10_000, "head": "f" * 64, "log": str(settings.lake_dir / "other.jsonl")}
    other["hmac"] = anchor.sign(10_000, other["head"])
    record = settings.lake_dir / "runs" / "29991231T000000Z-0ther0.json"
    record.write_text(json.dumps({"run_id": "apart", "outcome": "success", "audit_head": other}))
    env = {**_env(settings.lake_dir.parent), **workspace_env(settings), "COLUMNS": "300"}

    verify = subprocess.run(
        [*CLI, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )

    assert verify.returncode == 0, verify.stderr
    assert "audit log OK" in verify.stdout
    same = {**other, "log": "_audit/audit.jsonl"}  # this lake's own log, as runs name it
    record.write_text(json.dumps({"run_id": "same", "audit_head": same}))
    again = subprocess.run(
        [*CLI, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 1 and "kept the signed head at record 10000" in again.stderr
