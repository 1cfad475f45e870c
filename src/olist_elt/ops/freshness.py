"""Data freshness per source: the age of its latest accepted raw object against the
maximum age its dbt sources yml sets (`error_after`, read from the parsed project:
the thresholds `dbt source freshness` checks)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from olist_elt.errors import OlistEltError
from olist_elt.lake.manifest import ManifestRecord
from olist_elt.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SourceFreshness:
    """One source's latest raw data and whether it is too old."""

    source: str
    latest_ingested_at: str | None
    age_hours: float | None
    max_age_hours: float
    status: str  # fresh | stale | missing

    def describe(self) -> str:
        if self.status == "missing":
            return f"{self.source}: no accepted raw data at all (max age {self.max_age_hours:g}h)"
        return (
            f"{self.source}: latest raw data {self.age_hours:.1f}h old "
            f"(max {self.max_age_hours:g}h), ingested {self.latest_ingested_at}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SourcesStale(OlistEltError):
    """A source's latest raw data is older than its maximum age."""

    def __init__(self, stale: list[SourceFreshness]) -> None:
        self.stale = stale
        super().__init__(
            "stale source(s): "
            + "; ".join(s.describe() for s in stale)
            + " (check the connector's schedule and last runs; "
            "OLIST_FRESHNESS_ON_STALE=warn reports without failing)"
        )


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def source_freshness(
    records: list[ManifestRecord],
    max_age_hours: dict[str, float],
    now: datetime | None = None,
) -> list[SourceFreshness]:
    """Freshness of each source named in max_age_hours."""
    now = now or datetime.now(UTC)
    out = []
    for source, max_age in sorted(max_age_hours.items()):
        times = [
            _parse(r.ingested_at)
            for r in records
            if r.source == source and r.status == "accepted" and r.ingested_at
        ]
        if not times:
            out.append(SourceFreshness(source, None, None, max_age, "missing"))
            continue
        latest = max(times)
        age = (now - latest).total_seconds() / 3600
        out.append(
            SourceFreshness(
                source,
                latest.isoformat(timespec="seconds"),
                round(age, 3),
                max_age,
                "stale" if age > max_age else "fresh",
            )
        )
    return out


def check_freshness(
    settings: Settings,
    summary: Any,
    records: list[ManifestRecord],
    sample_source: bool,
    max_age_hours: dict[str, float],
) -> list[SourceFreshness]:
    """Freshness of every source with a maximum age, kept in the run's summary. The
    generated sample and the offline API answers are reported as 'sample', not
    judged; a stale live source fails the run unless OLIST_FRESHNESS_ON_STALE=warn."""
    not_judged = {"olist"} if sample_source else set()
    if settings.apis != "live":
        not_judged |= {"bcb", "openweather"}
    found = source_freshness(records, max_age_hours)
    for item in found:
        if item.source in not_judged:
            item.status = "sample" if item.latest_ingested_at else "off"
    summary.freshness = [f.to_dict() for f in found]
    stale = [f for f in found if f.status in ("stale", "missing")]
    for item in stale:
        log.warning("stale source %s", item.describe())
    if stale and settings.freshness_on_stale == "fail":
        raise SourcesStale(stale)
    return found
