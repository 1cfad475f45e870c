"""Files and folders readable by their owner only: everything the lake, the audit log
and quarantine hold is created 0600 (files) inside 0700 (folders), whatever the umask."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700


@contextmanager
def owner_only() -> Iterator[None]:
    """What the process creates meanwhile is its owner's only (umask 077); the umask
    it had is back after."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def private_dirs(path: Path) -> None:
    """Create a folder and its missing parents, each 0700 (existing ones are left)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened


def create_private(path: Path, *, append: bool = False) -> BinaryIO:
    """Open a file for writing, created 0600 if new: a fresh one (it must not exist), or
    one appended to (read and append, for logs)."""
    if append:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
        return os.fdopen(fd, "a+b")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    return os.fdopen(fd, "wb")


def replace_private_with(path: Path, write: Callable[[Path], object]) -> None:
    """Give path new content atomically: write(tmp) on a new 0600 temp file of its own
    beside it (two writers never share one; writing into an existing file keeps its
    mode), fsynced, then renamed over path; missing folders are made 0700."""
    private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        create_private(tmp).close()
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def replace_private(path: Path, data: bytes) -> None:
    """Write a whole file atomically, 0600 (replace_private_with)."""
    replace_private_with(path, lambda tmp: tmp.write_bytes(data))
