"""The raw manifest: one immutable JSON record per raw object."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from olist_elt.lake.private import private_dirs
from olist_elt.lake.s3 import StorageError
from olist_elt.lake.storage import Storage

MANIFEST_PREFIX = "raw/_manifest"
# an object store's record written again after another writer was first, at most
UPDATE_ATTEMPTS = 5


@dataclass(frozen=True)
class ManifestRecord:
    """What the lake knows of one raw object (DESIGN.md §4)."""

    source: str
    dataset: str
    object_key: str
    sha256: str
    bytes: int
    rows: int
    schema_version: str
    connector: str
    connector_version: str
    service_identity: str
    run_id: str
    ingested_at: str
    original_name: str
    zone: str = "raw"
    status: str = "accepted"
    rejected_at: str | None = None
    rejected_reason: str | None = None
    watermark: str | None = None
    # Erasure (right to be forgotten): a new version of an object without the person
    # names the sha256 it supersedes; the old record gets status "erased", the sha256
    # of its successor and when its bytes were deleted.
    supersedes: str | None = None
    superseded_by: str | None = None
    erased_at: str | None = None


def manifest_key(source: str, dataset: str, sha256: str) -> str:
    """Where the record of one raw object lives."""
    return f"{MANIFEST_PREFIX}/{source}/{dataset}/{sha256}.json"


def _decode(data: bytes) -> ManifestRecord:
    return ManifestRecord(**json.loads(data))


def _encode(record: ManifestRecord) -> bytes:
    """A record as stored: indented JSON, UTF-8."""
    return json.dumps(asdict(record), indent=1).encode("utf-8")


class Manifest:
    """Reads and writes manifest records in a storage backend."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def get(self, source: str, dataset: str, sha256: str) -> ManifestRecord | None:
        """The record of one object, or None when it was never ingested."""
        key = manifest_key(source, dataset, sha256)
        if not self.storage.exists(key):
            return None
        return _decode(self.storage.read_bytes(key))

    def put(self, record: ManifestRecord) -> None:
        """Write one record (atomically)."""
        key = manifest_key(record.source, record.dataset, record.sha256)
        self.storage.put_bytes(key, _encode(record))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One read-modify-write of records at a time per lake folder on this machine
        (an exclusive lock beside the records); an object store's records take none."""
        root = getattr(self.storage, "root", None)
        if root is None:
            yield
            return
        folder = Path(root) / MANIFEST_PREFIX
        private_dirs(folder)
        with open(folder / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update(
        self, record: ManifestRecord, change: Callable[[ManifestRecord], ManifestRecord]
    ) -> ManifestRecord:
        """Write change(the record as it is now): a record read earlier is read again,
        so a change another process made meanwhile (a rejection, a move to cold) is
        kept, not written over with the earlier copy. A lake folder takes a lock for
        it; an object store writes only if the record is still as it was read (a
        conditional write), and reads it again when another writer was first."""
        if not hasattr(self.storage, "put_bytes_if"):
            with self._writing():
                now = self.get(record.source, record.dataset, record.sha256) or record
                changed = change(now)
                self.put(changed)
            return changed
        key = manifest_key(record.source, record.dataset, record.sha256)
        for _ in range(UPDATE_ATTEMPTS):
            read = self.storage.read_tagged(key)
            now = _decode(read[0]) if read else record
            changed = change(now)
            if self.storage.put_bytes_if(key, _encode(changed), read[1] if read else None):
                return changed
        raise StorageError(
            f"the manifest record {key} changed {UPDATE_ATTEMPTS} times while it was "
            "being updated (other processes writing it): nothing was changed; run again"
        )

    def reject(self, record: ManifestRecord, reason: str, at: str) -> ManifestRecord:
        """Mark a raw object rejected (by a quality gate); bronze stops reading it. An
        object an erasure replaced meanwhile stays erased (its new version carries the
        status: supersede)."""
        return self.update(
            record,
            lambda now: (
                now
                if now.status == "erased"
                else replace(now, status="rejected", rejected_at=at, rejected_reason=reason)
            ),
        )

    def supersede(self, old: ManifestRecord, new: ManifestRecord, at: str) -> ManifestRecord:
        """Record an erasure's new version of an object and mark the old one erased
        (bronze, freshness and reconciliation read accepted objects only). The new
        version takes the old record's status as it is when it is marked erased: a
        `raw reject` or `raw readmit` beside the erasure (neither waits for the run
        lock an erasure holds) carries over, not the status the erasure read first."""
        self.put(replace(new, supersedes=old.sha256, superseded_by=None, erased_at=None))
        seen: list[ManifestRecord] = []

        def erase(now: ManifestRecord) -> ManifestRecord:
            seen.append(now)
            return replace(now, status="erased", superseded_by=new.sha256, erased_at=at)

        erased = self.update(old, erase)
        was = seen[-1]
        status = (was.status, was.rejected_at, was.rejected_reason)
        if was.status != "erased" and status != (new.status, new.rejected_at, new.rejected_reason):
            self.update(
                new,
                lambda now: replace(
                    now, status=status[0], rejected_at=status[1], rejected_reason=status[2]
                ),
            )
        return erased

    def records(self, source: str | None = None) -> list[ManifestRecord]:
        """Every record, optionally of one source."""
        prefix = f"{MANIFEST_PREFIX}/{source}" if source else MANIFEST_PREFIX
        return [
            _decode(self.storage.read_bytes(key))
            for key in self.storage.list(prefix)
            if key.endswith(".json")
        ]
