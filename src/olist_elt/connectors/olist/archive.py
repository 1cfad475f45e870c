"""Zip archives like the public download: their members streamed into the stage
within caps on size and compression ratio, or the whole archive refused."""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path

from olist_elt.connectors.olist.fingerprint import Fingerprint, Staged
from olist_elt.connectors.olist.helpers import open_regular
from olist_elt.connectors.olist.settings import (
    CHUNK,
    EXPECTED_FILES,
    RATIO_FLOOR_BYTES,
    ZipLimits,
)
from olist_elt.errors import OlistEltError, ValidationFailed
from olist_elt.lake.private import create_private
from olist_elt.lake.registry import Refused


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


# The compression methods Python's zipfile reads (Deflate64, zstd and others it
# cannot: the archive is refused, telling which, before anything is extracted)
READABLE_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}


def _unreadable(members: list[zipfile.ZipInfo]) -> ValidationFailed | None:
    """The refusal of an archive holding no member to read, or a member that cannot be
    read without a password or with a compression method zipfile lacks."""
    if not members:
        return ValidationFailed(
            "empty", "the archive holds no files (only folders or hidden entries)"
        )
    for member in members:
        name = _member_name(member)
        if member.flag_bits & 0x1:
            return ValidationFailed(
                "unsupported_zip",
                f"member {name} is encrypted; give the archive without a password",
            )
        if member.compress_type not in READABLE_METHODS:
            return ValidationFailed(
                "unsupported_zip",
                f"member {name} uses zip compression method {member.compress_type}, "
                f"which cannot be read; pack it with one of {sorted(READABLE_METHODS.values())}",
            )
    return None


def looks_like_zip(path: Path) -> bool:
    """Whether a regular file starts as a zip archive does (a download named by its URL,
    without '.zip'); False for anything else, or anything open_regular refuses."""
    try:
        with open_regular(path) as fh:
            return fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except (OlistEltError, OSError):
        return False


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
            if (refusal := _unreadable(members)) is not None:
                raise refusal
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
