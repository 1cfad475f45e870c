"""What every command shares: consoles, logging, validated settings, clear errors."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from olist_elt.errors import OlistEltError
from olist_elt.settings import Settings, load_settings

console = Console(stderr=True)
out = Console()

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log what each step does")]


def setup(verbose: bool = False, **overrides: Any) -> Settings:
    """Logging configured, settings validated (a bad one exits 2)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except OlistEltError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def fail(exc: Exception | str) -> NoReturn:
    """Print a clear error and exit 1."""
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


def open_vault(settings: Settings) -> Any:
    """The configured vault, audited."""
    from olist_elt.security.audit import AuditLog
    from olist_elt.security.vault import open_vault as _open

    return _open(settings, AuditLog(settings.audit_path))
