"""The bench's CPU by kind of process (bench/proc_cpu.py): each process the suite
starts is put with its program, whatever launched it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.proc_cpu import (
    CLI,
    DBT,
    OTHER,
    POSTGRES,
    PREFECT,
    PREFECT_SERVER,
    PYTEST,
    PYTHON,
    SPARK,
    ProcCpu,
    kind_of,
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
