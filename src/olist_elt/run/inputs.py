"""The run's inputs: the generated sample, and each official connector landed through
the one lander (olist CSVs, BCB series, OpenWeather capitals, the order stream)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from olist_elt.connectors.bcb import BcbSgsConnector
from olist_elt.connectors.bcb.sample import sample_client as bcb_sample_client
from olist_elt.connectors.olist import OLIST_FILES, OlistCsvConnector
from olist_elt.connectors.olist.settings import ZipLimits
from olist_elt.connectors.openweather import OpenWeatherConnector
from olist_elt.connectors.openweather.sample import sample_client as weather_sample_client
from olist_elt.connectors.openweather.settings import API_KEY_SECRET as OPENWEATHER_KEY
from olist_elt.connectors.stream import ConsumeStats, OrderEventsConnector, run
from olist_elt.errors import OlistEltError
from olist_elt.lake.lander import IngestResult, Lander
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.registry import Connector
from olist_elt.lake.storage import open_storage
from olist_elt.sample.generator import generate_sample
from olist_elt.security.audit import AuditLog
from olist_elt.security.vault import open_vault
from olist_elt.settings import Settings

log = logging.getLogger(__name__)
SAMPLE_MARKER = ".sample.json"
API_SOURCES = ("bcb", "openweather")


def lander_for(settings: Settings, connector: Connector) -> Lander:
    """The lander over the configured lake, as the connector's own identity."""
    return Lander(open_storage(settings, connector.service_identity), AuditLog(settings.audit_path))


def land(settings: Settings, connector: Connector, run_id: str) -> IngestResult:
    """Read a connector and land what it yields."""
    lander = lander_for(settings, connector)
    return lander.land(connector, connector.read(lander.view(connector)), run_id)


def lake_manifest(settings: Settings, identity: str = "svc-transformer") -> Manifest:
    """The raw zone's manifest as a component sees it (read-only for the transformer)."""
    return Manifest(open_storage(settings, identity))


def ensure_sample(settings: Settings, scale: float | None = None, seed: int | None = None) -> Path:
    """Generate the sample CSVs into landing/ unless the same scale and seed are there."""
    scale = settings.sample_scale if scale is None else scale
    seed = settings.sample_seed if seed is None else seed
    out = settings.landing_dir / f"sample-scale{scale:g}-seed{seed}"
    marker = out / SAMPLE_MARKER
    if marker.exists() and all((out / f.file_name).exists() for f in OLIST_FILES.values()):
        log.info("sample data already in %s", out)
        return out
    counts = generate_sample(out, scale=scale, seed=seed)
    marker.write_text(json.dumps({"scale": scale, "seed": seed, "rows": counts}))
    log.info("generated sample data (scale %s, seed %s) in %s", scale, seed, out)
    return out


def ingest_olist(settings: Settings, source: str | Path, run_id: str) -> IngestResult:
    """The Olist connector over a folder, zip or URL."""
    connector = OlistCsvConnector(
        source, settings.landing_dir, run_id, limits=ZipLimits.from_settings(settings)
    )
    return land(settings, connector, run_id)


def api_clock(settings: Settings) -> Callable[[], datetime]:
    """'Now' as the API connectors see it: pinned by OLIST_APIS_NOW, else the clock."""
    pinned = settings.apis_now
    if pinned is not None:
        return lambda: pinned
    return lambda: datetime.now(UTC)


def _client(settings: Settings, sample: Callable[[], httpx.Client]) -> httpx.Client:
    """The offline stand-in by default, a real client when OLIST_APIS=live."""
    if settings.apis == "live":
        return httpx.Client(headers={"User-Agent": "olist-elt"}, follow_redirects=True)
    return sample()


def ingest_apis(
    settings: Settings, run_id: str, sources: tuple[str, ...] | list[str] = API_SOURCES
) -> dict[str, dict[str, Any]]:
    """BCB series and/or OpenWeather capitals into raw. Per source: rows newly
    written, objects written and HTTP retries."""
    unknown = set(sources) - set(API_SOURCES)
    if unknown:
        raise OlistEltError(f"unknown API source(s) {sorted(unknown)}: choose from {API_SOURCES}")
    clock = api_clock(settings)
    out: dict[str, dict[str, Any]] = {}
    if "bcb" in sources:
        with _client(settings, lambda: bcb_sample_client(clock)) as client:
            bcb = BcbSgsConnector(
                client, settings.bcb_base_url, start=settings.bcb_start_date, end=clock().date()
            )
            result = land(settings, bcb, run_id)
        out["bcb"] = {"rows": result.rows_ingested, "retried": bcb.retried}
    if "openweather" in sources:
        key = "sample"
        if settings.apis == "live":
            key = open_vault(settings, AuditLog(settings.audit_path)).get(
                OPENWEATHER_KEY, actor="svc-connector-openweather"
            )
        with _client(settings, lambda: weather_sample_client(clock)) as client:
            weather = OpenWeatherConnector(client, settings.openweather_base_url, key, clock=clock)
            land(settings, weather, run_id)
        out["openweather"] = {"rows": len(weather.fetched), "retried": weather.retried}
    return out


def consume_stream(settings: Settings, run_id: str, password: str, **options: Any) -> ConsumeStats:
    """Drain the order-events subject into raw (micro-batches, exactly once in raw)."""
    connector = OrderEventsConnector(
        settings.stream_servers, settings.stream_user, password, **options
    )
    lander = lander_for(settings, connector)
    run(lander.aland(connector, connector.aread(lander.view(connector)), run_id))
    return connector.stats
