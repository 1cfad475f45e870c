"""The static HTML dashboards: every card's SQL returns rows on the local gold, and
each page opens in headless Chromium with every chart drawn and no console error
(screenshots kept in test-artifacts/)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from olist_elt.dashboards import load_dashboards
from olist_elt.dashboards.commands import render_dashboards
from olist_elt.dashboards.query import card_runner
from olist_elt.dashboards.render import RenderedDashboard
from olist_elt.run.record import RunSummary
from olist_elt.settings import REPO_ROOT, Settings

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def test_every_card_returns_rows_on_duckdb(built: tuple[Settings, RunSummary]) -> None:
    with card_runner(built[0], "duckdb") as run:
        for dashboard in load_dashboards():
            for card in dashboard.cards:
                result = run(card.sql)
                assert result.rows, f"{dashboard.name} / {card.title} returned no rows"
                for column in [card.x, *card.y]:
                    if column:
                        assert column in result.columns, (card.title, column)


@pytest.fixture(scope="module")
def rendered(
    built: tuple[Settings, RunSummary], tmp_path_factory: pytest.TempPathFactory
) -> list[RenderedDashboard]:
    return render_dashboards(built[0], "duckdb", tmp_path_factory.mktemp("html"))


def test_render_writes_a_page_per_dashboard_with_no_failed_card(
    rendered: list[RenderedDashboard],
) -> None:
    assert {r.slug for r in rendered} == {d.slug for d in load_dashboards()}
    for page in rendered:
        assert page.errors == []
        text = page.path.read_text()
        assert "<script src=plotly.min.js>" in text and "https://" not in text
    assert (rendered[0].path.parent / "index.html").exists()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,2400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_pages_open_in_chromium_with_every_chart_drawn(
    rendered: list[RenderedDashboard], browser
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(exist_ok=True)
    for page in rendered:
        browser.get(page.path.as_uri())
        script = "return document.querySelectorAll('.chart .main-svg').length > 0 && " + (
            "[...document.querySelectorAll('.chart')].every(d => d.querySelector('.main-svg'))"
        )
        WebDriverWait(browser, 20).until(lambda d, s=script: d.execute_script(s))
        # Drawn = the chart's SVG holds marks: bars, points, line paths or slices.
        drawn = browser.execute_script(
            "return [...document.querySelectorAll('.chart')].filter(d => "
            "d.querySelectorAll('.trace .point, .trace path.js-line, .slice').length > 0"
            ").length"
        )
        assert drawn == page.charts > 0, page.slug
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
        assert browser.save_screenshot(str(ARTIFACTS / f"dashboard-{page.slug}.png"))
