"""How a run is printed: seconds per step, rows per layer, gates, reconciliation."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from olist_elt.cli._common import console, out

LAYER_NAMES = ("source", "raw", "bronze", "silver", "gold")


def steps_table(summary: Any) -> Table:
    """Seconds and rows per step."""
    steps = Table(title=f"run {summary.run_id} ({summary.orchestrator}): {summary.outcome}")
    for column in ("step", "kind", "outcome", "seconds", "rows"):
        steps.add_column(column, justify="right" if column in ("seconds", "rows") else "left")
    for s in summary.steps:
        rows = "" if s.rows is None else f"{s.rows:,}"
        steps.add_row(s.name, s.kind or "", s.outcome, f"{s.seconds:.2f}", rows)
    steps.add_row("total", "", "", f"{sum(s.seconds for s in summary.steps):.2f}", "")
    return steps


def rows_table(summary: Any) -> Table:
    """Rows per relation and layer."""
    rows = Table(title="rows per layer")
    for column in ("layer", "relation", "rows"):
        rows.add_column(column, justify="right" if column == "rows" else "left")
    for layer, tables in summary.layer_rows.items():
        for name, count in tables.items():
            rows.add_row(layer, name, f"{count:,}")
    return rows


def gates_table(summary: Any) -> Table:
    """Checks per gate."""
    gates = Table(title="quality gates (Soda contracts)")
    for col in ("layer", "checks", "passed", "failed", "warnings", "seconds"):
        gates.add_column(col, justify="left" if col == "layer" else "right")
    for layer, g in summary.gates.items():
        gates.add_row(
            layer,
            str(g["checks"]),
            str(g["passed"]),
            str(len(g["failed"])),
            str(len(g["warnings"])),
            f"{g['seconds']:.2f}",
        )
    return gates


def reconciliation_table(rec: dict[str, Any]) -> Table:
    """Rows per data set and layer, and the reasons that explain the differences."""
    table = Table(
        title="reconciliation (rows per layer): "
        + ("every difference explained" if rec["passed"] else "UNEXPLAINED differences")
    )
    for col in ("data set", *LAYER_NAMES, "explained by"):
        table.add_column(col, justify="left" if col in ("data set", "explained by") else "right")
    for dataset, counts in rec["rows"].items():
        reasons: dict[str, int] = {}
        for step in rec["steps"]:
            if step["dataset"] == dataset:
                for name, n in step["reasons"].items():
                    if n:
                        reasons[name] = reasons.get(name, 0) + n
        table.add_row(
            dataset,
            *(f"{counts[k]:,}" if k in counts else "-" for k in LAYER_NAMES),
            "; ".join(f"{k} {v:,}" for k, v in reasons.items()) or "-",
        )
    return table


def print_summary(summary: Any) -> None:
    """Everything a person reads after a run."""
    out.print(steps_table(summary))
    out.print(rows_table(summary))
    if summary.gates:
        out.print(gates_table(summary))
    if summary.reconciliation:
        out.print(reconciliation_table(summary.reconciliation))
    if summary.incremental:
        mode = f"full refresh ({summary.full_refresh})" if summary.full_refresh else "incremental"
        read = ", ".join(
            f"{m.removeprefix('bronze_olist__')} {c['objects']} ({c['rows']:,} rows)"
            for m, c in summary.incremental.items()
        )
        out.print(f"{mode}: raw objects read: {read}")
    for q in summary.ingest.get("quarantined", []):
        console.print(f"[yellow]quarantined[/yellow] {q['file']}: {q['reason']}: {q['detail']}")
