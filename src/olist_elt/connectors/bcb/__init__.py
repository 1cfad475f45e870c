"""BCB SGS connector: IPCA and Selic series, windowed and incremental, into raw."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx

from olist_elt.connectors.bcb.helpers import parse_date, validate, windows
from olist_elt.connectors.bcb.settings import SCHEMA_VERSION, SERIES, SOURCE
from olist_elt.connectors.http import ConnectorError, get_json
from olist_elt.connectors.registry import Connector, register_connector
from olist_elt.lake.raw import RawWriter

log = logging.getLogger(__name__)


@register_connector
class BcbSgsConnector(Connector):
    """The official connector for Banco Central's SGS time series."""

    name = "bcb-sgs"
    version = "1.0.0"
    source = SOURCE
    service_identity = "svc-connector-bcb"


@dataclass
class SeriesResult:
    """What one series brought."""

    code: int
    dataset: str
    requests: int = 0
    rows: int = 0
    objects: list[str] = field(default_factory=list)
    watermark: str | None = None


def _raise_for_406(resp: httpx.Response) -> None:
    """The API's own error text for a window that is too long."""
    if resp.status_code == 406:
        raise ConnectorError(f"BCB refused the request window (HTTP 406): {resp.text[:300]}")


def ingest_bcb(
    client: httpx.Client,
    base_url: str,
    *,
    writer: RawWriter,
    run_id: str,
    start: date,
    end: date | None = None,
    series: dict[int, tuple[str, str]] = SERIES,
    attempts: int = 4,
    max_wait_s: float = 8.0,
) -> list[SeriesResult]:
    """Fetch each series from its watermark (or start) to end; one raw object per window.

    A payload is validated before anything is written; a bad one raises with nothing
    of it in raw. The watermark (latest date) is kept in each object's manifest record.
    """
    connector = BcbSgsConnector()
    end = end or date.today()
    results = []
    for code, (dataset, periodicity) in series.items():
        result = SeriesResult(code, f"series_{dataset}")
        mark = writer.watermark(SOURCE, result.dataset)
        first = date.fromisoformat(mark) + timedelta(days=1) if mark else start
        url = f"{base_url.rstrip('/')}/dados/serie/bcdata.sgs.{code}/dados"
        for lo, hi in windows(first, end, periodicity):
            params = {
                "formato": "json",
                "dataInicial": lo.strftime("%d/%m/%Y"),
                "dataFinal": hi.strftime("%d/%m/%Y"),
            }
            payload = get_json(
                client,
                url,
                params,
                source=f"BCB series {code}",
                attempts=attempts,
                max_wait_s=max_wait_s,
                on_error=_raise_for_406,
            )
            result.requests += 1
            items = [i for i in validate(payload, code) if parse_date(i["data"]) >= first]
            if not items:
                continue
            latest = max(parse_date(i["data"]) for i in items).isoformat()
            write = writer.write_bytes(
                connector,
                dataset=result.dataset,
                data=json.dumps(items, ensure_ascii=False).encode("utf-8"),
                ext="json",
                rows=len(items),
                schema_version=SCHEMA_VERSION,
                run_id=run_id,
                name=f"bcdata.sgs.{code}.json",
                watermark=latest,
            )
            result.rows += len(items) if write.created else 0
            result.objects.append(write.record.object_key)
            result.watermark = latest
        log.info("BCB %s: %d requests, %d new rows", code, result.requests, result.rows)
        results.append(result)
    return results
