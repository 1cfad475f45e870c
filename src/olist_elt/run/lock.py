"""One run at a time per lake: an exclusive lock on runs/_run.lock, held for the whole
run (a backfill's days included), released by the system when the process ends, so
a killed run never leaves a stale lock. The holder's pid, run id and start time are
in the file for the message a refused run prints."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from olist_elt.errors import OlistEltError
from olist_elt.run.record import utc_now
from olist_elt.settings import Settings

LOCK = Path("runs") / "_run.lock"
# Seconds between two tries of a lock a caller waits for.
POLL_SECONDS = 5.0


@dataclass
class _Hold:
    """The lock this process holds on one lake: the open file (the lock itself) and
    what the file says."""

    fh: IO[str]
    who: dict[str, str]

    def write(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(json.dumps(self.who))
        self.fh.flush()


# Locks this process holds: a backfill's daily runs and an erasure's rebuild re-enter it.
_held: dict[Path, _Hold] = {}


class RunLocked(OlistEltError):
    """Another run holds the lake."""


def lock_path(settings: Settings) -> Path:
    """Where the lake's run lock lives."""
    return settings.lake_dir / LOCK


def holder(settings: Settings) -> dict[str, str] | None:
    """Who holds the lock right now, or None when nobody does: the holder's run_id
    (a backfill, an erasure, a run), and in `current` the run inside it, if any."""
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


def live_runs(settings: Settings) -> set[str]:
    """The run ids a live process holds the lake for: the holder's, and the run inside
    it (a backfill's day, an erasure's rebuild). A run recorded as running that is not
    among them was interrupted."""
    who = holder(settings) or {}
    return {v for v in (who.get("run_id"), who.get("current")) if v}


@contextmanager
def run_lock(settings: Settings, run_id: str, wait: float = 0) -> Iterator[None]:
    """Hold the lake's run lock, or raise RunLocked naming who holds it (after up to
    `wait` seconds of trying again). Re-entered by this process (a backfill's days),
    the file names the inner run as `current` while it runs."""
    path = lock_path(settings)
    hold = _held.get(path)
    if hold is not None:
        outer = hold.who.get("current")
        hold.who["current"] = run_id
        hold.write()
        try:
            yield
        finally:
            if outer is None:
                hold.who.pop("current", None)
            else:
                hold.who["current"] = outer
            hold.write()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 (held until the run ends)
    try:
        _acquire(fh, settings, wait)
        hold = _Hold(
            fh,
            {
                "run_id": run_id,
                "pid": str(os.getpid()),
                "host": socket.gethostname(),
                "started_at": utc_now(),
            },
        )
        hold.write()
        _held[path] = hold
        try:
            yield
        finally:
            _held.pop(path, None)
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


def _acquire(fh: IO[str], settings: Settings, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.05)))
    fh.seek(0)
    try:
        who = json.loads(fh.read() or "{}")
    except json.JSONDecodeError:
        who = {}
    inside = f", now {who['current']}" if who.get("current") else ""
    waited = f" (waited {wait:.0f} s)" if wait else ""
    raise RunLocked(
        f"another run holds the lake {settings.lake_dir}: run {who.get('run_id', '?')}{inside}"
        f" (pid {who.get('pid', '?')} on {who.get('host', '?')}, started "
        f"{who.get('started_at', '?')}){waited}; wait for it to end, or stop that process"
    )
