"""Private helpers of the Olist connector: locate input files and validate one."""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from pathlib import Path

import duckdb
import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from olist_elt.connectors.olist.files import OlistFile
from olist_elt.connectors.olist.settings import DOWNLOAD_TIMEOUT_S, EXPECTED_FILES, MAX_FILE_BYTES
from olist_elt.errors import OlistEltError, ValidationFailed

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
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    with httpx.stream("GET", url, timeout=DOWNLOAD_TIMEOUT_S, follow_redirects=True) as resp:
        resp.raise_for_status()
        with open(tmp, "wb") as fh:
            for chunk in resp.iter_bytes(1024 * 1024):
                fh.write(chunk)
    tmp.replace(dest)
    return dest


def extract_zip(archive: Path, dest: Path) -> list[Path]:
    """Extract the CSV members of a zip (flattened, no path traversal)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise OlistEltError(f"{archive} is not a valid zip archive: {exc}") from None
    out: list[Path] = []
    with zf:
        for member in zf.infolist():
            name = Path(member.filename).name
            if member.is_dir() or not name or name.startswith("."):
                continue
            target = dest / name
            with zf.open(member) as src, open(target, "wb") as dst:
                while chunk := src.read(1024 * 1024):
                    dst.write(chunk)
            out.append(target)
    return sorted(out)


def check_utf8(path: Path) -> None:
    """Refuse a file that is not valid UTF-8 (a BOM is allowed); streams in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    lines = 1
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                where = offset + exc.start
                line = lines + chunk.count(b"\n", 0, max(0, exc.start))
                raise ValidationFailed(
                    "encoding",
                    f"not UTF-8 at byte {where} (line {line}); re-export the file as UTF-8",
                ) from None
            offset += len(chunk)
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ValidationFailed("encoding", "the file ends inside a UTF-8 sequence") from None


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
    is_header = " and ".join(f"trim(\"{c}\") = '{c}'" for c in spec.columns)
    con = duckdb.connect()
    try:
        rows, headers = con.execute(
            f"""select count(*), count(*) filter (where {is_header})
                from read_csv(?, header = true, delim = ',', quote = '"',
                escape = '"', columns = {{{columns}}}, strict_mode = true,
                null_padding = false, ignore_errors = false, encoding = 'utf-8')""",
            [str(path)],
        ).fetchone()  # type: ignore[misc]
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise ValidationFailed("parse_error", f"the CSV does not parse: {first}") from None
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


def validate_file(path: Path) -> tuple[OlistFile, int]:
    """Validate one file; return its spec and data rows or raise ValidationFailed."""
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
    check_utf8(path)
    check_header(path, spec)
    return spec, count_rows(path, spec)
