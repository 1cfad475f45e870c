"""`sample`, `ingest` and `raw readmit|reject`: data into the lake, and a batch's fate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from olist_elt.cli._common import Verbose, console, fail, out, setup
from olist_elt.errors import OlistEltError

# who took a decision on raw objects, as the audit trail names them
Decider = Annotated[str, typer.Option(help="Who decided, for the audit trail")]
raw_app = typer.Typer(
    help="The raw zone's manifest: verify, reject, readmit or forget objects.",
    no_args_is_help=True,
)


def sample(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the 9 CSVs to")],
    scale: Annotated[float, typer.Option(help="1.0 = the real row counts")] = 1.0,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes")] = 42,
    verbose: Verbose = False,
) -> None:
    """Generate the Olist-shaped sample CSVs."""
    setup(verbose)
    from olist_elt.sample import generate_sample

    t0 = time.perf_counter()
    with console.status("generating") as status:
        counts = generate_sample(
            out_dir, scale, seed, progress=lambda ds, n: status.update(f"wrote {ds}: {n:,} rows")
        )
    table = Table(title=f"sample scale {scale:g} seed {seed} -> {out_dir}")
    table.add_column("dataset")
    table.add_column("rows", justify="right")
    for ds, n in counts.items():
        table.add_row(ds, f"{n:,}")
    out.print(table)
    out.print(f"{sum(counts.values()):,} rows in {time.perf_counter() - t0:.1f}s")


def ingest(
    source: Annotated[str, typer.Argument(help="Folder, .zip or URL of the Olist CSVs")],
    verbose: Verbose = False,
) -> None:
    """Validate the Olist files into raw; bad ones go to quarantine with a reason."""
    settings = setup(verbose)
    from olist_elt.run.inputs import ingest_olist
    from olist_elt.run.record import new_run_id

    try:
        result = ingest_olist(settings, source, new_run_id())
    except OlistEltError as exc:
        fail(exc)
    table = Table(title=f"ingest {result.run_id}")
    for col in ("file", "outcome", "rows", "detail"):
        table.add_column(col)
    for f in result.files:
        table.add_row(f.file, f.outcome, f"{f.rows:,}", f.detail or f.object_key or "")
    out.print(table)
    if result.quarantined:
        raise typer.Exit(1)


@raw_app.command("readmit")
def raw_readmit(
    sha256_or_run_id: Annotated[str, typer.Argument(help="A raw object's sha256 or a run id")],
    actor: Decider = "operator",
    verbose: Verbose = False,
) -> None:
    """Accept again raw objects a quality gate rejected (after a false alarm)."""
    settings = setup(verbose)
    from olist_elt.run.rejection import readmit

    records = readmit(settings, sha256_or_run_id, actor)
    if not records:
        fail(f"no rejected raw object matches {sha256_or_run_id}")
    for r in records:
        out.print(f"readmitted {r.object_key}")


@raw_app.command("reject")
def raw_reject(
    sha256_or_run_id: Annotated[str, typer.Argument(help="A raw object's sha256 or a run id")],
    reason: Annotated[str, typer.Option(help="Why, for the manifest and the audit trail")],
    actor: Decider = "operator",
    verbose: Verbose = False,
) -> None:
    """Reject accepted raw objects by hand: later builds read without them."""
    settings = setup(verbose)
    from olist_elt.run.rejection import matching, reject

    chosen = matching(settings, sha256_or_run_id, "accepted")
    if not chosen:
        fail(f"no accepted raw object matches {sha256_or_run_id}")
    for r in reject(settings, chosen, f"by {actor}: {reason}", actor, "manual"):
        out.print(f"rejected {r.object_key}")


@raw_app.command("forget")
def raw_forget(
    sha256: Annotated[str, typer.Argument(help="The sha256 `raw verify` named unrecorded")],
    reason: Annotated[str, typer.Option(help="Why it cannot be restored, for the audit trail")],
    actor: Decider = "operator",
    verbose: Verbose = False,
) -> None:
    """Record that a raw object deleted with its manifest record is lost for good:
    `raw verify` stops naming it and the next build leaves its rows out. Audited."""
    settings = setup(verbose)
    from olist_elt.run.rejection import forget

    lost = forget(settings, sha256, reason, actor)
    if not lost:
        fail(f"no unrecorded landing in this lake matches {sha256}")
    for u in lost:
        out.print(f"recorded as lost {u.object_key}")


@raw_app.command("verify")
def raw_verify(
    actor: Annotated[str, typer.Option(help="Who checked, for the audit trail")] = "operator",
    verbose: Verbose = False,
) -> None:
    """Read back every raw object (cold ones too) against the sha256 its manifest
    record holds, find each landing the audit trail records whose manifest record
    is gone, and each file of the raw zone no record names: exit 1 naming each one
    missing, altered, unrecorded or stray. Audited."""
    settings = setup(verbose)
    from olist_elt.lake.verify import RawObjectsChanged, verify_lake

    try:
        checked = verify_lake(settings, actor)
    except RawObjectsChanged as exc:
        table = Table(title="raw objects that differ from their manifest records")
        for column in ("object", "problem", "sha256 ingested", "sha256 found"):
            table.add_column(column)
        for d in exc.differences:
            table.add_row(d.object_key, d.problem, d.sha256, d.found or "")
        out.print(table)
        fail(str(exc))
    out.print(f"raw zone OK: {checked} raw objects read back, each as ingested")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(sample)
    app.command()(ingest)
    app.add_typer(raw_app, name="raw")
