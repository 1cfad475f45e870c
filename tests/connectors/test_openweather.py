"""OpenWeather connector against a local server: capitals, errors, 429 back-off."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from olist_elt.connectors.http import BadPayload, ConnectorError
from olist_elt.connectors.openweather import OpenWeatherConnector
from olist_elt.connectors.openweather.sample import handler as sample_handler
from olist_elt.connectors.openweather.settings import CAPITALS
from olist_elt.lake.lander import Lander
from olist_elt.lake.manifest import Manifest
from olist_elt.security.audit import AuditLog

KEY = "k-123"


NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.fixture()
def writer(lake_storage, tmp_path: Path) -> Lander:
    """The lake lands the connector's items in a folder and in a bucket on moto alike."""
    return Lander(lake_storage, AuditLog(tmp_path / "audit.jsonl"))


def _serve_sample(request: Request) -> Response:
    if request.args.get("appid") != KEY:
        return Response(
            json.dumps({"cod": 401, "message": "Invalid API key"}),
            401,
            content_type="application/json",
        )
    url = httpx.URL("http://ow" + request.path, params=dict(request.args))
    answer = sample_handler(httpx.Request("GET", url), NOW)
    return Response(answer.content, answer.status_code, content_type="application/json")


def _run(writer: Lander, server: HTTPServer, key: str = KEY, **kw):
    """Read the capitals with the connector and land what it yields."""
    with httpx.Client() as client:
        connector = OpenWeatherConnector(
            client, server.url_for("/"), key, max_wait_s=0.2, clock=lambda: NOW, **kw
        )
        writer.land(connector, connector.read(writer.view(connector)), "r")
    return connector


def test_all_27_capitals_land_in_one_raw_object(writer: Lander, httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_serve_sample)
    result = _run(writer, httpserver)
    assert len(result.fetched) == 27 and not result.unknown
    [record] = Manifest(writer.storage).records("openweather")
    lines = writer.storage.read_bytes(record.object_key).decode().splitlines()
    assert {json.loads(line)["state"] for line in lines} == set(CAPITALS)
    assert record.rows == 27 and record.connector == "openweather-current"
    q = [r.args["q"] for r, _ in httpserver.log]
    assert "São Paulo,BR" in q and all(r.args["units"] == "metric" for r, _ in httpserver.log)


def test_a_bad_key_is_a_clear_error_with_nothing_in_raw(
    writer: Lander, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_serve_sample)
    with pytest.raises(ConnectorError, match="olist-elt vault set openweather_api_key"):
        _run(writer, httpserver, key="wrong")
    assert Manifest(writer.storage).records() == []


def test_an_unknown_city_is_skipped_with_cod_as_a_string(
    writer: Lander, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_serve_sample)
    result = _run(writer, httpserver, capitals={"SP": "São Paulo", "XX": "Atlantis"})
    assert result.fetched == ["São Paulo"] and result.unknown == ["Atlantis"]


def test_429_waits_and_retries_within_a_bound(writer: Lander, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(re.compile(".*")).respond_with_response(
        Response(
            json.dumps({"cod": 429, "message": "slow down"}),
            429,
            headers={"Retry-After": "0"},
            content_type="application/json",
        )
    )
    httpserver.expect_ordered_request(re.compile(".*")).respond_with_handler(_serve_sample)
    result = _run(writer, httpserver, capitals={"SP": "São Paulo"})
    assert result.fetched == ["São Paulo"]
    httpserver.clear()
    httpserver.expect_request(re.compile(".*")).respond_with_response(
        Response(json.dumps({"cod": "429"}), 429, content_type="application/json")
    )
    with pytest.raises(ConnectorError, match="gave up after 3 attempts"):
        _run(writer, httpserver, capitals={"RJ": "Rio de Janeiro"}, attempts=3)


def test_a_nul_character_in_one_capitals_answer_lands_no_capital(
    writer: Lander, httpserver: HTTPServer
) -> None:
    """A free-text field (the condition silver keeps) with JSON's \\u0000 escape: the
    connector refuses the answer, naming where the character is but not the text, and
    raw stays empty, instead of a run failing where silver is published to
    PostgreSQL, which stores no NUL in text."""

    def answer(request: Request) -> Response:
        served = _serve_sample(request)
        if request.args["q"].startswith("Recife"):
            body = json.loads(served.get_data())
            body["weather"][0]["main"] = "Rain\u0000secret"
            served.set_data(json.dumps(body))
        return served

    httpserver.expect_request(re.compile(".*")).respond_with_handler(answer)
    with pytest.raises(
        BadPayload, match=r"OpenWeather Recife: .*U\+0000\) at \$\.weather\[0\]\.main"
    ) as exc:
        _run(writer, httpserver)
    assert "secret" not in str(exc.value)
    assert Manifest(writer.storage).records() == []


@pytest.mark.parametrize(
    "body",
    [
        "[1, 2]",
        json.dumps({"cod": "200", "main": {"temp": "hot"}, "dt": 1}),
        json.dumps({"cod": 200, "main": {"temp": 20, "humidity": 50}, "dt": "yesterday"}),
    ],
)
def test_a_wrong_shape_is_a_clear_error_with_nothing_in_raw(
    writer: Lander, httpserver: HTTPServer, body: str
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_data(
        body, content_type="application/json"
    )
    with pytest.raises(BadPayload):
        _run(writer, httpserver, capitals={"SP": "São Paulo"})
    assert Manifest(writer.storage).records() == []
