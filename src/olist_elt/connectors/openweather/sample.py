"""Offline stand-in for OpenWeather's current weather (the default for `olist-elt run`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from olist_elt.connectors.openweather.settings import CAPITALS

KNOWN = {city.lower() for city in CAPITALS.values()}


def handler(request: httpx.Request, now: datetime) -> httpx.Response:
    """Answer like /data/2.5/weather?q=<city>,BR&units=metric, deterministic per hour
    of the clock the stand-in was given."""
    city = request.url.params.get("q", "").split(",")[0]
    if city.lower() not in KNOWN:
        return httpx.Response(404, json={"cod": "404", "message": "city not found"})
    hour = int(now.timestamp()) // 3600
    h = int(hashlib.sha256(f"{city}:{hour}".encode()).hexdigest()[:8], 16)
    temp = 18 + (h % 1500) / 100
    body = {
        "coord": {"lon": -46.6, "lat": -23.5},
        "weather": [
            {"id": 800, "main": ["Clear", "Clouds", "Rain"][h % 3], "description": "sample"}
        ],
        "main": {"temp": round(temp, 2), "humidity": 40 + h % 55, "pressure": 1005 + h % 20},
        "dt": hour * 3600,
        "name": city,
        "cod": 200,
    }
    return httpx.Response(200, json=body)


def sample_client(clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> httpx.Client:
    """An httpx client whose transport is this stand-in, answering for clock()."""
    return httpx.Client(transport=httpx.MockTransport(lambda request: handler(request, clock())))
