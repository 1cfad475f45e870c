"""Append-only, hash-chained audit log: one JSON line per security-relevant event."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _record_hash(record: dict[str, Any]) -> str:
    """The sha256 of a record's canonical JSON, without its own hash."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of an audit verification: ok, records read, first bad line."""

    ok: bool
    records: int
    bad_line: int | None = None
    problem: str | None = None


class AuditLog:
    """Appends records carrying the previous record's hash; verifies the chain."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(
        self, actor: str, action: str, obj: str, outcome: str, **detail: Any
    ) -> dict[str, Any]:
        """Append one record under an exclusive lock and return it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                prev = self._last_hash(fh)
                record: dict[str, Any] = {
                    "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "actor": actor,
                    "action": action,
                    "object": obj,
                    "outcome": outcome,
                    "detail": detail,
                    "prev_hash": prev,
                }
                record["hash"] = _record_hash(record)
                fh.seek(0, os.SEEK_END)
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return record

    @staticmethod
    def _last_hash(fh: Any) -> str:
        """The hash of the last record in an open log, or the genesis hash."""
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return GENESIS
        fh.seek(max(0, size - 65536))
        lines = fh.read().splitlines()
        return json.loads(lines[-1])["hash"]

    def records(self) -> list[dict[str, Any]]:
        """Every record in order (empty when the log does not exist yet)."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def verify(self) -> VerifyResult:
        """Walk the chain; report the first record that was edited, dropped or moved."""
        if not self.path.exists():
            return VerifyResult(ok=True, records=0)
        prev = GENESIS
        count = 0
        with open(self.path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                count = lineno
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    return VerifyResult(False, lineno, lineno, "not valid JSON")
                if record.get("prev_hash") != prev:
                    return VerifyResult(
                        False, lineno, lineno, "previous-hash mismatch (deleted, inserted or moved)"
                    )
                if _record_hash(record) != record.get("hash"):
                    return VerifyResult(False, lineno, lineno, "content does not match its hash")
                prev = record["hash"]
        return VerifyResult(ok=True, records=count)
