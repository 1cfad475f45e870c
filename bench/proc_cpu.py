"""CPU seconds by kind of process while a command runs (`python -m bench --suite`).

Every process on the machine is read from /proc twice a second, not only the ones the
command waits for: Spark's JVMs leave the test's process group and the shared
PostgreSQL serves the tests from its own processes, so neither shows in the command's
own CPU time. A process that lives under half a second, and up to the last half
second of each process that ends, are missed: each kind's figure is a lower bound.
The machine is meant to be otherwise idle; its idle services show as "other".
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")
INTERVAL_S = 0.5

SPARK = "Spark JVMs (session, master, worker, Thrift Server, their launchers)"
POSTGRES = "PostgreSQL server processes"
PREFECT_SERVER = "Prefect server"
PREFECT = "Prefect worker and its flow-run processes"
PYTEST = "pytest and its workers (the tests, the pipeline runs they make in-process)"
CLI = "olist-elt processes the tests start (the CLI)"
DBT = "dbt processes the tests start (an analyst's dbt)"
PYTHON = "other Python processes the tests start"
PIP = "pip (the install)"
OTHER = "other (idle services, shell tools)"

# a program by its name: the executable's, or for Python the script's or the module's
PROGRAMS = {
    "java": SPARK,
    "postgres": POSTGRES,
    "uvicorn": PREFECT_SERVER,
    "prefect": PREFECT,
    "pytest": PYTEST,
    "olist-elt": CLI,
    "olist_elt": CLI,
    "dbt": DBT,
    "pip": PIP,
}


def kind_of(argv: list[str]) -> str:
    """The kind of a process from its argv (as /proc/<pid>/cmdline holds it)."""
    if not argv or not argv[0]:
        return OTHER
    if argv[0].startswith("postgres:"):  # a backend names itself "postgres: user db ..."
        return POSTGRES
    program, args = os.path.basename(argv[0].split(" ")[0]), argv[1:]
    unknown = OTHER
    if program.startswith("python"):
        unknown = PYTHON
        while args and args[0].startswith("-") and args[0] not in ("-c", "-m"):
            args = args[1:]  # the interpreter's own options (-u, -X ...)
        if not args:
            return PYTHON
        if args[0] == "-c":
            # pytest-xdist's workers: python -c "...exec(eval(sys.stdin.readline()))"
            return PYTEST if "sys.stdin.readline" in "".join(args[1:2]) else PYTHON
        if args[0] == "-m":
            program, args = "".join(args[1:2]).split(".")[0], args[2:]
        else:  # a script: .venv/bin/olist-elt, .venv/bin/prefect ...
            program, args = os.path.basename(args[0]), args[1:]
    if program == "prefect" and args[:2] == ["server", "start"]:
        return PREFECT_SERVER
    return PROGRAMS.get(program, unknown)


# what starts a Spark engine a build needs, by the class a JVM runs: a loopback
# cluster's master (one per cluster start), or a session's driver (the JVM pyspark's
# spark-submit launches for `pyspark-shell`); the Thrift Server, a worker and an
# executor come with a cluster's master
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
LAUNCHER_CLASS = "org.apache.spark.launcher.Main"
CLUSTER_START = "Spark cluster starts (a master)"
SESSION_START = "Spark session starts (a pyspark driver)"
# the processes counted apiece: each pays a fixed cost (dbt's import, Spark's start)
COUNTED = (DBT, CLUSTER_START, SESSION_START)


def spark_start(argv: list[str]) -> str | None:
    """CLUSTER_START or SESSION_START for the JVM that starts one, None otherwise."""
    if not argv or os.path.basename(argv[0]) != "java" or LAUNCHER_CLASS in argv:
        return None  # spark-class's launcher names the class it prints the command for
    if MASTER_CLASS in argv:
        return CLUSTER_START
    return SESSION_START if "pyspark-shell" in argv else None


def read_stat(pid: str, ticks: int) -> tuple[tuple[int, bytes], bytes, float] | None:
    """((pid, start time), its name, CPU seconds so far) of one process, None once it
    is gone."""
    try:
        stat = (PROC / pid / "stat").read_bytes()
        end = stat.rindex(b")")  # the name may itself hold ")"
        name, fields = stat[stat.index(b"(") + 1 : end], stat[end + 2 :].split()
        return (int(pid), fields[19]), name, (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, IndexError):
        return None


class ProcCpu:
    """`with ProcCpu() as cpu: ...`, then `cpu.by_kind()`: CPU seconds by kind of
    process spent while the block ran (a process already running counts from the
    start of the block)."""

    def __init__(self) -> None:
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._me = os.getpid()
        self._first: dict[tuple[int, bytes], float] = {}
        self._last: dict[tuple[int, bytes], float] = {}
        self._kind: dict[tuple[int, bytes], str] = {}
        self._name: dict[tuple[int, bytes], bytes] = {}
        self._start: dict[tuple[int, bytes], str | None] = {}
        self._before: set[tuple[int, bytes]] = set()  # running when the block began
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self, first: bool = False) -> None:
        """Read every process now (the block's thread does it twice a second)."""
        with self._lock:
            self._sample(first)

    def _sample(self, first: bool) -> None:
        for entry in os.listdir(PROC):
            if not entry.isdigit() or int(entry) == self._me:
                continue
            read = read_stat(entry, self._ticks)
            if read is None:
                continue
            key, name, cpu = read
            # a launcher (spark-class, a shell, ./dev) execs its program under the same
            # pid, which renames the process: its command line is read again
            if self._name.get(key) != name:
                try:
                    argv = (PROC / entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                args = [a.decode(errors="replace") for a in argv if a]
                self._kind[key] = kind_of(args)
                self._start[key] = spark_start(args)
                self._name[key] = name
                self._first.setdefault(key, cpu if first else 0.0)
            self._last[key] = cpu
            if first:
                self._before.add(key)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.sample()

    def __enter__(self) -> ProcCpu:
        self.sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def of_process(self, pid: int) -> tuple[str, float]:
        """The kind and CPU seconds of the process last seen under pid."""
        key = max(k for k in self._last if k[0] == pid)
        return self._kind[key], round(self._last[key] - self._first[key], 1)

    def by_kind(self) -> dict[str, float]:
        """CPU seconds by kind, largest first, and "all" (summed before rounding)."""
        totals: dict[str, float] = {}
        for key, last in self._last.items():
            kind = self._kind[key]
            totals[kind] = totals.get(kind, 0.0) + last - self._first[key]
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])
        return {k: round(v, 1) for k, v in ranked} | {"all": round(sum(totals.values()), 1)}

    def counts(self) -> dict[str, int]:
        """How many processes of each COUNTED kind started while the block ran (one
        that lives under half a second may be missed: a lower bound)."""
        started = [key for key in self._kind if key not in self._before]
        kinds = [self._kind[key] for key in started] + [self._start[key] for key in started]
        return {kind: kinds.count(kind) for kind in COUNTED}
