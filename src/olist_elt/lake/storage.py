"""Storage backends behind one interface (local folder now; S3 shares the shape)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from olist_elt.lake.private import private_dirs, replace_private_with

if TYPE_CHECKING:
    from olist_elt.settings import Settings


class Storage(Protocol):
    """Object storage keyed by '/'-separated keys relative to the lake root."""

    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, source: Path) -> None: ...
    def read_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def uri(self, key: str) -> str: ...
    def delete(self, key: str) -> None: ...
    def purge(self, key: str) -> None: ...
    def copy(self, source_key: str, dest_key: str) -> None: ...
    def sha256(self, key: str) -> str: ...
    @property
    def lake(self) -> str: ...


def lake_root(storage: Storage) -> str:
    """The lake a raw landing's audit record names: where the storage keeps its keys
    (an absolute folder, or s3://bucket/prefix/ at its endpoint), as the audit log
    keeps it (a value over its length limit is kept cut, and compared cut)."""
    from olist_elt.security.audit import bounded_text

    return bounded_text(storage.lake)


class LocalStorage:
    """A folder as object storage; every put is atomic (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        """The absolute path of a key, refusing keys that escape the root."""
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise ValueError(f"key {key!r} escapes the lake root")
        return path

    def _atomic(self, key: str, write: Callable[[Path], object]) -> None:
        """Run write(tmp_path) on a new owner-only temp file and rename it into place
        (replace_private_with)."""
        replace_private_with(self._path(key), write)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write bytes under key."""
        self._atomic(key, lambda tmp: tmp.write_bytes(data))

    def put_file(self, key: str, source: Path) -> None:
        """Copy a local file under key."""
        self._atomic(key, lambda tmp: shutil.copyfile(source, tmp))

    def read_bytes(self, key: str) -> bytes:
        """Read the object under key."""
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        """Whether an object exists under key."""
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under a prefix, sorted, without temp files."""
        base = self._path(prefix)
        if not base.exists():
            return iter(())
        keys = (
            p.relative_to(self.root.resolve()).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return iter(sorted(keys))

    def uri(self, key: str) -> str:
        """The absolute path an engine reads the object from."""
        return str(self._path(key))

    @property
    def lake(self) -> str:
        """The lake's folder, absolute."""
        return f"{self.root.resolve()}/"

    def delete(self, key: str) -> None:
        """Remove one object (only lifecycle calls this on raw/)."""
        self._path(key).unlink()

    def purge(self, key: str) -> None:
        """Remove one object for good (an erasure); a missing object is no error."""
        self._path(key).unlink(missing_ok=True)

    def copy(self, source_key: str, dest_key: str) -> None:
        """Copy one object to another key, atomically."""
        self.put_file(dest_key, self._path(source_key))

    def sha256(self, key: str) -> str:
        """The sha256 of a stored object, read back from storage."""
        digest = hashlib.sha256()
        with open(self._path(key), "rb") as fh:
            while chunk := fh.read(8 * 1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()


def s3_secret_name(identity: str) -> str:
    """The vault entry holding an S3/MinIO service account's secret key."""
    return f"s3_secret_key/{identity}"


def open_storage(settings: Settings, identity: str) -> Storage:
    """The lake's storage as one service identity sees it: the lake_dir folder, or the
    bucket with that identity's own MinIO account (secret from the vault), so the
    store's policy, not only the code, limits what each component may write."""
    if settings.lake_backend == "local":
        private_dirs(settings.lake_dir)
        return LocalStorage(settings.lake_dir)
    from olist_elt.lake.s3 import S3Storage
    from olist_elt.security.audit import AuditLog
    from olist_elt.security.vault import open_vault

    vault = open_vault(settings, AuditLog(settings.audit_path))
    return S3Storage(
        settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        access_key=identity,
        secret_key=vault.get(s3_secret_name(identity), actor=identity),
        region=settings.s3_region,
        prefix=settings.s3_prefix,
    )
