"""The whole local pipeline with the raw zone in a bucket (moto's S3 server): each
connector writes with its own account, DuckDB reads s3:// through httpfs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from pytest_httpserver import HTTPServer

from olist_elt.errors import PipelineFailed
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.storage import open_storage, s3_secret_name
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.security.audit import AuditLog
from olist_elt.security.vault import open_vault
from olist_elt.settings import Settings
from tests.conftest import CREDS, make_bucket, workspace_settings

pytestmark = pytest.mark.slow

IDENTITIES = (
    "svc-connector-olist",
    "svc-connector-bcb",
    "svc-connector-openweather",
    "svc-transformer",
    "svc-quality-gate",
    "svc-lifecycle",
)


def _s3_workspace(root: Path, endpoint: str) -> Settings:
    """A workspace whose lake is a new bucket, every identity's key in its vault."""
    settings = workspace_settings(
        root,
        lake_backend="s3",
        s3_bucket=make_bucket(endpoint),
        s3_prefix="olist",
        s3_endpoint_url=endpoint,
    )
    vault = open_vault(settings, AuditLog(settings.audit_path))
    for identity in IDENTITIES:
        vault.set(s3_secret_name(identity), "testing")  # moto accepts any key
    return settings


def test_pipeline_on_an_s3_lake_matches_the_local_lake(
    moto_endpoint: str,
    tmp_path: Path,
    sample_dir: Path,
    built: tuple[Settings, RunSummary],
) -> None:
    settings = _s3_workspace(tmp_path, moto_endpoint)
    bucket = settings.s3_bucket
    summary = run_pipeline(settings, sample_dir)
    assert summary.outcome == "success"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDS)
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="olist/")
        for o in page.get("Contents", [])
    ]
    assert sum(k.startswith("olist/raw/olist/") for k in keys) == 9
    assert sum(k.startswith("olist/raw/_manifest/olist/") for k in keys) == 9
    assert any(k.startswith("olist/raw/bcb/") for k in keys)
    assert not (settings.lake_dir / "raw").exists()  # nothing raw on local disk
    local = built[1]
    for layer in ("bronze", "silver", "gold"):
        assert summary.layer_rows[layer] == local.layer_rows[layer], layer
    # A second run finds every object already in the bucket: no new data, nothing built.
    again = run_pipeline(settings, sample_dir)
    assert again.skipped_build and again.outcome == "success"


def test_a_bucket_failing_while_dbt_reads_it_blames_no_data(
    moto_endpoint: str,
    tmp_path: Path,
    sample_dir: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The files land in the bucket; then the storage answers 503 to what DuckDB's
    httpfs asks while dbt builds bronze (the transformer's endpoint points at a server
    that does): the run stops as an infrastructure failure, tries no build without a
    raw object and rejects nothing (it used to search the new files for a bad one)."""
    import olist_elt.transform.duckdb_plugin as plugin

    settings = _s3_workspace(tmp_path, moto_endpoint)
    httpserver.expect_request(re.compile("^/")).respond_with_data("busy", status=503)
    failing = settings.model_copy(update={"s3_endpoint_url": httpserver.url_for("/")[:-1]})
    read_through = plugin.attach_lake
    monkeypatch.setattr(plugin, "attach_lake", lambda con, _: read_through(con, failing))

    with pytest.raises(PipelineFailed, match=r"the lake's storage failed \(HTTP 5xx\)"):
        run_pipeline(settings, sample_dir)

    [record] = [json.loads(p.read_text()) for p in (settings.lake_dir / "runs").glob("2*.json")]
    assert record["error_class"] == "InfrastructureFailed", record["error"]
    assert record["failing_step"] == "dbt build bronze" and record["rejected"] == []
    assert [s["name"] for s in record["steps"] if s["outcome"] == "failed"] == ["dbt build bronze"]
    landed = Manifest(open_storage(settings, "svc-quality-gate")).records("olist")
    assert len(landed) == 9 and {r.status for r in landed} == {"accepted"}
    assert httpserver.log  # DuckDB did ask the failing storage
