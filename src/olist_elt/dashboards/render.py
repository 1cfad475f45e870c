"""A static HTML dashboard (no server): one page per dashboard and an index, charts
drawn by plotly.js, written once beside the pages (nothing loaded from the network).

Each card's query runs once; its rows (at the grain of the dashboard's filters) are
embedded in the page, and static/page.js keeps the rows the filters pick, aggregates
them by x with the card's measures, formats and draws them, offline."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from olist_elt.dashboards.kept import RenderedDashboard, keep_page, kept_page, page_key
from olist_elt.dashboards.model import Card, Dashboard, DashboardError, Filter
from olist_elt.dashboards.query import CardQueryError, CardResult, Runner

ROW_PX = 60
PAGE_JS = Path(__file__).with_name("static") / "page.js"
PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1c2733; }
header { background: #1c2733; color: #fff; padding: 12px 24px; }
header a { color: #9ec5fe; margin-right: 16px; }
.filters { padding: 12px 24px 0; display: flex; gap: 16px; flex-wrap: wrap; font-size: 13px; }
.filters label { display: flex; gap: 6px; align-items: center; }
main { display: grid; grid-template-columns: repeat(24, 1fr); grid-auto-rows: ROWpx;
       gap: 8px; padding: 16px; }
.card { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px #0002; padding: 8px;
        overflow: auto; display: flex; flex-direction: column; }
.card h2 { font-size: 14px; margin: 0 0 2px; }
.card .note { font-size: 11px; color: #5b6b7b; min-height: 13px; }
.card .chart { flex: 1; min-height: 0; }
.number { font-size: clamp(18px, 2.1vw, 40px); font-weight: 600; margin: auto 0;
          white-space: nowrap; }
.error { color: #b00020; }
.off { color: #5b6b7b; margin: auto 0; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 2px 8px; border-bottom: 1px solid #e3e7eb; text-align: left; }
footer { padding: 0 24px 16px; font-size: 12px; color: #5b6b7b; }
""".replace("ROW", str(ROW_PX))
DRAWN = ("bar", "row", "line", "pie", "scatter")


@dataclass
class RenderReport:
    """Every page render wrote; iterating it yields the pages."""

    pages: list[RenderedDashboard]

    @property
    def failed_cards(self) -> int:
        """How many cards (on every page) show a failed query."""
        return sum(len(page.errors) for page in self.pages)

    def __iter__(self) -> Iterator[RenderedDashboard]:
        return iter(self.pages)

    def __len__(self) -> int:
        return len(self.pages)

    def __getitem__(self, index: int) -> RenderedDashboard:
        return self.pages[index]


class EmptySeries(Exception):
    """A card's series is all null or all zero over the whole data."""


def _json_value(value: Any) -> Any:
    """JSON-friendly values (dates as ISO text, Decimals as floats)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _json_rows(result: CardResult) -> list[list[Any]]:
    """The rows as JSON values, converted per column (the render's hot loop at scale)."""
    columns = []
    for i in range(len(result.columns)):
        values = [row[i] for row in result.rows]
        sample = next((v for v in values if v is not None), None)
        if sample is None or isinstance(sample, bool | int | float | str):
            columns.append(values)
        else:  # dates and decimals: few distinct values (months, states), converted once
            converted = {v: _json_value(v) for v in set(values) if v is not None}
            columns.append([None if v is None else converted[v] for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _check_columns(dashboard: Dashboard, card: Card, result: CardResult) -> None:
    """The card's SQL returns what it declares; a table's every column has a format."""
    needed = [card.x] if card.x else []
    needed += [c for y in card.y for c in card.measure(y).columns]
    needed += [f.column for f in dashboard.filters if f.column not in card.unfiltered]
    missing = [c for c in needed if c not in result.columns]
    if missing:
        raise DashboardError(
            f"{dashboard.slug}: card {card.title!r} returns no column {', '.join(missing)}"
        )
    if card.chart == "table" and not card.y:
        unformatted = [c for c in result.columns if c not in card.formats]
        if unformatted:
            raise DashboardError(
                f"{dashboard.slug}: card {card.title!r} has no format for {', '.join(unformatted)}"
            )


def aggregate(card: Card, result: CardResult) -> dict[str, list[float | None]]:
    """Every y series of the card over all its rows, grouped by x (as the page does
    with no filter picked)."""
    measures = {y: card.measure(y) for y in card.y}
    needed = sorted({c for m in measures.values() for c in m.columns})
    index = [result.columns.index(c) for c in needed]
    xi = result.columns.index(card.x) if card.x else None
    largest = {m.max for m in measures.values() if m.max}
    sums: dict[Any, list[float | None]] = {}
    for row in result.rows:
        key = row[xi] if xi is not None else ""
        group = sums.get(key)
        if group is None:
            group = sums[key] = [None] * len(needed)
        for k, i in enumerate(index):
            value = row[i]
            if value is None:
                continue
            if needed[k] in largest:
                group[k] = float(value) if group[k] is None else max(group[k], float(value))
            else:
                group[k] = (group[k] or 0.0) + float(value)
    position = {c: k for k, c in enumerate(needed)}
    series: dict[str, list[float | None]] = {}
    for y, m in measures.items():
        values: list[float | None] = []
        for group in sums.values():
            if m.sum or m.max:
                total = group[position[m.sum or m.max]]
                values.append(None if total is None else total * m.scale)
            else:
                num, den = (group[position[c]] for c in m.ratio or ())
                values.append((num or 0.0) / den * m.scale if den else None)
        series[y] = values
    return series


def check_series(card: Card, result: CardResult) -> None:
    """Raise EmptySeries when a drawn series is all null or all zero."""
    if card.chart not in DRAWN:
        return
    for y, values in aggregate(card, result).items():
        if y not in card.may_be_zero and not any(v for v in values):
            raise EmptySeries(f"series {y} is all null or zero")


def _card_spec(card: Card, div_id: str, dataset: str) -> dict[str, Any]:
    """What page.js needs to draw the card (its rows are datasets[dataset])."""
    return {
        "id": div_id,
        "chart": card.chart,
        "x": card.x,
        "y": card.y,
        "measures": [
            {**card.measure(y).model_dump(), "columns": card.measure(y).columns} for y in card.y
        ],
        "formats": card.formats,
        "labels": card.labels,
        "value_labels": card.value_labels,
        "x_title": card.x_title,
        "y_title": card.y_title,
        "sort": card.sort,
        "limit": card.limit,
        "unfiltered": card.unfiltered,
        "period": card.period,
        "dataset": dataset,
    }


def _filter_bar(
    filters: list[Filter], specs: list[dict[str, Any]], datasets: dict[str, dict[str, Any]]
) -> tuple[str, list[str]]:
    """The filter controls, their options taken from the cards' rows; the months."""
    values: dict[str, set[str]] = {f.column: set() for f in filters}
    for spec in specs:
        data = datasets[spec["dataset"]]
        for f in filters:
            if f.column in data["columns"] and f.column not in spec["unfiltered"]:
                i = data["columns"].index(f.column)
                distinct = {r[i] for r in data["rows"]}
                values[f.column].update(str(v) for v in distinct if v is not None)
    months: list[str] = []
    controls = []
    for f in filters:
        label = html.escape(f.label)
        if f.kind == "month_range":
            months = sorted({v[:7] for v in values[f.column]})
            for end, pick in (("from", months[:1]), ("to", months[-1:])):
                options = "".join(
                    f'<option value="{m}"{" selected" if [m] == pick else ""}>{m}</option>'
                    for m in months
                )
                controls.append(
                    f'<label>{label} {end} <select id="f-{f.column}-{end}">{options}</select>'
                    "</label>"
                )
        else:
            options = '<option value="">All</option>' + "".join(
                f'<option value="{html.escape(v)}">{html.escape(f.value_labels.get(v, v))}</option>'
                for v in sorted(values[f.column], key=lambda v: f.value_labels.get(v, v))
            )
            controls.append(f'<label>{label} <select id="f-{f.column}">{options}</select></label>')
    return f'<div class="filters">{"".join(controls)}</div>' if controls else "", months


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def render_dashboard(
    dashboard: Dashboard,
    run: Runner,
    out_dir: Path,
    nav: list[Dashboard],
    source: str,
    unavailable: frozenset[str] = frozenset(),
) -> RenderedDashboard:
    """Write <slug>.html: every card queried once, its rows embedded and drawn in its
    grid position by page.js; a card on a relation that is switched off (unavailable)
    says so instead, a card whose query fails shows its error class."""
    cards_html, specs, errors, charts = [], [], [], 0
    # Cards sharing one grain query (a YAML anchor) run it once and share its rows.
    results: dict[str, CardResult | CardQueryError] = {}
    datasets: dict[str, dict[str, Any]] = {}
    for i, card in enumerate(dashboard.cards):
        pos = card.position
        style = (
            f"grid-column: {pos.col + 1} / span {pos.width}; "
            f"grid-row: {pos.row + 1} / span {pos.height};"
        )
        div_id = f"card-{i}"
        missing = sorted(card.relations & unavailable)
        if missing:
            body = (
                f'<div class="off">{html.escape(", ".join(missing))} not built: the BCB and '
                "OpenWeather connectors are off (OLIST_APIS=off)</div>"
            )
        else:
            sql = card.rows_sql()
            if sql not in results:
                try:
                    results[sql] = run(sql)
                except CardQueryError as exc:
                    results[sql] = exc
            key = f"q{list(results).index(sql)}"
            try:
                result = results[sql]
                if isinstance(result, CardQueryError):
                    raise result
                _check_columns(dashboard, card, result)
                check_series(card, result)
            except (CardQueryError, EmptySeries) as exc:
                kind = str(exc) if isinstance(exc, CardQueryError) else "EmptySeries"
                errors.append(f"{card.title}: {kind}")
                body = f'<div class="error failed-card">query failed: {html.escape(kind)}</div>'
            else:
                if key not in datasets:
                    datasets[key] = {"columns": result.columns, "rows": _json_rows(result)}
                specs.append(_card_spec(card, div_id, key))
                if card.chart == "number":
                    body = f'<div class="number" id="{div_id}"></div>'
                elif card.chart == "table":
                    body = f'<div class="table" id="{div_id}"></div>'
                else:
                    body = f'<div class="chart" id="{div_id}" data-chart="{card.chart}"></div>'
                    charts += 1
        title = html.escape(card.title)
        hint = html.escape(card.description.strip())
        note = f'<div class="note" id="{div_id}-note"></div>'
        cards_html.append(
            f'<section class="card" style="{style}" title="{hint}"><h2>{title}</h2>{note}'
            f"{body}</section>"
        )
    filter_bar, months = _filter_bar(dashboard.filters, specs, datasets)
    data_end = None
    if dashboard.period_end_sql and specs:
        try:
            end = run(dashboard.period_end_sql).rows
            data_end = _json_value(end[0][0]) if end else None
        except CardQueryError as exc:
            errors.append(f"period end: {exc}")
    data = {
        "filters": [f.model_dump() for f in dashboard.filters],
        "cards": specs,
        "datasets": datasets,
        "months": months,
        "data_end": str(data_end)[:10] if data_end else None,
    }
    links = " ".join(f'<a href="{html.escape(d.slug)}.html">{html.escape(d.name)}</a>' for d in nav)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(dashboard.name)} · olist-elt</title>"
        f"<style>{PAGE_CSS}</style><script src=plotly.min.js></script></head><body>"
        f"<header><strong>olist-elt</strong> · {links}</header>{filter_bar}"
        f"<main>{''.join(cards_html)}</main>"
        f"<footer>{html.escape(dashboard.description)} Source: {html.escape(source)}; "
        f"generated {generated}.</footer>"
        f'<script type="application/json" id="dashboard-data">{_script_json(data)}</script>'
        "<script src=page.js></script></body></html>"
    )
    path = out_dir / f"{dashboard.slug}.html"
    path.write_text(page, encoding="utf-8")
    return RenderedDashboard(dashboard.slug, path, charts, errors)


def render_all(
    dashboards: list[Dashboard],
    run: Runner,
    out_dir: Path,
    source: str,
    unavailable: frozenset[str] = frozenset(),
    served_version: str | None = None,
) -> list[RenderedDashboard]:
    """Every dashboard, plotly.min.js and page.js once, and index.html linking them.
    served_version names what the served schemas hold (the publish they come from):
    a page that reads no run history and was written from the same version, by the
    same definitions and renderer, is kept as it is instead of queried again."""
    from plotly.offline import get_plotlyjs

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_if_changed(out_dir / "plotly.min.js", get_plotlyjs())
    _write_if_changed(out_dir / "page.js", PAGE_JS.read_text(encoding="utf-8"))
    rendered = []
    for d in dashboards:
        key = page_key(d, dashboards, source, unavailable, served_version)
        page = kept_page(d, out_dir, key)
        if page is None:
            page = render_dashboard(d, run, out_dir, dashboards, source, unavailable)
            keep_page(d, out_dir, key, page)
        rendered.append(page)
    items = "".join(
        f'<li><a href="{r.slug}.html">{html.escape(d.name)}</a> — {html.escape(d.description)}</li>'
        for d, r in zip(dashboards, rendered, strict=True)
    )
    (out_dir / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>olist-elt "
        f"dashboards</title><style>{PAGE_CSS}</style></head><body><header><strong>"
        f"olist-elt dashboards</strong></header><ul>{items}</ul></body></html>",
        encoding="utf-8",
    )
    return rendered


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
