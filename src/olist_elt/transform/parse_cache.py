"""dbt's parse kept across workspaces and fresh processes.

dbt saves its parse (partial_parse.msgpack) in the target folder and reuses it when
the project, vars, profile and dbt version are unchanged. Each lake, warehouse or
test workspace has its own target folder, so each paid a full parse. The parse
cache keeps one parse per dbt version, project folder, target and vars in a private
folder (`OLIST_DBT_PARSE_CACHE`), seeds a workspace that has none, and lets dbt
check it as it checks its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from olist_elt.settings import Settings


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
    """Start a workspace with no parse of its own from the kept one."""
    if cached is not None and cached.is_file() and not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, saved)


def keep(saved: Path, cached: Path | None) -> None:
    """Copy a parse into the cache (private folder, replaced atomically): another
    process reads the old parse or the new one, never half of one."""
    if cached is None or not saved.is_file():
        return
    if cached.is_file() and cached.read_bytes() == saved.read_bytes():
        return
    cached.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = cached.with_name(f".{cached.name}.{os.getpid()}")
    shutil.copyfile(saved, scratch)
    os.replace(scratch, cached)


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
