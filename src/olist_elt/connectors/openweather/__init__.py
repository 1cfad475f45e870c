"""OpenWeather connector: current weather of the 27 state capitals into raw."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from olist_elt.connectors.http import BadPayload, ConnectorError, get_json
from olist_elt.connectors.openweather.settings import (
    CAPITALS,
    DATASET,
    SCHEMA_VERSION,
    SOURCE,
)
from olist_elt.connectors.registry import Connector, register_connector
from olist_elt.lake.raw import RawWriter

log = logging.getLogger(__name__)


@register_connector
class OpenWeatherConnector(Connector):
    """The official connector for OpenWeather's current weather."""

    name = "openweather-current"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-openweather"


@dataclass
class WeatherResult:
    """What one run brought: cities fetched and skipped, the raw object."""

    fetched: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    object_key: str | None = None


def _cod(body: Any) -> int | None:
    """The body's `cod`, which the API sends as an integer or a string."""
    try:
        return int(body.get("cod")) if isinstance(body, dict) else None
    except (TypeError, ValueError):
        return None


def validate(body: Any, city: str) -> dict[str, Any]:
    """A current-weather answer: cod 200, main.temp and humidity numbers, dt epoch."""
    if not isinstance(body, dict) or _cod(body) != 200:
        raise BadPayload(f"OpenWeather {city}: not a weather answer (cod={_cod(body)})")
    main = body.get("main")
    if not isinstance(main, dict) or not all(
        isinstance(main.get(k), int | float) for k in ("temp", "humidity")
    ):
        raise BadPayload(f"OpenWeather {city}: main.temp/main.humidity missing or not numbers")
    if not isinstance(body.get("dt"), int):
        raise BadPayload(f"OpenWeather {city}: dt is not an epoch integer")
    return body


def _error(resp: httpx.Response) -> None:
    """401 and 404 in the API's own words."""
    try:
        message = resp.json().get("message", "")
    except ValueError:
        message = resp.text[:200]
    if resp.status_code == 401:
        raise ConnectorError(
            f"OpenWeather refused the API key (401: {message}); "
            "update it with `olist-elt vault set openweather_api_key`"
        )
    if resp.status_code == 404:
        raise LookupError(message or "city not found")


def ingest_openweather(
    client: httpx.Client,
    base_url: str,
    api_key: str,
    *,
    writer: RawWriter,
    run_id: str,
    capitals: dict[str, str] = CAPITALS,
    attempts: int = 4,
    max_wait_s: float = 30.0,
) -> WeatherResult:
    """Fetch every capital, then write one JSON-lines object; an unknown city is skipped."""
    result = WeatherResult()
    lines = []
    for state, city in capitals.items():
        params = {"q": f"{city},BR", "appid": api_key, "units": "metric"}
        try:
            body = get_json(
                client,
                f"{base_url.rstrip('/')}/data/2.5/weather",
                params,
                source=f"OpenWeather {city}",
                attempts=attempts,
                max_wait_s=max_wait_s,
                on_error=_error,
            )
        except LookupError:
            log.warning("OpenWeather does not know %s (%s): skipped", city, state)
            result.unknown.append(city)
            continue
        lines.append(
            json.dumps(
                {"state": state, "city": city, "response": validate(body, city)}, ensure_ascii=False
            )
        )
        result.fetched.append(city)
    if lines:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        write = writer.write_bytes(
            OpenWeatherConnector(),
            dataset=DATASET,
            data=("\n".join(lines) + "\n").encode(),
            ext="jsonl",
            rows=len(lines),
            schema_version=SCHEMA_VERSION,
            run_id=run_id,
            name=f"current-{stamp}.jsonl",
        )
        result.object_key = write.record.object_key
    return result
