"""`stream setup|publish|consume`: order events on NATS JetStream."""

from __future__ import annotations

from typing import Annotated

import typer

from olist_elt.cli._common import Verbose, fail, open_vault, out, setup
from olist_elt.errors import OlistEltError
from olist_elt.settings import Settings

stream_app = typer.Typer(help="Order events on NATS JetStream.", no_args_is_help=True)


def _password(settings: Settings, name: str) -> str:
    """A NATS password from the vault."""
    return open_vault(settings).get(name, actor=f"cli.stream.{name}")


@stream_app.command("setup")
def stream_setup(
    user: Annotated[str, typer.Option(help="An operator user allowed to manage streams")],
) -> None:
    """Create the stream and the connector's durable consumer (idempotent)."""
    settings = setup()
    from olist_elt.connectors.stream import ensure_stream, run

    try:
        run(
            ensure_stream(
                settings.stream_servers, user, _password(settings, "stream_operator_password")
            )
        )
    except OlistEltError as exc:
        fail(exc)
    out.print("stream RAW_ORDERS and consumer olist-raw-orders ready")


@stream_app.command("publish")
def stream_publish(
    count: Annotated[int, typer.Option(help="How many sample order events")] = 100,
    user: Annotated[str, typer.Option(help="Publisher user")] = "svc-publisher",
) -> None:
    """Publish sample order events to raw.orders.ingest (for tests and demos)."""
    settings = setup()
    from olist_elt.connectors.stream import publish, run, sample_events

    try:
        n = run(
            publish(
                settings.stream_servers,
                user,
                _password(settings, "stream_publisher_password"),
                sample_events(count),
            )
        )
    except OlistEltError as exc:
        fail(exc)
    out.print(f"published {n} events")


@stream_app.command("consume")
def stream_consume(verbose: Verbose = False) -> None:
    """Drain raw.orders.ingest into raw in micro-batches (exactly once in raw)."""
    settings = setup(verbose)
    from olist_elt.run.inputs import consume_stream
    from olist_elt.run.record import new_run_id

    try:
        stats = consume_stream(
            settings, new_run_id(), _password(settings, "stream_connector_password")
        )
    except OlistEltError as exc:
        fail(exc)
    out.print(
        f"{stats.batches} batches, {stats.written} events written, "
        f"{stats.redelivered} redelivered (already in raw), {stats.rejected} rejected"
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.add_typer(stream_app, name="stream")
