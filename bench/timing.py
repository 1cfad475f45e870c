"""One command in a child process, timed: wall seconds and the CPU seconds of the
child and the processes it waited for."""

from __future__ import annotations

import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


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
