"""dbt's manifest.json beside the pipeline's kept parse, written when that parse
changed, not on every run.

`dbt parse` wrote manifest.json (and semantic_manifest.json) on every run, the same
nodes again when nothing changed: about 0.2 s of every run that parses nothing
(a new day's). The pipeline's parse runs with --no-write-json, then writes them with
dbt's own writer unless a stamp beside them says they were written from the saved
parse dbt just used (partial_parse.msgpack, which dbt writes again whenever it parses
anything again) and are still the files written then. Their metadata
(invocation_id, generated_at) is that of the parse that wrote them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from olist_elt.lake.private import owner_only

log = logging.getLogger(__name__)

SAVED_PARSE = "partial_parse.msgpack"
# what dbt's writer writes, the one other tools read last
WRITTEN = ("semantic_manifest.json", "manifest.json")
STAMP = ".manifest-stamp.json"
SCRATCH_PREFIX = ".manifest-scratch-"
# a scratch folder older than this was left by a process killed while writing
SCRATCH_SECONDS = 3600


def _stamp(target: Path) -> dict[str, Any] | None:
    """The saved parse's digest and each written file's modification time and size;
    None when any is missing."""
    try:
        stamp: dict[str, Any] = {
            "parse": hashlib.sha256((target / SAVED_PARSE).read_bytes()).hexdigest()
        }
        for name in WRITTEN:
            st = (target / name).stat()
            stamp[name] = [st.st_mtime_ns, st.st_size]
    except FileNotFoundError:
        return None
    return stamp


def manifest_current(target: Path) -> bool:
    """Whether the target's manifest.json and semantic_manifest.json were written from
    its saved parse as it is now, and are unchanged since (another command writing
    them, a copy of the folder that did not keep their times, a write cut short all
    show). Never without a saved parse (partial parsing off) nor with
    DBT_PARTIAL_PARSE_FILE_PATH, where dbt reads its parse from elsewhere."""
    if os.environ.get("DBT_PARTIAL_PARSE_FILE_PATH"):
        return False
    try:
        kept = json.loads((target / STAMP).read_text())
    except (OSError, ValueError):
        return False
    now = _stamp(target)
    return now is not None and kept == now


def write_manifest(manifest: Any, target: Path) -> None:
    """dbt's manifest.json and semantic_manifest.json in the target folder, written by
    dbt's own writer, unless current (manifest_current). Each file is written whole
    beside it first and renamed into place, manifest.json last, then stamped: a write
    cut short leaves old files the stamp does not match, written again by the next
    parse. Their owner's only. A file that cannot be written (a full disk) is
    logged: the run uses the parse it holds, and the next parse tries again."""
    if manifest_current(target):
        return
    from dbt.parser.manifest import write_manifest as dbt_write_manifest

    _remove_old_scratch(target)
    try:
        with owner_only():
            scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=target))
            try:
                dbt_write_manifest(manifest, str(scratch))
                for name in WRITTEN:
                    os.replace(scratch / name, target / name)
                (scratch / STAMP).write_text(json.dumps(_stamp(target)))
                os.replace(scratch / STAMP, target / STAMP)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    except OSError as exc:
        log.warning("dbt's manifest.json not written in %s: %s", target, exc)


def _remove_old_scratch(target: Path) -> None:
    """The scratch folders a killed write left (an hour old or more)."""
    for folder in target.glob(f"{SCRATCH_PREFIX}*"):
        try:
            if folder.is_dir() and time.time() - folder.stat().st_mtime > SCRATCH_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
