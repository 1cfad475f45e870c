"""CPU seconds by kind of process while a command runs (`python -m bench --suite`).

Every process on the machine is read from /proc twice a second, not only the ones the
command waits for: Spark's JVMs leave the test's process group and the shared
PostgreSQL serves the tests from its own processes, so neither shows in the command's
own CPU time. A process that lives under half a second, and the CPU a process spends
between its last reading and its exit, are missed: each kind's figure is a lower
bound. The machine is meant to be otherwise idle; its idle services show as "other".
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")
INTERVAL_S = 0.5

# (label, words of which one must be in the process's argv joined by spaces), in
# order: the first that matches wins
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Spark JVMs (session, master, worker, Thrift Server)", ("bin/java ",)),
    ("PostgreSQL server processes", ("postgres:", "bin/postgres ")),
    ("Prefect server", ("uvicorn", "prefect server")),
    ("Prefect worker and its flow-run processes", ("prefect",)),
    # pytest-xdist's workers start as `python -c ...exec(eval(sys.stdin.readline()))`:
    # the tests and the pipeline runs they make in-process (dbt, Soda, DuckDB)
    ("pytest and its workers (tests, in-process pipeline runs)", ("pytest", "sys.stdin.readline")),
    ("olist-elt processes the tests start (the CLI)", ("olist_elt", "olist-elt")),
    ("dbt processes the tests start (an analyst's dbt)", ("/dbt ",)),
    ("pip (the install)", ("pip ",)),
)
OTHER = "other (idle services, shell tools)"


def kind_of(cmdline: str) -> str:
    """The kind of a process from its argv joined by spaces."""
    padded = cmdline + " "
    return next((label for label, words in KINDS if any(w in padded for w in words)), OTHER)


def _read(pid: str, ticks: int) -> tuple[tuple[int, str], float] | None:
    """((pid, start time), CPU seconds so far) of one process, None once it is gone."""
    try:
        stat = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(pid), fields[19]), (int(fields[11]) + int(fields[12])) / ticks


class ProcCpu:
    """`with ProcCpu() as cpu: ...`, then `cpu.by_kind()`: CPU seconds by kind of
    process spent while the block ran (a process already running counts from the
    start of the block)."""

    def __init__(self) -> None:
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._me = os.getpid()
        self._first: dict[tuple[int, str], float] = {}
        self._last: dict[tuple[int, str], float] = {}
        self._kind: dict[tuple[int, str], str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self, first: bool = False) -> None:
        for entry in os.listdir(PROC):
            if not entry.isdigit() or int(entry) == self._me:
                continue
            read = _read(entry, self._ticks)
            if read is None:
                continue
            key, cpu = read
            # a launcher (spark-class, a shell) execs its program under the same pid:
            # a process of no known kind is looked at again
            if self._kind.get(key, OTHER) == OTHER:
                try:
                    argv = (PROC / entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                self._kind[key] = kind_of(b" ".join(argv).decode(errors="replace").strip())
                self._first.setdefault(key, cpu if first else 0.0)
            self._last[key] = cpu

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self._sample()

    def __enter__(self) -> ProcCpu:
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def by_kind(self) -> dict[str, float]:
        """CPU seconds by kind, largest first."""
        totals: dict[str, float] = {}
        for key, last in self._last.items():
            kind = self._kind[key]
            totals[kind] = totals.get(kind, 0.0) + last - self._first[key]
        return {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
