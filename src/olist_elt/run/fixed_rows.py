"""Whether a run must run the tests of fixed rows (dbt's unit tests, the seeds' tests).

Those tests read only rows written in the project, never the lake's data: the same
project, vars, target, engine versions and servers give the same answer every time.
A run runs them unless that answer is already known to be a pass, from its
workspace's last good run or from any good run of this user (a record per key
beside dbt's kept parse, so a new lake or warehouse does not run them again). An
analyst's `dbt build` runs them always.

The key takes the vars that shape parsing (Target.dbt_vars), not the run-time ones:
as_of_ingest_date (a backfill's day) only narrows which raw objects bronze's sources
read; no unit-tested model reads raw, and the unit tests put their own rows in place
of every ref and source.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from olist_elt.settings import Settings
from olist_elt.transform.parse_cache import RECORD_PREFIX, prune, touch

if TYPE_CHECKING:
    from olist_elt.targets import Target

# what a fixed-row test's answer can depend on besides the project: dbt, the
# adapters and the engines they drive (an upgrade runs the tests again)
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "dbt-postgres", "dbt-spark", "pyspark")

log = logging.getLogger(__name__)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def fixed_rows_key(target: Target, project: str) -> str:
    """What the fixed-row tests' answer depends on, hashed: the project (project:
    state.project_fingerprint), the vars that shape the models, the target and the
    servers it builds on, the versions of dbt and the engines."""
    key = json.dumps(
        {
            "project": project,
            "vars": target.dbt_vars(),
            "target": target.name,
            "servers": target.servers(),
            "versions": {p: _version(p) for p in PACKAGES},
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(key.encode()).hexdigest()


def _record(settings: Settings, key: str) -> Path | None:
    if settings.dbt_parse_cache is None:
        return None
    return settings.dbt_parse_cache / f"{RECORD_PREFIX}{key[:32]}"


def passed(settings: Settings, key: str, previous: dict[str, Any] | None) -> bool:
    """Whether the tests of fixed rows passed under this key: in the workspace's last
    good run (previous: its record), or in any good run of this user."""
    if previous is not None and previous.get("fixed_rows") == key:
        return True
    record = _record(settings, key)
    if record is None or not record.is_file():
        return False
    touch(record)  # used: kept when the cache folder is pruned
    return True


def remember_passed(settings: Settings, key: str) -> None:
    """Record that a good run passed the tests of fixed rows under this key: an empty
    file in the private cache folder (made in one step, so another process sees it or
    not, never half of it). A cache that cannot be written is logged, never a failure
    of the run."""
    record = _record(settings, key)
    if record is None:
        return
    try:
        record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        record.touch()
    except OSError as exc:  # a cache, not the run's outcome: the run stays good
        log.warning("could not record the fixed-row tests' pass in %s: %s", record.parent, exc)
        return
    prune(record.parent)
