"""The static HTML dashboards: every card's SQL (and the aggregated SQL Metabase runs)
returns rows on the local gold; a card without a format or with an all-zero series is
caught; each page opens offline in headless Chromium with every chart drawn, formatted
values, and filters that redraw every card (screenshots kept in test-artifacts/)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from olist_elt.dashboards import load_dashboards
from olist_elt.dashboards.commands import render_dashboards
from olist_elt.dashboards.metabase import card_payload
from olist_elt.dashboards.model import Dashboard, DashboardError
from olist_elt.dashboards.query import CardResult, card_runner
from olist_elt.dashboards.render import RenderReport, render_all, render_dashboard
from olist_elt.run.record import RunSummary
from olist_elt.settings import REPO_ROOT, Settings
from olist_elt.targets import target_for
from tests.conftest import copy_workspace

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
POSITION = {"row": 0, "col": 0, "width": 12, "height": 4}


def test_every_card_returns_rows_on_duckdb(built: tuple[Settings, RunSummary]) -> None:
    with card_runner(built[0], "duckdb") as run:
        for dashboard in load_dashboards():
            for card in dashboard.cards:
                result = run(card.aggregate_sql())
                assert result.rows, f"{dashboard.name} / {card.title} returned no rows"
                for column in [card.x, *card.y]:
                    if column:
                        assert column in result.columns, (card.title, column)


def _rounded(rows: list[tuple]) -> list[tuple]:
    """Rows with floats to 6 places (a sum's last bits follow the rows' order)."""
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def test_every_cards_metabase_query_takes_its_filters(built: tuple[Settings, RunSummary]) -> None:
    """The native query Metabase stores, with its optional clauses as Metabase runs
    them: dropped when no filter is set, the tags replaced by a date or a text."""
    with card_runner(built[0], "duckdb") as run:
        for dashboard in load_dashboards():
            for card in dashboard.cards:
                query = card_payload(card, 1, 1, dashboard.filters)["dataset_query"]["native"]
                tags = query["template-tags"]
                if not tags:
                    continue

                def with_tags(values: dict[str, str], sql: str = query["query"]) -> list:
                    def fill(clause: re.Match[str]) -> str:
                        name = re.search(r"\{\{(\w+)\}\}", clause[1])[1]  # type: ignore[index]
                        return (
                            clause[1].replace(f"{{{{{name}}}}}", values[name])
                            if name in values
                            else ""
                        )

                    return _rounded(run(re.sub(r"\[\[(.*?)\]\]", fill, sql)).rows)

                everything = {
                    n: ("date '2000-01-01'" if n.endswith("_from") else "date '2100-01-01'")
                    for n, t in tags.items()
                    if t["type"] == "date"
                }
                unfiltered = _rounded(run(card.aggregate_sql()).rows)
                assert with_tags({}) == with_tags(everything) == unfiltered, card.title
                for name, tag in tags.items():
                    nothing = "date '1999-01-01'" if tag["type"] == "date" else "'no such value'"
                    if name.endswith("_from"):
                        nothing = "date '2100-01-01'"
                    rows = with_tags({name: nothing})
                    if card.x or not card.y:
                        assert rows == [], (card.title, name)
                    else:  # one total: 0 for a sum over no rows, null for a ratio
                        assert all(v in (None, 0) for v in rows[0][: len(card.y)]), card.title


def test_a_card_without_a_format_fails_validation() -> None:
    card = {"title": "GMV", "chart": "number", "sql": "select 1 as v", "y": ["v"]}
    with pytest.raises(ValueError, match="no format for v"):
        Dashboard.model_validate({"name": "d", "cards": [{**card, "position": POSITION}]})


def test_a_table_column_without_a_format_fails_the_page(tmp_path: Path) -> None:
    dashboard = Dashboard.model_validate(
        {
            "name": "d",
            "cards": [{"title": "t", "chart": "table", "sql": "s", "position": POSITION}],
            "slug": "d",
        }
    )

    def run(sql: str) -> CardResult:
        return CardResult(["state_code", "orders"], [("SP", 3)])

    with pytest.raises(DashboardError, match="no format for state_code, orders"):
        render_dashboard(dashboard, run, tmp_path, [dashboard], "test")


def test_an_all_zero_series_is_a_failed_card(tmp_path: Path) -> None:
    chart = {
        "title": "Orders and temperature",
        "chart": "bar",
        "sql": "s",
        "x": "day",
        "y": ["orders"],
        "formats": {"day": "date", "orders": "integer"},
        "x_title": "Day",
        "y_title": "Orders",
        "position": POSITION,
    }
    dashboard = Dashboard.model_validate({"name": "d", "cards": [chart], "slug": "d"})

    def run(sql: str) -> CardResult:
        return CardResult(["day", "orders"], [("2026-01-01", 0), ("2026-01-02", None)])

    page = render_dashboard(dashboard, run, tmp_path, [dashboard], "test")

    assert page.errors == ["Orders and temperature: EmptySeries"] and page.charts == 0


def test_a_page_on_gold_only_is_kept_while_the_served_version_is_the_same(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    dashboards = load_dashboards()
    history = {d.slug for d in dashboards if any(r.startswith("ops.") for r in d.relations)}
    on_gold = {d.slug for d in dashboards} - history
    assert history and on_gold
    queried: list[str] = []
    with card_runner(built[0], "duckdb") as query:

        def run(sql: str) -> CardResult:
            queried.append(sql)
            return query(sql)

        def render(version: str | None) -> tuple[dict[str, tuple[int, list[str]]], list[str]]:
            queried.clear()
            pages = render_all(dashboards, run, tmp_path, "test", served_version=version)
            return {p.slug: (p.charts, p.errors) for p in pages}, list(queried)

        first, asked = render("publish-1")
        kept_html = {s: (tmp_path / f"{s}.html").read_bytes() for s in on_gold}
        again, asked_again = render("publish-1")
        # the history page is queried again, the pages on gold are kept as written
        assert asked_again and all("ops." in sql and "gold." not in sql for sql in asked_again)
        assert len(asked_again) < len(asked)
        assert again == first
        assert {s: (tmp_path / f"{s}.html").read_bytes() for s in on_gold} == kept_html
        # a page file changed since: written again
        edited = sorted(on_gold)[0]
        (tmp_path / f"{edited}.html").write_text("edited", encoding="utf-8")
        _, asked_after_edit = render("publish-1")
        assert any("gold." in sql for sql in asked_after_edit)
        assert (tmp_path / f"{edited}.html").read_bytes() != b"edited"
        # another publish, or no version known: every page is queried
        _, asked_new = render("publish-2")
        _, asked_unknown = render(None)
        assert len(asked_new) == len(asked_unknown) == len(asked)


@pytest.fixture(scope="module")
def rendered(
    built: tuple[Settings, RunSummary], tmp_path_factory: pytest.TempPathFactory
) -> RenderReport:
    return render_dashboards(built[0], "duckdb", tmp_path_factory.mktemp("html"))


def test_render_writes_a_page_per_dashboard_with_no_failed_card(rendered: RenderReport) -> None:
    assert {r.slug for r in rendered} == {d.slug for d in load_dashboards()}
    assert rendered.failed_cards == 0
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


DRAWN = (
    "return [...document.querySelectorAll('.chart')].filter(d => "
    "d.querySelectorAll('.trace .point, .trace path.js-line, .slice').length > 0).length"
)


def _open(browser, page) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.path.as_uri())
    script = (
        "return [...document.querySelectorAll('.chart')].every(d => d.querySelector('.main-svg'))"
    )
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(script))


def _card_text(browser, title: str) -> str:
    return browser.execute_script(
        "return [...document.querySelectorAll('.card')].find(c => "
        "c.querySelector('h2').textContent === arguments[0]).innerText",
        title,
    )


def _bars(browser, title: str) -> int:
    return browser.execute_script(
        "const c = [...document.querySelectorAll('.card')].find(c => "
        "c.querySelector('h2').textContent === arguments[0]);"
        "return c.querySelectorAll('.trace .point').length",
        title,
    )


def _pick(browser, select_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, select_id)).select_by_value(value)


def test_pages_open_in_chromium_with_every_chart_drawn_and_formatted(
    rendered: RenderReport, browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for page in rendered:
        _open(browser, page)
        assert browser.execute_script(DRAWN) == page.charts > 0, page.slug
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
        assert browser.save_screenshot(str(ARTIFACTS / f"dashboard-{page.slug}.png"))
    sales = next(p for p in rendered if p.slug == "sales")
    _open(browser, sales)
    assert "R$" in _card_text(browser, "GMV")
    delivery = next(p for p in rendered if p.slug == "delivery")
    _open(browser, delivery)
    assert _card_text(browser, "Late-delivery rate").rstrip().endswith("%")


def test_a_state_filter_redraws_every_card(rendered: RenderReport, browser) -> None:
    sales = next(p for p in rendered if p.slug == "sales")
    _open(browser, sales)
    titles = [c.title for c in next(d for d in load_dashboards() if d.slug == "sales").cards]
    before = {t: _card_text(browser, t) for t in titles}
    assert _bars(browser, "GMV by state") > 1

    _pick(browser, "f-state_code", "SP")

    after = {t: _card_text(browser, t) for t in titles}
    assert _bars(browser, "GMV by state") == 1
    assert [t for t in titles if after[t] == before[t]] == []  # every card redrawn
    assert "R$" in after["GMV"]
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-sales-state-SP.png"))


def test_a_category_filter_redraws_the_item_cards_and_the_others_say_so(
    rendered: RenderReport, browser
) -> None:
    sales = next(p for p in rendered if p.slug == "sales")
    _open(browser, sales)
    before = _card_text(browser, "GMV")
    category = browser.execute_script(
        "return document.getElementById('f-category').options[1].value"
    )

    _pick(browser, "f-category", category)

    assert _card_text(browser, "GMV") != before
    assert _bars(browser, "Top 10 categories by GMV") == 1
    assert "not filtered by category" in _card_text(browser, "Orders")


def test_a_month_range_redraws_the_numbers_and_says_its_period(
    rendered: RenderReport, browser
) -> None:
    delivery = next(p for p in rendered if p.slug == "delivery")
    _open(browser, delivery)
    months = browser.execute_script(
        "return [...document.getElementById('f-purchase_month-from').options].map(o => o.value)"
    )
    before = _card_text(browser, "Average delivery days")

    _pick(browser, "f-purchase_month-to", months[len(months) // 2])

    after = _card_text(browser, "Average delivery days")
    assert after != before and f"to {months[len(months) // 2]}" in after
    assert "not filtered by purchase month" in _card_text(browser, "Latest temperature by capital")


def test_every_dashboard_file_declares_a_date_range_and_a_state_filter() -> None:
    for slug in ("sales", "delivery"):
        data = yaml.safe_load((REPO_ROOT / "dashboards" / f"{slug}.yml").read_text())
        kinds = {f["column"]: f["kind"] for f in data["filters"]}
        assert kinds["purchase_month"] == "month_range" and kinds["state_code"] == "choice"
    sales = yaml.safe_load((REPO_ROOT / "dashboards" / "sales.yml").read_text())
    assert "category" in {f["column"] for f in sales["filters"]}
    # the ops data has no purchase or customer: its date is the run's, its state the run's
    ops = yaml.safe_load((REPO_ROOT / "dashboards" / "operations.yml").read_text())
    kinds = {f["column"]: f["kind"] for f in ops["filters"]}
    assert kinds == {"run_month": "month_range", "outcome": "choice"}
    assert all(not c.get("unfiltered") for c in ops["cards"])


def test_a_filtered_table_without_measures_must_say_its_order() -> None:
    table = {"title": "t", "chart": "table", "sql": "select 1", "position": POSITION}
    filters = [{"column": "outcome", "label": "Outcome", "kind": "choice"}]
    with pytest.raises(ValueError, match="needs order_by"):
        Dashboard.model_validate({"name": "d", "filters": filters, "cards": [table]})

    card = Dashboard.model_validate(
        {"name": "d", "filters": filters, "cards": [{**table, "order_by": "day desc", "limit": 5}]}
    ).cards[0]

    # what Metabase runs: filtered in a subquery, then ordered and cut
    assert card.aggregate_sql("outcome = 'failed'").endswith(
        "where outcome = 'failed'\norder by day desc nulls last\nlimit 5"
    )
    assert card.rows_sql().endswith("order by day desc nulls last")  # the page cuts after


@pytest.fixture(scope="module")
def ops_page(
    built: tuple[Settings, RunSummary], tmp_path_factory: pytest.TempPathFactory
) -> RenderReport:
    """The Operations page over the shared run and an earlier failed one (a month
    before, its silver gate failed), so both of the page's filters have two values."""
    settings = copy_workspace(built[0], tmp_path_factory.mktemp("ops") / "ws")
    good = built[1].to_dict()
    moved = datetime.fromisoformat(good["started_at"]) - timedelta(days=40)
    failed = {
        **good,
        "run_id": f"{moved:%Y%m%dT%H%M%SZ}-failed",
        "started_at": moved.isoformat(),
        "finished_at": (moved + timedelta(seconds=30)).isoformat(),
        "outcome": "failed",
        "failing_step": "gate silver",
        "steps": [{**s, "seconds": (s.get("seconds") or 0) * 2} for s in good["steps"]],
        "gates": {
            layer: {
                **gate,
                "results": [{**c, "outcome": "failed"} for c in gate.get("results", [])[:3]],
            }
            for layer, gate in (good.get("gates") or {}).items()
        },
    }
    target_for(settings).record_history(failed)
    pages = render_dashboards(settings, "duckdb", tmp_path_factory.mktemp("ops-html"))
    assert pages.failed_cards == 0
    return next(p for p in pages if p.slug == "operations")


def test_each_operations_filter_redraws_every_card(ops_page: RenderReport, browser) -> None:
    titles = [c.title for c in next(d for d in load_dashboards() if d.slug == "operations").cards]
    _open(browser, ops_page)
    before = {t: _card_text(browser, t) for t in titles}
    assert before["Runs"].strip().endswith("2") and before["Failed runs"].strip().endswith("1")
    failures = browser.execute_script(
        "const c = [...document.querySelectorAll('.card')].find(c => "
        "c.querySelector('h2').textContent === 'Gate failures by check');"
        "return [...c.querySelectorAll('tbody tr')].map(tr => Number(tr.cells[1].textContent))"
    )
    assert failures[0] > 0 and failures == sorted(failures, reverse=True)  # failing first

    _pick(browser, "f-outcome", "success")

    succeeded = {t: _card_text(browser, t) for t in titles}
    assert [t for t in titles if succeeded[t] == before[t]] == []
    assert (
        succeeded["Failed runs"].strip().endswith("0") and "failed" not in succeeded["Latest runs"]
    )
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-operations-succeeded.png"))

    _pick(browser, "f-outcome", "")
    months = browser.execute_script(
        "return [...document.getElementById('f-run_month-from').options].map(o => o.value)"
    )
    assert len(months) == 2
    _pick(browser, "f-run_month-from", months[-1])

    latest = {t: _card_text(browser, t) for t in titles}
    assert [t for t in titles if latest[t] == before[t]] == []
    assert latest["Failed runs"].strip().endswith("0") and f"{months[-1]} to" in latest["Runs"]

    _pick(browser, "f-outcome", "failed")  # the failed run is in the month left out

    assert _card_text(browser, "Runs").strip().endswith("0")  # a count of nothing, not "–"
