"""The bench's CPU by kind of process (bench/proc_cpu.py): each process the suite
starts is put with its program, whatever launched it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.proc_cpu import (
    CLI,
    CLUSTER_START,
    DBT,
    OTHER,
    POSTGRES,
    PREFECT,
    PREFECT_SERVER,
    PYTEST,
    PYTHON,
    SESSION_START,
    SPARK,
    ProcCpu,
    kind_of,
    spark_start,
)

PY = "/venv/bin/python"


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (
            ["/usr/lib/jvm/java-17/bin/java", "-cp", "x", "org.apache.spark.deploy.master.Master"],
            SPARK,
        ),
        (["java", "-Xmx128m", "-cp", "x", "org.apache.spark.launcher.Main"], SPARK),
        (["postgres: postgres olist 127.0.0.1(5432) idle"], POSTGRES),
        (["/usr/lib/postgresql/15/bin/postgres", "-D", "/data"], POSTGRES),
        ([PY, "/venv/bin/prefect", "server", "start", "--port", "4200"], PREFECT_SERVER),
        (
            [PY, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app"],
            PREFECT_SERVER,
        ),
        ([PY, "/venv/bin/prefect", "worker", "start", "--pool", "p"], PREFECT),
        ([PY, "-m", "prefect.engine"], PREFECT),
        ([PY, "-m", "pytest", "-n", "2"], PYTEST),
        ([PY, "-c", "import sys;exec(eval(sys.stdin.readline()))"], PYTEST),
        # a test's own helper that mentions Prefect, the lake, dbt in its code
        ([PY, "-c", "import prefect, olist_elt; print('/dbt ')"], PYTHON),
        ([PY, "/venv/bin/olist-elt", "run", "--target", "postgres://x"], CLI),
        ([PY, "-u", "-m", "olist_elt", "run"], CLI),
        ([PY, "/venv/bin/dbt", "build", "--project-dir", "/tmp/prefect/olist_elt"], DBT),
        (["bash", "./dev", "test"], OTHER),
        ([], OTHER),
    ],
)
def test_each_process_is_put_with_its_program(argv: list[str], kind: str) -> None:
    assert kind_of(argv) == kind


def test_a_launched_program_counts_as_itself_not_as_its_launcher() -> None:
    """A shell that execs the program (as spark-class and ./dev do) keeps its pid: its
    CPU goes to the program it became. The test reads the processes itself while each
    one is alive, so what the half-second sampling misses at a process's end (the
    module's lower bound) cannot decide it."""
    busy = (
        "import sys, time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.8: pass\n"
        "print('spent', flush=True)\nsys.stdin.read()"
    )
    launcher = 'echo shell; read -r _; exec "$0" -c "$1"'
    with (
        ProcCpu() as cpu,
        subprocess.Popen(
            ["bash", "-c", launcher, sys.executable, busy],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as child,
    ):
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline() == "shell\n"
        cpu.sample()  # seen as the shell
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline() == "spent\n"
        cpu.sample()  # seen as Python, its CPU spent, still alive
        child.stdin.close()
    # the child's own process: other tests' Python processes count under PYTHON too
    kind, spent = cpu.of_process(child.pid)
    assert kind == PYTHON and spent >= 0.7, (kind, spent)
    assert cpu.by_kind()[PYTHON] >= spent


JAVA = "/usr/lib/jvm/java-17/bin/java"
MASTER = "org.apache.spark.deploy.master.Master"
LAUNCHER = "org.apache.spark.launcher.Main"
SUBMIT = "org.apache.spark.deploy.SparkSubmit"


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        ([JAVA, "-cp", "x", "-Xmx1g", MASTER, "--host", "127.0.0.1"], CLUSTER_START),
        (
            [JAVA, "-cp", "x", SUBMIT, "--conf", "spark.ui.enabled=false", "pyspark-shell"],
            SESSION_START,
        ),
        # spark-class's launcher names the class it prints the command for: not a start
        ([JAVA, "-Xmx128m", "-cp", "x", LAUNCHER, MASTER, "--host", "127.0.0.1"], None),
        ([JAVA, "-cp", "x", LAUNCHER, SUBMIT, "pyspark-shell"], None),
        # what comes with a cluster's master
        ([JAVA, "-cp", "x", "org.apache.spark.deploy.worker.Worker", "spark://h:1"], None),
        ([JAVA, "-cp", "x", SUBMIT, "--class", "x.HiveThriftServer2", "spark-internal"], None),
        ([PY, "-c", f"print('{MASTER} pyspark-shell')"], None),
        ([], None),
    ],
)
def test_each_jvm_that_starts_spark_is_put_with_what_it_starts(
    argv: list[str], start: str | None
) -> None:
    assert spark_start(argv) == start


class FakeProc:
    """A /proc of made-up processes: no real process is started, so the bench's own
    reading of the machine while the suite runs never sees one of them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, pid: int, argv: list[str], start: int = 1, cpu_ticks: int = 0) -> None:
        """A process as /proc shows it: its name (the program's, as exec sets it),
        its command line, its CPU (utime) and start time in its stat fields."""
        folder = self.root / str(pid)
        folder.mkdir(exist_ok=True)
        fields = ["S"] + ["0"] * 21
        fields[11], fields[19] = str(cpu_ticks), str(start)
        name = Path(argv[0]).name[:15]
        (folder / "stat").write_text(f"{pid} ({name}) {' '.join(fields)}")
        (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def test_each_process_that_pays_a_fixed_cost_is_counted_once_when_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dbt process already running when the block begins is not counted; a shell
    that becomes dbt by exec, a second dbt process, spark-class's shell that becomes a
    pyspark driver, a cluster's master and spark-class's launcher for it, each read
    twice while alive: two dbt processes, one session start, one cluster start."""
    from bench import proc_cpu

    fake = FakeProc(tmp_path)
    monkeypatch.setattr(proc_cpu, "PROC", tmp_path)
    fake.put(900001, [PY, "/venv/bin/dbt", "build"])  # running before the block
    submit = [JAVA, "-cp", "x", SUBMIT, "--conf", "a=b", "pyspark-shell"]
    with ProcCpu() as cpu:
        fake.put(900002, ["bash", "-c", "exec dbt parse"], start=7)
        fake.put(900003, ["bash", "/venv/pyspark/bin/spark-class", SUBMIT], start=8)
        cpu.sample()
        fake.put(900002, [PY, "/venv/bin/dbt", "parse"], start=7, cpu_ticks=5)  # exec'd
        fake.put(900003, submit, start=8, cpu_ticks=9)  # exec'd
        fake.put(900004, [PY, "/venv/bin/dbt", "run"], start=9)
        fake.put(900005, [JAVA, "-cp", "x", MASTER, "--host", "127.0.0.1"], start=9)
        fake.put(900006, [JAVA, "-cp", "x", LAUNCHER, MASTER], start=9)
        cpu.sample()
    assert cpu.counts() == {DBT: 2, CLUSTER_START: 1, SESSION_START: 1}
