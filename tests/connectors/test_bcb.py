"""BCB SGS connector against a local server speaking the SGS API's shape."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from olist_elt.connectors.bcb import BcbSgsConnector, SeriesResult
from olist_elt.connectors.bcb.sample import handler as sample_handler
from olist_elt.connectors.http import BadPayload, ConnectorError
from olist_elt.lake.lander import Lander
from olist_elt.lake.manifest import Manifest
from olist_elt.security.audit import AuditLog

DAILY = {11: ("selic_daily", "daily")}
MONTHLY = {433: ("ipca", "monthly")}


@pytest.fixture()
def writer(lake_storage, tmp_path: Path) -> Lander:
    """The lake lands the connector's items in a folder and in a bucket on moto alike."""
    return Lander(lake_storage, AuditLog(tmp_path / "audit.jsonl"))


def ingest_bcb(
    client: httpx.Client, base_url: str, *, writer: Lander, run_id: str, **options
) -> list[SeriesResult]:
    """Read the series with the connector and land what it yields."""
    connector = BcbSgsConnector(client, base_url, **options)
    writer.land(connector, connector.read(writer.view(connector)), run_id)
    return connector.results


def _sample_app(calls: list[tuple[str, str, str]]):
    """Serve the offline stand-in's answers from a real HTTP server, recording calls."""

    def handle(request: Request) -> Response:
        calls.append((request.path, request.args["dataInicial"], request.args["dataFinal"]))
        url = httpx.URL("http://bcb" + request.path, params=dict(request.args))
        answer = sample_handler(httpx.Request("GET", url))
        return Response(answer.content, answer.status_code, content_type="application/json")

    return handle


def _d(text: str) -> date:
    day, month, year = map(int, text.split("/"))
    return date(year, month, day)


def _raw(writer: Lander) -> list:
    return Manifest(writer.storage).records("bcb")


def test_a_30_year_daily_request_is_windowed_under_10_years(
    writer: Lander, httpserver: HTTPServer
) -> None:
    calls: list = []
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_sample_app(calls))
    with httpx.Client() as client:
        [result] = ingest_bcb(
            client,
            httpserver.url_for("/"),
            writer=writer,
            run_id="r1",
            start=date(1995, 1, 1),
            end=date(2024, 12, 31),
            series=DAILY,
        )
    spans = [(_d(lo), _d(hi)) for _, lo, hi in calls]
    assert len(spans) == result.requests == 4  # 10,958 days in windows of <= 3,650
    assert spans[0][0] == date(1995, 1, 1) and spans[-1][1] == date(2024, 12, 31)
    assert all((hi - lo).days < 3650 for lo, hi in spans)
    assert all((spans[i + 1][0] - spans[i][1]).days == 1 for i in range(3))  # no gap, no overlap
    assert result.watermark == "2024-12-31"
    assert len(_raw(writer)) == 4


def test_the_watermark_makes_the_next_run_fetch_only_new_dates(
    writer: Lander, httpserver: HTTPServer
) -> None:
    calls: list = []
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_sample_app(calls))
    with httpx.Client() as client:
        base = httpserver.url_for("/")
        first = ingest_bcb(
            client,
            base,
            writer=writer,
            run_id="r1",
            start=date(2018, 1, 1),
            end=date(2018, 6, 30),
            series=MONTHLY,
        )[0]
        second = ingest_bcb(
            client,
            base,
            writer=writer,
            run_id="r2",
            start=date(2018, 1, 1),
            end=date(2018, 9, 30),
            series=MONTHLY,
        )[0]
        third = ingest_bcb(
            client,
            base,
            writer=writer,
            run_id="r3",
            start=date(2018, 1, 1),
            end=date(2018, 9, 30),
            series=MONTHLY,
        )[0]
    assert first.rows == 6 and first.watermark == "2018-06-01"
    assert calls[1][1] == "02/06/2018"  # starts the day after the watermark
    assert second.rows == 3 and second.watermark == "2018-09-01"
    assert third.rows == 0 and third.windows == 0
    dates = []
    for record in _raw(writer):
        items = json.loads(writer.storage.read_bytes(record.object_key))
        dates += [i["data"] for i in items]
    assert len(dates) == len(set(dates)) == 9


def test_decimal_text_is_kept_exactly(writer: Lander, httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        [
            {"data": "01/01/2018", "valor": "0.29"},
            {"data": "01/02/2018", "valor": "-0.10"},
            {"data": "01/03/2018", "valor": "12"},
        ]
    )
    with httpx.Client() as client:
        ingest_bcb(
            client,
            httpserver.url_for("/"),
            writer=writer,
            run_id="r",
            series=MONTHLY,
            start=date(2018, 1, 1),
            end=date(2018, 3, 31),
        )
    [record] = _raw(writer)
    values = [i["valor"] for i in json.loads(writer.storage.read_bytes(record.object_key))]
    assert values == ["0.29", "-0.10", "12"] and record.rows == 3


def test_http_500_then_success_is_retried(writer: Lander, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(re.compile(".*")).respond_with_data("oops", status=500)
    httpserver.expect_ordered_request(re.compile(".*")).respond_with_json(
        [{"data": "01/01/2018", "valor": "0.29"}]
    )
    with httpx.Client() as client:
        [result] = ingest_bcb(
            client,
            httpserver.url_for("/"),
            writer=writer,
            run_id="r",
            series=MONTHLY,
            start=date(2018, 1, 1),
            end=date(2018, 1, 31),
            max_wait_s=0.1,
        )
    assert result.rows == 1


@pytest.mark.parametrize(
    "answer,error,match",
    [
        (Response("denied", 401), ConnectorError, "HTTP 401"),
        (Response("{not json", 200, content_type="application/json"), BadPayload, "not valid JSON"),
        (
            # deeper than json.loads goes: bad JSON, not a RecursionError
            Response("[" * 100_000 + "]" * 100_000, 200, content_type="application/json"),
            BadPayload,
            "not valid JSON",
        ),
        (
            Response(json.dumps({"data": "01/01/2018"}), 200, content_type="application/json"),
            BadPayload,
            "expected a JSON list",
        ),
        (
            Response(
                json.dumps([{"data": "2018-01-01", "valor": "1"}]),
                200,
                content_type="application/json",
            ),
            BadPayload,
            "bad date",
        ),
        (
            Response(
                json.dumps([{"data": "01/01/2018", "valor": "1,5"}]),
                200,
                content_type="application/json",
            ),
            BadPayload,
            "bad value",
        ),
        (
            Response(
                json.dumps({"error": "janela de 10 anos"}), 406, content_type="application/json"
            ),
            ConnectorError,
            "406",
        ),
        (
            # JSON's \u0000 escape: DuckDB keeps it in text, PostgreSQL cannot store it
            Response(
                json.dumps([{"data": "01/01/2018", "valor": "1", "nota": "a\u0000b"}]),
                200,
                content_type="application/json",
            ),
            BadPayload,
            r"NUL character \(U\+0000\) at \$\[0\]\.nota",
        ),
    ],
)
def test_bad_answers_are_clear_errors_with_nothing_in_raw(
    writer: Lander, httpserver: HTTPServer, answer: Response, error: type, match: str
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_response(answer)
    with httpx.Client() as client, pytest.raises(error, match=match):
        ingest_bcb(
            client,
            httpserver.url_for("/"),
            writer=writer,
            run_id="r",
            series=MONTHLY,
            start=date(2018, 1, 1),
            end=date(2018, 3, 31),
            max_wait_s=0.1,
        )
    assert _raw(writer) == []
    assert list(writer.storage.list("raw/bcb")) == []
