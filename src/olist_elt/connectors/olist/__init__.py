"""Olist CSV connector: reads a folder, a .zip like the public download, or a URL, and
yields each file validated (or refused, with its reason). The lake lands them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from olist_elt.connectors.olist.files import OLIST_FILES, OlistFile
from olist_elt.connectors.olist.helpers import download, extract_zip, validate_file
from olist_elt.connectors.olist.settings import EXPECTED_FILES, SCHEMA_VERSION, SOURCE
from olist_elt.errors import OlistEltError, ValidationFailed
from olist_elt.lake.lander import LakeView
from olist_elt.lake.raw import sha256_file
from olist_elt.lake.registry import Connector, RawItem, Read, Refused, register_connector

log = logging.getLogger(__name__)


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


@register_connector
class OlistCsvConnector(Connector):
    """The official connector for the Olist CSV export."""

    name = "olist-csv"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-olist"

    def __init__(self, input_path: str | Path, landing: Path, run_id: str) -> None:
        self.input_path = input_path
        self.landing = landing
        self.run_id = run_id

    def read(self, lake: LakeView) -> Iterator[Read]:
        """Each input file: validated (a RawItem), known bytes (not parsed again), or
        refused with a machine-readable reason."""
        for path in resolve_input(self.input_path, self.landing, self.run_id):
            known = EXPECTED_FILES.get(path.name)
            digest = sha256_file(path)
            if known is not None and lake.landed(known.dataset, digest):
                yield self._item(path, known, None, digest)
                continue
            try:
                spec, rows = validate_file(path)
            except ValidationFailed as exc:
                yield Refused(path.name, exc.reason, exc.detail, path=path)
                continue
            yield self._item(path, spec, rows, digest)

    @staticmethod
    def _item(path: Path, spec: OlistFile, rows: int | None, digest: str) -> RawItem:
        return RawItem(
            dataset=spec.dataset,
            ext="csv",
            name=path.name,
            rows=rows,
            schema_version=SCHEMA_VERSION,
            path=path,
            sha256=digest,
        )


__all__ = ["OLIST_FILES", "OlistCsvConnector", "OlistFile", "resolve_input"]
