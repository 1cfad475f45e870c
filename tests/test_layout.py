"""The code's shape holds: small modules, one place that knows the engines, data
flowing one way (connectors -> lake), dbt facts not restated in Python."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import olist_elt
from olist_elt.settings import REPO_ROOT

SRC = REPO_ROOT / "src" / "olist_elt"


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_is_over_400_lines_but_the_sample_generator() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert set(long) <= {"sample/generator.py"}, long


def test_only_the_targets_package_looks_at_the_configured_target() -> None:
    pattern = re.compile(r"settings\.target ==|\.target == |settings\.target !=")
    found = [
        str(p.relative_to(SRC))
        for p in _modules()
        if pattern.search(p.read_text()) and p.parent.name != "targets"
    ]
    assert found == []


def test_the_lake_never_imports_a_connector() -> None:
    found = [
        str(p.relative_to(SRC))
        for p in (SRC / "lake").rglob("*.py")
        if "olist_elt.connectors" in p.read_text()
    ]
    assert found == []


def test_the_sample_generator_imports_the_connector_file_specs_not_the_reverse() -> None:
    connector = (SRC / "connectors" / "olist").rglob("*.py")
    assert not any("olist_elt.sample" in p.read_text() for p in connector)
    assert "olist_elt.connectors.olist.files" in (SRC / "sample" / "generator.py").read_text()


def test_the_run_composition_is_short() -> None:
    lines = (SRC / "run" / "pipeline.py").read_text().splitlines()
    assert len(lines) <= 200


def test_no_step_name_is_parsed_to_decide_anything() -> None:
    pattern = re.compile(
        r"""\b(step|s)\.name\.startswith\(|\bstep\.startswith\(|\["name"\]\.startswith\("""
        r"""|removeprefix\("(dbt build|gate)"""
    )
    found = [str(p.relative_to(SRC)) for p in _modules() if pattern.search(p.read_text())]
    assert found == []


def test_the_tests_and_the_processes_they_start_run_this_checkouts_code() -> None:
    """A clone or worktree whose virtualenv is shared (an editable install of another
    checkout) still tests its own code, in pytest and in the CLI processes it starts."""
    here = Path(__file__).resolve().parents[1] / "src" / "olist_elt"
    assert Path(olist_elt.__file__).resolve().parent == here
    assert here.parents[1] == REPO_ROOT
    started = subprocess.run(
        [sys.executable, "-c", "import olist_elt; print(olist_elt.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(started.stdout.strip()).resolve().parent == here
