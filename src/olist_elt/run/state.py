"""Incremental state of the lake between runs: what the last good run saw (its
fingerprint), whether the next build must be a full refresh and why, and which raw
objects each incremental bronze model has not read yet."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from olist_elt.lake.manifest import ManifestRecord
from olist_elt.lake.storage import LocalStorage
from olist_elt.security.erasure import ensure_register, register_digest, register_path
from olist_elt.settings import Settings

FULL_REFRESH_MARKER = "runs/_full_refresh_needed.json"
# what a good run records of what it left, for a later run with unchanged inputs
VERIFIED = ("served", "checksums", "lake", "freshness_hours", "reconciliation", "gold_layout")
LAST_SUCCESS = "runs/_last_success.json"


def require_full_refresh(settings: Settings, why: str) -> None:
    """Rows may have to leave the incremental tables (a rejected or readmitted batch,
    an erasure): the next build runs with --full-refresh. Each request is its own
    (the id): a run clears only the one it saw when it planned (clear_full_refresh)."""
    LocalStorage(settings.lake_dir).put_bytes(
        FULL_REFRESH_MARKER,
        json.dumps(
            {"why": why, "at": datetime.now(UTC).isoformat(), "id": secrets.token_hex(8)}
        ).encode(),
    )


def full_refresh_request(settings: Settings) -> bytes | None:
    """The pending full-refresh request as it stands (None: none), for the run that
    plans now to clear once its full refresh is published."""
    try:
        return (settings.lake_dir / FULL_REFRESH_MARKER).read_bytes()
    except FileNotFoundError:
        return None


def requests_now(settings: Settings) -> tuple[bytes | None, str]:
    """The full-refresh request and the erasure register's digest as they stand: what
    a build that starts now covers (a request or an erasure made later it does not)."""
    return full_refresh_request(settings), register_digest(settings.lake_dir)


def full_refresh_reason(settings: Settings) -> str | None:
    """Why the next build must be a full refresh, if it must."""
    request = full_refresh_request(settings)
    if request is None:
        return None
    return str(json.loads(request).get("why", "requested"))


def clear_full_refresh(settings: Settings, seen: bytes | None) -> None:
    """A full refresh went through: the request the run saw when it planned (seen) is
    done. A request made since (a readmission or a rejection by an operator while the
    run built) is not: it stays for the next run. The request is taken away first
    (a rename), so one written meanwhile is never removed with it."""
    if seen is None:
        return
    path = settings.lake_dir / FULL_REFRESH_MARKER
    taken = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        os.rename(path, taken)
    except FileNotFoundError:
        return
    try:
        if taken.read_bytes() != seen:
            # not the one this run planned with: put back, unless a newer one is there
            with contextlib.suppress(FileExistsError):
                os.link(taken, path)
    finally:
        taken.unlink()


def project_fingerprint(settings: Settings) -> str:
    """A hash of the transformation logic: the dbt project, profiles and contracts.
    When it changes, incremental tables are rebuilt from raw (old rows were computed
    by the old logic). Each file counts by its name inside its folder and its bytes,
    not by where the folder is: the same project checked out elsewhere is the same
    logic."""
    digest = hashlib.sha256()
    project = settings.dbt_project_dir
    contracts = settings.soda_contracts_dir
    files = [
        ("dbt_project", project, project / "dbt_project.yml"),
        ("dbt_project", project, project / "selectors.yml"),
        ("profiles", settings.profiles_dir, settings.profiles_dir / "profiles.yml"),
    ]
    for folder in ("models", "macros", "seeds", "snapshots", "tests"):
        found = sorted(p for p in (project / folder).rglob("*") if p.is_file())
        files += [("dbt_project", project, p) for p in found]
    files += [("contracts", contracts, p) for p in sorted(contracts.rglob("*")) if p.is_file()]
    for label, root, path in files:
        if path.exists():
            digest.update(f"{label}/{path.relative_to(root).as_posix()}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_fingerprint(settings: Settings, records: list[ManifestRecord], project: str) -> str:
    """A hash of everything a build depends on: the raw objects (manifest records), the
    erasure register, the dbt project and contracts (project_fingerprint), the target,
    the as-of date and whether the API connectors (and their models) are on."""
    ensure_register(settings.lake_dir)  # dbt creates it too; exist before hashing
    # the APIs switched off switch their models off: another build
    apis = settings.apis != "off"
    digest = hashlib.sha256(f"{settings.target}/{settings.as_of}/apis={apis}".encode())
    for r in sorted(records, key=lambda r: r.sha256):
        digest.update(f"{r.source}/{r.dataset}/{r.sha256}/{r.status}/{r.object_key}".encode())
    register = register_path(settings.lake_dir)
    if register.exists():
        digest.update(register.read_bytes())
    digest.update(project.encode())
    return digest.hexdigest()


def last_success(settings: Settings) -> dict[str, Any] | None:
    """The fingerprint of the last successful run, if any."""
    path = settings.lake_dir / LAST_SUCCESS
    return json.loads(path.read_text()) if path.exists() else None


def save_success(
    settings: Settings,
    run_id: str,
    fingerprint: str,
    project: str,
    erasures: str,
    objects: list[str],
    verified: dict[str, Any],
    fixed_rows: str | None = None,
) -> None:
    """Remember what a successful run built from (objects: the raw objects' sha256;
    erasures: the erasure register's digest when it planned, so a person erased while
    it built is erased by the next build) and what it left (verified, the VERIFIED
    keys): gold's row counts (served) and content checksums per table, the lake
    layers' row counts, each source's freshness limit, the reconciliation and gold's
    staging layout. A run with unchanged inputs compares the lake and the served gold
    with these instead of building and gating again. fixed_rows: the key under which
    the tests of fixed rows passed (run.fixed_rows), None when the run stands for no
    such pass."""
    LocalStorage(settings.lake_dir).put_bytes(
        LAST_SUCCESS,
        json.dumps(
            {
                "fingerprint": fingerprint,
                "project": project,
                "erasures": erasures,
                "objects": sorted(objects),
                **verified,
                "run_id": run_id,
                "target": settings.target,
                "fixed_rows": fixed_rows,
            }
        ).encode(),
    )


def refresh_reason(
    settings: Settings, previous: dict[str, Any] | None, project: str, requested: bool
) -> str | None:
    """Why this build must read all of raw again, if it must: asked for, a pending
    reason (a rejected or readmitted batch), changed transformation logic, or a new
    erasure (the person's rows must leave the incremental tables)."""
    if requested:
        return "requested"
    pending = full_refresh_reason(settings)
    if pending or previous is None:
        return pending
    if previous.get("project") != project:
        return f"the dbt project changed since run {previous.get('run_id')}"
    if previous.get("erasures", register_digest(settings.lake_dir)) != register_digest(
        settings.lake_dir
    ):
        return f"the erasure register changed since run {previous.get('run_id')}"
    return None


def gold_changed_since(
    settings: Settings, previous: dict[str, Any] | None, records: list[ManifestRecord]
) -> str | None:
    """When the newest raw object the last good build read was ingested, if that build
    was on this target: incremental gold recomputes the orders changed after it (a
    failed run since then is recomputed too). None: every order is recomputed."""
    if previous is None or previous.get("target") != settings.target:
        return None
    built = set(previous.get("objects") or [])
    times = [r.ingested_at for r in records if r.sha256 in built]
    return max(times, key=datetime.fromisoformat) if times else None


def usable_records(settings: Settings, manifest: list[ManifestRecord]) -> list[ManifestRecord]:
    """Accepted raw objects, ingested by the as-of date when a backfill sets one."""
    return [
        r
        for r in manifest
        if r.status == "accepted"
        and (settings.as_of is None or r.ingested_at[:10] <= settings.as_of.isoformat())
    ]


def unbuilt_records(settings: Settings, manifest: list[ManifestRecord]) -> list[ManifestRecord]:
    """Usable raw objects the last good run did not build from (all of them when no
    good run is known): what a build may read for the first time."""
    built = set((last_success(settings) or {}).get("objects") or [])
    return [r for r in usable_records(settings, manifest) if r.sha256 not in built]


def pending_objects(
    records: list[ManifestRecord],
    incremental: dict[str, tuple[str, str]],
    processed: dict[str, set[str]],
) -> dict[str, dict[str, int]]:
    """Per incremental bronze model: the raw objects (and their rows) a build reads,
    i.e. usable objects the model has not processed yet."""
    out: dict[str, dict[str, int]] = {}
    for model, (source, dataset) in incremental.items():
        todo = [
            r
            for r in records
            if (r.source, r.dataset) == (source, dataset)
            and r.sha256 not in processed.get(model, set())
        ]
        out[model] = {"objects": len(todo), "rows": sum(r.rows or 0 for r in todo)}
    return out
