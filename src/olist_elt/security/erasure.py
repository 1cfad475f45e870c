"""Right to be forgotten: an erasure register that holds keyed pseudonyms only.

The register (lake/_erasure/requests.csv) is read by dbt on every build: silver
replaces an erased customer by one anonymous member, drops their review texts and
location, and keeps their order amounts so totals do not change. Raw is rewritten
without the person too (security/erasure_raw.py); the register still drops them if
an older copy of their data is landed again.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import hmac
import io
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from olist_elt.lake.manifest import Manifest
from olist_elt.lake.private import replace_private
from olist_elt.lake.storage import Storage, open_storage
from olist_elt.security.audit import AuditLog
from olist_elt.security.exceptions import SecurityError
from olist_elt.security.vault import PII_KEY_NAME, Vault, new_pii_key, open_vault
from olist_elt.settings import Settings

if TYPE_CHECKING:
    from olist_elt.security.erasure_raw import Rewrite

REGISTER = Path("_erasure") / "requests.csv"
COLUMNS = ("customer_unique_pseudonym", "requested_at")
# The raw objects that name a person by customer_unique_id.
PERSON_SOURCE, PERSON_DATASET, PERSON_COLUMN = "olist", "customers", "customer_unique_id"


class UnknownPerson(SecurityError):
    """An erasure was asked for an id that no raw customers object holds."""

    def __init__(self, objects: int) -> None:
        super().__init__(
            f"no customer with that customer_unique_id in the {objects} raw customers "
            "object(s): nothing was recorded or changed. Check the id as written in the "
            "export (32 hex characters), or ingest the file that holds the person first"
        )


def keyed_pseudonym(key_hex: str, value: str) -> str:
    """HMAC-SHA256(key, value) as hex: the same value the pseudonymize macro gives."""
    return hmac.new(bytes.fromhex(key_hex), value.encode("utf-8"), hashlib.sha256).hexdigest()


def register_path(lake_dir: Path) -> Path:
    """Where the erasure register of a lake lives."""
    return lake_dir / REGISTER


def ensure_register(lake_dir: Path) -> Path:
    """Create the empty register (header only) if it does not exist yet."""
    path = register_path(lake_dir)
    if not path.exists():
        replace_private(path, (",".join(COLUMNS) + "\n").encode("utf-8"))
    return path


def erased_pseudonyms(lake_dir: Path) -> set[str]:
    """The pseudonyms already in the register."""
    path = ensure_register(lake_dir)
    with open(path, encoding="utf-8", newline="") as fh:
        return {row["customer_unique_pseudonym"] for row in csv.DictReader(fh)}


def request_erasure(
    lake_dir: Path, vault: Vault, audit: AuditLog, customer_unique_id: str, requested_by: str
) -> tuple[str, bool]:
    """Record an erasure request; return (pseudonym, newly_added). Idempotent, audited."""
    if not customer_unique_id.strip():
        raise ValueError("customer_unique_id is empty")
    vault.ensure(PII_KEY_NAME, new_pii_key)
    pseudonym = keyed_pseudonym(vault.get(PII_KEY_NAME, actor=requested_by), customer_unique_id)
    path = ensure_register(lake_dir)
    with open(path, "a+", encoding="utf-8", newline="") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            known = {row["customer_unique_pseudonym"] for row in csv.DictReader(fh)}
            added = pseudonym not in known
            if added:
                line = io.StringIO()
                csv.writer(line, lineterminator="\n").writerow(
                    [pseudonym, datetime.now(UTC).isoformat(timespec="seconds")]
                )
                fh.seek(0, os.SEEK_END)
                fh.write(line.getvalue())
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    audit.append(
        requested_by,
        "erasure.request",
        pseudonym,
        "recorded" if added else "already recorded",
    )
    return pseudonym, added


def record_erasure(
    settings: Settings, customer_unique_id: str, requested_by: str
) -> tuple[str, bool]:
    """erase_person without the list of rewritten raw objects: (pseudonym, newly_added)."""
    pseudonym, added, _ = erase_person(settings, customer_unique_id, requested_by)
    return pseudonym, added


def erase_person(
    settings: Settings, customer_unique_id: str, requested_by: str
) -> tuple[str, bool, list[Rewrite]]:
    """Put a person in the configured lake's erasure register (keyed pseudonym only)
    and replace every raw object holding them by a version without them (the old
    objects deleted, the lineage in the manifest); audited. The next run rebuilds
    from all of raw. An id that no raw customers object holds and the register does
    not hold either raises UnknownPerson: the refusal is audited, nothing else is
    written. Refused (RunLocked) while a run holds the lake."""
    from olist_elt.run.lock import run_lock
    from olist_elt.security.erasure_raw import erase_from_raw

    audit = AuditLog(settings.audit_path)
    customer_unique_id = customer_unique_id.strip()
    if not customer_unique_id:
        raise SecurityError("the customer_unique_id to erase is empty: give it as in the export")
    naming, searched = raw_objects_naming(
        open_storage(settings, "svc-transformer"), customer_unique_id
    )
    if not naming and not _already_erased(settings, audit, customer_unique_id, requested_by):
        audit.append(requested_by, "erasure.request", "unknown id", "refused", objects=searched)
        raise UnknownPerson(searched)
    # raw objects are replaced and deleted: not under a run that may be reading them
    # (RunLocked, naming the run, when one holds the lake; nothing written yet)
    with run_lock(settings, f"erasure {secrets.token_hex(3)}"):
        pseudonym, added = request_erasure(
            settings.lake_dir, open_vault(settings, audit), audit, customer_unique_id, requested_by
        )
        return pseudonym, added, erase_from_raw(settings, customer_unique_id, pseudonym)


def _already_erased(
    settings: Settings, audit: AuditLog, customer_unique_id: str, requested_by: str
) -> bool:
    """Whether the register holds this person (whose raw rows may be gone already)."""
    if not register_path(settings.lake_dir).exists():
        return False
    erased = erased_pseudonyms(settings.lake_dir)
    if not erased:
        return False
    key = open_vault(settings, audit).get(PII_KEY_NAME, actor=requested_by)
    return keyed_pseudonym(key, customer_unique_id) in erased


def raw_objects_naming(storage: Storage, customer_unique_id: str) -> tuple[list[str], int]:
    """The raw customers objects (any zone, any status but erased: their bytes are
    gone) with a row for this person, and how many were searched."""
    records = [
        r
        for r in Manifest(storage).records(PERSON_SOURCE)
        if r.dataset == PERSON_DATASET and r.status != "erased"
    ]
    needle = customer_unique_id.encode("utf-8")
    naming = []
    for record in records:
        data = storage.read_bytes(record.object_key)
        if needle in data and _has_person(data, customer_unique_id):
            naming.append(record.object_key)
    return naming, len(records)


def _has_person(data: bytes, customer_unique_id: str) -> bool:
    """Whether a customers CSV has a row whose customer_unique_id is this one."""
    rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return any((row.get(PERSON_COLUMN) or "").strip() == customer_unique_id for row in rows)


def register_digest(lake_dir: Path) -> str:
    """A hash of the register: a run compares it with the last good run's."""
    return hashlib.sha256(ensure_register(lake_dir).read_bytes()).hexdigest()
