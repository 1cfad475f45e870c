"""The raw zone's integrity: every raw object as its manifest record says, read back.

The raw zone is immutable: a connector lands an object once, under its sha256, and
nothing but a lifecycle move or an erasure (each recorded in the manifest) may
change it. An object deleted or rewritten outside olist-elt is not a bad batch: a
build that read it would fail on it (and the run would reject it as bad data) or,
worse, pass on bytes nobody ingested. A run reads back the raw objects it did not
land itself that it reads for the first time, and on a full refresh all it reads
again (`olist-elt build`: those no good run built from); `olist-elt raw verify` and
its weekly deployment read them all, and hold the audit trail's landings in this lake
against the manifest: an object deleted together with its record leaves no record to
read back, but its landing is in the trail. They also list the raw zone: a file
no record names (a stray) is no build's input, but no connector recorded it either.
Either way a difference is recorded in the audit trail and nothing is rejected."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from olist_elt.errors import OlistEltError
from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.storage import Storage, lake_root, open_storage
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings

# the identity that reads raw objects back (the one that builds from them)
READER = "svc-transformer"
# an operator's record that an unrecorded landing is lost for good
FORGET = "raw.forget"


@dataclass(frozen=True)
class Difference:
    """A raw object that is not what its manifest record says: missing, or with
    other bytes (found: their sha256)."""

    record: ManifestRecord
    found: str | None = None

    @property
    def object_key(self) -> str:
        return self.record.object_key

    @property
    def sha256(self) -> str:
        return self.record.sha256

    @property
    def problem(self) -> str:
        return "missing" if self.found is None else "altered"

    def describe(self) -> str:
        if self.found is None:
            return f"{self.record.object_key}: missing"
        return (
            f"{self.record.object_key}: altered (sha256 {self.found[:12]}… in the lake, "
            f"{self.record.sha256[:12]}… ingested)"
        )


@dataclass(frozen=True)
class Unrecorded:
    """A raw object the audit trail says a connector landed in this lake, whose
    manifest record is gone: deleted with its bytes (or the record alone) outside
    olist-elt, where reading back the records cannot see it."""

    object_key: str
    sha256: str
    landed_at: str
    found: ClassVar[None] = None
    problem: ClassVar[str] = "unrecorded"

    def describe(self) -> str:
        return (
            f"{self.object_key}: landed {self.landed_at[:19]} (audit trail), its manifest "
            "record is gone; restore both from a backup, or record the loss: "
            f"`olist-elt raw forget {self.sha256} --reason ...`"
        )


@dataclass(frozen=True)
class Stray:
    """A file in the raw zone (hot or cold) that no manifest record names: a landing
    killed between its bytes and its record, a move killed before it deleted its
    source, or a write outside olist-elt. No build reads it (builds read what the
    records name), but the raw zone holds only what registered connectors landed."""

    object_key: str
    found: str
    sha256: ClassVar[str] = ""
    problem: ClassVar[str] = "stray"

    def describe(self) -> str:
        return (
            f"{self.object_key}: no manifest record names it (sha256 {self.found[:12]}…), "
            "so no build reads it; look at what it is, then delete it"
        )


Change = Difference | Unrecorded | Stray

# where raw objects live (hot, then cold after the lifecycle moved them), and the
# manifest's own folder beside them
RAW_PREFIXES = ("raw/", "cold/raw/")
MANIFEST_PREFIX = "raw/_manifest/"
# how long a file no record names is left before it is looked at again (strays)
CONFIRM_AFTER_S = 2.0


class RawObjectsChanged(OlistEltError):
    """Raw objects differ from their manifest records: changed outside olist-elt.
    Neither the data's fault nor a service's; nothing is rejected."""

    def __init__(self, differences: Sequence[Change]) -> None:
        self.differences = differences
        shown = "; ".join(d.describe() for d in differences[:5])
        more = f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""
        # unrecorded landings and strays say what to do in their own words
        advice = (
            ". Restore each from its source or a backup, or go on without it: "
            "`olist-elt raw reject <sha256> --reason ...`"
            if any(isinstance(d, Difference) for d in differences)
            else ""
        )
        super().__init__(
            f"{len(differences)} raw object(s) differ from what was ingested, changed "
            f"outside olist-elt (the raw zone is immutable; nothing was rejected): "
            f"{shown}{more}{advice}"
        )


def read_back(storage: Storage, manifest: Manifest, record: ManifestRecord) -> Difference | None:
    """The object's difference from its record, None when it is as ingested. A lifecycle
    move and an erasure write the record before they delete the bytes: an object
    missing under a record changed meanwhile is read as the record says now (in cold,
    or erased), so a check needs no lock against them."""
    if not storage.exists(record.object_key):
        now = manifest.get(record.source, record.dataset, record.sha256)
        if now is not None and now.status == "erased":
            return None
        if now is None or now.object_key == record.object_key or not storage.exists(now.object_key):
            return Difference(record)
        record = now
    try:
        found = storage.sha256(record.object_key)
    except FileNotFoundError:  # deleted while it was read
        return Difference(record)
    return None if found == record.sha256 else Difference(record, found)


def unrecorded_landings(
    storage: Storage, trail: Iterable[dict[str, Any]], records: Iterable[ManifestRecord]
) -> list[Unrecorded]:
    """Each landing the audit trail records in this lake (raw.write, ok, naming this
    storage's root) whose sha256 no manifest record holds. Records of an erasure, a
    rejection or a lifecycle move keep the sha256, so none of them shows here; nor
    does a landing in another lake, or one audited before landings named their lake,
    or one whose loss an operator recorded since (raw.forget).
    A landing writes its record before it audits itself: read the trail before the
    records, and one landing meanwhile is in both or only in the records."""
    held = {r.sha256 for r in records}
    here = lake_root(storage)
    gone: dict[str, Unrecorded] = {}
    for entry in trail:
        detail = entry.get("detail") or {}
        digest = detail.get("sha256")
        if detail.get("lake") != here or not digest or digest in held:
            continue
        if entry.get("action") == "raw.write" and entry.get("outcome") == "ok":
            gone.setdefault(digest, Unrecorded(entry["object"], digest, str(entry["ts"])))
        elif entry.get("action") == FORGET:
            gone.pop(digest, None)
    return list(gone.values())


def read_records_and_trail(
    storage: Storage, audit: AuditLog
) -> tuple[list[ManifestRecord], list[Unrecorded]]:
    """The manifest's records, and the landings of the audit trail none of them
    holds (unrecorded_landings): the trail is read first, since a landing writes its
    record before it audits itself."""
    trail = audit.records()
    records = Manifest(storage).records()
    return records, unrecorded_landings(storage, trail, records)


def raw_files(storage: Storage) -> list[str]:
    """Every key of the raw zone, hot and cold, but the manifest's."""
    return [
        key
        for prefix in RAW_PREFIXES
        for key in storage.list(prefix)
        if not key.startswith(MANIFEST_PREFIX)
    ]


def strays(
    storage: Storage, listed: Iterable[str], records: Iterable[ManifestRecord]
) -> list[Stray]:
    """The listed raw files no record names (an erased record's key counts as none:
    its bytes should be gone). The check takes no lock, and landings, lifecycle moves
    and erasures go on beside it: each writes bytes and a record a moment apart (a
    landing its bytes, then its record; a move its cold copy, the record, then deletes
    the hot one; an erasure marks the record, then purges the bytes). So a file found
    is looked at again CONFIRM_AFTER_S later, against the records read again then: one
    a record names by then, or gone by then, is no finding; what such a process left
    when it was killed halfway stays, and is one."""

    def named_by(records: Iterable[ManifestRecord]) -> set[str]:
        return {r.object_key for r in records if r.status != "erased"}

    named = named_by(records)
    candidates = [key for key in listed if key not in named]
    if not candidates:
        return []
    time.sleep(CONFIRM_AFTER_S)
    named = named_by(Manifest(storage).records())
    # a lifecycle move reads its cold copy back before its record names it (minutes,
    # for a big object): the cold twin of an object a record names here is a move
    # halfway, and one killed then is copied again by the next lifecycle run
    moving = {f"cold/{key}" for key in named if key.startswith("raw/")}
    found = []
    for key in candidates:
        if key in named or key in moving:
            continue
        try:
            found.append(Stray(key, storage.sha256(key)))
        except FileNotFoundError:
            continue
    return found


def verify_objects(
    storage: Storage,
    audit: AuditLog,
    records: Iterable[ManifestRecord],
    run_id: str,
    unrecorded: Sequence[Unrecorded | Stray] = (),
) -> int:
    """Read back each raw object (never an erased one: its bytes are gone by design);
    each difference, and each landing whose record is gone or file no record names
    (unrecorded), is audited, then RawObjectsChanged names them all. How many were
    read back."""
    manifest = Manifest(storage)
    chosen = [r for r in records if r.status != "erased"]
    differences: list[Change] = [
        d for r in chosen if (d := read_back(storage, manifest, r)) is not None
    ]
    differences += unrecorded
    for d in differences:
        audit.append(
            READER,
            "raw.verify",
            d.object_key,
            d.problem,
            run_id=run_id,
            sha256=d.sha256,
            found=d.found,
        )
    if differences:
        raise RawObjectsChanged(differences)
    return len(chosen)


def verify_records(
    settings: Settings,
    records: Iterable[ManifestRecord],
    check_id: str,
    unrecorded: Sequence[Unrecorded] = (),
) -> int:
    """verify_objects on the configured lake, as the transformer reads it, audited in
    its audit log: what a build does before it reads these objects, with the
    landings whose records are gone (unrecorded: landings_unrecorded) among the
    differences."""
    storage = open_storage(settings, READER)
    return verify_objects(storage, AuditLog(settings.audit_path), records, check_id, unrecorded)


def landings_unrecorded(settings: Settings) -> list[Unrecorded]:
    """The landings of the configured lake's audit trail that no manifest record
    holds (read_records_and_trail): a record deleted outside olist-elt, whose object
    a build would not read and an incremental table kept."""
    storage = open_storage(settings, READER)
    return read_records_and_trail(storage, AuditLog(settings.audit_path))[1]


def verify_lake(settings: Settings, actor: str) -> int:
    """Every raw object the manifest lists (accepted, rejected, in cold), read back,
    every landing the audit trail records in this lake still recorded, and every file
    of the raw zone that no record names (strays); the check itself is audited with
    its outcome, and a difference alerted on every configured channel (event
    raw_changed) before RawObjectsChanged is raised. How many were read back."""
    from olist_elt.ops.alerts import Alert, advice_for, send_alert
    from olist_elt.run.record import new_run_id

    check_id = f"raw-verify-{new_run_id()}"
    storage = open_storage(settings, READER)
    audit = AuditLog(settings.audit_path)
    listed = raw_files(storage)
    records, gone = read_records_and_trail(storage, audit)
    # a landing whose record is gone is named unrecorded, not stray too; its bytes,
    # when left, are a stray once an operator's `raw forget` recorded the loss
    unrecorded = {u.object_key for u in gone}
    found = strays(storage, [k for k in listed if k not in unrecorded], records)
    try:
        checked = verify_objects(storage, audit, records, check_id, [*gone, *found])
    except RawObjectsChanged as exc:
        audit.append(
            actor, "raw.verify", "raw", "failed", check=check_id, differences=len(exc.differences)
        )
        send_alert(
            settings,
            Alert(
                event="raw_changed",
                run_id=check_id,
                target=settings.target,
                failing_step="verify raw objects",
                error_class=type(exc).__name__,
                message=str(exc),
                what_to_do=advice_for("io", type(exc).__name__),
                run_record="",
            ),
        )
        raise
    audit.append(actor, "raw.verify", "raw", "ok", check=check_id, objects=checked)
    return checked
