"""Olist CSV connector: a folder, a .zip like the public download, or a URL into raw."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from olist_elt.connectors.olist.helpers import download, extract_zip, validate_file
from olist_elt.connectors.olist.settings import EXPECTED_FILES, SCHEMA_VERSION, SOURCE
from olist_elt.connectors.registry import Connector, register_connector
from olist_elt.errors import OlistEltError, ValidationFailed
from olist_elt.lake.quarantine import quarantine_file
from olist_elt.lake.raw import RawWriter, sha256_file

log = logging.getLogger(__name__)


@register_connector
class OlistCsvConnector(Connector):
    """The official connector for the Olist CSV export."""

    name = "olist-csv"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-olist"


@dataclass
class FileOutcome:
    """What happened to one input file."""

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
    """The outcome of one ingest run of the Olist connector."""

    run_id: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def ingested(self) -> list[FileOutcome]:
        """Files newly written to raw."""
        return [f for f in self.files if f.outcome == "ingested"]

    @property
    def quarantined(self) -> list[FileOutcome]:
        """Files rejected to quarantine."""
        return [f for f in self.files if f.outcome == "quarantined"]

    @property
    def duplicates(self) -> list[FileOutcome]:
        """Files whose bytes were already in raw (no-op)."""
        return [f for f in self.files if f.outcome == "duplicate"]

    @property
    def rows_ingested(self) -> int:
        """Data rows newly written to raw."""
        return sum(f.rows for f in self.ingested)


def resolve_input(source: str | Path, landing: Path, run_id: str) -> list[Path]:
    """The CSV files of a folder, a .zip or a URL (downloaded into landing/)."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        name = Path(text.split("?", 1)[0]).name or "download.zip"
        local = download(text, landing / run_id / name)
        return resolve_input(local, landing, run_id)
    path = Path(source)
    if not path.exists():
        raise OlistEltError(f"input {path} does not exist; give a folder, a .zip or a URL")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise OlistEltError(f"input folder {path} holds no files")
        return files
    if path.suffix.lower() == ".zip":
        return extract_zip(path, landing / run_id / "unzipped")
    return [path]


def ingest_olist(
    source: str | Path, *, writer: RawWriter, landing: Path, run_id: str
) -> IngestResult:
    """Validate each Olist file; accepted ones go to raw, rejected ones to quarantine."""
    connector = OlistCsvConnector()
    result = IngestResult(run_id=run_id)
    for path in resolve_input(source, landing, run_id):
        known = EXPECTED_FILES.get(path.name)
        digest = sha256_file(path)
        existing = writer.manifest.get(SOURCE, known.dataset, digest) if known else None
        if existing is not None and writer.storage.exists(existing.object_key):
            # Identical bytes were validated and stored before: a no-op, no re-parse.
            result.files.append(
                FileOutcome(
                    path.name,
                    known.dataset,
                    "duplicate",
                    rows=existing.rows,
                    sha256=digest,
                    object_key=existing.object_key,
                )
            )
            continue
        try:
            spec, rows = validate_file(path)
        except ValidationFailed as exc:
            key = quarantine_file(
                writer.storage,
                writer.audit,
                source=SOURCE,
                run_id=run_id,
                file=path,
                reason=exc.reason,
                detail=exc.detail,
                actor=connector.service_identity,
            )
            log.warning("quarantined %s: %s (%s)", path.name, exc.reason, exc.detail)
            result.files.append(
                FileOutcome(
                    path.name,
                    None,
                    "quarantined",
                    object_key=key,
                    reason=exc.reason,
                    detail=exc.detail,
                )
            )
            continue
        write = writer.write_file(
            connector,
            dataset=spec.dataset,
            path=path,
            ext="csv",
            rows=rows,
            schema_version=SCHEMA_VERSION,
            run_id=run_id,
            sha256=digest,
        )
        outcome = "ingested" if write.created else "duplicate"
        log.info("%s %s: %d rows -> %s", outcome, path.name, rows, write.record.object_key)
        result.files.append(
            FileOutcome(
                path.name,
                spec.dataset,
                outcome,
                rows=rows,
                sha256=write.record.sha256,
                object_key=write.record.object_key,
            )
        )
    return result
