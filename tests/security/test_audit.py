"""The audit log finds edits, deletions, insertions and reordering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from olist_elt.security.audit import AuditLog
from olist_elt.security.audit_anchor import AuditAnchor
from olist_elt.security.exceptions import AuditChainBroken
from olist_elt.settings import Settings


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


def test_a_huge_detail_is_bounded_and_the_next_append_still_works(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    columns = [f"c{i:05d}" for i in range(12_000)]
    audit.append("svc-test", "quarantine", "x" * 5000, "rejected", detail=",".join(columns))
    audit.append("svc-test", "quarantine", "q", "rejected", unexpected=columns)
    audit.append(
        "svc-test", "raw.write", "raw/x/1", "ok", nested={str(i): "y" * 900 for i in range(99)}
    )

    after = audit.append("svc-test", "raw.write", "raw/x/2", "ok")

    lines = audit.path.read_bytes().splitlines()
    assert len(lines) == 4 and max(len(line) for line in lines) < 8192
    assert b"c11999" not in audit.path.read_bytes()
    assert after["prev_hash"] == json.loads(lines[2])["hash"]
    assert audit.verify().ok


def test_a_record_longer_than_any_read_block_is_read_back(tmp_path: Path) -> None:
    """A log holding a very long line (as older versions wrote) still takes appends."""
    audit = AuditLog(tmp_path / "audit.jsonl")
    first = audit.append("svc-test", "raw.write", "raw/x/0", "ok")
    long_record = {**first, "prev_hash": first["hash"], "detail": {"pad": "z" * 200_000}}
    from olist_elt.security.audit import _record_hash

    long_record["hash"] = _record_hash(long_record)
    with open(audit.path, "a") as fh:
        fh.write(json.dumps(long_record, sort_keys=True) + "\n")

    after = audit.append("svc-test", "raw.write", "raw/x/2", "ok")

    assert after["prev_hash"] == long_record["hash"]
    assert audit.verify().ok and audit.verify().records == 3


def test_a_cut_last_line_is_a_clear_error_not_a_decode_traceback(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.append("svc-test", "raw.write", "raw/x/0", "ok")
    audit.path.write_bytes(audit.path.read_bytes()[:-20])

    with pytest.raises(AuditChainBroken, match="not a complete record"):
        audit.append("svc-test", "raw.write", "raw/x/1", "ok")


def _anchor(tmp_path: Path) -> AuditAnchor:
    return AuditAnchor(tmp_path / "runs" / "audit-anchor.json", lambda: b"k" * 32)


@pytest.fixture()
def anchored(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "_audit" / "audit.jsonl", anchor=_anchor(tmp_path))
    for i in range(5):
        audit.append("svc-test", "raw.write", f"raw/x/{i}", "ok", n=i)
    return audit


def _rehash(lines: list[str]) -> list[str]:
    """The chain rebuilt from scratch over (edited) records, as a forger would."""
    from olist_elt.security.audit import GENESIS, _record_hash

    prev, out = GENESIS, []
    for line in lines:
        record = json.loads(line)
        record["prev_hash"] = prev
        record["hash"] = _record_hash(record)
        prev = record["hash"]
        out.append(json.dumps(record, sort_keys=True))
    return out


def test_an_anchored_log_verifies_with_its_head_signed(anchored: AuditLog) -> None:
    result = anchored.verify()
    assert result.ok and result.records == 6 and result.anchored == 6
    assert anchored.records()[0]["action"] == "secret.read"


def test_cutting_the_last_two_lines_is_found(anchored: AuditLog) -> None:
    _write(anchored, _lines(anchored)[:-2])
    result = anchored.verify()
    assert not result.ok and "last 2 record(s) were cut" in (result.problem or "")


def test_a_rehashed_chain_is_found(anchored: AuditLog) -> None:
    lines = _lines(anchored)
    record = json.loads(lines[3])
    record["object"] = "raw/x/forged"
    lines[3] = json.dumps(record, sort_keys=True)
    _write(anchored, _rehash(lines))
    result = anchored.verify()
    assert not result.ok and "re-hashed" in (result.problem or "")


def test_reordered_and_rehashed_records_are_found(anchored: AuditLog) -> None:
    lines = _lines(anchored)
    lines[2], lines[3] = lines[3], lines[2]
    _write(anchored, _rehash(lines))
    assert "re-hashed" in (anchored.verify().problem or "")


def test_cut_and_rehashed_with_a_forged_anchor_is_found(anchored: AuditLog) -> None:
    lines = _rehash(_lines(anchored)[:-2])
    _write(anchored, lines)
    head = json.loads(lines[-1])["hash"]
    anchored.anchor.path.write_text(json.dumps({"records": 4, "head": head, "hmac": "0" * 64}))
    result = anchored.verify()
    assert not result.ok and "valid signature" in (result.problem or "")


def test_a_deleted_anchor_is_found(anchored: AuditLog) -> None:
    anchored.anchor.path.unlink()
    result = anchored.verify()
    assert not result.ok and "no anchor" in (result.problem or "")


def test_an_append_after_a_cut_does_not_hide_the_cut(anchored: AuditLog) -> None:
    _write(anchored, _lines(anchored)[:-2])
    anchored.append("svc-test", "gate", "silver", "ok")
    anchored.append("svc-test", "gate", "gold", "ok")
    assert not anchored.verify().ok


def test_records_appended_without_the_anchor_are_taken_in_by_the_next_anchored_one(
    anchored: AuditLog,
) -> None:
    AuditLog(anchored.path, anchor=None).append("svc-other", "gate", "silver", "ok")
    assert anchored.verify().anchored == 6
    anchored.append("svc-test", "gate", "gold", "ok")
    result = anchored.verify()
    assert result.ok and result.records == 8 and result.anchored == 8


def test_the_anchor_is_registered_by_the_settings(workspace: Settings) -> None:
    AuditLog(workspace.audit_path).append("svc-test", "gate", "silver", "ok")
    assert workspace.audit_anchor_path.exists()
    _write(AuditLog(workspace.audit_path), _lines(AuditLog(workspace.audit_path))[:-1])
    assert "cut" in (AuditLog(workspace.audit_path).verify().problem or "")


def _append_many(path: str, anchor_path: str, n: int) -> None:
    audit = AuditLog(Path(path), anchor=AuditAnchor(Path(anchor_path), lambda: b"k" * 32))
    for i in range(n):
        audit.append("svc-proc", "raw.write", f"raw/x/{i}", "ok")


def test_two_processes_appending_at_once_keep_chain_and_anchor(tmp_path: Path) -> None:
    import multiprocessing

    log, anchor = tmp_path / "audit.jsonl", tmp_path / "runs" / "audit-anchor.json"
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_append_many, args=(str(log), str(anchor), 30)) for _ in "ab"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)

    result = AuditLog(log, anchor=AuditAnchor(anchor, lambda: b"k" * 32)).verify()
    assert result.ok and result.records == 62 and result.anchored == 62
    assert AuditLog(log, anchor=AuditAnchor(anchor, lambda: b"k" * 32)).head() is not None


def test_a_log_older_than_its_anchor_is_anchored_visibly_by_the_next_append(
    log: AuditLog, tmp_path: Path
) -> None:
    anchored = AuditLog(log.path, anchor=_anchor(tmp_path))
    assert "no anchor" in (anchored.verify().problem or "")

    anchored.append("svc-test", "gate", "silver", "ok")

    actions = [(r["action"], r["outcome"]) for r in anchored.records()]
    assert actions[5:] == [("secret.read", "ok"), ("audit.anchor", "created"), ("gate", "ok")]
    assert anchored.verify().ok and anchored.verify().anchored == 8


def test_a_log_set_apart_signs_an_anchor_of_its_own_beside_the_lakes(tmp_path: Path) -> None:
    """A log set apart (OLIST_AUDIT_LOG: an analyst's scratch log) on a lake whose own
    log is anchored: its appends leave the lake's anchor as it was (one anchor for
    both logs said the lake's log was forged), and each log verifies against its own.
    The lake's log named explicitly (as the pipeline hands it to dbt) keeps its anchor."""
    from tests.conftest import workspace_settings

    lake = workspace_settings(tmp_path / "ws")
    apart = workspace_settings(tmp_path / "ws", audit_log=tmp_path / "scratch" / "audit.jsonl")
    named = workspace_settings(tmp_path / "ws", audit_log=lake.audit_path)
    assert lake.audit_anchor_path == lake.lake_dir / "runs" / "audit-anchor.json"
    assert named.audit_anchor_path == lake.audit_anchor_path
    assert apart.audit_anchor_path.parent == lake.audit_anchor_path.parent
    assert apart.audit_anchor_path != lake.audit_anchor_path
    for i in range(3):
        AuditLog(lake.audit_path).append("svc-test", "raw.write", f"raw/x/{i}", "ok")
    signed = lake.audit_anchor_path.read_bytes()
    for i in range(2):
        AuditLog(apart.audit_path).append("ana", "secret.read", f"key/{i}", "ok")
    assert lake.audit_anchor_path.read_bytes() == signed
    for settings, records in ((lake, 3), (apart, 2)):
        result = AuditLog(settings.audit_path).verify()
        assert result.ok and result.anchored == result.records >= records, result.problem


def _append_through_settings(root: str, audit_log: str | None, n: int) -> None:
    from tests.conftest import workspace_settings

    overrides = {"audit_log": Path(audit_log)} if audit_log else {}
    settings = workspace_settings(Path(root), **overrides)
    for i in range(n):
        AuditLog(settings.audit_path).append("svc-proc", "raw.write", f"raw/x/{i}", "ok")


def test_two_processes_on_one_lake_each_with_its_own_log_keep_both_chains_and_anchors(
    tmp_path: Path,
) -> None:
    """The lake's own log and a log set apart, appended at once by two processes (a
    run and an analyst's dbt): each chain whole, each head signed in its own anchor."""
    import multiprocessing

    from tests.conftest import workspace_settings

    root, apart = tmp_path / "ws", tmp_path / "scratch" / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=_append_through_settings, args=(str(root), log, 25))
        for log in (None, str(apart))
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0]

    lake = workspace_settings(root)
    scratch = workspace_settings(root, audit_log=apart)
    assert lake.audit_anchor_path.exists() and scratch.audit_anchor_path.exists()
    for settings in (lake, scratch):
        result = AuditLog(settings.audit_path).verify()
        writes = [r for r in AuditLog(settings.audit_path).records() if r["actor"] == "svc-proc"]
        assert result.ok and result.anchored == result.records, result.problem
        assert len(writes) == 25
