"""Erasure reaches raw (and so bronze): immutability gives way to the law, visibly.

For one person (a customer_unique_id) every raw Olist object that holds them gets a
new version through the raw writer, and the old one is deleted:
- customers objects lose the person's rows;
- orders objects keep every order (amounts and totals must not change), but the
  person's customer_ids become the anonymous member's id (`erased-customer`, the dbt
  var erased_customer_id silver already uses);
- order_reviews objects keep the scores and dates of the person's orders, their
  comment title and message are blanked.
The manifest keeps the lineage (the new record `supersedes` the old sha256, the old
one turns `erased` with `superseded_by`), the old bytes are purged (every version on
a bucket), quarantined and landed copies that hold the person are deleted, and the
audit log gets one record per object: pseudonym, sha256s and counts, never a value.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from olist_elt.lake.manifest import Manifest, ManifestRecord
from olist_elt.lake.quarantine import REASON_SUFFIX
from olist_elt.lake.raw import RawWriter
from olist_elt.lake.storage import Storage, open_storage
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings

log = logging.getLogger(__name__)
ACTOR = "svc-erasure"
SOURCE = "olist"
ERASED_CUSTOMER_ID = "erased-customer"  # = dbt var erased_customer_id
REVIEW_TEXTS = ("review_comment_title", "review_comment_message")

Row = dict[str, str]


@dataclass(frozen=True)
class Rewrite:
    """One raw object replaced by a version without the person."""

    dataset: str
    old_sha256: str
    new_sha256: str
    rows_removed: int
    rows_changed: int


@dataclass
class Person:
    """What names one person in raw: their customer_ids and their orders."""

    unique_id: str
    customer_ids: set[str] = field(default_factory=set)
    order_ids: set[str] = field(default_factory=set)

    def needles(self) -> list[bytes]:
        """Every value whose bytes mark a file as holding the person."""
        values = {self.unique_id} | self.customer_ids | self.order_ids
        return [v.encode("utf-8") for v in sorted(values) if v]


def csv_records(text: str) -> list[str]:
    """A CSV text cut into records, each with its own line ending (a quoted field may
    hold line breaks), so untouched records are written back byte for byte."""
    records: list[str] = []
    current, quotes = "", 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        piece = line if i == len(lines) - 1 else line + "\n"
        if not piece:
            continue
        current += piece
        quotes += piece.count('"')
        if quotes % 2 == 0:
            records.append(current)
            current, quotes = "", 0
    if current:
        records.append(current)
    return records


def _fields(record: str) -> list[str]:
    """The values of one CSV record."""
    return next(csv.reader(io.StringIO(record, newline="")), [])


def _render(values: list[str], like: str) -> str:
    """One record written back as the one it replaces was (quoting, line ending)."""
    out = io.StringIO()
    quoting = csv.QUOTE_ALL if like.startswith('"') else csv.QUOTE_MINIMAL
    csv.writer(out, lineterminator="\n", quoting=quoting).writerow(values)
    ending = like[len(like.rstrip("\r\n")) :]
    return out.getvalue()[:-1] + ending


def rewrite_csv(data: bytes, change: Callable[[Row], Row | None]) -> tuple[bytes, int, int] | None:
    """The CSV with change() applied to each row (None drops the row); returns (bytes,
    rows removed, rows changed), or None when no row changed."""
    records = csv_records(data.decode("utf-8"))
    if not records:
        return None
    header = [name.lstrip("\ufeff").strip() for name in _fields(records[0])]
    out, removed, changed = [records[0]], 0, 0
    for record in records[1:]:
        if not record.strip():
            out.append(record)
            continue
        row = dict(zip(header, _fields(record), strict=False))
        new = change(row)
        if new is None:
            removed += 1
        elif new != row:
            changed += 1
            out.append(_render([new.get(name, "") for name in header], record))
        else:
            out.append(record)
    if not removed and not changed:
        return None
    return "".join(out).encode("utf-8"), removed, changed


def _rows(data: bytes) -> Iterable[Row]:
    """The rows of a raw CSV object."""
    return csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))


class RawEraser:
    """Finds one person in the raw Olist objects and writes versions without them."""

    def __init__(self, storage: Storage, audit: AuditLog) -> None:
        self.storage = storage
        self.audit = audit
        self.manifest = Manifest(storage)
        self.records = [r for r in self.manifest.records(SOURCE) if r.status != "erased"]

    def _objects(
        self, dataset: str, needles: list[bytes]
    ) -> Iterable[tuple[ManifestRecord, bytes]]:
        """The data set's live objects whose bytes contain one of the needles."""
        for record in self.records:
            if record.dataset != dataset or not needles:
                continue
            if not self.storage.exists(record.object_key):
                continue
            data = self.storage.read_bytes(record.object_key)
            if any(n in data for n in needles):
                yield record, data

    def find(self, unique_id: str) -> Person:
        """The person's customer_ids (customers objects), then their orders."""
        person = Person(unique_id)
        for _, data in self._objects("customers", [unique_id.encode("utf-8")]):
            person.customer_ids |= {
                r["customer_id"] for r in _rows(data) if r.get("customer_unique_id") == unique_id
            }
        ids = [c.encode("utf-8") for c in sorted(person.customer_ids)]
        for _, data in self._objects("orders", ids):
            person.order_ids |= {
                r["order_id"] for r in _rows(data) if r.get("customer_id") in person.customer_ids
            }
        return person

    def plan(self, person: Person) -> list[tuple[ManifestRecord, bytes, int, int]]:
        """Every object to replace, with its new bytes and counts."""

        def customers(row: Row) -> Row | None:
            return None if row.get("customer_unique_id") == person.unique_id else row

        def orders(row: Row) -> Row | None:
            if row.get("customer_id") in person.customer_ids:
                return {**row, "customer_id": ERASED_CUSTOMER_ID}
            return row

        def reviews(row: Row) -> Row | None:
            if row.get("order_id") in person.order_ids:
                return {**row, **dict.fromkeys(REVIEW_TEXTS, "")}
            return row

        steps = (
            ("customers", [person.unique_id], customers),
            ("orders", sorted(person.customer_ids), orders),
            ("order_reviews", sorted(person.order_ids), reviews),
        )
        planned = []
        for dataset, values, change in steps:
            needles = [v.encode("utf-8") for v in values]
            for record, data in self._objects(dataset, needles):
                new = rewrite_csv(data, change)
                if new is not None:
                    planned.append((record, *new))
        return planned

    def replace(
        self, old: ManifestRecord, data: bytes, removed: int, changed: int, pseudonym: str
    ) -> Rewrite:
        """Write the new version, supersede the old record, purge the old bytes; audited."""
        writer = RawWriter(self.storage, self.audit)
        at = datetime.now(UTC).isoformat(timespec="seconds")
        new = writer.write_version(old, data, (old.rows or 0) - removed, ACTOR, at)
        self.storage.purge(old.object_key)
        self.audit.append(
            ACTOR,
            "erasure.raw",
            old.object_key,
            "erased",
            person=pseudonym,
            old_sha256=old.sha256,
            new_sha256=new.sha256,
            rows_removed=removed,
            rows_changed=changed,
        )
        log.info(
            "erasure: %s %s -> %s (%d rows removed, %d changed)",
            old.dataset,
            old.sha256[:12],
            new.sha256[:12],
            removed,
            changed,
        )
        return Rewrite(old.dataset, old.sha256, new.sha256, removed, changed)

    def purge_quarantine(self, person: Person, pseudonym: str) -> int:
        """Delete refused files (and their reasons) that hold the person; audited. Every
        key is read, reasons too: a lake quarantined before input named like a reason
        was kept apart (quarantine.REASON_SUFFIX) may hold such a file among them."""
        needles = person.needles()
        purged = 0
        for key in list(self.storage.list(f"quarantine/{SOURCE}")):
            if not self.storage.exists(key):  # a reason purged with its file
                continue
            data = self.storage.read_bytes(key)
            if any(n in data for n in needles):
                self.storage.purge(key)
                if not key.endswith(REASON_SUFFIX):
                    self.storage.purge(f"{key}{REASON_SUFFIX}")
                self.audit.append(ACTOR, "erasure.quarantine", key, "deleted", person=pseudonym)
                purged += 1
        return purged


def purge_landing(settings: Settings, person: Person, audit: AuditLog, pseudonym: str) -> int:
    """Delete files in the lake's own landing folder that hold the person; audited
    (input the operator keeps outside the lake is theirs to handle)."""
    landing = settings.lake_dir / "landing"
    if not landing.is_dir():
        return 0
    needles = person.needles()
    purged = 0
    for path in sorted(p for p in landing.rglob("*") if p.is_file() and not p.is_symlink()):
        if any(n in path.read_bytes() for n in needles):
            path.unlink()
            key = path.relative_to(settings.lake_dir).as_posix()
            audit.append(ACTOR, "erasure.landing", key, "deleted", person=pseudonym)
            purged += 1
    return purged


def erase_from_raw(settings: Settings, customer_unique_id: str, pseudonym: str) -> list[Rewrite]:
    """Replace every raw object holding the person by a version without them, delete
    the old bytes and the person's quarantined and landed copies; the next build is a
    full refresh (bronze keeps no row of the old objects)."""
    from olist_elt.run.state import require_full_refresh

    audit = AuditLog(settings.audit_path)
    eraser = RawEraser(open_storage(settings, ACTOR), audit)
    person = eraser.find(customer_unique_id)
    rewrites = [eraser.replace(*planned, pseudonym) for planned in eraser.plan(person)]
    purged = eraser.purge_quarantine(person, pseudonym)
    purged += purge_landing(settings, person, audit, pseudonym)
    if rewrites or purged:
        require_full_refresh(settings, f"an erasure rewrote {len(rewrites)} raw object(s)")
    return rewrites
