"""One command in a child process, timed: wall seconds and the CPU seconds of the
child and the processes it waited for; an `olist-elt run` with the run record it wrote."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Timed:
    """A finished command: its outcome, wall and CPU seconds."""

    done: subprocess.CompletedProcess[str]
    wall_s: float
    cpu_s: float


def timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Timed:
    """Run argv (output captured as text) and time it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Timed(done, wall, cpu)


def olist_run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[Timed, dict[str, Any]]:
    """One `olist-elt run` in a fresh process, timed, and the run record it wrote in
    cwd's lake; exits naming the error when the run fails."""
    run = timed([sys.executable, "-m", "olist_elt", "run", *args], env, cwd)
    if run.done.returncode != 0:
        raise SystemExit(f"run {' '.join(args)} failed:\n{run.done.stderr[-3000:]}")
    records = (cwd / "lake" / "runs").glob("2*.json")
    return run, json.loads(max(records, key=os.path.getmtime).read_text())
