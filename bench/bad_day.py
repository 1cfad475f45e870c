"""A day with a bad file (`--bad-day`): the next day's orders, items, payments and
customers, with one customers row whose state code does not exist. Bronze's gate
stops the customers file; the run finds it with trial builds, rejects it, and then
finds the files its rejection leaves without their customers or orders (orders, then
items and payments), builds again without them and publishes. It measures what a
user waits for when a delivery is bad: the whole run, and the searches' seconds and
trial builds. Run after the other runs of a scale: it leaves files rejected."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.timing import olist_run
from olist_elt.sample import OLIST_FILES

SEARCH = "find bad raw objects"


def spoil_customers(folder: Path) -> None:
    """The first customers row gets a state code that does not exist (the last field)."""
    path = folder / OLIST_FILES["customers"].file_name
    header, first, *rest = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = first.rstrip("\n").rsplit(",", 1)[0] + ',"YY"\n'
    path.write_text("".join([header, first, *rest]), encoding="utf-8")


def bad_day_run(
    sample: Path, work: Path, env: dict[str, str], one_day: Callable[..., int]
) -> dict[str, Any]:
    """The bad day's run in a fresh process: wall, the searches, what was rejected."""
    folder = work / "bad-day"
    new_orders = one_day(sample, folder, tag="bench-bad-day")
    spoil_customers(folder)
    run, record = olist_run([str(folder)], env, work)
    searches = [s["seconds"] for s in record["steps"] if s["name"] == SEARCH]
    trials = re.findall(r"\((\d+) trial builds\)", run.done.stderr)
    return {
        "wall_s": round(run.wall_s, 2),
        "new_orders": new_orders,
        "searches": len(searches),
        "search_s": round(sum(searches), 2),
        "trials": sum(int(n) for n in trials),
        "rejected": [r["object"].split("/")[2] for r in record.get("rejected", [])],
    }


def markdown(scales: list[dict[str, Any]]) -> list[str]:
    """A table of the bad days measured, [] when none was."""
    rows = [s for s in scales if s.get("bad_day_run")]
    if not rows:
        return []
    lines = [
        "",
        "A day with a bad file (`--bad-day`): a new day's orders whose customers file has",
        "one row with a state code that does not exist; the run rejects it and the files",
        "it leaves without their customers or orders, and publishes the rest.",
        "",
        "| scale | new orders | run s | searches | search s | trial builds | rejected |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in rows:
        b = s["bad_day_run"]
        lines.append(
            f"| {s['scale']:g} | {b['new_orders']:,} | {b['wall_s']} | {b['searches']} "
            f"| {b['search_s']} | {b['trials']} | {', '.join(b['rejected'])} |"
        )
    return lines
