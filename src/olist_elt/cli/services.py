"""`warehouse roles|env` and `spark pads`: set-up of the services the targets use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from olist_elt.cli._common import Verbose, fail, out, setup
from olist_elt.errors import OlistEltError

warehouse_app = typer.Typer(help="The PostgreSQL warehouse.", no_args_is_help=True)
spark_app = typer.Typer(help="The Spark target.", no_args_is_help=True)


@warehouse_app.command("roles")
def warehouse_roles(verbose: Verbose = False) -> None:
    """Create or update the warehouse database, loader role and read-only BI role."""
    settings = setup(verbose)
    from olist_elt.warehouse.postgres import ensure_roles

    try:
        ensure_roles(settings)
    except OlistEltError as exc:
        fail(exc)
    out.print(
        f"database {settings.pg_database}: loader role {settings.pg_loader_role} (writes), "
        f"BI role {settings.pg_bi_role} (reads gold only); passwords are in the vault"
    )


@warehouse_app.command("env")
def warehouse_env(verbose: Verbose = False) -> None:
    """Print the loader's login as shell exports, for an analyst's hand-run dbt on
    PostgreSQL: `eval "$(olist-elt warehouse env)"`, then `dbt build --target
    dev_warehouse ...`. The password comes from the vault (the read is audited);
    nothing is written to a file."""
    import shlex

    settings = setup(verbose)
    from olist_elt.warehouse.postgres import login

    try:
        pg = login(settings, "loader")
    except OlistEltError as exc:
        fail(exc)
    for name, value in (
        ("OLIST_PG_HOST", pg.host),
        ("OLIST_PG_PORT", str(pg.port)),
        ("OLIST_PG_DATABASE", pg.database),
        ("OLIST_PG_USER", pg.user),
        ("OLIST_PG_PASSWORD", pg.password),
    ):
        print(f"export {name}={shlex.quote(value)}")


@spark_app.command("pads")
def spark_pads(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for pii_ipad and pii_opad")],
    verbose: Verbose = False,
) -> None:
    """Write the PII key's HMAC pads as secret files (mode 600) for a Spark Thrift
    Server (docker-compose's spark-thrift reads them as conf, never as SQL)."""
    settings = setup(verbose)
    from olist_elt.transform.duckdb_plugin import pii_pads

    try:
        pads = pii_pads(settings.vault_path, settings.vault_key_file, settings.audit_path)
    except OlistEltError as exc:
        fail(exc)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pad in zip(("pii_ipad", "pii_opad"), pads, strict=True):
        path = out_dir / name
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(pad.hex())
    out.print(f"wrote {out_dir / 'pii_ipad'} and {out_dir / 'pii_opad'} (mode 600)")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.add_typer(warehouse_app, name="warehouse")
    app.add_typer(spark_app, name="spark")
