"""The dashboard file format: a name, a description and cards with SQL on gold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from olist_elt.errors import OlistEltError
from olist_elt.settings import REPO_ROOT

GRID_COLUMNS = 24  # Metabase's dashboard grid
DASHBOARDS_DIR = REPO_ROOT / "dashboards"
Chart = Literal["number", "table", "bar", "row", "line", "pie", "scatter"]
FORMATS = ("brl", "percent", "integer", "number", "date", "month", "datetime", "text")
Format = Literal["brl", "percent", "integer", "number", "date", "month", "datetime", "text"]
# Metabase's name for each chart type.
METABASE_DISPLAY = {
    "number": "scalar",
    "table": "table",
    "bar": "bar",
    "row": "row",
    "line": "line",
    "pie": "pie",
    "scatter": "scatter",
}
RELATION = re.compile(r"\b(gold|ops)\.([a-z_][a-z0-9_]*)\b")


class DashboardError(OlistEltError):
    """A dashboard file is invalid."""


class Position(BaseModel):
    """Where a card sits on the 24-column grid."""

    model_config = ConfigDict(extra="forbid")

    row: int = Field(ge=0)
    col: int = Field(ge=0, lt=GRID_COLUMNS)
    width: int = Field(ge=1, le=GRID_COLUMNS)
    height: int = Field(ge=1, le=24)

    @model_validator(mode="after")
    def _inside_grid(self) -> Position:
        if self.col + self.width > GRID_COLUMNS:
            raise ValueError(f"col {self.col} + width {self.width} exceeds {GRID_COLUMNS}")
        return self

    def cells(self) -> set[tuple[int, int]]:
        """The grid cells the card covers."""
        return {
            (r, c)
            for r in range(self.row, self.row + self.height)
            for c in range(self.col, self.col + self.width)
        }


class Filter(BaseModel):
    """A dashboard filter: every filtered card's SQL returns this column (its grain),
    and the page (or Metabase) keeps the rows whose value the analyst picked."""

    model_config = ConfigDict(extra="forbid")

    column: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    label: str = Field(min_length=1)
    kind: Literal["month_range", "choice"]
    value_labels: dict[str, str] = Field(
        default_factory=dict, description="Names shown for codes (SP -> São Paulo)"
    )


class Measure(BaseModel):
    """How a value column is re-aggregated over the rows a filter keeps: the sum of a
    grain column, its largest value, or the ratio of two sums (times scale: 100 for a
    percent)."""

    model_config = ConfigDict(extra="forbid")

    sum: str | None = None
    max: str | None = None
    ratio: tuple[str, str] | None = None
    scale: float = 1.0

    @model_validator(mode="after")
    def _one_kind(self) -> Measure:
        if [self.sum, self.max, self.ratio].count(None) != 2:
            raise ValueError(
                "a measure is one of sum: <column>, max: <column> or "
                "ratio: [numerator, denominator]"
            )
        return self

    @property
    def columns(self) -> list[str]:
        """The grain columns it reads."""
        one = self.sum or self.max
        return [one] if one else list(self.ratio or ())


class Card(BaseModel):
    """One question: SQL on the served schemas, a chart type and a place.

    On a dashboard with filters the SQL returns rows at the filters' grain (one
    column per filter, x, and additive columns); the page and Metabase aggregate them
    by x with the card's measures. Every shown value declares its format."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=100)
    description: str = ""
    chart: Chart
    sql: str = Field(min_length=1)
    x: str | None = Field(None, description="Column on the x axis (or the pie's labels)")
    y: list[str] = Field(default_factory=list, description="Value columns (measures)")
    measures: dict[str, Measure] = Field(
        default_factory=dict, description="How each y is aggregated; default: its sum"
    )
    formats: dict[str, Format] = Field(
        default_factory=dict, description="The format of every value shown (and of x)"
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Legend names of y")
    value_labels: dict[str, str] = Field(
        default_factory=dict, description="Names shown for x values (credit_card -> Credit card)"
    )
    x_title: str | None = None
    y_title: str | None = None
    sort: Literal["x", "value_desc", "sql"] = Field(
        "x", description="Groups by x, by the first value (largest first), or as the SQL"
    )
    limit: int | None = Field(None, ge=1)
    order_by: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_]*( (asc|desc))?(, [a-z_][a-z0-9_]*( (asc|desc))?)*$",
        description="Order of a table's rows (a table without y): kept after filtering",
    )
    unfiltered: list[str] = Field(
        default_factory=list, description="Filters that do not apply (said on the card)"
    )
    may_be_zero: list[str] = Field(
        default_factory=list,
        description="Series that are rightly all zero (failures in a healthy run)",
    )
    period: Literal["month"] | None = Field(
        None, description="x is a month: a partial last month is marked"
    )
    position: Position

    @model_validator(mode="after")
    def _axes(self) -> Card:
        if self.chart in ("bar", "row", "line", "pie", "scatter") and (not self.x or not self.y):
            raise ValueError(f"a {self.chart} chart needs x and y")
        if self.chart == "number" and len(self.y) > 1:
            raise ValueError("a number card shows one value (y: [one column])")
        if self.order_by and (self.y or self.chart != "table"):
            raise ValueError(f"card {self.title!r}: order_by orders a table without y")
        missing = [c for c in [self.x, *self.y] if c and c not in self.formats]
        if missing:
            raise ValueError(
                f"card {self.title!r}: no format for {', '.join(missing)} "
                f"(formats: {{column: {' | '.join(FORMATS)}}})"
            )
        if self.chart in ("bar", "row", "line", "pie", "scatter") and not (
            self.x_title or self.chart == "pie"
        ):
            raise ValueError(f"card {self.title!r}: a {self.chart} chart needs x_title")
        if self.chart in ("bar", "row", "line", "scatter") and not self.y_title:
            raise ValueError(f"card {self.title!r}: a {self.chart} chart needs y_title")
        largest = {m.max for m in self.measures.values() if m.max}
        for y in self.y:
            m = self.measure(y)
            if not m.max and largest & set(m.columns):
                raise ValueError(
                    f"card {self.title!r}: {y} sums a column another measure takes the max of"
                )
        return self

    def _x_order(self) -> str:
        """x as ordered: text in byte order (`collate "C"`, as DuckDB and the page
        compare; PostgreSQL's en_US collation skips spaces and punctuation), nulls
        last on every engine."""
        collate = ' collate "C"' if self.formats.get(self.x or "") == "text" else ""
        return f"{self.x}{collate} nulls last"

    def _rows_order(self) -> str:
        """order_by with nulls last on every engine (PostgreSQL puts them first on desc)."""
        return ", ".join(f"{part.strip()} nulls last" for part in (self.order_by or "").split(","))

    def measure(self, column: str) -> Measure:
        """The measure of a value column (its sum unless declared)."""
        return self.measures.get(column) or Measure(sum=column)

    def aggregate_sql(self, where: str = "") -> str:
        """The card's SQL aggregated by x with its measures (what Metabase runs; the
        static page does the same in the browser); where filters the grain rows."""
        if not self.y:
            return self.rows_sql(where) + (f"\nlimit {self.limit}" if self.limit else "")
        parts = [self.x] if self.x else []
        for y in self.y:
            m = self.measure(y)
            scale = "" if m.scale == 1 else f"{m.scale!r} * "
            if m.sum and not self.x:
                # a total over no rows (a filter kept none) is 0, over null values null
                value = f"case when count(*) = 0 then 0 else sum({m.sum}) end"
                parts.append(f"{scale}{value} as {y}")
            elif m.sum or m.max:
                kind = "sum" if m.sum else "max"
                parts.append(f"{scale}{kind}({m.sum or m.max}) as {y}")
            else:
                num, den = m.ratio or ("", "")
                parts.append(f"{scale or '1.0 * '}sum({num}) / nullif(sum({den}), 0) as {y}")
        sql = f"select {', '.join(parts)}\nfrom (\n{self.sql.strip()}\n) as grain"
        if where:
            sql += f"\nwhere {where}"
        if self.x:
            # ties (and nulls, last) in x's order: the same rows under a limit every time
            order = self._x_order()
            if self.sort == "value_desc":
                order = f"{self.y[0]} desc nulls last, {order}"
            sql += f"\ngroup by {self.x}\norder by {order}"
        if self.limit:
            sql += f"\nlimit {self.limit}"
        return sql

    def rows_sql(self, where: str = "") -> str:
        """The card's rows, filtered by where and in order_by's order when it declares
        one (a subquery keeps no order). Without where, what the static page embeds
        and filters in the browser."""
        if not (where or self.order_by):
            return self.sql.strip()
        sql = f"select *\nfrom (\n{self.sql.strip()}\n) as grain"
        sql += f"\nwhere {where}" if where else ""
        return sql + (f"\norder by {self._rows_order()}" if self.order_by else "")

    def applied(self, filters: list[Filter]) -> list[Filter]:
        """The dashboard's filters this card is filtered by."""
        return [f for f in filters if f.column not in self.unfiltered]

    @property
    def relations(self) -> set[str]:
        """The schema.table names the SQL reads."""
        return {f"{schema}.{table}" for schema, table in RELATION.findall(self.sql)}


class Dashboard(BaseModel):
    """A dashboard file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    filters: list[Filter] = Field(default_factory=list)
    period_end_sql: str | None = Field(
        None, description="SQL returning the last day of data (marks a partial last period)"
    )
    cards: list[Card] = Field(min_length=1)
    slug: str = ""

    @model_validator(mode="after")
    def _layout(self) -> Dashboard:
        titles = [c.title for c in self.cards]
        if len(set(titles)) != len(titles):
            raise ValueError("card titles must be unique within a dashboard")
        taken: dict[tuple[int, int], str] = {}
        for card in self.cards:
            for cell in card.position.cells():
                if cell in taken:
                    raise ValueError(f"cards {taken[cell]!r} and {card.title!r} overlap")
                taken[cell] = card.title
        columns = {f.column for f in self.filters}
        for card in self.cards:
            unknown = set(card.unfiltered) - columns
            if unknown:
                raise ValueError(f"card {card.title!r}: unfiltered names no filter {unknown}")
            if not card.y and card.applied(self.filters) and not card.order_by:
                raise ValueError(
                    f"card {card.title!r}: a filtered table without y needs order_by "
                    "(its rows are filtered in a subquery, which keeps no order)"
                )
        return self

    @property
    def relations(self) -> set[str]:
        """Every schema.table its cards read."""
        return set().union(*(c.relations for c in self.cards))


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> list[Dashboard]:
    """Every dashboards/*.yml, validated; a bad file raises DashboardError naming it."""
    out = []
    for path in sorted(directory.glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            dashboard = Dashboard.model_validate(data)
        except (yaml.YAMLError, ValidationError) as exc:
            raise DashboardError(f"{path}: {exc}") from None
        out.append(dashboard.model_copy(update={"slug": path.stem}))
    if not out:
        raise DashboardError(f"no dashboards in {directory}")
    return out


EXPOSURES_FILE = REPO_ROOT / "dbt_project" / "models" / "gold" / "_exposures.yml"


def api_models(models_dir: Path | None = None) -> set[str]:
    """Gold models that exist only when the API connectors are on."""
    models_dir = models_dir or EXPOSURES_FILE.parent
    return {
        path.stem
        for path in models_dir.glob("*.sql")
        if "var('apis_enabled'" in path.read_text(encoding="utf-8")
    }


def exposures_yaml(dashboards: list[Dashboard]) -> str:
    """dbt exposures for the dashboards: the gold models each one reads, so `dbt docs`
    ends the lineage at the dashboards. Models that exist only with the API connectors
    on go to a second exposure, enabled with them (a disabled ref would fail parsing).
    Regenerated by `olist-elt dashboards exposures`; a test keeps it in step."""
    on_apis = api_models()
    exposures = []
    for dashboard in dashboards:
        models = sorted(
            name.split(".", 1)[1] for name in dashboard.relations if name.startswith("gold.")
        )
        parts = [
            ("", dashboard.name, [m for m in models if m not in on_apis]),
            (
                "__apis",
                f"{dashboard.name} (BCB and OpenWeather cards)",
                [m for m in models if m in on_apis],
            ),
        ]
        for suffix, label, refs in parts:
            if not refs:
                continue
            exposure: dict[str, object] = {
                "name": f"dashboard_{dashboard.slug}{suffix}",
                "label": label,
                "type": "dashboard",
                "maturity": "high",
                "description": (
                    f"{dashboard.description} Defined in dashboards/{dashboard.slug}.yml; "
                    "provisioned in Metabase by `olist-elt dashboards sync` and rendered "
                    "to HTML by `olist-elt dashboards render`."
                ),
                "depends_on": [f"ref('{m}')" for m in refs],
                "owner": {"name": "olist-elt analytics"},
            }
            if suffix:
                exposure["config"] = {"enabled": "{{ var('apis_enabled', true) }}"}
            exposures.append(exposure)
    header = "# Generated from dashboards/*.yml by `olist-elt dashboards exposures`; do not edit.\n"
    body = yaml.safe_dump(
        {"version": 2, "exposures": exposures}, sort_keys=False, width=88, allow_unicode=True
    )
    return header + body
