"""Stream connector: order events from a NATS JetStream subject into raw, exactly once.

A pull consumer fetches micro-batches, validates each event, drops the events whose
id raw already holds, yields the rest as one JSON-lines item (the lake lands it
before the connector resumes), and only then acknowledges the batch. A crash between
write and ack means redelivery; the redelivered events are already in raw, so they
are acknowledged without a second copy: at-least-once in, exactly-once in raw.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from olist_elt.connectors.http import ConnectorError
from olist_elt.connectors.text import nul_at, nul_message
from olist_elt.lake.lander import LakeView
from olist_elt.lake.registry import Connector, RawItem, Read, Refused, register_connector

log = logging.getLogger(__name__)

SOURCE = "stream"
DATASET = "order_events"
SUBJECT = "raw.orders.ingest"
STREAM = "RAW_ORDERS"
DURABLE = "olist-raw-orders"
SCHEMA_VERSION = "order-events-jsonl-v1"
REQUIRED = {"event_id": str, "order_id": str, "order_status": str, "event_at": str}


@dataclass
class ConsumeStats:
    """What one consumer run did."""

    batches: int = 0
    received: int = 0
    written: int = 0
    redelivered: int = 0
    rejected: int = 0


def validate_event(data: bytes) -> dict[str, Any]:
    """One order event: a JSON object with the required text fields."""
    try:
        event = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    if (where := nul_at(event)) is not None:
        raise ValueError(nul_message(where))
    for key, kind in REQUIRED.items():
        if not isinstance(event.get(key), kind) or not event[key]:
            raise ValueError(f"field {key!r} missing or not {kind.__name__}")
    return event


def ids_in_raw(lake: LakeView) -> set[str]:
    """Event ids already in raw (read back from the stream's raw objects)."""
    seen: set[str] = set()
    for data in lake.objects(DATASET):
        for line in data.splitlines():
            if line.strip():
                seen.add(json.loads(line)["event_id"])
    return seen


async def _connect(servers: str, user: str, password: str) -> Any:
    """A NATS connection, or a clear error when the credentials are refused."""
    import nats
    from nats.errors import Error as NatsError

    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    try:
        return await nats.connect(
            servers,
            user=user,
            password=password,
            connect_timeout=5,
            max_reconnect_attempts=0,
            allow_reconnect=False,
            error_cb=on_error,
        )
    except (NatsError, OSError) as exc:
        why = "; ".join(errors) or str(exc) or type(exc).__name__
        raise ConnectorError(f"NATS at {servers} refused user {user!r}: {why}") from None


@register_connector
class OrderEventsConnector(Connector):
    """The official consumer of the order-events subject."""

    name = "stream-order-events"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-stream"

    def __init__(
        self,
        servers: str,
        user: str,
        password: str,
        *,
        batch_size: int = 100,
        idle_timeout_s: float = 2.0,
        max_batches: int | None = None,
        crash_after_write: bool = False,
    ) -> None:
        self.servers = servers
        self.user = user
        self.password = password
        self.batch_size = batch_size
        self.idle_timeout_s = idle_timeout_s
        self.max_batches = max_batches
        self.crash_after_write = crash_after_write
        self.stats = ConsumeStats()

    async def aread(self, lake: LakeView) -> AsyncIterator[Read]:
        """Micro-batches: refused events, then one item of the new ones; the batch is
        acknowledged only once the lake has landed what was yielded."""
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.errors import Error as JsError

        stats = self.stats
        nc = await _connect(self.servers, self.user, self.password)
        try:
            js = nc.jetstream()
            try:
                sub = await js.pull_subscribe(SUBJECT, durable=DURABLE, stream=STREAM)
            except (JsError, NatsTimeout) as exc:
                raise ConnectorError(
                    f"user {self.user!r} may not consume {SUBJECT} on stream {STREAM}: {exc}"
                ) from None
            seen = ids_in_raw(lake)
            while self.max_batches is None or stats.batches < self.max_batches:
                try:
                    msgs = await sub.fetch(self.batch_size, timeout=self.idle_timeout_s)
                except (NatsTimeout, TimeoutError):  # nats-py raises either when idle
                    break
                stats.batches += 1
                stats.received += len(msgs)
                fresh: dict[str, dict[str, Any]] = {}
                for msg in msgs:
                    try:
                        event = validate_event(msg.data)
                    except ValueError as exc:
                        stats.rejected += 1
                        name = f"{msg.metadata.sequence.stream}.json"
                        yield Refused(name, "bad_event", str(exc), data=msg.data)
                        continue
                    if event["event_id"] in seen or event["event_id"] in fresh:
                        stats.redelivered += 1
                        continue
                    fresh[event["event_id"]] = event
                if fresh:
                    lines = [json.dumps(fresh[k], sort_keys=True) for k in sorted(fresh)]
                    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                    yield RawItem(
                        dataset=DATASET,
                        ext="jsonl",
                        name=f"batch-{stamp}.jsonl",
                        rows=len(lines),
                        schema_version=SCHEMA_VERSION,
                        data=("\n".join(lines) + "\n").encode(),
                    )
                    seen.update(fresh)
                    stats.written += len(fresh)
                if self.crash_after_write:  # fault injection for tests: die before the ack
                    os._exit(17)
                for msg in msgs:
                    await msg.ack_sync()
        finally:
            await nc.close()


async def ensure_stream(servers: str, user: str, password: str, ack_wait_s: float = 30) -> None:
    """Create the stream and the durable consumer (an operator's step, idempotent)."""
    from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

    nc = await _connect(servers, user, password)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECT], duplicate_window=3600))
        await js.add_consumer(
            STREAM,
            ConsumerConfig(
                durable_name=DURABLE,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ack_wait_s,
                max_deliver=-1,
                filter_subject=SUBJECT,
            ),
        )
    finally:
        await nc.close()


async def publish(servers: str, user: str, password: str, events: list[dict[str, Any]]) -> int:
    """Publish order events (JetStream de-duplicates by Nats-Msg-Id = event_id)."""
    nc = await _connect(servers, user, password)
    try:
        js = nc.jetstream()
        for event in events:
            await js.publish(
                SUBJECT, json.dumps(event).encode(), headers={"Nats-Msg-Id": event["event_id"]}
            )
        return len(events)
    finally:
        await nc.close()


def sample_events(n: int, seed: int = 42) -> list[dict[str, Any]]:
    """n order events for demos and tests."""
    statuses = ["created", "approved", "invoiced", "shipped", "delivered"]
    return [
        {
            "event_id": f"evt-{seed}-{i:08d}",
            "order_id": f"order-{seed}-{i // len(statuses):06d}",
            "order_status": statuses[i % len(statuses)],
            "event_at": f"2018-08-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        }
        for i in range(n)
    ]


def run(coro: Any) -> Any:
    """Run a coroutine from synchronous code."""
    return asyncio.run(coro)
