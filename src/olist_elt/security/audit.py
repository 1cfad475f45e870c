"""Append-only, hash-chained audit log: one JSON line per security-relevant event."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from olist_elt.lake.private import create_private, private_dirs
from olist_elt.security.audit_anchor import (
    ANCHOR_KEY_NAME,
    AnchorState,
    AuditAnchor,
    anchor_for,
)
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
    """Outcome of an audit verification: ok, records read, first bad line, and how
    many records the signed anchor covers (None when the log has no anchor set up)."""

    ok: bool
    records: int
    bad_line: int | None = None
    problem: str | None = None
    anchored: int | None = None


class AuditLog:
    """Appends records carrying the previous record's hash, keeps the head in its
    anchor (when one is registered for the log); verifies the chain and the anchor."""

    def __init__(self, path: Path, anchor: AuditAnchor | None = None) -> None:
        self.path = path
        self.anchor = anchor or anchor_for(path)

    def append(
        self, actor: str, action: str, obj: str, outcome: str, **detail: Any
    ) -> dict[str, Any]:
        """Append one record under an exclusive lock, move the anchor, return it."""
        self.ready()
        private_dirs(self.path.parent)
        with create_private(self.path, append=True) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                prev = self._last_hash(fh)
                base, missing = self._anchor_base(fh, prev)
                events: list[tuple[str, str, str, str, dict[str, Any]]] = []
                if self.anchor is not None and self.anchor.read_unrecorded:
                    events.append(("olist-elt", "secret.read", ANCHOR_KEY_NAME, "ok", {}))
                if missing and base:
                    why = {"records": base, "why": "no anchor found for an existing log"}
                    events.append(("olist-elt", "audit.anchor", self.path.name, "created", why))
                events.append((actor, action, obj, outcome, detail))
                records = _chain(prev, events)
                record = records[-1]
                text = "".join(
                    json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records
                )
                fh.seek(0, os.SEEK_END)
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
                if self.anchor is not None:
                    self.anchor.read_unrecorded = False
                    if base is not None:
                        self.anchor.write(base + len(records), record["hash"])
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return record

    def head(self) -> dict[str, Any] | None:
        """The signed head as the anchor holds it (records, head, hmac), for a run
        record or the ops schema to keep a second copy; None without an anchor."""
        state = self.anchor.read() if self.anchor is not None else None
        return state.to_json() if state is not None else None

    def ready(self) -> None:
        """Make sure records can be appended and anchored (the anchor key is at hand),
        so that a step checks it before it writes anything the log must record."""
        if self.anchor is not None:
            self.anchor.key()

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

    def _anchor_base(self, fh: Any, prev: str) -> tuple[int | None, bool]:
        """How many records the log holds now if the anchor may move on from here
        (None: it may not, so that `audit verify` keeps showing what it found), and
        whether the anchor is missing. The anchor moves on when it names the current
        head, or an earlier record still in place (records appended without it)."""
        if self.anchor is None:
            return None, False
        try:
            state = self.anchor.read()
        except AuditChainBroken:
            return None, False
        if state is None:
            return _scan(fh, 0)[0], True
        if not self.anchor.is_valid(state):
            return None, False
        if state.head == prev:
            return state.records, False
        count, at = _scan(fh, state.records)
        return (count, False) if at == state.head else (None, False)

    def records(self) -> list[dict[str, Any]]:
        """Every record in order (empty when the log does not exist yet)."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            # shared with other readers, after any append under way: never a half line
            fcntl.flock(fh, fcntl.LOCK_SH)
            try:
                return [json.loads(line) for line in fh if line.strip()]
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def verify(self, kept_heads: Iterable[dict[str, Any]] = ()) -> VerifyResult:
        """Walk the chain, then hold its end against the signed anchor: report the
        first record edited, dropped or moved, records cut from the end, or a chain
        re-hashed as a whole. kept_heads: copies of the signed head kept elsewhere
        (run records keep one each); the furthest one validly signed must still be in
        the log, so records cut with the anchor, which the next audited command
        anchors anew, still show."""
        state = self.anchor.read() if self.anchor is not None else None
        kept = self._furthest_kept(kept_heads)
        walked = self._walk(state.records if state is not None else 0, kept)
        if isinstance(walked, VerifyResult):
            return walked
        count, at_anchor, at_kept = walked
        if kept is not None and (count < kept.records or at_kept != kept.head):
            return VerifyResult(
                False,
                count,
                None,
                f"a run record kept the signed head at record {kept.records}, and the log "
                + (
                    f"ends at record {count}"
                    if count < kept.records
                    else f"holds another record {kept.records}"
                )
                + ": records were cut from its end or rewritten, its anchor deleted or"
                " re-signed after; restore the log from a backup",
            )
        return self._check_anchor(state, count, at_anchor)

    def _furthest_kept(self, heads: Iterable[dict[str, Any]]) -> AnchorState | None:
        """The kept head furthest into the log that our key signed, if any."""
        if self.anchor is None:
            return None
        signed = []
        for head in heads:
            try:
                state = AnchorState(int(head["records"]), str(head["head"]), str(head["hmac"]))
            except (KeyError, TypeError, ValueError):
                continue
            if self.anchor.is_valid(state):
                signed.append(state)
        return max(signed, key=lambda s: s.records, default=None)

    def _walk(
        self, position: int, kept: AnchorState | None = None
    ) -> VerifyResult | tuple[int, str | None, str | None]:
        """The first broken link as a failed result, or the number of records and the
        hashes of record `position` and of the kept head's record (1-based) of a
        sound chain."""
        if not self.path.exists():
            return 0, None, None
        prev = GENESIS
        count = 0
        at_position: str | None = None
        at_kept: str | None = None
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
                if lineno == position:
                    at_position = prev
                if kept is not None and lineno == kept.records:
                    at_kept = prev
        return count, at_position, at_kept

    def _check_anchor(
        self, state: AnchorState | None, count: int, at_anchor: str | None
    ) -> VerifyResult:
        """The verdict on a sound chain of `count` records against the anchor."""
        if self.anchor is None:
            return VerifyResult(ok=True, records=count)
        where = f"anchor {self.anchor.path}"
        if state is None:
            if count == 0:
                return VerifyResult(ok=True, records=0, anchored=0)
            return VerifyResult(
                False,
                count,
                None,
                f"no {where} for a log of {count} records: it was deleted, or the log "
                "predates anchoring (the next audited command anchors it again, recorded "
                "as an audit.anchor event)",
            )
        if not self.anchor.is_valid(state):
            return VerifyResult(
                False,
                count,
                None,
                f"the {where} does not carry a valid signature: it was edited or forged, "
                "or the vault's audit_anchor_key changed",
            )
        if count < state.records:
            return VerifyResult(
                False,
                count,
                count + 1,
                f"the log ends at record {count} but its anchor says {state.records}: "
                f"the last {state.records - count} record(s) were cut",
            )
        if at_anchor != state.head:
            return VerifyResult(
                False,
                count,
                state.records,
                f"record {state.records} is not the anchored head: the log was rewritten "
                "(records replaced and the chain re-hashed)",
            )
        return VerifyResult(ok=True, records=count, anchored=state.records)


def log_name(audit_path: Path, lake_dir: Path) -> str:
    """Which audit log a kept head signs, as run records name it: its path inside the
    lake (a lake moved to another folder keeps it), else its absolute path."""
    try:
        return str(audit_path.relative_to(lake_dir))
    except ValueError:
        return str(audit_path)


def _chain(
    prev: str, events: list[tuple[str, str, str, str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Records for (actor, action, object, outcome, detail) events, chained from prev."""
    records: list[dict[str, Any]] = []
    for actor, action, obj, outcome, detail in events:
        records.append(_new_record(actor, action, obj, outcome, detail, prev))
        prev = records[-1]["hash"]
    return records


def _new_record(
    actor: str, action: str, obj: str, outcome: str, detail: dict[str, Any], prev: str
) -> dict[str, Any]:
    """One bounded record chained to prev, with its own hash."""
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
    return record


def _scan(fh: Any, position: int) -> tuple[int, str | None]:
    """The number of records in an open log, and the hash of record `position`
    (1-based; None when there is no such record or it does not parse)."""
    fh.seek(0)
    count = 0
    found: str | None = None
    for line in fh:
        if not line.strip():
            continue
        count += 1
        if count == position:
            try:
                found = str(json.loads(line)["hash"])
            except (ValueError, KeyError, TypeError):
                found = None
    return count, found
