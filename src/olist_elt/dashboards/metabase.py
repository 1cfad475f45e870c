"""Provision dashboards/*.yml in Metabase with metabase-api: the warehouse connection
(read-only BI role), one collection, one native-SQL card per card, one dashboard per
file with its layout. Idempotent: a second sync changes nothing; an edited card is
updated in place; a card no longer defined is archived."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
from tenacity import (
    RetryError,
    retry,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from olist_elt.dashboards.metabase_shapes import (
    filter_tags,
    parameter_shapes,
    placed,
    query_text,
    tag_shapes,
)
from olist_elt.dashboards.model import METABASE_DISPLAY, Card, Dashboard, Filter
from olist_elt.errors import OlistEltError

log = logging.getLogger(__name__)
PASSWORD_SECRET = "metabase_password"
TIMEOUT_S = 30


class MetabaseError(OlistEltError):
    """Metabase could not be reached, refused us, or answered with an error."""


class _NotReady(Exception):
    """Metabase answers but is still starting (or not at all yet)."""


@dataclass
class SyncReport:
    """What one sync did, by kind of object."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the sync wrote anything."""
        return bool(self.created or self.updated or self.archived)


def wait_until_ready(url: str, wait_seconds: float) -> None:
    """Poll /api/health until Metabase says ok, for at most wait_seconds."""
    last: list[str] = ["no answer"]

    @retry(
        retry=retry_if_exception_type(_NotReady),
        stop=stop_after_delay(wait_seconds),
        wait=wait_exponential(multiplier=0.2, max=5),
        reraise=False,
    )
    def poll() -> None:
        try:
            resp = httpx.get(f"{url}/api/health", timeout=5)
        except httpx.TransportError as exc:
            last[0] = f"{type(exc).__name__}: {exc}"
            raise _NotReady from None
        if resp.status_code == 503:
            last[0] = f"HTTP 503 {resp.text[:100]}"
            raise _NotReady
        if resp.status_code != 200 or _status(resp) != "ok":
            raise MetabaseError(
                f"{url} does not look like Metabase: GET /api/health answered "
                f"HTTP {resp.status_code} {resp.text[:100]!r} (check OLIST_METABASE_URL)"
            )

    try:
        poll()
    except RetryError:
        raise MetabaseError(
            f"Metabase at {url} was not ready within {wait_seconds:g}s (last: {last[0]}); "
            "check OLIST_METABASE_URL, or wait for it to finish starting "
            "(OLIST_METABASE_WAIT_SECONDS)"
        ) from None


def _status(resp: httpx.Response) -> str | None:
    try:
        return resp.json().get("status")
    except ValueError:
        return None


def card_payload(
    card: Card, database_id: int, collection_id: int, filters: list[Filter] | None = None
) -> dict[str, Any]:
    """The card as Metabase stores it (the fields a sync compares and writes): its SQL
    aggregated by x, with a template tag and an optional clause per filter it takes."""
    tags = filter_tags(card.applied(filters or []))
    where = " ".join(["true", *(t.clause() for t in tags)]) if tags else ""
    template_tags = {
        t.name: {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"olist-elt/{card.title}/{t.name}")),
            "name": t.name,
            "display-name": t.label,
            "type": t.tag_type,
        }
        for t in tags
    }
    settings: dict[str, Any] = {}
    if card.x and card.chart != "pie":
        settings["graph.dimensions"] = [card.x]
        settings["graph.metrics"] = list(card.y)
    if card.chart == "pie":
        settings["pie.dimension"] = card.x
        settings["pie.metric"] = card.y[0]
    return {
        "name": card.title,
        "description": card.description.strip() or None,
        "display": METABASE_DISPLAY[card.chart],
        "dataset_query": {
            "type": "native",
            "native": {"query": card.aggregate_sql(where), "template-tags": template_tags},
            "database": database_id,
        },
        "visualization_settings": settings,
        "collection_id": collection_id,
    }


class MetabaseSync:
    """One authenticated session and the provisioning steps."""

    def __init__(self, url: str, user: str, password: str) -> None:
        from metabase_api import Metabase_API

        self.url = url.rstrip("/")
        try:
            self.api = Metabase_API(self.url, user, password)
        except requests.RequestException as exc:
            raise MetabaseError(f"cannot reach Metabase at {self.url}: {exc}") from None
        except Exception as exc:  # metabase-api raises Exception(response) on a refusal
            resp = exc.args[0] if exc.args else None
            status = getattr(resp, "status_code", "?")
            if status in (400, 401, 403):
                raise MetabaseError(
                    f"Metabase refused the login of {user} (HTTP {status}); put the right "
                    f"password in the vault: olist-elt vault set {PASSWORD_SECRET}"
                ) from None
            raise MetabaseError(f"Metabase login failed (HTTP {status})") from None

    def _call(self, method: str, endpoint: str, **kwargs: Any) -> Any:
        """One API call through metabase-api; any non-2xx is a MetabaseError."""
        fn = getattr(self.api, method)
        try:
            resp = fn(endpoint, "raw", timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            raise MetabaseError(f"{method.upper()} {endpoint} failed: {exc}") from None
        if not resp.ok:
            raise MetabaseError(
                f"{method.upper()} {endpoint}: HTTP {resp.status_code} {resp.text[:300]}"
            )
        return resp.json() if resp.content else None

    def ensure_database(self, name: str, details: dict[str, Any]) -> int:
        """The warehouse connection (created, or its details updated), by name."""
        answer = self._call("get", "/api/database")
        databases = answer["data"] if isinstance(answer, dict) else answer
        wanted = {k: v for k, v in details.items() if k != "password"}
        for db in databases:
            if db.get("name") == name:
                have = {k: (db.get("details") or {}).get(k) for k in wanted}
                if have != wanted or db.get("engine") != "postgres":
                    self._call(
                        "put",
                        f"/api/database/{db['id']}",
                        json={"engine": "postgres", "details": details},
                    )
                return int(db["id"])
        created = self._call(
            "post",
            "/api/database",
            json={"name": name, "engine": "postgres", "details": details, "is_full_sync": True},
        )
        return int(created["id"])

    def ensure_collection(self, name: str) -> int:
        """The collection the dashboards live in, by name."""
        for collection in self._call("get", "/api/collection"):
            if (
                collection.get("name") == name
                and not collection.get("archived")
                and not collection.get("personal_owner_id")
                and isinstance(collection.get("id"), int)
            ):
                return int(collection["id"])
        return int(self._call("post", "/api/collection", json={"name": name})["id"])

    def _items(self, collection_id: int, model: str) -> dict[str, int]:
        answer = self._call(
            "get", f"/api/collection/{collection_id}/items", params={"models": model}
        )
        items = answer["data"] if isinstance(answer, dict) else answer
        return {i["name"]: int(i["id"]) for i in items if i.get("model") == model}

    def sync(self, dashboards: list[Dashboard], database_id: int, collection_id: int) -> SyncReport:
        """Cards, then dashboards and their layout; archive cards no longer defined."""
        report = SyncReport()
        cards = self._items(collection_id, "card")
        card_ids: dict[str, int] = {}
        for dashboard in dashboards:
            for card in dashboard.cards:
                name = card.title
                wanted = card_payload(card, database_id, collection_id, dashboard.filters)
                if name in card_ids:
                    raise MetabaseError(f"card title {name!r} is used by two dashboards")
                if name in cards:
                    existing = self._call("get", f"/api/card/{cards[name]}")
                    if _card_changed(existing, wanted):
                        self._call("put", f"/api/card/{cards[name]}", json=wanted)
                        report.updated.append(f"card {name}")
                    else:
                        report.unchanged.append(f"card {name}")
                    card_ids[name] = cards[name]
                else:
                    card_ids[name] = int(self._call("post", "/api/card", json=wanted)["id"])
                    report.created.append(f"card {name}")
        for name, card_id in cards.items():
            if name not in card_ids:
                self._call("put", f"/api/card/{card_id}", json={"archived": True})
                report.archived.append(f"card {name}")
        boards = self._items(collection_id, "dashboard")
        for dashboard in dashboards:
            if dashboard.name in boards:
                board_id = boards[dashboard.name]
            else:
                board_id = int(
                    self._call(
                        "post",
                        "/api/dashboard",
                        json={
                            "name": dashboard.name,
                            "description": dashboard.description or None,
                            "collection_id": collection_id,
                        },
                    )["id"]
                )
                report.created.append(f"dashboard {dashboard.name}")
            self._layout(board_id, dashboard, card_ids, report)
        return report

    def _layout(
        self, board_id: int, dashboard: Dashboard, card_ids: dict[str, int], report: SyncReport
    ) -> None:
        """Put every card at its position, the filters as dashboard parameters wired to
        each card's template tags; PUT (the whole set of dashcards) only when the
        layout, the filters or the description differ."""
        board = self._call("get", f"/api/dashboard/{board_id}")
        current = board.get("dashcards") or board.get("ordered_cards") or []
        by_card = {d.get("card_id"): d for d in current}
        tags = filter_tags(dashboard.filters)
        parameters = [
            {
                "id": t.parameter_id(dashboard),
                "name": t.label,
                "slug": t.name,
                "type": t.parameter_type,
                "sectionId": t.parameter_type.split("/")[0],
            }
            for t in tags
        ]
        wanted = []
        for i, card in enumerate(dashboard.cards, start=1):
            p = card.position
            card_id = card_ids[card.title]
            applied = filter_tags(card.applied(dashboard.filters))
            wanted.append(
                {
                    "id": by_card[card_id]["id"] if card_id in by_card else -i,
                    "card_id": card_id,
                    "row": p.row,
                    "col": p.col,
                    "size_x": p.width,
                    "size_y": p.height,
                    "parameter_mappings": [
                        {
                            "parameter_id": t.parameter_id(dashboard),
                            "card_id": card_id,
                            "target": ["variable", ["template-tag", t.name]],
                        }
                        for t in applied
                    ],
                    "visualization_settings": {},
                }
            )
        if (
            {placed(d) for d in current} == {placed(w) for w in wanted}
            and len(current) == len(wanted)
            and parameter_shapes(board.get("parameters")) == parameter_shapes(parameters)
            and board.get("description") == (dashboard.description or None)
        ):
            report.unchanged.append(f"dashboard {dashboard.name}")
            return
        self._call(
            "put",
            f"/api/dashboard/{board_id}",
            json={
                "description": dashboard.description or None,
                "parameters": parameters,
                "dashcards": wanted,
            },
        )
        report.updated.append(f"dashboard {dashboard.name}")


def _card_changed(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a stored card differs from the definition in any field we own."""
    native = (existing.get("dataset_query") or {}).get("native") or {}
    want = wanted["dataset_query"]["native"]
    return (
        existing.get("name") != wanted["name"]
        or existing.get("description") != wanted["description"]
        or existing.get("display") != wanted["display"]
        or query_text(native.get("query")) != query_text(want["query"])
        or tag_shapes(native.get("template-tags")) != tag_shapes(want["template-tags"])
        or (existing.get("dataset_query") or {}).get("database")
        != wanted["dataset_query"]["database"]
        or (existing.get("visualization_settings") or {}) != wanted["visualization_settings"]
        or existing.get("collection_id") != wanted["collection_id"]
        or bool(existing.get("archived"))
    )
