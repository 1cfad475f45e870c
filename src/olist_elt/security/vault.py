"""Secrets vault with two backends: an encrypted local file (Fernet, rotation via
MultiFernet) as the embedded default, and HashiCorp Vault KV v2 through hvac."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from olist_elt.errors import SettingsError
from olist_elt.lake.private import FILE_MODE, private_dirs, replace_private
from olist_elt.security.audit import AuditLog
from olist_elt.security.exceptions import (
    BadVaultKey,
    MissingSecret,
    VaultUnavailable,
    VaultWriteConflict,
)

PII_KEY_NAME = "pii_hmac_key"


class Vault(Protocol):
    """What a vault backend offers. Values are never logged or printed."""

    def get(self, name: str, actor: str = "olist-elt") -> str: ...
    def set(self, name: str, value: str, actor: str = "olist-elt") -> None: ...
    def names(self) -> list[str]: ...
    def ensure(self, name: str, factory: Callable[[], str]) -> None: ...
    def rotate(self, actor: str = "olist-elt") -> int: ...


class FileVault:
    """Secrets in one Fernet-encrypted JSON file; the key(s) in a separate 0600 file.

    Every change (creation, set, ensure, rotation) holds an exclusive lock on a file
    beside the vault and every read a shared one, so processes that open the same vault
    at once agree on one key file and one value per secret, and a read never meets a
    half-done rotation."""

    def __init__(self, path: Path, key_file: Path, audit: AuditLog | None = None) -> None:
        self.path = path
        self.key_file = key_file
        self.audit = audit

    @classmethod
    def open_or_create(cls, path: Path, key_file: Path, audit: AuditLog | None = None) -> FileVault:
        """Open the vault, creating an empty one with a fresh key when neither exists."""
        vault = cls(path, key_file, audit)
        if not key_file.exists() and not path.exists():
            with vault._locked(exclusive=True):
                if not key_file.exists() and not path.exists():  # nobody made it meanwhile
                    replace_private(key_file, Fernet.generate_key() + b"\n")
                    vault._save({})
        return vault

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the vault's lock (exclusive to change it, shared to read it). A reader
        that cannot create the lock file (a read-only folder, or no vault folder yet:
        nothing to read) reads without it, creating nothing."""
        lock = self.path.with_name(f".{self.path.name}.lock")
        fd = None
        try:
            if exclusive:
                private_dirs(lock.parent)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError:
            if exclusive:
                raise
        if fd is None:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _fernet(self) -> MultiFernet:
        """All keys in the key file, newest first."""
        if not self.key_file.exists():
            raise BadVaultKey(
                f"vault key file {self.key_file} is missing; restore it or set OLIST_VAULT_KEY_FILE"
            )
        keys = [k for k in self.key_file.read_bytes().split() if k]
        try:
            return MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError):
            raise BadVaultKey(
                f"vault key file {self.key_file} does not hold a valid Fernet key"
            ) from None

    def _load(self) -> dict[str, str]:
        """Decrypt the vault file (the caller holds the lock)."""
        if not self.path.exists():
            return {}
        try:
            plain = self._fernet().decrypt(self.path.read_bytes())
        except InvalidToken:
            raise BadVaultKey(
                f"vault {self.path} cannot be decrypted with the key in {self.key_file}; "
                "use the key the vault was written with"
            ) from None
        return json.loads(plain)

    def _read(self) -> dict[str, str]:
        """Decrypt the vault file under the shared lock."""
        with self._locked(exclusive=False):
            return self._load()

    def _save(self, data: dict[str, str]) -> None:
        """Encrypt and write the vault file (the caller holds the exclusive lock)."""
        replace_private(self.path, self._fernet().encrypt(json.dumps(data).encode("utf-8")))

    def get(self, name: str, actor: str = "olist-elt") -> str:
        """Return one secret; audited, never logged."""
        data = self._read()
        if name not in data:
            raise MissingSecret(name)
        if self.audit:
            self.audit.append(actor, "secret.read", name, "ok")
        return data[name]

    def set(self, name: str, value: str, actor: str = "olist-elt") -> None:
        """Store one secret."""
        with self._locked(exclusive=True):
            data = self._load()
            data[name] = value
            self._save(data)
        if self.audit:  # after the lock: the audit's anchor key may come from this vault
            self.audit.append(actor, "secret.write", name, "ok")

    def names(self) -> list[str]:
        """The names of the secrets, never their values."""
        return sorted(self._read())

    def ensure(self, name: str, factory: Callable[[], str]) -> None:
        """Create a secret with factory() if it does not exist yet: one check and write
        under the lock, so two processes never each make their own (a secret already
        there is only read: a read-only vault serves it)."""
        if name in self._read():
            return
        with self._locked(exclusive=True):
            data = self._load()
            created = name not in data
            if created:
                data[name] = factory()
                self._save(data)
        if created and self.audit:
            self.audit.append("olist-elt.bootstrap", "secret.write", name, "ok")

    def rotate(self, actor: str = "olist-elt") -> int:
        """New key first in the key file, every secret re-encrypted, old key retired.

        Safe at every step: the vault stays readable by the key file on disk.
        Returns the number of secrets re-encrypted.
        """
        with self._locked(exclusive=True):
            old_keys = [k for k in self.key_file.read_bytes().split() if k]
            data = self._load()  # proves the current keys work before anything changes
            new_key = Fernet.generate_key()
            replace_private(self.key_file, b"\n".join([new_key, *old_keys]) + b"\n")
            rotated = self._fernet().rotate(self.path.read_bytes())  # with the new key
            replace_private(self.path, rotated)
            replace_private(self.key_file, new_key + b"\n")
            if self._load() != data:  # pragma: no cover - would mean a cryptography bug
                raise BadVaultKey("vault content changed during rotation; restore from backup")
        if self.audit:
            self.audit.append(actor, "vault.rotate", str(self.path), "ok", secrets=len(data))
        return len(data)


class HashiCorpVault:
    """Secrets in HashiCorp Vault's KV v2 engine, one secret per path, via hvac."""

    def __init__(
        self,
        url: str,
        token: str,
        mount_point: str = "secret",
        prefix: str = "olist-elt",
        audit: AuditLog | None = None,
        timeout: float = 10.0,
    ) -> None:
        import hvac

        self.client = hvac.Client(url=url, token=token, timeout=timeout)
        self.mount_point = mount_point
        self.prefix = prefix.strip("/")
        self.audit = audit

    def _call(
        self, fn: Callable[[], object], what: str, keep: tuple[type[Exception], ...] = ()
    ) -> object:
        """Map hvac's errors to the project's, with what to do (InvalidPath and those
        in keep go to the caller as they are)."""
        import hvac.exceptions as hx
        import requests

        try:
            return fn()
        except (hx.InvalidPath, *keep):
            raise
        except hx.Forbidden:
            raise VaultUnavailable(
                f"HashiCorp Vault refused {what}: permission denied; check VAULT_TOKEN and "
                "its policy"
            ) from None
        except (hx.VaultError, requests.RequestException) as exc:
            raise VaultUnavailable(f"HashiCorp Vault {what} failed: {type(exc).__name__}") from None

    def _read(self, name: str, what: str, *, deleted: bool = False) -> Any:
        """Vault's answer for the secret's latest version, None when it has none;
        deleted=True answers for a deleted latest version too (its metadata)."""
        import hvac.exceptions as hx

        try:
            return self._call(
                lambda: self.client.secrets.kv.v2.read_secret_version(
                    path=f"{self.prefix}/{name}",
                    mount_point=self.mount_point,
                    raise_on_deleted_version=not deleted,
                ),
                what,
            )
        except hx.InvalidPath:
            return None

    def get(self, name: str, actor: str = "olist-elt") -> str:
        """Read one secret (latest version)."""
        resp = self._read(name, f"read of {name}")
        if resp is None:
            raise MissingSecret(name)
        if self.audit:
            self.audit.append(actor, "secret.read", name, "ok")
        return resp["data"]["data"]["value"]

    def set(self, name: str, value: str, actor: str = "olist-elt") -> None:
        """Write one secret (a new version) by check-and-set on the version it replaces:
        it works on a mount with cas_required, and a write another writer overtook is
        refused, never lost without a word."""
        if not self._write(name, value, cas=self._version(name)):
            raise VaultWriteConflict(
                f"HashiCorp Vault did not write {name}: another writer changed it meanwhile;"
                " nothing was overwritten, run the command again"
            )
        if self.audit:
            self.audit.append(actor, "secret.write", name, "ok")

    def _version(self, name: str) -> int:
        """The secret's current version (a deleted one counts), 0 when it has none."""
        resp = self._read(name, f"read of {name}'s version", deleted=True)
        return 0 if resp is None else int(resp["data"]["metadata"]["version"])

    def _write(self, name: str, value: str, cas: int) -> bool:
        """Write one secret if its current version is cas (0: it does not exist yet).
        False when Vault refused the check-and-set: another writer came first."""
        import hvac.exceptions as hx

        try:
            self._call(
                lambda: self.client.secrets.kv.v2.create_or_update_secret(
                    path=f"{self.prefix}/{name}",
                    secret={"value": value},
                    cas=cas,
                    mount_point=self.mount_point,
                ),
                f"write of {name}",
                keep=(hx.InvalidRequest,),
            )
        except hx.InvalidRequest as exc:
            if "check-and-set" in str(exc):
                return False
            raise VaultUnavailable(
                f"HashiCorp Vault write of {name} failed: InvalidRequest"
            ) from None
        return True

    def names(self) -> list[str]:
        """Names of the secrets under the prefix."""
        import hvac.exceptions as hx

        try:
            resp = self._call(
                lambda: self.client.secrets.kv.v2.list_secrets(
                    path=self.prefix, mount_point=self.mount_point
                ),
                "list",
            )
        except hx.InvalidPath:
            return []
        return sorted(k for k in resp["data"]["keys"] if not k.endswith("/"))  # type: ignore[index]

    def ensure(self, name: str, factory: Callable[[], str]) -> None:
        """Create a secret with factory() if it does not exist yet, by check-and-set
        (cas=0): Vault keeps the first writer's value when two processes race."""
        if name in self.names():
            return
        if self._write(name, factory(), cas=0) and self.audit:
            self.audit.append("olist-elt.bootstrap", "secret.write", name, "ok")

    def rotate(self, actor: str = "olist-elt") -> int:
        """HashiCorp Vault encrypts its own storage: nothing for olist-elt to rotate."""
        raise SettingsError(
            "the hashicorp backend's encryption keys belong to Vault: rotate them with "
            "`vault operator rotate`; `olist-elt vault rotate` rotates the file backend"
        )


def open_vault(settings: object, audit: AuditLog | None = None) -> Vault:
    """The configured vault backend (file by default)."""
    backend = getattr(settings, "vault_backend", "file")
    if backend == "hashicorp":
        token = os.environ.get("VAULT_TOKEN")
        if not token:
            raise SettingsError(
                "OLIST_VAULT_BACKEND=hashicorp needs VAULT_TOKEN in the environment"
            )
        return HashiCorpVault(
            url=settings.vault_url,  # type: ignore[attr-defined]
            token=token,
            mount_point=settings.vault_mount,  # type: ignore[attr-defined]
            prefix=settings.vault_prefix,  # type: ignore[attr-defined]
            audit=audit,
        )
    return FileVault.open_or_create(
        settings.vault_path,  # type: ignore[attr-defined]
        settings.vault_key_file,  # type: ignore[attr-defined]
        audit,
    )


def new_pii_key() -> str:
    """A fresh 256-bit key for the keyed pseudonyms, hex-encoded."""
    return secrets.token_hex(32)


def hmac_pads(key_hex: str) -> tuple[bytes, bytes]:
    """The HMAC-SHA256 inner and outer pads of a key, so an engine can compute HMAC."""
    key = bytes.fromhex(key_hex)
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
