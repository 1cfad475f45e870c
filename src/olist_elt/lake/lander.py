"""The one lander: takes what a registered connector yields and lands it. Items go to
raw through the raw writer (content-addressed, one manifest record each, audited),
identical bytes already in raw are recorded as duplicates, refused input goes to
quarantine with its reason. Connectors only read; they see the lake through a
read-only LakeView."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from olist_elt.errors import OlistEltError
from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.quarantine import quarantine
from olist_elt.lake.raw import RawWriter
from olist_elt.lake.registry import Connector, RawItem, Read, Refused
from olist_elt.lake.storage import Storage
from olist_elt.security.audit import AuditLog, bounded_text

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    """What happened to one item a connector yielded."""

    file: str
    dataset: str | None
    outcome: str  # "ingested" | "duplicate" | "quarantined"
    rows: int = 0
    sha256: str | None = None
    object_key: str | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass
class IngestResult:
    """What one landing of a connector's items did."""

    run_id: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def ingested(self) -> list[FileOutcome]:
        """Items newly written to raw."""
        return [f for f in self.files if f.outcome == "ingested"]

    @property
    def quarantined(self) -> list[FileOutcome]:
        """Items refused to quarantine."""
        return [f for f in self.files if f.outcome == "quarantined"]

    @property
    def duplicates(self) -> list[FileOutcome]:
        """Items whose bytes were already in raw (no-op)."""
        return [f for f in self.files if f.outcome == "duplicate"]

    @property
    def rows_ingested(self) -> int:
        """Data rows newly written to raw."""
        return sum(f.rows for f in self.ingested)


class LakeView:
    """What a connector may know of the lake: read-only, its own source only."""

    def __init__(self, manifest: Manifest, storage: Storage, source: str) -> None:
        self._manifest = manifest
        self._storage = storage
        self.source = source
        self._sizes: dict[str, set[int]] | None = None

    def sizes(self, dataset: str) -> set[int]:
        """The byte sizes of the data set's raw objects (erased ones included): a file
        of another size is not among them, unread."""
        if self._sizes is None:
            self._sizes = {}
            for record in self._manifest.records(self.source):
                self._sizes.setdefault(record.dataset, set()).add(record.bytes)
        return self._sizes.get(dataset, set())

    def landed(self, dataset: str, sha256: str) -> bool:
        """Whether raw already holds these bytes for the data set."""
        record = self._manifest.get(self.source, dataset, sha256)
        return record is not None and (
            record.status == "erased" or self._storage.exists(record.object_key)
        )

    def watermark(self, dataset: str) -> str | None:
        """The highest watermark among the data set's accepted raw objects."""
        marks = [
            r.watermark
            for r in self._manifest.records(self.source)
            if r.dataset == dataset and r.watermark and r.status == "accepted"
        ]
        return max(marks) if marks else None

    def objects(self, dataset: str) -> Iterator[bytes]:
        """The bytes of the data set's raw objects (for keys a connector de-duplicates
        by itself, such as message ids)."""
        for record in self._manifest.records(self.source):
            if record.dataset == dataset and self._storage.exists(record.object_key):
                yield self._storage.read_bytes(record.object_key)


class Lander:
    """Lands connector output: raw, duplicates and quarantine, all audited."""

    def __init__(
        self,
        storage: Storage,
        audit: AuditLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.writer = RawWriter(storage, audit, clock=clock)
        self.storage = storage
        self.audit = audit

    def view(self, connector: Connector) -> LakeView:
        """The read-only view a connector reads the lake through."""
        return LakeView(self.writer.manifest, self.storage, connector.source)

    def land(self, connector: Connector, items: Iterable[Read], run_id: str) -> IngestResult:
        """Land every item the connector yields, one at a time (an item is durable in
        raw before the connector is asked for the next one)."""
        self.writer.check_official(connector)
        self.audit.ready()
        result = IngestResult(run_id=run_id)
        for item in items:
            result.files.append(self.land_one(connector, item, run_id))
        return result

    async def aland(
        self, connector: Connector, items: AsyncIterator[Read], run_id: str
    ) -> IngestResult:
        """land() for an asynchronous connector."""
        self.writer.check_official(connector)
        self.audit.ready()
        result = IngestResult(run_id=run_id)
        async for item in items:
            result.files.append(self.land_one(connector, item, run_id))
        return result

    def land_one(self, connector: Connector, item: Read, run_id: str) -> FileOutcome:
        """Land one item: quarantine, duplicate or a new raw object."""
        if isinstance(item, Refused):
            key = quarantine(
                self.storage,
                self.audit,
                source=connector.source,
                run_id=run_id,
                name=item.name,
                path=item.path,
                data=item.data,
                reason=item.reason,
                detail=item.detail,
                actor=connector.service_identity,
            )
            log.warning(
                "quarantined %s: %s (%s)", item.name, item.reason, bounded_text(item.detail)
            )
            return FileOutcome(
                item.name,
                None,
                "quarantined",
                object_key=key,
                reason=item.reason,
                detail=bounded_text(item.detail, 1024),
            )
        existing = self._existing(connector, item)
        if existing is not None:
            return FileOutcome(
                item.name,
                item.dataset,
                "duplicate",
                rows=existing.rows,
                sha256=existing.sha256,
                object_key=existing.object_key,
            )
        if item.rows is None:
            raise OlistEltError(
                f"{item.name}: the connector skipped validating it as already in raw, but "
                "raw does not hold it (the lake changed during the run); run again"
            )
        write = self.writer.write(connector, item, run_id)
        outcome = "ingested" if write.created else "duplicate"
        log.info("%s %s: %d rows -> %s", outcome, item.name, item.rows, write.record.object_key)
        return FileOutcome(
            item.name,
            item.dataset,
            outcome,
            rows=item.rows,
            sha256=write.record.sha256,
            object_key=write.record.object_key,
        )

    def _existing(self, connector: Connector, item: RawItem) -> ManifestRecord | None:
        """The raw object holding these bytes already, if any."""
        if item.sha256 is None:
            return None
        return self.writer.held(connector.source, item.dataset, item.sha256)
