"""The audit log finds edits, deletions, insertions and reordering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from olist_elt.security.audit import AuditLog


@pytest.fixture()
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.jsonl")
    for i in range(5):
        audit.append("svc-test", "raw.write", f"raw/x/{i}", "ok", n=i)
    return audit


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines()


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("\n".join(lines) + "\n")


def test_an_untouched_log_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.records == 5


def test_an_edited_record_is_found(log: AuditLog) -> None:
    lines = _lines(log)
    record = json.loads(lines[2])
    record["outcome"] = "refused"
    lines[2] = json.dumps(record, sort_keys=True)
    _write(log, lines)
    result = log.verify()
    assert not result.ok and result.bad_line == 3


def test_a_deleted_record_is_found(log: AuditLog) -> None:
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    assert log.verify().bad_line == 2


def test_reordered_records_are_found(log: AuditLog) -> None:
    lines = _lines(log)
    lines[3], lines[4] = lines[4], lines[3]
    _write(log, lines)
    assert log.verify().bad_line == 4


def test_an_inserted_record_is_found(log: AuditLog) -> None:
    lines = _lines(log)
    forged = json.loads(lines[1])
    forged["object"] = "raw/x/forged"
    lines.insert(2, json.dumps(forged, sort_keys=True))
    _write(log, lines)
    assert log.verify().bad_line == 3


def test_appending_after_verification_keeps_the_chain(log: AuditLog) -> None:
    log.append("svc-test", "gate", "silver", "ok")
    assert log.verify().records == 6
