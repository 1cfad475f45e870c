"""The `olist-elt` command line: small command modules that parse, call the library
and print. `python -m olist_elt` runs the same app."""

from __future__ import annotations

import typer

from olist_elt.cli import dashboards, data, ops, pipeline, security, services, stream

app = typer.Typer(
    help="olist-elt: Olist CSVs and economic data -> raw -> dbt bronze/silver/gold.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for module in (pipeline, data, security, ops, services, stream, dashboards):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
