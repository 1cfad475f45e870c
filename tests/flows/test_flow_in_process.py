"""The elt_pipeline flow called in this process (Prefect starts a temporary server):
the run it makes decides and records as `olist-elt run` does, and its backfill
parameters replay ingest dates as `olist-elt run --from --to` does. The weekly
raw_verify flow, on the same server, fails and alerts on an object rewritten in the
lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

from olist_elt.deployments import load_flow
from olist_elt.lake.verify import RawObjectsChanged
from olist_elt.run.inputs import lake_manifest
from olist_elt.run.record import RunSummary
from olist_elt.settings import Settings
from tests.conftest import API_NOW, TEST_SCALE, TEST_SEED
from tests.test_history import rewound_versions, table_fingerprints

pytestmark = pytest.mark.slow


def test_the_flow_keeps_a_workspace_with_nothing_new_and_replays_its_days_from_text_dates(
    built: tuple[Settings, RunSummary],
    built_copy: Settings,
    sample_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = built_copy
    env = {
        "OLIST_LAKE_DIR": s.lake_dir,
        "OLIST_WAREHOUSE_PATH": s.warehouse_path,
        "OLIST_VAULT_PATH": s.vault_path,
        "OLIST_VAULT_KEY_FILE": s.vault_key_file,
        "OLIST_DBT_TARGET_PATH": s.dbt_target_path,
        "OLIST_DASHBOARDS_OUT": s.dashboards_out,
        "OLIST_SAMPLE_SCALE": TEST_SCALE,
        "OLIST_SAMPLE_SEED": TEST_SEED,
        "OLIST_APIS_NOW": API_NOW.isoformat(),
        "PREFECT_HOME": tmp_path / "prefect",
        "OLIST_ALERT_FILE": tmp_path / "alerts.jsonl",
        # run logs stay local: the temporary server stops at the end of the test
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    # Prefect gives its temporary server 20 s to answer; on two busy cores it took
    # longer (seen with three test workers), which failed the test before any run
    patience = temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 300})
    flow = load_flow("elt_pipeline.py", "elt_pipeline")
    days = sorted({r.ingested_at[:10] for r in lake_manifest(s).records("olist")})
    try:
        with patience:
            summary = flow(source=str(sample_dir))
            # a deployment's parameters arrive as JSON, the dates as text: Prefect
            # makes them dates before the flow's backfill sees them
            replayed = flow(from_date=days[0], to_date=days[-1])
            # the weekly check, on the server already up: every object as ingested,
            # then one rewritten outside olist-elt
            verify = load_flow("raw_verify.py", "raw_verify")
            checked = verify()
            rewritten = next(r for r in lake_manifest(s).records() if r.dataset == "sellers")
            path = s.lake_dir / rewritten.object_key
            path.write_bytes(path.read_bytes() + b"\n")
            with pytest.raises(RawObjectsChanged, match=f"{rewritten.object_key}: altered"):
                verify()
    finally:  # the temporary server stops now, not at exit (its log would go nowhere)
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()

    assert summary.orchestrator == "prefect" and summary.outcome == "success"
    assert built[1].run_id in (summary.skipped_build or ""), summary.served_repairs
    names = [step.name for step in summary.steps]
    assert "verify unchanged" in names and not any(n.startswith(("dbt", "gate")) for n in names)
    assert summary.layer_rows == built[1].layer_rows

    # the backfill: the same days replayed from raw, the type-2 history rewound first
    assert replayed.orchestrator == "prefect" and replayed.outcome == "success"
    assert replayed.as_of == days[-1] and bool(replayed.full_refresh) == (len(days) == 1)
    names = [step.name for step in replayed.steps]
    assert "dbt build gold" in names and "ingest olist" not in names
    # the flow's run record profiles its builds as the CLI's does: gold's 4 order facts
    # incremental, its other models tables
    gold = next(step for step in replayed.steps if step.name == "dbt build gold").profile
    models = gold["models_by_materialization"]
    assert models["incremental"][0] == 4 and models["table"][0] == gold["by_type"]["model"][0] - 4
    assert replayed.layer_rows == built[1].layer_rows
    schemas = ("silver", "gold", "snapshots")
    assert table_fingerprints(s, schemas) == table_fingerprints(built[0], schemas)
    assert set(rewound_versions(s)) == {
        "customers_snapshot",
        "products_snapshot",
        "sellers_snapshot",
    }
    # every object the lake's manifest lists (none erased here) was read back
    assert checked == len(lake_manifest(s).records()) > 0
    [alert] = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert alert["event"] == "raw_changed" and rewritten.object_key in alert["message"]
