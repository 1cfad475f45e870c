"""Benchmarks of olist-elt (see bench/README.md).

The bench measures the code of the checkout it runs from: this process and every run
it starts import olist_elt from this checkout's src/ (a virtualenv shared with another
clone or worktree holds an editable install of that one, whose code would run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if sys.path[:1] != [SRC]:
    sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [SRC, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != SRC)]
)
