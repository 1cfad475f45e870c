"""`vault`, `audit verify` and `erase`: secrets, the audit trail, the right to be
forgotten."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from olist_elt.cli._common import Verbose, fail, open_vault, out, setup
from olist_elt.errors import OlistEltError
from olist_elt.settings import Settings

vault_app = typer.Typer(help="Secrets: set, get, list, rotate.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit trail: verify the hash chain.", no_args_is_help=True)


@vault_app.command("set")
def vault_set(
    name: Annotated[str, typer.Argument(help="Secret name")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the value from stdin")] = False,
) -> None:
    """Store a secret; the value is prompted for (hidden) or read from stdin."""
    settings = setup()
    value = sys.stdin.read().rstrip("\n") if stdin else typer.prompt("value", hide_input=True)
    if not value:
        fail("refusing to store an empty secret")
    try:
        open_vault(settings).set(name, value, actor="cli")
    except OlistEltError as exc:
        fail(exc)
    out.print(f"stored {name}")


@vault_app.command("get")
def vault_get(
    name: Annotated[str, typer.Argument(help="Secret name")],
    reveal: Annotated[bool, typer.Option(help="Print the value (audited)")] = False,
) -> None:
    """Check a secret exists; print its value only with --reveal."""
    settings = setup()
    try:
        value = open_vault(settings).get(name, actor="cli" if not reveal else "cli.reveal")
    except OlistEltError as exc:
        fail(exc)
    if reveal:
        print(value)
    else:
        out.print(f"{name}: set ({len(value)} characters); --reveal prints it")


@vault_app.command("list")
def vault_list() -> None:
    """The names of the secrets (never their values)."""
    settings = setup()
    try:
        for name in open_vault(settings).names():
            out.print(name)
    except OlistEltError as exc:
        fail(exc)


@vault_app.command("rotate")
def vault_rotate() -> None:
    """New key, every secret re-encrypted, old key retired (file backend); audited."""
    settings = setup()
    try:
        count = open_vault(settings).rotate(actor="cli")
    except OlistEltError as exc:
        fail(exc)
    out.print(f"rotated: {count} secrets re-encrypted with a new key; the old key is retired")


@audit_app.command("verify")
def audit_verify(verbose: Verbose = False) -> None:
    """Check the audit log's hash chain and its signed head; report the first bad
    record, records cut from the end, or a chain rewritten as a whole."""
    settings = setup(verbose)
    from olist_elt.run.record import load_records
    from olist_elt.security.audit import AuditLog, log_name

    try:
        # the signed heads the last runs kept of this log: records cut with the
        # anchor still show (runs that kept their log apart kept another's head)
        log = log_name(settings.audit_path, settings.lake_dir)
        heads = [
            head
            for r in load_records(settings, 50)
            if (head := r.get("audit_head")) and head.get("log") == log
        ]
        result = AuditLog(settings.audit_path).verify(heads)
    except OlistEltError as exc:
        fail(exc)
    if result.ok:
        anchored = (
            f", head signed in {settings.audit_anchor_path} at record {result.anchored}"
            if result.anchored
            else ""
        )
        out.print(f"audit log OK: {result.records} records{anchored} ({settings.audit_path})")
        if result.anchored is not None and result.records > result.anchored:
            out.print(
                f"note: {result.records - result.anchored} record(s) after the signed head, "
                "appended by a process without the anchor key; the next audited command "
                "signs them"
            )
        return
    where = f" at line {result.bad_line}" if result.bad_line else ""
    fail(f"audit log broken{where}: {result.problem} ({settings.audit_path})")


def erase(
    customer_unique_id: Annotated[
        str, typer.Option("--customer-unique-id", help="The person to erase (as in the export)")
    ],
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild now (gated, published) so the erasure takes effect")
    ] = True,
    requested_by: Annotated[str, typer.Option(help="Who asked, for the audit trail")] = "dpo",
    verbose: Verbose = False,
) -> None:
    """Erase a customer on request: recorded (pseudonym only), the raw objects holding
    them replaced by versions without them (old ones deleted, lineage in the
    manifest), audited, applied by a full-refresh run of the pipeline. An id that no
    raw customers object holds is refused (exit 1) and nothing changes."""
    settings = setup(verbose)
    from olist_elt.run.lock import run_lock

    try:
        # the lake held from the erasure to its rebuild: no other run comes between
        with run_lock(settings, f"erasure by {requested_by}"):
            _erase(settings, customer_unique_id, requested_by, rebuild)
    except OlistEltError as exc:
        fail(exc)


def _erase(settings: Settings, customer_unique_id: str, requested_by: str, rebuild: bool) -> None:
    from olist_elt.security.erasure import erase_person

    pseudonym, added, rewrites = erase_person(settings, customer_unique_id, requested_by)
    out.print(
        f"erasure {'recorded' if added else 'already recorded'} "
        f"(register keeps only the pseudonym {pseudonym[:12]}...)"
    )
    for r in rewrites:
        out.print(
            f"raw {r.dataset}: {r.old_sha256[:12]} -> {r.new_sha256[:12]} "
            f"({r.rows_removed} row(s) removed, {r.rows_changed} changed; old object deleted)"
        )
    if rebuild:
        from olist_elt.run.pipeline import run_pipeline

        run_pipeline(settings, ingest_inputs=False, full_refresh=True)
        out.print("bronze, silver and gold rebuilt: nothing in them links to this person")
    else:
        out.print("applies on the next `olist-elt run`")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.add_typer(vault_app, name="vault")
    app.add_typer(audit_app, name="audit")
    app.command()(erase)
