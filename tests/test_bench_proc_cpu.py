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
    """A shell that execs the program (as spark-class and ./dev do) keeps its pid."""
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.8: pass"
    with ProcCpu() as cpu:
        subprocess.run(["bash", "-c", 'sleep 0.6; exec "$0" -c "$1"', sys.executable, busy])
    spent = cpu.by_kind()
    assert spent.get(PYTHON, 0) >= 0.4, spent
    assert spent["all"] >= spent[PYTHON]
