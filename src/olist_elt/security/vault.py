"""Secrets vault with two backends: an encrypted local file (Fernet, rotation via
MultiFernet) as the embedded default, and HashiCorp Vault KV v2 through hvac."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from olist_elt.security.audit import AuditLog
from olist_elt.security.exceptions import BadVaultKey, MissingSecret

PII_KEY_NAME = "pii_hmac_key"


class Vault(Protocol):
    """What a vault backend offers. Values are never logged or printed."""

    def get(self, name: str, actor: str = "olist-elt") -> str: ...
    def set(self, name: str, value: str, actor: str = "olist-elt") -> None: ...
    def names(self) -> list[str]: ...
    def ensure(self, name: str, factory: Callable[[], str]) -> None: ...
    def rotate(self, actor: str = "olist-elt") -> int: ...


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class FileVault:
    """Secrets in one Fernet-encrypted JSON file; the key(s) in a separate 0600 file."""

    def __init__(self, path: Path, key_file: Path, audit: AuditLog | None = None) -> None:
        self.path = path
        self.key_file = key_file
        self.audit = audit

    @classmethod
    def open_or_create(cls, path: Path, key_file: Path, audit: AuditLog | None = None) -> FileVault:
        """Open the vault, creating an empty one with a fresh key when neither exists."""
        if not key_file.exists() and not path.exists():
            _write_private(key_file, Fernet.generate_key() + b"\n")
            vault = cls(path, key_file, audit)
            vault._save({})
            return vault
        return cls(path, key_file, audit)

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
        """Decrypt the vault file."""
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

    def _save(self, data: dict[str, str]) -> None:
        """Encrypt and write the vault file."""
        token = self._fernet().encrypt(json.dumps(data).encode("utf-8"))
        _write_private(self.path, token)

    def get(self, name: str, actor: str = "olist-elt") -> str:
        """Return one secret; audited, never logged."""
        data = self._load()
        if name not in data:
            raise MissingSecret(name)
        if self.audit:
            self.audit.append(actor, "secret.read", name, "ok")
        return data[name]

    def set(self, name: str, value: str, actor: str = "olist-elt") -> None:
        """Store one secret."""
        data = self._load()
        data[name] = value
        self._save(data)
        if self.audit:
            self.audit.append(actor, "secret.write", name, "ok")

    def names(self) -> list[str]:
        """The names of the secrets, never their values."""
        return sorted(self._load())

    def ensure(self, name: str, factory: Callable[[], str]) -> None:
        """Create a secret with factory() if it does not exist yet."""
        if name not in self._load():
            self.set(name, factory(), actor="olist-elt.bootstrap")

    def rotate(self, actor: str = "olist-elt") -> int:
        """New key first in the key file, every secret re-encrypted, old key retired.

        Safe at every step: the vault stays readable by the key file on disk.
        Returns the number of secrets re-encrypted.
        """
        old_keys = [k for k in self.key_file.read_bytes().split() if k]
        data = self._load()  # proves the current keys work before anything changes
        new_key = Fernet.generate_key()
        _write_private(self.key_file, b"\n".join([new_key, *old_keys]) + b"\n")
        token = self.path.read_bytes()
        rotated = self._fernet().rotate(token)  # re-encrypted with the new key
        _write_private(self.path, rotated)
        _write_private(self.key_file, new_key + b"\n")
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

    def _call(self, fn: Callable[[], object], what: str) -> object:
        """Map hvac's errors to the project's, with what to do."""
        import hvac.exceptions as hx
        import requests

        try:
            return fn()
        except hx.InvalidPath:
            raise
        except hx.Forbidden:
            raise BadVaultKey(
                f"HashiCorp Vault refused {what}: permission denied; check VAULT_TOKEN and "
                "its policy"
            ) from None
        except (hx.VaultError, requests.RequestException) as exc:
            raise BadVaultKey(f"HashiCorp Vault {what} failed: {type(exc).__name__}") from None

    def get(self, name: str, actor: str = "olist-elt") -> str:
        """Read one secret (latest version)."""
        import hvac.exceptions as hx

        try:
            resp = self._call(
                lambda: self.client.secrets.kv.v2.read_secret_version(
                    path=f"{self.prefix}/{name}",
                    mount_point=self.mount_point,
                    raise_on_deleted_version=True,
                ),
                f"read of {name}",
            )
        except hx.InvalidPath:
            raise MissingSecret(name) from None
        if self.audit:
            self.audit.append(actor, "secret.read", name, "ok")
        return resp["data"]["data"]["value"]  # type: ignore[index]

    def set(self, name: str, value: str, actor: str = "olist-elt") -> None:
        """Write one secret (a new version)."""
        self._call(
            lambda: self.client.secrets.kv.v2.create_or_update_secret(
                path=f"{self.prefix}/{name}", secret={"value": value}, mount_point=self.mount_point
            ),
            f"write of {name}",
        )
        if self.audit:
            self.audit.append(actor, "secret.write", name, "ok")

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
        """Create a secret with factory() if it does not exist yet."""
        if name not in self.names():
            self.set(name, factory(), actor="olist-elt.bootstrap")

    def rotate(self, actor: str = "olist-elt") -> int:
        """HashiCorp Vault encrypts its own storage: nothing for olist-elt to rotate."""
        raise BadVaultKey(
            "the hashicorp backend's encryption keys belong to Vault: rotate them with "
            "`vault operator rotate`; `olist-elt vault rotate` rotates the file backend"
        )


def open_vault(settings: object, audit: AuditLog | None = None) -> Vault:
    """The configured vault backend (file by default)."""
    backend = getattr(settings, "vault_backend", "file")
    if backend == "hashicorp":
        token = os.environ.get("VAULT_TOKEN")
        if not token:
            raise BadVaultKey("OLIST_VAULT_BACKEND=hashicorp needs VAULT_TOKEN in the environment")
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
