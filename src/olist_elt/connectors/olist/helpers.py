"""Private helpers of the Olist connector: locate input files and validate one."""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import re
import stat
import zipfile
import zlib
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
    RATIO_FLOOR_BYTES,
    ZipLimits,
)
from olist_elt.errors import OlistEltError, ValidationFailed
from olist_elt.lake.private import create_private, private_dirs
from olist_elt.lake.registry import Refused

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


def _member_name(member: zipfile.ZipInfo) -> str:
    """A member's base name (folders inside the archive do not matter)."""
    return member.filename.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _data_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members to read, matched by base name; two members with one base name (one
    data set twice) refuse the whole archive: which copy is right cannot be told."""
    members = [
        m
        for m in zf.infolist()
        if not m.is_dir() and _member_name(m) and not _member_name(m).startswith(".")
    ]
    by_name: dict[str, list[str]] = {}
    for m in members:
        by_name.setdefault(_member_name(m), []).append(m.filename)
    twice = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    if twice:
        name, paths = sorted(twice.items())[0]
        spec = EXPECTED_FILES.get(name)
        what = f"data set {spec.dataset}" if spec else name
        raise ValidationFailed(
            "duplicate_member",
            f"the archive holds {len(paths)} members for {what} ({', '.join(sorted(paths)[:5])}"
            f"{', ...' if len(paths) > 5 else ''}); nothing was ingested from it: keep one file "
            "per data set in an archive (or land the others as separate archives)",
        )
    return members


def _is_regular_member(member: zipfile.ZipInfo) -> bool:
    """Whether a member is a plain file (a member stored as a symbolic link is not)."""
    return stat.S_IFMT(member.external_attr >> 16) in (0, stat.S_IFREG)


def _ratio_refusal(member: zipfile.ZipInfo, limits: ZipLimits) -> ValidationFailed:
    """The refusal of a member that expands past the ratio cap."""
    return ValidationFailed(
        "zip_ratio",
        f"member {_member_name(member)} expands past {limits.max_ratio:g} times its "
        f"{member.compress_size} compressed bytes (OLIST_ZIP_MAX_RATIO): a possible zip "
        "bomb; refused, nothing was ingested from it",
    )


def _allowed(member: zipfile.ZipInfo, limits: ZipLimits) -> float:
    """The bytes a member may expand to under the ratio cap."""
    return max(limits.max_ratio * member.compress_size, RATIO_FLOOR_BYTES)


def _extract_member(
    zf: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    target: Path,
    limits: ZipLimits,
    total: int,
    seen: Fingerprint,
) -> int:
    """Stream one member to target within the caps (whatever its header declares),
    fingerprinting its bytes; return the archive's bytes so far."""
    allowed = _allowed(member, limits)
    written = 0
    with zf.open(member) as src, create_private(target) as dst:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            total += len(chunk)
            if total > limits.max_bytes:
                raise ValidationFailed(
                    "zip_too_large",
                    f"the archive expands past {limits.max_bytes} bytes "
                    "(OLIST_ZIP_MAX_BYTES); refused, nothing was ingested from it",
                )
            if written > allowed:
                raise _ratio_refusal(member, limits)
            seen.update(chunk)
            dst.write(chunk)
    return total


def extract_zip(archive: Path, stage: Path, limits: ZipLimits) -> list[Staged | Refused]:
    """Extract the members of a zip into the stage, streamed within the caps on total
    size and compression ratio; a member that is not a plain file is refused unread.
    Raises ValidationFailed when the whole archive is refused."""
    with open_regular(archive) as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except zipfile.BadZipFile:
            raise ValidationFailed("bad_zip", "not a valid zip archive") from None
        with zf:
            members = _data_members(zf)
            declared = sum(m.file_size for m in members)
            if declared > limits.max_bytes:
                raise ValidationFailed(
                    "zip_too_large",
                    f"the archive declares {declared} bytes, over {limits.max_bytes} "
                    "(OLIST_ZIP_MAX_BYTES); refused, nothing was read from it",
                )
            bombs = [m for m in members if m.file_size > _allowed(m, limits)]
            if bombs:
                raise _ratio_refusal(bombs[0], limits)
            out: list[Staged | Refused] = []
            total = 0
            for member in members:
                name = _member_name(member)
                if not _is_regular_member(member):
                    out.append(
                        Refused(name, "not_regular_file", "a link or special file in the archive")
                    )
                    continue
                seen = Fingerprint()
                try:
                    total = _extract_member(zf, member, stage / name, limits, total, seen)
                except (zipfile.BadZipFile, zlib.error, EOFError):
                    raise ValidationFailed(
                        "bad_zip", f"member {name} is damaged (bad CRC or data)"
                    ) from None
                out.append(seen.staged(stage / name))
    return sorted(out, key=lambda e: e.name)


def read_header(path: Path) -> list[str]:
    """The header row, without a BOM and surrounding quotes."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            return next(csv.reader(fh))
        except StopIteration:
            raise ValidationFailed("empty", "the file has no header row") from None


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
    source = f"""read_csv(?, header = true, delim = ',', quote = '"', escape = '"',
        columns = {{{columns}}}, strict_mode = true, null_padding = false,
        ignore_errors = false, encoding = 'utf-8')"""
    first = spec.columns[0]
    is_header = " and ".join(f"trim(\"{c}\") = '{c}'" for c in spec.columns)
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
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0].replace(str(path), path.name)[:200]
        raise ValidationFailed("parse_error", f"the CSV does not parse: {message}") from None
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
