"""What a dashboards sync owns of Metabase objects: the template tags and dashboard
parameters the filters become, and the shapes compared to decide whether a stored
card or layout differs (a server adds ids and fields, and may normalise text)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from olist_elt.dashboards.model import Dashboard, Filter


@dataclass(frozen=True)
class FilterTag:
    """One template tag a dashboard filter sets: its name, label, the tag's type, the
    dashboard parameter's type and the comparison on the grain column."""

    column: str
    name: str
    label: str
    tag_type: str
    parameter_type: str
    operator: str

    def clause(self) -> str:
        """An optional clause of the native query (Metabase drops it when unset)."""
        return f"[[and {self.column} {self.operator} {{{{{self.name}}}}}]]"

    def parameter_id(self, dashboard: Dashboard) -> str:
        """A stable dashboard parameter id (the same on every sync)."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"olist-elt/{dashboard.slug}/{self.name}").hex[:8]


def filter_tags(filters: list[Filter]) -> list[FilterTag]:
    """The template tags of the filters: a month range is two dates, a choice a text."""
    tags = []
    for f in filters:
        if f.kind == "month_range":
            tags += [
                FilterTag(
                    f.column, f"{f.column}_from", f"{f.label} from", "date", "date/single", ">="
                ),
                FilterTag(f.column, f"{f.column}_to", f"{f.label} to", "date", "date/single", "<="),
            ]
        else:
            tags.append(FilterTag(f.column, f.column, f.label, "text", "string/=", "="))
    return tags


def placed(dashcard: dict[str, Any]) -> tuple[Any, ...]:
    """What we own of a dashcard: card, position, size and filter wiring."""
    mappings = frozenset(
        (m.get("parameter_id"), json.dumps(m.get("target")))
        for m in dashcard.get("parameter_mappings") or []
    )
    return (
        dashcard.get("card_id"),
        dashcard.get("row"),
        dashcard.get("col"),
        dashcard.get("size_x"),
        dashcard.get("size_y"),
        mappings,
    )


def parameter_shapes(parameters: list[dict[str, Any]] | None) -> set[tuple[Any, ...]]:
    """What we own of the dashboard parameters (a server adds its own fields)."""
    return {(p.get("id"), p.get("slug"), p.get("type"), p.get("name")) for p in parameters or []}


def query_text(query: str | None) -> str:
    """A native query as compared: line endings and trailing blanks do not count."""
    return "\n".join(
        line.rstrip() for line in (query or "").replace("\r\n", "\n").split("\n")
    ).strip()


def tag_shapes(tags: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """Template tags as compared: name, type and label (a server may set ids)."""
    return {name: (t.get("type"), t.get("display-name")) for name, t in (tags or {}).items()}
