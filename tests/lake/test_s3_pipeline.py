"""The whole local pipeline with the raw zone in a bucket (moto's S3 server): each
connector writes with its own account, DuckDB reads s3:// through httpfs."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from olist_elt.lake.storage import s3_secret_name
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


def test_pipeline_on_an_s3_lake_matches_the_local_lake(
    moto_endpoint: str,
    tmp_path: Path,
    sample_dir: Path,
    built: tuple[Settings, RunSummary],
) -> None:
    bucket = make_bucket(moto_endpoint)
    settings = workspace_settings(
        tmp_path,
        lake_backend="s3",
        s3_bucket=bucket,
        s3_prefix="olist",
        s3_endpoint_url=moto_endpoint,
    )
    vault = open_vault(settings, AuditLog(settings.audit_path))
    for identity in IDENTITIES:
        vault.set(s3_secret_name(identity), "testing")  # moto accepts any key
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
