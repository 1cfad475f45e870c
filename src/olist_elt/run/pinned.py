"""The raw zone as one run builds it: the manifest's records as the run read them,
cut at that moment (lake_as_of). An object another process lands meanwhile (a
connector's own deployment, `olist-elt ingest`, the stream) waits for the next run,
whose bronze reads it (the lake dbt's var lake_as_of cuts bronze's reads and its
test of the manifest's rows the same way); a record changed meanwhile (`raw reject`,
`raw readmit`, which go ahead beside a run) makes a failing build the lake's
failure, never the data's: nothing is tried or rejected for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from olist_elt.errors import InfrastructureFailed
from olist_elt.lake.manifest import ManifestRecord
from olist_elt.run.inputs import lake_manifest

if TYPE_CHECKING:
    from olist_elt.run.context import RunContext

AS_OF_VAR = "lake_as_of"


class LakeChangedDuringRun(InfrastructureFailed):
    """Raw objects' records changed while the run built from them."""


def _ingested(record: ManifestRecord) -> datetime:
    """When a record says its object was landed, in UTC without a zone."""
    at = datetime.fromisoformat(record.ingested_at)
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _records_by(ctx: RunContext, as_of: datetime) -> list[ManifestRecord]:
    """The manifest's records of objects ingested by as_of, read now."""
    return [r for r in lake_manifest(ctx.settings).records() if _ingested(r) <= as_of]


def read_lake(ctx: RunContext, as_of: datetime | None = None) -> None:
    """The manifest's records ingested by now (or by as_of: the run's cut, when it
    reads them again after a rejection), as the run's (ctx.records), and that moment
    as the lake dbt's lake_as_of: what lands after it is left to the next run, whose
    read-back checks it."""
    as_of = as_of or datetime.now(UTC).replace(tzinfo=None)
    ctx.records = _records_by(ctx, as_of)
    ctx.lake_as_of = as_of
    ctx.target.lake_dbt.runtime_vars[AS_OF_VAR] = as_of.isoformat(sep=" ")


def raise_if_lake_changed(ctx: RunContext, failure: Exception) -> None:
    """LakeChangedDuringRun when the records by the run's lake_as_of are not the ones
    it read (their status changed, one was added or removed): the build's failure
    may be that change, not the data."""
    if ctx.lake_as_of is None:
        return
    now = {(r.sha256, r.status) for r in _records_by(ctx, ctx.lake_as_of)}
    changed = {sha for sha, _ in now ^ {(r.sha256, r.status) for r in ctx.records}}
    if changed:
        raise LakeChangedDuringRun(
            f"{len(changed)} raw object(s) were landed, rejected, readmitted or erased "
            f"by another process while this run built ({type(failure).__name__} "
            "followed): the raw zone changed under the build, so nothing was tried or "
            "rejected; the next run builds from the lake as it is then"
        ) from failure
