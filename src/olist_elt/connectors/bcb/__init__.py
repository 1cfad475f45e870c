"""BCB SGS connector: IPCA and Selic series, windowed and incremental. It yields one
validated JSON payload per window; the lake lands them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx

from olist_elt.connectors.bcb.helpers import parse_date, validate, windows
from olist_elt.connectors.bcb.settings import SCHEMA_VERSION, SERIES, SOURCE
from olist_elt.connectors.http import ConnectorError, get_json
from olist_elt.lake.lander import LakeView
from olist_elt.lake.registry import Connector, RawItem, register_connector

log = logging.getLogger(__name__)


@dataclass
class SeriesResult:
    """What one series brought: requests made, rows read, the new watermark."""

    code: int
    dataset: str
    requests: int = 0
    rows: int = 0
    windows: int = 0
    watermark: str | None = None


def _raise_for_406(resp: httpx.Response) -> None:
    """The API's own error text for a window that is too long."""
    if resp.status_code == 406:
        raise ConnectorError(f"BCB refused the request window (HTTP 406): {resp.text[:300]}")


@register_connector
class BcbSgsConnector(Connector):
    """The official connector for Banco Central's SGS time series."""

    name = "bcb-sgs"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-bcb"

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        *,
        start: date,
        end: date | None = None,
        series: dict[int, tuple[str, str]] = SERIES,
        attempts: int = 4,
        max_wait_s: float = 8.0,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.start = start
        self.end = end or date.today()
        self.series = series
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.results: list[SeriesResult] = []
        self.retried = 0

    def _count_retry(self) -> None:
        self.retried += 1

    def read(self, lake: LakeView) -> Iterator[RawItem]:
        """Each series from the day after its watermark (or start) to end, one payload
        per window, validated before it is yielded (a bad one raises)."""
        for code, (dataset, periodicity) in self.series.items():
            result = SeriesResult(code, f"series_{dataset}")
            self.results.append(result)
            mark = lake.watermark(result.dataset)
            first = date.fromisoformat(mark) + timedelta(days=1) if mark else self.start
            url = f"{self.base_url}/dados/serie/bcdata.sgs.{code}/dados"
            for lo, hi in windows(first, self.end, periodicity):
                params = {
                    "formato": "json",
                    "dataInicial": lo.strftime("%d/%m/%Y"),
                    "dataFinal": hi.strftime("%d/%m/%Y"),
                }
                payload = get_json(
                    self.client,
                    url,
                    params,
                    source=f"BCB series {code}",
                    attempts=self.attempts,
                    max_wait_s=self.max_wait_s,
                    on_error=_raise_for_406,
                    on_retry=self._count_retry,
                )
                result.requests += 1
                items = [i for i in validate(payload, code) if parse_date(i["data"]) >= first]
                if not items:
                    continue
                latest = max(parse_date(i["data"]) for i in items).isoformat()
                result.rows += len(items)
                result.windows += 1
                result.watermark = latest
                yield RawItem(
                    dataset=result.dataset,
                    ext="json",
                    name=f"bcdata.sgs.{code}.json",
                    rows=len(items),
                    schema_version=SCHEMA_VERSION,
                    data=json.dumps(items, ensure_ascii=False).encode("utf-8"),
                    watermark=latest,
                )
            log.info("BCB %s: %d requests, %d rows read", code, result.requests, result.rows)
