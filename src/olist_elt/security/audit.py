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

from olist_elt.security.exceptions import AuditChainBroken

GENESIS = "0" * 64
MAX_TEXT = 256  # characters of one string value kept in a record
MAX_ITEMS = 20  # items of one list, or keys of one mapping, kept in a record
MAX_RECORD_BYTES = 8192  # a record's detail is replaced by its digest beyond this
_BLOCK = 65536


def bounded_text(text: str, limit: int = MAX_TEXT) -> str:
    """Text cut to at most about `limit` characters; a longer text keeps its start and
    says how long it was and what its sha256 is (so two records can still be matched)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{text[: limit // 2]}... [{len(text)} characters, sha256 {digest[:16]}]"


def _bounded(value: Any) -> Any:
    """A JSON-able copy of value with every string, list and mapping bounded."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return bounded_text(value)
    if isinstance(value, dict):
        items = list(value.items())
        kept = {bounded_text(str(k), 64): _bounded(v) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            kept["..."] = f"{len(items) - MAX_ITEMS} more keys"
        return kept
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        kept_list = [_bounded(v) for v in seq[:MAX_ITEMS]]
        if len(seq) > MAX_ITEMS:
            kept_list.append(f"... {len(seq) - MAX_ITEMS} more items")
        return kept_list
    return bounded_text(str(value))


def _bounded_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail of a record, bounded so that a record stays under MAX_RECORD_BYTES."""
    kept = _bounded(detail)
    text = json.dumps(kept, ensure_ascii=False, sort_keys=True)
    if len(text.encode("utf-8")) <= MAX_RECORD_BYTES // 2:
        return kept
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return {"truncated": True, "sha256": digest, "keys": sorted(kept)[:MAX_ITEMS]}


def _last_line(fh: Any) -> bytes:
    """The last non-empty line of a file open in binary mode, however long it is."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    tail = b""
    pos = end
    while pos > 0:
        step = min(_BLOCK, pos)
        pos -= step
        fh.seek(pos)
        tail = fh.read(step) + tail
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return tail.rstrip(b"\n")


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
        with open(self.path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                prev = self._last_hash(fh)
                record: dict[str, Any] = {
                    "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "actor": bounded_text(str(actor), 128),
                    "action": bounded_text(str(action), 128),
                    "object": bounded_text(str(obj)),
                    "outcome": bounded_text(str(outcome), 128),
                    "detail": _bounded_detail(detail),
                    "prev_hash": prev,
                }
                record["hash"] = _record_hash(record)
                line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
                fh.seek(0, os.SEEK_END)
                fh.write(line.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return record

    @staticmethod
    def _last_hash(fh: Any) -> str:
        """The hash of the last record in an open log, or the genesis hash."""
        last = _last_line(fh)
        if not last.strip():
            return GENESIS
        try:
            return str(json.loads(last)["hash"])
        except (ValueError, KeyError, TypeError):
            raise AuditChainBroken(
                "the last line of the audit log is not a complete record (cut or edited); "
                "run `olist-elt audit verify` and restore the log from a backup"
            ) from None

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
