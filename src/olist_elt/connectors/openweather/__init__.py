"""OpenWeather connector: current weather of the 27 state capitals into raw."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
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
from olist_elt.lake.lander import LakeView
from olist_elt.lake.registry import Connector, RawItem, register_connector

log = logging.getLogger(__name__)


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


@register_connector
class OpenWeatherConnector(Connector):
    """The official connector for OpenWeather's current weather."""

    name = "openweather-current"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-openweather"

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        api_key: str,
        *,
        capitals: dict[str, str] = CAPITALS,
        attempts: int = 4,
        max_wait_s: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.capitals = capitals
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.fetched: list[str] = []
        self.unknown: list[str] = []
        self.retried = 0

    def _count_retry(self) -> None:
        self.retried += 1

    def read(self, lake: LakeView) -> Iterator[RawItem]:
        """Every capital fetched and validated, then one JSON-lines payload; an unknown
        city is skipped, a bad answer raises with nothing yielded."""
        lines = []
        for state, city in self.capitals.items():
            params = {"q": f"{city},BR", "appid": self.api_key, "units": "metric"}
            try:
                body = get_json(
                    self.client,
                    f"{self.base_url}/data/2.5/weather",
                    params,
                    source=f"OpenWeather {city}",
                    attempts=self.attempts,
                    max_wait_s=self.max_wait_s,
                    on_error=_error,
                    on_retry=self._count_retry,
                )
            except LookupError:
                log.warning("OpenWeather does not know %s (%s): skipped", city, state)
                self.unknown.append(city)
                continue
            record = {"state": state, "city": city, "response": validate(body, city)}
            lines.append(json.dumps(record, ensure_ascii=False))
            self.fetched.append(city)
        if lines:
            stamp = self.clock().strftime("%Y%m%dT%H%M%SZ")
            yield RawItem(
                dataset=DATASET,
                ext="jsonl",
                name=f"current-{stamp}.jsonl",
                rows=len(lines),
                schema_version=SCHEMA_VERSION,
                data=("\n".join(lines) + "\n").encode(),
            )
