"""One run at a time per lake: an exclusive lock on runs/_run.lock, held for the whole
run (a backfill's days included), released by the system when the process ends, so
a killed run never leaves a stale lock. The holder's pid, run id and start time are
in the file for the message a refused run prints."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from olist_elt.errors import OlistEltError
from olist_elt.run.record import utc_now
from olist_elt.settings import Settings

LOCK = Path("runs") / "_run.lock"
# Locks this process holds (path -> depth): a backfill's daily runs re-enter it.
_held: dict[Path, int] = {}


class RunLocked(OlistEltError):
    """Another run holds the lake."""


def lock_path(settings: Settings) -> Path:
    """Where the lake's run lock lives."""
    return settings.lake_dir / LOCK


def holder(settings: Settings) -> dict[str, str] | None:
    """Who holds the lock right now, or None when nobody does."""
    path = lock_path(settings)
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                return dict(json.loads(fh.read() or "{}"))
            except json.JSONDecodeError:
                return {}
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


@contextmanager
def run_lock(settings: Settings, run_id: str) -> Iterator[None]:
    """Hold the lake's run lock, or raise RunLocked naming who holds it."""
    path = lock_path(settings)
    if _held.get(path):
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 (held until the run ends)
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                who = json.loads(fh.read() or "{}")
            except json.JSONDecodeError:
                who = {}
            raise RunLocked(
                f"another run holds the lake {settings.lake_dir}: run {who.get('run_id', '?')}"
                f" (pid {who.get('pid', '?')} on {who.get('host', '?')}, started "
                f"{who.get('started_at', '?')}); wait for it to end, or stop that process"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(
            json.dumps(
                {
                    "run_id": run_id,
                    "pid": str(os.getpid()),
                    "host": socket.gethostname(),
                    "started_at": utc_now(),
                }
            )
        )
        fh.flush()
        _held[path] = 1
        try:
            yield
        finally:
            _held.pop(path, None)
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()
