"""The audit log's head, anchored outside the log: the number of records and the last
record's hash, signed with HMAC-SHA256 under a key from the vault, in a small file
beside the run records. Whoever rewrites the log (cuts its last lines, or re-hashes
the whole chain) cannot sign a matching anchor without the vault's key, so `audit
verify` finds it."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from olist_elt.lake.private import replace_private
from olist_elt.security.exceptions import AuditChainBroken

if TYPE_CHECKING:
    from olist_elt.settings import Settings

ANCHOR_KEY_NAME = "audit_anchor_key"


@dataclass(frozen=True)
class AnchorState:
    """What an anchor file says: the log held `records` records, the last one `head`."""

    records: int
    head: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        """The anchor as written to its file (and as a run record may keep it)."""
        return {"records": self.records, "head": self.head, "hmac": self.signature}


@dataclass
class AuditAnchor:
    """Where one log's head is anchored and how to get the key that signs it."""

    path: Path
    load_key: Callable[[], bytes]
    read_unrecorded: bool = False  # the key was read and the log does not say so yet
    _key: bytes | None = field(default=None, repr=False)

    def key(self) -> bytes:
        """The signing key, read from the vault once per process."""
        if self._key is None:
            self._key = self.load_key()
            self.read_unrecorded = True
        return self._key

    def sign(self, records: int, head: str) -> str:
        """HMAC-SHA256 of (records, head) under the anchor key."""
        key = self.key()
        message = f"olist-elt audit anchor v1|{records}|{head}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def read(self) -> AnchorState | None:
        """The anchor on disk, or None when there is none; a malformed one raises."""
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return AnchorState(int(data["records"]), str(data["head"]), str(data["hmac"]))
        except (ValueError, KeyError, TypeError):
            raise AuditChainBroken(
                f"the audit anchor {self.path} is not a valid anchor (edited or cut)"
            ) from None

    def is_valid(self, state: AnchorState) -> bool:
        """Whether the anchor's signature matches its content under our key."""
        return hmac.compare_digest(self.sign(state.records, state.head), state.signature)

    def write(self, records: int, head: str) -> AnchorState:
        """Sign and write the anchor atomically, readable by the owner only."""
        state = AnchorState(records, head, self.sign(records, head))
        replace_private(self.path, json.dumps(state.to_json(), sort_keys=True).encode("utf-8"))
        return state


_ANCHORS: dict[Path, AuditAnchor] = {}


def register_anchor(log_path: Path, anchor: AuditAnchor) -> AuditAnchor:
    """Make every AuditLog on log_path keep its head in anchor (the first registration
    of an anchor file wins, so its key is read once per process)."""
    current = _ANCHORS.get(log_path.resolve())
    if current is not None and current.path == anchor.path:
        return current
    _ANCHORS[log_path.resolve()] = anchor
    return anchor


def anchor_for(log_path: Path) -> AuditAnchor | None:
    """The anchor registered for a log, if any."""
    return _ANCHORS.get(log_path.resolve())


def _vault_key(settings: Settings) -> bytes:
    """The anchor key from the configured vault, created on first use. The vault is
    opened without an audit log (it would recurse); the AuditLog records this read."""
    from olist_elt.security.vault import new_pii_key, open_vault

    vault = open_vault(settings)
    vault.ensure(ANCHOR_KEY_NAME, new_pii_key)
    return bytes.fromhex(vault.get(ANCHOR_KEY_NAME))


def register_settings_anchor(settings: Settings) -> AuditAnchor:
    """Anchor the settings' audit log beside the run records, keyed from its vault."""
    anchor = AuditAnchor(settings.audit_anchor_path, functools.partial(_vault_key, settings))
    return register_anchor(settings.audit_path, anchor)
