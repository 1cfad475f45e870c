"""One read of a new file: its sha256 and its UTF-8 check are computed on the bytes as
they are copied into the private stage, so neither reads the file again; the strict
parse (DuckDB) is the only other pass, over the staged copy."""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

from olist_elt.errors import ValidationFailed


@dataclass(frozen=True)
class Staged:
    """A file copied into the stage, with what the copy saw of its bytes."""

    path: Path
    sha256: str
    encoding_error: str | None = None  # where the bytes stop being UTF-8, or None

    @property
    def name(self) -> str:
        return self.path.name

    def check_utf8(self) -> None:
        """Refuse a file that is not valid UTF-8 (a BOM is allowed)."""
        if self.encoding_error is not None:
            raise ValidationFailed("encoding", self.encoding_error)


class Fingerprint:
    """sha256 and a strict incremental UTF-8 decode (no NUL byte either), fed chunk by
    chunk."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._offset = 0
        self._lines = 1
        self._error: str | None = None

    def update(self, chunk: bytes) -> None:
        self._sha.update(chunk)
        if self._error is None:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                where = self._offset + exc.start
                line = self._lines + chunk.count(b"\n", 0, max(0, exc.start))
                self._error = (
                    f"not UTF-8 at byte {where} (line {line}); re-export the file as UTF-8"
                )
        if self._error is None and (nul := chunk.find(b"\x00")) != -1:
            # valid UTF-8, but no text holds it, and PostgreSQL refuses it in any text:
            # on that target the file would fail at gold, on DuckDB go through
            line = self._lines + chunk.count(b"\n", 0, nul)
            self._error = (
                f"a NUL byte at byte {self._offset + nul} (line {line}): text holds none "
                "(a binary file, or UTF-16?); re-export the file as UTF-8 text"
            )
        self._offset += len(chunk)
        self._lines += chunk.count(b"\n")

    def staged(self, path: Path) -> Staged:
        """What the copy saw, once the last chunk is in."""
        if self._error is None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self._error = "the file ends inside a UTF-8 sequence"
        return Staged(path, self._sha.hexdigest(), self._error)
