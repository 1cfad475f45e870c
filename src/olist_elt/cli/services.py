"""`warehouse roles|env` and `spark pads|up|down|status`: the services the targets use."""

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
        # the role dbt grants gold's tables to (dbt_project.yml, +grants)
        ("OLIST_PG_BI_ROLE", settings.pg_bi_role),
    ):
        print(f"export {name}={shlex.quote(value)}")


@spark_app.command("pads")
def spark_pads(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for spark_thrift.conf")],
    verbose: Verbose = False,
) -> None:
    """Write spark_thrift.conf (mode 600) for docker-compose's Thrift Server: the Spark
    settings the session and `spark up` use, with the PII key's HMAC pads (read as conf,
    never as SQL or a command-line argument)."""
    settings = setup(verbose)
    from olist_elt.transform.spark import engine_conf, pads_conf, write_conf_file

    try:
        conf = {**engine_conf(settings), **pads_conf(settings)}
    except OlistEltError as exc:
        fail(exc)
    write_conf_file(out_dir / "spark_thrift.conf", conf)
    out.print(f"wrote {out_dir / 'spark_thrift.conf'} (mode 600)")


Workers = Annotated[
    int | None, typer.Option(help="Workers to start (default OLIST_SPARK_WORKERS)", min=1)
]


@spark_app.command("up")
def spark_up(workers: Workers = None, verbose: Verbose = False) -> None:
    """Start a standalone master, workers and a Thrift Server on the loopback, from the
    installed pyspark (the spark_thrift target's cluster); wait until it answers."""
    settings = setup(verbose, spark_workers=workers)
    from olist_elt.transform.spark_cluster import cluster_dir, start_cluster

    try:
        state = start_cluster(settings)
    except OlistEltError as exc:
        fail(exc)
    out.print(
        f"spark cluster up: master {state.master_url}, "
        f"{sum(p.role.startswith('worker') for p in state.processes)} worker(s), "
        f"Thrift Server {state.thrift_host}:{state.thrift_port}; "
        f"logs in {cluster_dir(settings) / 'logs'}"
    )


@spark_app.command("down")
def spark_down(verbose: Verbose = False) -> None:
    """Stop the cluster `spark up` started under this lake (only its processes)."""
    settings = setup(verbose)
    from olist_elt.transform.spark_cluster import stop_cluster

    try:
        stopped = stop_cluster(settings)
    except OlistEltError as exc:
        fail(exc)
    out.print(f"stopped: {', '.join(stopped)}" if stopped else "no spark cluster was running")


@spark_app.command("status")
def spark_status(verbose: Verbose = False) -> None:
    """Which cluster processes live and whether the Thrift Server answers (exit 1 if not up)."""
    settings = setup(verbose)
    from olist_elt.transform.spark_cluster import cluster_status

    status = cluster_status(settings)
    for role, alive in status.running.items():
        out.print(f"{role}: {'running' if alive else 'stopped'}")
    out.print(f"thrift {status.thrift}: {'answers' if status.thrift_answers else 'no answer'}")
    if not status.up:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.add_typer(warehouse_app, name="warehouse")
    app.add_typer(spark_app, name="spark")
