"""Stream connector against a real NATS JetStream server started with an auth config."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from olist_elt.connectors.http import ConnectorError
from olist_elt.connectors.stream import (
    DATASET,
    ConsumeStats,
    OrderEventsConnector,
    ensure_stream,
    publish,
    run,
    sample_events,
    validate_event,
)
from olist_elt.connectors.text import nul_at
from olist_elt.lake.lander import Lander
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.storage import LocalStorage, Storage
from olist_elt.security.audit import AuditLog
from tests.conftest import _free_port

CONNECTOR = ("svc-connector-stream", "c0nnector-pw")
PUBLISHER = ("svc-publisher", "publ1sher-pw")
OTHER = ("svc-other", "0ther-pw")


@pytest.fixture()
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server with JetStream and three users of different rights."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        pytest.skip("nats-server binary not found")
    port = _free_port()
    config = tmp_path / "nats.conf"
    config.write_text(
        textwrap.dedent(f"""
        listen: 127.0.0.1:{port}
        jetstream {{ store_dir: "{tmp_path / "js"}" }}
        accounts {{
          APP {{
            jetstream: enabled
            users = [
              {{ user: "{CONNECTOR[0]}", password: "{CONNECTOR[1]}",
                 permissions: {{ publish: ["$JS.API.>", "$JS.ACK.>"],
                                 subscribe: ["_INBOX.>"] }} }},
              {{ user: "{PUBLISHER[0]}", password: "{PUBLISHER[1]}",
                 permissions: {{ publish: ["raw.orders.ingest", "$JS.API.>"],
                                 subscribe: ["_INBOX.>"] }} }},
              {{ user: "{OTHER[0]}", password: "{OTHER[1]}",
                 permissions: {{ publish: ["other.>", "$JS.API.INFO"],
                                 subscribe: ["other.>", "_INBOX.>"] }} }}
            ]
          }}
        }}
    """)
    )
    proc = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    url = f"nats://127.0.0.1:{port}"
    try:
        run(ensure_stream(url, *PUBLISHER, ack_wait_s=1))
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _storage(lake: Path | Storage) -> Storage:
    return LocalStorage(lake) if isinstance(lake, Path) else lake


def _writer(lake: Path | Storage, audit: Path | None = None) -> Lander:
    audit = audit or (lake / "_audit" if isinstance(lake, Path) else Path("/nonexistent"))
    return Lander(_storage(lake), AuditLog(audit / "audit.jsonl"))


async def consume(
    servers: str, user: str, password: str, *, writer: Lander, run_id: str, **options
) -> ConsumeStats:
    """Consume with the connector and land what it yields (acks follow the landing)."""
    connector = OrderEventsConnector(servers, user, password, **options)
    await writer.aland(connector, connector.aread(writer.view(connector)), run_id)
    return connector.stats


def _event_ids(lake: Path | Storage) -> list[str]:
    storage = _storage(lake)
    ids = []
    for record in Manifest(storage).records("stream"):
        assert record.dataset == DATASET and record.connector == "stream-order-events"
        ids += [
            json.loads(line)["event_id"]
            for line in storage.read_bytes(record.object_key).splitlines()
        ]
    return ids


CONSUMER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from olist_elt.connectors.stream import OrderEventsConnector, run
    from olist_elt.lake.lander import Lander
    from olist_elt.lake.storage import LocalStorage
    from olist_elt.security.audit import AuditLog
    lake = Path(sys.argv[2])
    lander = Lander(LocalStorage(lake), AuditLog(lake / "_audit" / "audit.jsonl"))
    connector = OrderEventsConnector(sys.argv[1], sys.argv[3], sys.argv[4], batch_size=20,
                                     crash_after_write=True)
    run(lander.aland(connector, connector.aread(lander.view(connector)), "crash"))
""")


def test_killed_mid_batch_then_restarted_raw_holds_each_event_exactly_once(
    nats_url: str, tmp_path: Path
) -> None:
    events = sample_events(50)
    assert run(publish(nats_url, *PUBLISHER, events)) == 50
    lake = tmp_path / "lake"
    crashed = subprocess.run(
        [sys.executable, "-c", CONSUMER, nats_url, str(lake), *CONNECTOR],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == 17, crashed.stderr  # died after the write, before the ack
    assert len(_event_ids(lake)) == 20
    time.sleep(1.5)  # past ack_wait: the unacknowledged batch is redelivered
    result = run(
        consume(
            nats_url,
            *CONNECTOR,
            writer=_writer(lake),
            run_id="restart",
            batch_size=20,
            idle_timeout_s=1.5,
        )
    )
    assert result.redelivered >= 20 and result.written == 30
    ids = _event_ids(lake)
    assert len(ids) == len(set(ids)) == 50
    assert set(ids) == {e["event_id"] for e in events}
    again = run(
        consume(nats_url, *CONNECTOR, writer=_writer(lake), run_id="idle", idle_timeout_s=1)
    )
    assert again.received == 0 and len(_event_ids(lake)) == 50


def test_republished_duplicates_do_not_reach_raw_twice(
    nats_url: str, lake_storage: Storage, tmp_path: Path
) -> None:
    """On a folder and on a bucket (moto's server) alike."""
    events = sample_events(10)
    run(publish(nats_url, *PUBLISHER, events + events[:5]))
    writer = _writer(lake_storage, tmp_path)
    run(consume(nats_url, *CONNECTOR, writer=writer, run_id="r", idle_timeout_s=1))
    ids = _event_ids(lake_storage)
    assert sorted(ids) == sorted(e["event_id"] for e in events)


def test_a_nul_character_is_named_by_where_it_is_never_by_the_text_around_it() -> None:
    """Keys are the publisher's text too: a key holding a NUL, or any key that is not
    a plain name, is named by its place; a deeply nested event is refused as bad, not
    left to crash the consumer (which would leave it unacknowledged, coming back)."""
    leaky = {"event_id": "e", "cust 123 Maria\n\x1b[31m": {"a\u0000b secret": 1}}
    with pytest.raises(ValueError, match=r"U\+0000\) at \$\.<key 1>\.<key 0>:") as exc:
        validate_event(json.dumps(leaky).encode())
    assert "Maria" not in str(exc.value) and "secret" not in str(exc.value)
    # the walk keeps no Python frame a level, whatever depth the caller is at (a
    # decoded answer's depth depends on the stack json.loads was called from)
    deep: object = "x\u0000"
    for _ in range(5000):
        deep = [deep]
    assert nul_at({"trace": deep}) == "$.trace" + "[0]" * 5000
    # deeper than json.loads goes: refused as bad JSON, not a RecursionError
    with pytest.raises(ValueError, match="not JSON"):
        validate_event(b'{"event_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert validate_event(json.dumps(sample_events(1)[0]).encode())["event_id"]


def test_a_bad_event_goes_to_quarantine_and_the_rest_to_raw(
    nats_url: str, lake_storage: Storage, tmp_path: Path
) -> None:
    good = sample_events(3)
    bad = {"event_id": "evt-bad", "order_id": "", "order_status": "x", "event_at": "now"}
    # a NUL character (\u0000 in JSON) that PostgreSQL could not store
    nul = {**good[0], "event_id": "evt-nul", "order_status": "shipped\u0000secret"}
    run(publish(nats_url, *PUBLISHER, [*good, bad, nul]))
    writer = _writer(lake_storage, tmp_path)
    result = run(consume(nats_url, *CONNECTOR, writer=writer, run_id="r", idle_timeout_s=1))
    assert result.rejected == 2 and result.written == 3
    reasons = [
        lake_storage.read_bytes(k).decode()
        for k in lake_storage.list("quarantine/stream/r")
        if k.endswith(".reason.json")
    ]
    assert len(reasons) == 2 and any("order_id" in r for r in reasons)
    assert any("U+0000) at $.order_status" in r for r in reasons)
    assert not any("secret" in r for r in reasons)
    assert len(_event_ids(lake_storage)) == 3


def test_wrong_credentials_are_refused(nats_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="refused user"):
        run(
            consume(
                nats_url,
                CONNECTOR[0],
                "wrong",
                writer=_writer(tmp_path / "lake"),
                run_id="r",
                idle_timeout_s=1,
            )
        )


def test_a_user_allowed_only_another_subject_is_refused(nats_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="may not consume"):
        run(
            consume(
                nats_url, *OTHER, writer=_writer(tmp_path / "lake"), run_id="r", idle_timeout_s=1
            )
        )
    assert not (tmp_path / "lake" / "raw").exists()


@pytest.mark.slow
def test_stream_events_reach_silver_once_each(nats_url: str, tmp_path: Path) -> None:
    import duckdb

    from olist_elt.transform.dbt import Dbt
    from tests.conftest import workspace_settings

    settings = workspace_settings(tmp_path)
    events = sample_events(30)
    run(publish(nats_url, *PUBLISHER, events))
    run(
        consume(
            nats_url,
            *CONNECTOR,
            writer=_writer(settings.lake_dir),
            run_id="r",
            batch_size=7,
            idle_timeout_s=1,
        )
    )
    Dbt(settings, dbt_vars={"stream_enabled": True}).run(
        "build", "--select", "bronze_stream__order_events+"
    )
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        rows, distinct = con.execute(
            "select count(*), count(distinct event_id) from silver.silver_order_events"
        ).fetchone()
    finally:
        con.close()
    assert rows == distinct == 30
