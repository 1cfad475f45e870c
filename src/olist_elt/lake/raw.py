"""The raw writer: the only way into raw/, for registered connectors only (the lander
calls it with what a connector read)."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.registry import Connector, RawItem, is_official
from olist_elt.lake.storage import Storage, lake_root
from olist_elt.security.audit import AuditLog
from olist_elt.security.exceptions import RawWriteRefused

SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class RawWrite:
    """Outcome of one raw write: the record, and whether it was new."""

    record: ManifestRecord
    created: bool


class RawWriter:
    """Writes content-addressed raw objects and their manifest records."""

    def __init__(
        self,
        storage: Storage,
        audit: AuditLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.audit = audit
        self.manifest = Manifest(storage)
        self.clock = clock  # when objects are ingested (a replay or test sets the day)

    def _authorize(self, connector: object, key: str) -> None:
        """Refuse, audited, anything but a registered connector inside its prefix."""
        actor = getattr(connector, "service_identity", type(connector).__name__)
        if not is_official(connector):
            self.audit.append(
                str(actor), "raw.write", key, "refused", why="not a registered connector"
            )
            raise RawWriteRefused(
                f"{type(connector).__name__} is not a registered connector and may not write "
                f"{key}; only official connectors write to raw (register it with "
                "@register_connector and give it a service identity)"
            )
        assert isinstance(connector, Connector)
        if not key.startswith(connector.raw_prefix):
            self.audit.append(str(actor), "raw.write", key, "refused", why="outside its prefix")
            raise RawWriteRefused(
                f"connector {connector.name} may only write under {connector.raw_prefix}, not {key}"
            )

    def write_file(
        self,
        connector: Connector,
        *,
        dataset: str,
        path: Path,
        ext: str,
        rows: int,
        schema_version: str,
        run_id: str,
        sha256: str | None = None,
        watermark: str | None = None,
    ) -> RawWrite:
        """Put a validated file in raw (no-op for bytes already there) and record it."""
        digest = sha256 or sha256_file(path)
        now = self.clock()
        source = getattr(connector, "source", "unknown")
        if not SAFE_NAME.match(dataset) or not SAFE_NAME.match(ext):
            self.audit.append(
                str(getattr(connector, "service_identity", "?")),
                "raw.write",
                f"raw/{source}/{dataset}",
                "refused",
                why="unsafe dataset or extension name",
            )
            raise RawWriteRefused(
                f"dataset {dataset!r} / extension {ext!r} is not a plain lower-case name; "
                "a connector writes only raw/<its source>/<dataset>/"
            )
        key = f"raw/{source}/{dataset}/ingest_date={now:%Y-%m-%d}/{digest}.{ext}"
        self._authorize(connector, key)
        existing = self.held(source, dataset, digest)
        if existing is not None:
            return RawWrite(existing, created=False)
        self.storage.put_file(key, path)
        record = ManifestRecord(
            source=source,
            dataset=dataset,
            object_key=key,
            sha256=digest,
            bytes=path.stat().st_size,
            rows=rows,
            schema_version=schema_version,
            connector=connector.name,
            connector_version=connector.version,
            service_identity=connector.service_identity,
            run_id=run_id,
            ingested_at=now.isoformat(timespec="microseconds"),
            original_name=path.name,
            watermark=watermark,
        )
        self.manifest.put(record)
        self.audit.append(
            connector.service_identity,
            "raw.write",
            key,
            "ok",
            sha256=digest,
            rows=rows,
            lake=lake_root(self.storage),  # where `raw verify` looks for its record
        )
        return RawWrite(record, created=True)

    def write_bytes(
        self,
        connector: Connector,
        *,
        dataset: str,
        data: bytes,
        ext: str,
        rows: int,
        schema_version: str,
        run_id: str,
        name: str,
        watermark: str | None = None,
    ) -> RawWrite:
        """Put a validated payload in raw (via a private temp file) and record it."""
        with tempfile.TemporaryDirectory(prefix="olist-raw-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            return self.write_file(
                connector,
                dataset=dataset,
                path=path,
                ext=ext,
                rows=rows,
                schema_version=schema_version,
                run_id=run_id,
                sha256=hashlib.sha256(data).hexdigest(),
                watermark=watermark,
            )

    def write(self, connector: Connector, item: RawItem, run_id: str) -> RawWrite:
        """Put one item a connector read into raw (a file, or bytes)."""
        if item.rows is None:
            raise RawWriteRefused(f"{item.name}: an item without a row count was not validated")
        common = {
            "dataset": item.dataset,
            "ext": item.ext,
            "rows": item.rows,
            "schema_version": item.schema_version,
            "run_id": run_id,
            "watermark": item.watermark,
        }
        if item.path is not None:
            return self.write_file(connector, path=item.path, sha256=item.sha256, **common)
        if item.data is None:
            raise RawWriteRefused(f"{item.name}: an item needs a path or data")
        return self.write_bytes(connector, data=item.data, name=item.name, **common)

    def held(self, source: str, dataset: str, sha256: str) -> ManifestRecord | None:
        """The record of these bytes when raw holds them (or an erasure replaced them:
        never landed again, their new version is), else None. A lifecycle move beside
        a landing (it takes no run lock) points the record at the cold copy, then
        deletes the hot one: a record whose object is gone is read once more, so the
        landing finds the moved object instead of landing it again over the move."""
        for _ in range(2):
            record = self.manifest.get(source, dataset, sha256)
            if record is None:
                return None
            if record.status == "erased" or self.storage.exists(record.object_key):
                return record
        return None

    def write_version(
        self, old: ManifestRecord, data: bytes, rows: int, actor: str, at: str
    ) -> ManifestRecord:
        """Put a new version of a raw object (an erasure: the same data set without one
        person's values) beside the old one, dated like it so the build orders both the
        same way, and supersede the old record (erased at `at`); audited once both
        records are written, as a landing is. The caller deletes the old bytes."""
        digest = hashlib.sha256(data).hexdigest()
        ext = old.object_key.rsplit(".", 1)[-1]
        key = f"raw/{old.source}/{old.dataset}/ingest_date={old.ingested_at[:10]}/{digest}.{ext}"
        if not (SAFE_NAME.match(old.source) and SAFE_NAME.match(old.dataset)):
            raise RawWriteRefused(f"{old.object_key}: not a raw object this writer made")
        existing = self.manifest.get(old.source, old.dataset, digest)
        if existing is None or not self.storage.exists(existing.object_key):
            self.storage.put_bytes(key, data)
        record = replace(
            existing or old,
            object_key=existing.object_key if existing else key,
            sha256=digest,
            bytes=len(data),
            rows=rows,
            zone="raw" if existing is None else existing.zone,
            status=old.status,
        )
        self.manifest.supersede(old, record, at)
        self.audit.append(
            actor,
            "raw.write",
            record.object_key,
            "ok",
            sha256=digest,
            rows=rows,
            supersedes=old.sha256,
            lake=lake_root(self.storage),
        )
        return record

    def check_official(self, connector: object) -> None:
        """Refuse, audited, anything but an instance of a registered connector."""
        self._authorize(connector, getattr(connector, "raw_prefix", "raw/"))
