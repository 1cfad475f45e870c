"""Offline stand-in for the SGS API (the default for `olist-elt run`): the same URL,
parameters, answer shape and 10-year limit on daily series, with plausible values."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

import httpx

from olist_elt.connectors.bcb.helpers import parse_date
from olist_elt.connectors.bcb.settings import MAX_DAILY_WINDOW_DAYS

PATH = re.compile(r"/dados/serie/bcdata\.sgs\.(\d+)/dados$")
# Selic target (% a.a.) at the start of each year; linear in between.
SELIC_KNOTS = {
    2015: 12.25,
    2016: 14.25,
    2017: 13.75,
    2018: 7.0,
    2019: 6.5,
    2020: 4.5,
    2021: 2.0,
    2022: 9.25,
    2023: 13.75,
    2024: 11.75,
    2025: 12.25,
    2026: 15.0,
    2027: 14.0,
}


def selic_target(day: date) -> float:
    """A plausible Selic target for a day, to two decimals."""
    lo = SELIC_KNOTS.get(day.year, 10.0)
    hi = SELIC_KNOTS.get(day.year + 1, lo)
    frac = (day.timetuple().tm_yday - 1) / 365
    return round((lo + (hi - lo) * frac) * 4) / 4


def ipca(month: date) -> float:
    """A plausible monthly IPCA (%)."""
    return round(0.35 + 0.25 * math.sin(month.month / 12 * 2 * math.pi + month.year), 2)


def _values(code: int, lo: date, hi: date) -> list[dict[str, str]]:
    out = []
    if code == 433:
        month = date(lo.year, lo.month, 1)
        while month <= hi:
            if month >= lo:
                out.append({"data": month.strftime("%d/%m/%Y"), "valor": f"{ipca(month):.2f}"})
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        return out
    day = lo
    while day <= hi:
        if day.weekday() < 5:
            target = selic_target(day)
            value = target if code == 432 else ((1 + target / 100) ** (1 / 252) - 1) * 100
            text = f"{value:.2f}" if code == 432 else f"{value:.6f}"
            out.append({"data": day.strftime("%d/%m/%Y"), "valor": text})
        day += timedelta(days=1)
    return out


def handler(request: httpx.Request, today: date | None = None) -> httpx.Response:
    """Answer like the SGS API: nothing after today (the clock the stand-in was given)."""
    match = PATH.search(request.url.path)
    if not match:
        return httpx.Response(404, json={"error": "not found"})
    code = int(match.group(1))
    lo = parse_date(request.url.params["dataInicial"])
    hi = parse_date(request.url.params["dataFinal"])
    if code != 433 and (hi - lo) >= timedelta(days=MAX_DAILY_WINDOW_DAYS):
        return httpx.Response(
            406,
            json={
                "error": "O sistema aceita uma janela de consulta de, no máximo, "
                "10 anos em séries de periodicidade diária",
                "tag": "invalid-date-range",
            },
        )
    if today is not None:
        hi = min(hi, today)
    return httpx.Response(
        200,
        content=json.dumps(_values(code, lo, hi)).encode(),
        headers={"content-type": "application/json"},
    )


def sample_client(clock: Callable[[], datetime] | None = None) -> httpx.Client:
    """An httpx client whose transport is this stand-in (answering as of clock())."""
    return httpx.Client(
        transport=httpx.MockTransport(
            lambda request: handler(request, clock().date() if clock else None)
        )
    )
