"""Private helpers of the BCB connector: windows, validation."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from olist_elt.connectors.bcb.settings import MAX_DAILY_WINDOW_DAYS
from olist_elt.connectors.http import BadPayload

DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def windows(start: date, end: date, periodicity: str) -> list[tuple[date, date]]:
    """Request windows: daily series in pieces of at most 10 years, monthly in one."""
    if start > end:
        return []
    if periodicity != "daily":
        return [(start, end)]
    out = []
    while start <= end:
        stop = min(end, start + timedelta(days=MAX_DAILY_WINDOW_DAYS - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def parse_date(text: str) -> date:
    """dd/MM/yyyy as a date."""
    return datetime.strptime(text, "%d/%m/%Y").date()


def validate(payload: Any, code: int) -> list[dict[str, str]]:
    """The payload must be a list of {"data": "dd/MM/yyyy", "valor": "decimal text"}."""
    if not isinstance(payload, list):
        raise BadPayload(f"series {code}: expected a JSON list, got {type(payload).__name__}")
    for i, item in enumerate(payload):
        if not isinstance(item, dict) or set(item) != {"data", "valor"}:
            raise BadPayload(f"series {code}: item {i} is not {{data, valor}}: {item!r:.100}")
        if not isinstance(item["data"], str) or not DATE.match(item["data"]):
            raise BadPayload(f"series {code}: item {i} has a bad date {item['data']!r}")
        if not isinstance(item["valor"], str) or not DECIMAL.match(item["valor"]):
            raise BadPayload(f"series {code}: item {i} has a bad value {item['valor']!r}")
        parse_date(item["data"])
    return payload
