"""Olist CSV connector: reads a folder, a .zip like the public download, or a URL, and
yields each file validated (or refused, with its reason). The lake lands them."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from olist_elt.connectors.olist.archive import extract_zip, looks_like_zip
from olist_elt.connectors.olist.files import OLIST_FILES, OlistFile
from olist_elt.connectors.olist.fingerprint import Staged
from olist_elt.connectors.olist.helpers import (
    download,
    hash_regular,
    stage_file,
    validate_file,
)
from olist_elt.connectors.olist.settings import (
    EXPECTED_FILES,
    SCHEMA_VERSION,
    SOURCE,
    ZipLimits,
)
from olist_elt.errors import OlistEltError, ValidationFailed
from olist_elt.lake.lander import LakeView
from olist_elt.lake.registry import Connector, RawItem, Read, Refused, register_connector
from olist_elt.settings import get_settings

log = logging.getLogger(__name__)


def resolve_input(
    source: str | Path,
    landing: Path,
    run_id: str,
    stage: Path,
    limits: ZipLimits,
    landed: Callable[[Path], Landed | None] = lambda path: None,
) -> list[Staged | Refused | Landed]:
    """The files of a folder, a zip (known by its name, or by its first bytes when no
    Olist file has its name: a download's URL may end without '.zip') or a URL
    (downloaded into landing/), each copied into the private stage, or refused unread
    (a link, a special file, an archive over its caps or holding one data set twice).
    A plain file whose bytes raw already holds (landed) is neither copied nor read
    again."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        name = Path(text.split("?", 1)[0]).name or "download.zip"
        local = download(text, landing / run_id / name)
        return resolve_input(local, landing, run_id, stage, limits, landed)
    path = Path(source)
    if not path.exists() and not path.is_symlink():
        raise OlistEltError(f"input {path} does not exist; give a folder, a .zip or a URL")
    if path.is_dir() and not path.is_symlink():
        entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
        if not entries:
            raise OlistEltError(f"input folder {path} holds no files")
        return [landed(p) or _staged(p, stage) for p in entries]
    if path.suffix.lower() == ".zip" or (path.name not in EXPECTED_FILES and looks_like_zip(path)):
        try:
            return extract_zip(path, stage, limits)
        except ValidationFailed as exc:
            return [Refused(path.name, exc.reason, exc.detail)]
    return [landed(path) or _staged(path, stage)]


@dataclass(frozen=True)
class Landed:
    """An input file whose bytes raw already holds (a duplicate delivery): hashed
    where it lies, neither copied nor parsed; nothing of it is landed."""

    path: Path
    spec: OlistFile
    sha256: str


def already_landed(lake: LakeView, path: Path) -> Landed | None:
    """The file as Landed when raw holds its bytes; None when it may be new (its size
    is no raw object's of its data set: not read at all) or is not a plain file (the
    stage refuses it)."""
    spec = EXPECTED_FILES.get(path.name)
    if spec is None:
        return None
    try:
        size = os.lstat(path).st_size
        if size not in lake.sizes(spec.dataset):
            return None
        digest = hash_regular(path)
    except (OSError, OlistEltError):
        return None
    return Landed(path, spec, digest) if lake.landed(spec.dataset, digest) else None


def _staged(path: Path, stage: Path) -> Staged | Refused:
    """A file copied into the stage, or its refusal (nothing read from it)."""
    try:
        return stage_file(path, stage)
    except ValidationFailed as exc:
        return Refused(path.name, exc.reason, exc.detail)


@contextmanager
def staging() -> Iterator[Path]:
    """A private folder (0700, under TMPDIR; the connector writes nothing in the lake)
    for the files of one read, removed on every way out."""
    with tempfile.TemporaryDirectory(prefix="olist-stage-") as tmp:
        yield Path(tmp)


@register_connector
class OlistCsvConnector(Connector):
    """The official connector for the Olist CSV export."""

    name = "olist-csv"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-olist"

    def __init__(
        self,
        input_path: str | Path,
        landing: Path,
        run_id: str,
        limits: ZipLimits | None = None,
    ) -> None:
        self.input_path = input_path
        self.landing = landing
        self.run_id = run_id
        self.limits = limits or ZipLimits.from_settings(get_settings())

    def read(self, lake: LakeView) -> Iterator[Read]:
        """Each input file: validated (a RawItem), known bytes (not parsed again), or
        refused with a machine-readable reason. Files are read from private copies in a
        stage that is removed when the reading ends, however it ends."""
        with staging() as stage:
            yield from self._read_staged(lake, stage)

    def _read_staged(self, lake: LakeView, stage: Path) -> Iterator[Read]:
        """read() over the files copied into the stage (and those raw holds already)."""
        for staged in resolve_input(
            self.input_path,
            self.landing,
            self.run_id,
            stage,
            self.limits,
            lambda path: already_landed(lake, path),
        ):
            if isinstance(staged, Refused):
                yield staged
                continue
            if isinstance(staged, Landed):
                yield self._item(staged.path, staged.spec, None, staged.sha256)
                continue
            known = EXPECTED_FILES.get(staged.name)
            if known is not None and lake.landed(known.dataset, staged.sha256):
                yield self._item(staged.path, known, None, staged.sha256)
                continue
            try:
                spec, rows = validate_file(staged)
            except ValidationFailed as exc:
                yield Refused(staged.name, exc.reason, exc.detail, path=staged.path)
                continue
            yield self._item(staged.path, spec, rows, staged.sha256)

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


__all__ = ["OLIST_FILES", "OlistCsvConnector", "OlistFile", "ZipLimits", "resolve_input"]
