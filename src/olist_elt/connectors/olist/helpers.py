"""Private helpers of the Olist connector: fetch and stage input files, validate one
(zip archives: archive.py)."""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

import duckdb
import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from olist_elt.connectors.olist.files import OlistFile
from olist_elt.connectors.olist.fingerprint import Fingerprint, Staged
from olist_elt.connectors.olist.settings import (
    CHUNK,
    DOWNLOAD_TIMEOUT_S,
    EXPECTED_FILES,
    MAX_FILE_BYTES,
)
from olist_elt.errors import OlistEltError, ValidationFailed
from olist_elt.lake.private import create_private, private_dirs

COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SHOWN_COLUMNS = 5


def _retryable(exc: BaseException) -> bool:
    """Network errors and 5xx/429 answers are worth another try; the rest are not."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return isinstance(exc, httpx.TransportError)


@retry(
    retry=retry_if_exception(_retryable),
    stop=stop_after_attempt(4),
    wait=wait_exponential(multiplier=0.5, max=8),
    reraise=True,
)
def download(url: str, dest: Path) -> Path:
    """Stream a URL to dest (bounded retries on network errors and 5xx)."""
    private_dirs(dest.parent)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with httpx.stream("GET", url, timeout=DOWNLOAD_TIMEOUT_S, follow_redirects=True) as resp:
            resp.raise_for_status()
            with create_private(tmp) as fh:
                for chunk in resp.iter_bytes(CHUNK):
                    fh.write(chunk)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading, refusing anything else before reading a byte:
    a symbolic link (not followed), a fifo, a device, a socket, a folder."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise OlistEltError(f"{path.name} disappeared while being read; run again") from None
    if not stat.S_ISREG(mode):
        raise ValidationFailed("not_regular_file", _not_regular(mode))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValidationFailed("not_regular_file", _not_regular(stat.S_IFLNK)) from None
        raise OlistEltError(f"cannot open {path.name}: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # swapped after the first look
        os.close(fd)
        raise ValidationFailed("not_regular_file", _not_regular(mode))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _not_regular(mode: int) -> str:
    """Why a file that is not a regular one is refused, naming what it is."""
    kinds = {
        stat.S_IFLNK: "a symbolic link",
        stat.S_IFDIR: "a folder",
        stat.S_IFIFO: "a fifo",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFSOCK: "a socket",
    }
    kind = kinds.get(stat.S_IFMT(mode), "not a regular file")
    return f"{kind}; only regular files are read, and nothing was read from it"


def stage_file(path: Path, stage: Path) -> Staged:
    """Copy a regular file into the private stage (refusing anything else unread): the
    copy is what is validated and landed, so the file cannot change or turn into a link
    in between. Its hash and UTF-8 check are taken from the bytes copied."""
    target = stage / path.name
    seen = Fingerprint()
    with open_regular(path) as src, create_private(target) as dst:
        if os.fstat(src.fileno()).st_size > MAX_FILE_BYTES:
            raise ValidationFailed("too_large", f"over the limit of {MAX_FILE_BYTES} bytes")
        copied = 0
        while chunk := src.read(CHUNK * 8):
            copied += len(chunk)
            if copied > MAX_FILE_BYTES:  # grew while being copied
                raise ValidationFailed("too_large", f"over the limit of {MAX_FILE_BYTES} bytes")
            seen.update(chunk)
            dst.write(chunk)
    return seen.staged(target)


def hash_regular(path: Path) -> str:
    """The sha256 of a regular file where it lies (refusing anything else unread, as
    stage_file does): nothing is copied or decoded."""
    with open_regular(path) as src:
        return hashlib.file_digest(src, "sha256").hexdigest()


def read_header(path: Path) -> list[str]:
    """The header row, without a BOM and surrounding quotes. A header that is not one
    CSV row on one line (a quote left open runs on into the data) is a header
    mismatch, told by where it ends or the csv module's reason, never by its text."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
            if reader.line_num > 1:  # what it holds past its line is data, never shown
                raise ValidationFailed(
                    "header_mismatch",
                    f"the header row runs on over {reader.line_num} lines (a quote left open?)",
                )
            return header
        except StopIteration:
            raise ValidationFailed("empty", "the file has no header row") from None
        except csv.Error as exc:
            raise ValidationFailed(
                "header_mismatch", f"the first line is not a CSV header row ({exc})"
            ) from None


def check_header(path: Path, spec: OlistFile) -> None:
    """Refuse a header that differs from the known one (schema drift)."""
    header = [c.strip() for c in read_header(path)]
    if header != list(spec.columns):
        missing = [c for c in spec.columns if c not in header]
        extra = [c for c in header if c not in spec.columns]
        raise ValidationFailed(
            "header_mismatch",
            f"expected the {len(spec.columns)} columns {list(spec.columns)}; "
            f"got {len(header)}: missing {missing}, {_unexpected(extra)}"
            + ("" if missing or extra else "; columns are out of order"),
        )


def _unexpected(extra: list[str]) -> str:
    """Unexpected columns, described without quoting the file: a count, and the first
    few names only when they look like column names (a hostile or mistaken file's first
    line is not copied into reasons, logs or the audit trail)."""
    names = [c for c in extra if COLUMN_NAME.match(c)][:SHOWN_COLUMNS]
    shown = f" (first: {names})" if names else ""
    return f"{len(extra)} unexpected{shown}"


def count_rows(path: Path, spec: OlistFile) -> int:
    """Parse the whole file strictly with DuckDB and return its data rows; a file whose
    rows repeat its header (files concatenated with their headers) is refused."""
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in spec.columns)
    # the dialect in full (no sniffing): a bad row is reported by its line and cause,
    # where the sniffer only said it could not detect one
    source = f"""read_csv(?, header = true, delim = ',', quote = '"', escape = '"',
        columns = {{{columns}}}, strict_mode = true, null_padding = false,
        ignore_errors = false, encoding = 'utf-8', auto_detect = false)"""
    first = spec.columns[0]
    # a repeated header may carry its file's byte order mark (files joined whole)
    is_header = " and ".join(
        f"trim(replace(\"{c}\", chr(65279), '')) = '{c}'" for c in spec.columns
    )
    con = duckdb.connect()
    try:
        # a cheap test on the first column in the full pass; the exact one on a hit only
        rows, candidates = con.execute(
            f"""select count(*), count(*) filter (where contains("{first}", '{first}'))
                from {source}""",
            [str(path)],
        ).fetchone()  # type: ignore[misc]
        headers = 0
        if candidates:
            (headers,) = con.execute(
                f"select count(*) from {source} where {is_header}", [str(path)]
            ).fetchone()  # type: ignore[misc]
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # the file's fault; anything else (memory, disk, DuckDB itself) is not the data's
        raise ValidationFailed("parse_error", csv_error(str(exc), path)) from None
    finally:
        con.close()
    if headers:
        raise ValidationFailed(
            "repeated_header",
            f"the header line is repeated as a data row {headers} time(s) among {rows} rows "
            "(files joined with their headers?); remove the repeated header lines",
        )
    if rows == 0:
        raise ValidationFailed("empty", "the file has a header but no data rows")
    return int(rows)


# What DuckDB says is wrong with a row, as whole lines with numbers only: nothing of
# the row itself (DuckDB quotes it on the lines before, 'Original Line: ...').
CSV_CAUSES = re.compile(
    r"Expected Number of Columns: \d+ Found: \d+"
    r"|Value with unterminated quote found\."
    r"|Maximum line size of \d+ bytes exceeded\. Actual Size: ?\d+ bytes\."
    r"|Invalid unicode \(byte sequence mismatch\) detected\."
    r"|The CSV Parser state machine reached an invalid state\."
)
CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def csv_error(message: str, path: Path) -> str:
    """A parse error as the quarantine reason tells it: the line and DuckDB's cause,
    never the row's text; a message of another shape, by its first line."""
    line = CSV_LINE.search(message)
    if line is None:
        first = message.strip().splitlines()[0].replace(str(path), path.name)[:200]
        return f"the CSV does not parse: {first}"
    # the cause is the last line before DuckDB's advice ('Possible fixes:'), after the row
    head = message[: message.rfind("\nPossible ")] if "\nPossible " in message else message
    causes = [c for c in head.splitlines() if CSV_CAUSES.fullmatch(c.strip())]
    cause = f": {causes[-1].strip()}" if causes else ""
    return f"the CSV does not parse at line {line.group(1)}{cause}"


def validate_file(staged: Staged) -> tuple[OlistFile, int]:
    """Validate one staged file; return its spec and data rows or raise ValidationFailed."""
    path = staged.path
    spec = EXPECTED_FILES.get(path.name)
    if spec is None:
        raise ValidationFailed(
            "unknown_file", f"{path.name} is not one of the Olist files {sorted(EXPECTED_FILES)}"
        )
    size = path.stat().st_size
    if size == 0:
        raise ValidationFailed("empty", "the file is empty")
    if size > MAX_FILE_BYTES:
        raise ValidationFailed("too_large", f"{size} bytes is over the limit of {MAX_FILE_BYTES}")
    staged.check_utf8()
    check_header(path, spec)
    return spec, count_rows(path, spec)
