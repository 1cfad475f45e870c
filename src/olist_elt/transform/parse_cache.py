"""dbt's parse kept across workspaces and fresh processes.

dbt saves its parse (partial_parse.msgpack) in the target folder and reuses it when
the project, vars, profile and dbt version are unchanged. Each lake, warehouse or
test workspace has its own target folder, so each paid a full parse. The parse
cache keeps one parse per dbt version, project folder, target and vars in a private
folder (`OLIST_DBT_PARSE_CACHE`), seeds a workspace that has none, and lets dbt
check it as it checks its own.

The folder keeps the parses and the fixed-row records (run/fixed_rows.py) used last,
a bounded number of each: every project folder makes parses of its own (about 1 MiB
each), so the copies of throwaway checkouts (a test's copy of the project, a clone
tried once) would otherwise pile up for good.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from olist_elt.lake.private import FILE_MODE, private_dirs
from olist_elt.settings import Settings

log = logging.getLogger(__name__)

# How many of each kind of entry the folder keeps, the ones used last: each checkout,
# target and set of vars has a parse (two checkouts, the four pipeline targets, the
# APIs and the stream each on or off: 32); a record is an empty file.
KEEP_PARSES = 32
KEEP_RECORDS = 256
RECORD_PREFIX = "fixed-rows-passed-"
# a scratch copy older than this was left by a process that died while writing it
SCRATCH_SECONDS = 24 * 3600


def cached_parse(settings: Settings, dbt_vars: dict[str, Any]) -> Path | None:
    """Where this project's parse is kept for every workspace (by dbt version,
    project folder, target and vars), or None when the cache is off."""
    from dbt.version import __version__

    if settings.dbt_parse_cache is None:
        return None
    key = json.dumps(
        [__version__, str(settings.dbt_project_dir), settings.target, dbt_vars],
        sort_keys=True,
        default=str,
    )
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return settings.dbt_parse_cache / f"{name}.msgpack"


def seed(cached: Path | None, saved: Path) -> None:
    """Start a workspace with no parse of its own from the kept one (marked used).
    A cache that cannot be read is no cache: dbt parses the project."""
    if cached is None or saved.exists():
        return
    private_dirs(saved.parent)
    try:
        shutil.copyfile(cached, saved)
        saved.chmod(FILE_MODE)  # the workspace's dbt target is its owner's only
    except FileNotFoundError:  # none kept, or pruned by another process meanwhile
        saved.unlink(missing_ok=True)
        return
    except OSError as exc:  # a cache, never the run's outcome
        saved.unlink(missing_ok=True)  # no half copy for dbt to read
        log.warning("dbt's kept parse not read from %s (%s): dbt parses", cached.parent, exc)
        return
    touch(cached)


def keep(saved: Path, cached: Path | None) -> None:
    """Copy a parse into the cache (private folder, replaced atomically): another
    process reads the old parse or the new one, never half of one. The entry counts
    as used now, and the folder is pruned to the entries used last. A cache that
    cannot be written is logged, never a failure of the run."""
    if cached is None or not saved.is_file():
        return
    try:
        _keep(saved, cached)
    except OSError as exc:
        log.warning("dbt's parse not kept in %s: %s", cached.parent, exc)


def _keep(saved: Path, cached: Path) -> None:
    try:
        same = cached.read_bytes() == saved.read_bytes()
    except FileNotFoundError:
        same = False
    if same:
        touch(cached)
    else:
        cached.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = cached.with_name(f".{cached.name}.{os.getpid()}")
        try:
            shutil.copyfile(saved, scratch)
            os.replace(scratch, cached)
        finally:
            scratch.unlink(missing_ok=True)
    prune(cached.parent)


def touch(entry: Path) -> None:
    """Mark a cache entry used now: the folder keeps those used last."""
    with contextlib.suppress(OSError):
        os.utime(entry)


def prune(folder: Path) -> None:
    """Keep the KEEP_PARSES parses and the KEEP_RECORDS fixed-row records used last,
    and remove the others and any scratch copy a killed process left. Two processes
    may prune at once, or one seed from an entry the other removes: a parse that is
    gone is parsed again, a record that is gone runs the tests of fixed rows again."""
    try:
        entries = [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return

    def used(entry: os.DirEntry[str]) -> float:
        try:
            return entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            return 0.0

    def past(kept: int, match: list[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
        """The entries past the `kept` used last."""
        return sorted(match, key=used, reverse=True)[kept:]

    now = time.time()
    scratch = [e for e in entries if e.name.startswith(".")]
    parses = [e for e in entries if e.name[0] != "." and e.name.endswith(".msgpack")]
    records = [e for e in entries if e.name.startswith(RECORD_PREFIX)]
    stale = [
        *past(KEEP_PARSES, parses),
        *past(KEEP_RECORDS, records),
        *(e for e in scratch if now - used(e) > SCRATCH_SECONDS),
    ]
    for entry in stale:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _workspace_free(value: Any) -> Any:
    """A profile value with every absolute path cut to its last part."""
    if isinstance(value, str) and os.path.isabs(value):
        return "<workspace>/" + os.path.basename(value)
    if isinstance(value, dict):
        return {k: _workspace_free(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_workspace_free(v) for v in value]
    return value


def portable_partial_parse() -> None:
    """Let a parse made in one workspace serve another.

    dbt reuses a saved parse only for the profile it was made with, and it hashes the
    profile's connection values whole: the DuckDB file's and the vault's folders too,
    so every new lake or warehouse parsed the whole project again. The folders never
    shape a parse (the database name, the file's last part, still does); what the
    models read from the environment (the lake's location in the sources) dbt tracks
    file by file and parses again where it changed. So the profile's hash is taken
    without them. The project's own folder does count: a parse keeps each seed's
    absolute path (dbt-duckdb loads the CSV from there), and dbt does not compare it,
    so a checkout moved elsewhere built from the old folder, or failed once it was
    gone. The project's files, vars, target and dbt version are checked by dbt as
    before. Idempotent."""
    import pprint

    from dbt.artifacts.resources import FileHash
    from dbt.parser.manifest import ManifestLoader

    original = ManifestLoader.build_manifest_state_check
    if getattr(original, "_workspace_free", False):
        return

    def build_manifest_state_check(loader: Any) -> Any:
        state = original(loader)
        keys = sorted(
            (key, _workspace_free(value))
            for key, value in loader.root_project.credentials.connection_info()
        )
        keys.append(("project_root", loader.root_project.project_root))
        state.profile_hash = FileHash.from_contents(pprint.pformat(keys))
        return state

    build_manifest_state_check._workspace_free = True  # type: ignore[attr-defined]
    ManifestLoader.build_manifest_state_check = build_manifest_state_check  # type: ignore[method-assign]
