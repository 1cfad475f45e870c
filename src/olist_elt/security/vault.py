"""Secrets vault: an encrypted local file (Fernet, rotation via MultiFernet)."""

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
    """What a vault backend offers."""

    def get(self, name: str) -> str: ...
    def set(self, name: str, value: str) -> None: ...
    def names(self) -> list[str]: ...


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
