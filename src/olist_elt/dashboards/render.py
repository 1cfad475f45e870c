"""A static HTML dashboard (no server): one page per dashboard and an index, charts
drawn by plotly.js, written once beside the pages (nothing loaded from the network)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from olist_elt.dashboards.model import Card, Dashboard
from olist_elt.dashboards.query import CardQueryError, CardResult, Runner

ROW_PX = 60
PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1c2733; }
header { background: #1c2733; color: #fff; padding: 12px 24px; }
header a { color: #9ec5fe; margin-right: 16px; }
main { display: grid; grid-template-columns: repeat(24, 1fr); grid-auto-rows: ROWpx;
       gap: 8px; padding: 16px; }
.card { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px #0002; padding: 8px;
        overflow: auto; display: flex; flex-direction: column; }
.card h2 { font-size: 14px; margin: 0 0 4px; }
.card .chart { flex: 1; min-height: 0; }
.number { font-size: 40px; font-weight: 600; margin: auto 0; }
.error { color: #b00020; }
.off { color: #5b6b7b; margin: auto 0; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 2px 8px; border-bottom: 1px solid #e3e7eb; text-align: left; }
footer { padding: 0 24px 16px; font-size: 12px; color: #5b6b7b; }
""".replace("ROW", str(ROW_PX))
PLOTLY_TRACES = {"bar": "bar", "row": "bar", "line": "scatter", "scatter": "scatter"}


@dataclass
class RenderedDashboard:
    """What render wrote for one dashboard; errors hold '<card title>: <error class>'."""

    slug: str
    path: Path
    charts: int
    errors: list[str]


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


def _json_value(value: Any) -> Any:
    """Plotly-friendly values (dates as ISO text, Decimals as floats)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return float(value)


def _figure(card: Card, result: CardResult) -> dict[str, Any]:
    """A plotly figure (data + layout) for a chart card."""
    x = [_json_value(v) for v in result.column(card.x or result.columns[0])]
    if card.chart == "pie":
        values = [_json_value(v) for v in result.column(card.y[0])]
        data = [{"type": "pie", "labels": x, "values": values, "hole": 0.4}]
    else:
        data = []
        for column in card.y:
            y = [_json_value(v) for v in result.column(column)]
            trace: dict[str, Any] = {"type": PLOTLY_TRACES[card.chart], "name": column}
            if card.chart == "row":
                trace.update(x=y[::-1], y=[str(v) for v in x][::-1], orientation="h")
            else:
                trace.update(x=x, y=y)
            if card.chart == "line":
                trace["mode"] = "lines+markers"
            if card.chart == "scatter":
                trace["mode"] = "markers"
            data.append(trace)
    layout = {
        "margin": {"l": 48, "r": 8, "t": 8, "b": 40},
        "showlegend": len(data) > 1 or card.chart == "pie",
        "autosize": True,
    }
    if card.chart == "row":
        layout["margin"]["l"] = 160
    return {"data": data, "layout": layout}


def _table(result: CardResult) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in result.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row)
        + "</tr>"
        for row in result.rows[:200]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(result: CardResult) -> str:
    value = result.rows[0][0] if result.rows else None
    if isinstance(value, float | Decimal):
        text = f"{value:,.2f}"
    elif value is None:
        text = "–"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f'<div class="number">{html.escape(text)}</div>'


def _card_body(
    card: Card, run: Runner, div_id: str, scripts: list[str], errors: list[str]
) -> tuple[str, int]:
    """A card's HTML (and its plot script); 1 when a chart was drawn."""
    try:
        result = run(card.sql)
    except CardQueryError as exc:
        errors.append(f"{card.title}: {exc}")
        return (
            f'<div class="error failed-card">query failed: {html.escape(str(exc))}</div>',
            0,
        )
    if card.chart == "number":
        return _number(result), 0
    if card.chart == "table":
        return _table(result), 0
    figure = json.dumps(_figure(card, result))
    scripts.append(
        f"Plotly.newPlot('{div_id}', {figure}.data, {figure}.layout, "
        "{responsive: true, displayModeBar: false});"
    )
    return f'<div class="chart" id="{div_id}" data-chart="{card.chart}"></div>', 1


def render_dashboard(
    dashboard: Dashboard,
    run: Runner,
    out_dir: Path,
    nav: list[Dashboard],
    source: str,
    unavailable: frozenset[str] = frozenset(),
) -> RenderedDashboard:
    """Write <slug>.html: every card queried and drawn in its grid position; a card on
    a relation that is switched off (unavailable) says so instead."""
    cards_html, scripts, errors, charts = [], [], [], 0
    for i, card in enumerate(dashboard.cards):
        pos = card.position
        style = (
            f"grid-column: {pos.col + 1} / span {pos.width}; "
            f"grid-row: {pos.row + 1} / span {pos.height};"
        )
        missing = sorted(card.relations & unavailable)
        if missing:
            body = (
                f'<div class="off">{html.escape(", ".join(missing))} not built: the BCB and '
                "OpenWeather connectors are off (OLIST_APIS=off)</div>"
            )
        else:
            body, drawn = _card_body(card, run, f"chart-{i}", scripts, errors)
            charts += drawn
        title = html.escape(card.title)
        hint = html.escape(card.description.strip())
        cards_html.append(
            f'<section class="card" style="{style}" title="{hint}"><h2>{title}</h2>{body}</section>'
        )
    links = " ".join(f'<a href="{html.escape(d.slug)}.html">{html.escape(d.name)}</a>' for d in nav)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(dashboard.name)} · olist-elt</title>"
        f"<style>{PAGE_CSS}</style><script src=plotly.min.js></script></head><body>"
        f"<header><strong>olist-elt</strong> · {links}</header>"
        f"<main>{''.join(cards_html)}</main>"
        f"<footer>{html.escape(dashboard.description)} Source: {html.escape(source)}; "
        f"generated {generated}.</footer>"
        f"<script>{''.join(scripts)}</script></body></html>"
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
) -> list[RenderedDashboard]:
    """Every dashboard, plotly.min.js once, and index.html linking them."""
    from plotly.offline import get_plotlyjs

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
    rendered = [
        render_dashboard(d, run, out_dir, dashboards, source, unavailable) for d in dashboards
    ]
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
