"""The Prefect flows run the same steps; a failed dbt test fails the flow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from olist_elt.settings import REPO_ROOT

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {flows!r})
    from elt_pipeline import elt_pipeline
    from prefect.states import State
    good = elt_pipeline(source={good!r}, return_state=True)
    bad = elt_pipeline(source={bad!r}, return_state=True)
    print(json.dumps({{"good": good.type.value, "bad": bad.type.value,
                      "bad_message": str(bad.message)}}))
    """
)


def test_elt_pipeline_flow_succeeds_then_fails_on_a_bad_batch(
    tmp_path: Path, sample_dir: Path
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(sample_dir, bad)
    payments = bad / "olist_order_payments_dataset.csv"
    payments.write_text(
        payments.read_text(encoding="utf-8").replace('"boleto"', '"barter"', 1), encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        OLIST_LAKE_DIR=str(tmp_path / "lake"),
        OLIST_WAREHOUSE_PATH=str(tmp_path / "wh" / "olist.duckdb"),
        OLIST_VAULT_PATH=str(tmp_path / "v" / "vault.json"),
        OLIST_VAULT_KEY_FILE=str(tmp_path / "v" / "vault.key"),
        OLIST_DBT_TARGET_PATH=str(tmp_path / "target"),
    )
    script = SCRIPT.format(flows=str(REPO_ROOT / "flows"), good=str(sample_dir), bad=str(bad))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {**result, "good": "COMPLETED", "bad": "FAILED"}
    runs = [json.loads(p.read_text()) for p in sorted((tmp_path / "lake" / "runs").glob("2*.json"))]
    assert [r["orchestrator"] for r in runs] == ["prefect", "prefect"]
    failed = next(r for r in runs if r["outcome"] == "failed")
    assert "accepted_values_silver_payments_payment_type" in failed["error"]
    assert failed["steps"][-1]["name"] == "dbt build silver"
