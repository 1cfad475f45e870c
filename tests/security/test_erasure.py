"""Erasure requests: an id nobody holds is refused and changes nothing."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from olist_elt.run.inputs import ingest_olist
from olist_elt.sample import OLIST_FILES
from olist_elt.security.audit import AuditLog
from olist_elt.security.erasure import UnknownPerson, record_erasure, register_path
from olist_elt.settings import Settings
from tests.conftest import workspace_settings
from tests.test_cli import _env

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture()
def landed(tmp_path: Path, sample_dir: Path) -> Settings:
    """A workspace whose raw zone holds the sample (ingested, nothing built)."""
    settings = workspace_settings(tmp_path)
    ingest_olist(settings, sample_dir, "test-ingest")
    return settings


def _lake_files(settings: Settings) -> dict[str, bytes]:
    """Every file of the lake but the audit log and its signed head, by path."""
    audit = {settings.audit_path.resolve(), settings.audit_anchor_path.resolve()}
    return {
        str(p.relative_to(settings.lake_dir)): p.read_bytes()
        for p in sorted(settings.lake_dir.rglob("*"))
        if p.is_file() and p.resolve() not in audit
    }


def _a_person(sample_dir: Path) -> str:
    with open(sample_dir / OLIST_FILES["customers"].file_name, encoding="utf-8") as fh:
        return next(csv.DictReader(fh))["customer_unique_id"]


def test_erasing_an_unknown_id_says_so_and_changes_nothing(landed: Settings) -> None:
    before = _lake_files(landed)
    with pytest.raises(UnknownPerson) as refused:
        record_erasure(landed, UNKNOWN_ID, "dpo@test")
    assert "nothing was recorded or changed" in str(refused.value)
    assert UNKNOWN_ID not in str(refused.value)
    assert _lake_files(landed) == before
    assert not register_path(landed.lake_dir).exists()
    last = list(AuditLog(landed.audit_path).records())[-1]
    assert (last["action"], last["outcome"]) == ("erasure.request", "refused")
    assert UNKNOWN_ID not in landed.audit_path.read_text()


def test_a_known_id_is_recorded_once_and_an_unknown_one_still_refused(
    landed: Settings, sample_dir: Path
) -> None:
    person = _a_person(sample_dir)
    pseudonym, added = record_erasure(landed, person, "dpo@test")
    assert added
    assert record_erasure(landed, f" {person} ", "dpo@test") == (pseudonym, False)
    register = register_path(landed.lake_dir).read_bytes()
    with pytest.raises(UnknownPerson):
        record_erasure(landed, UNKNOWN_ID, "dpo@test")
    assert register_path(landed.lake_dir).read_bytes() == register


def test_the_erase_command_refuses_an_unknown_id_with_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "olist_elt", "erase", "--customer-unique-id", UNKNOWN_ID],
        env=_env(tmp_path, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "nothing was recorded or changed" in done.stdout + done.stderr
    assert "erasure recorded" not in done.stdout
    assert not (tmp_path / "warehouse").exists()
