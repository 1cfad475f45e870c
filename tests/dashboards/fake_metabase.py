"""A local stand-in for the Metabase endpoints `dashboards sync` uses, with state, so
idempotency can be asserted; every call is recorded with its JSON body.

Stricter than an echo: every request body is checked against the field names and
types of Metabase's published API reference (metabase.com/docs/latest/api: card,
dashboard, database, collection, session; the v0.5x API that docker-compose's
metabase/metabase:v0.56.9 serves), an unknown or ill-typed field is a 400 as on a
real server, and objects are stored as a server stores them: generated ids and
entity ids, server fields (creator, timestamps, query_type), a native query with
normalised line endings and trailing blanks, template tags given ids and card
parameters derived from them, and dashcards replaced as a whole by PUT
/api/dashboard/:id (new ids for negative ones, the missing ones deleted, every
parameter mapping checked against the dashboard's parameters and the card's tags)."""

from __future__ import annotations

import copy
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

# Field -> allowed Python types (None allowed where the API says nullable). A leading
# "!" marks a required field.
CARD_FIELDS = {
    "!name": (str,),
    "!dataset_query": (dict,),
    "!display": (str,),
    "!visualization_settings": (dict,),
    "type": (str,),
    "description": (str, type(None)),
    "collection_id": (int, type(None)),
    "collection_position": (int, type(None)),
    "parameters": (list, type(None)),
    "parameter_mappings": (list, type(None)),
    "result_metadata": (list, type(None)),
    "cache_ttl": (int, type(None)),
    "dashboard_id": (int, type(None)),
    "dashboard_tab_id": (int, type(None)),
}
CARD_UPDATE_FIELDS = {
    **{k.lstrip("!"): v for k, v in CARD_FIELDS.items()},
    "archived": (bool,),
    "enable_embedding": (bool,),
    "embedding_params": (dict, type(None)),
}
DASHBOARD_CREATE_FIELDS = {
    "!name": (str,),
    "description": (str, type(None)),
    "parameters": (list, type(None)),
    "collection_id": (int, type(None)),
    "collection_position": (int, type(None)),
    "cache_ttl": (int, type(None)),
}
DASHBOARD_UPDATE_FIELDS = {
    "name": (str,),
    "description": (str, type(None)),
    "parameters": (list, type(None)),
    "dashcards": (list,),
    "tabs": (list,),
    "archived": (bool,),
    "collection_id": (int, type(None)),
    "collection_position": (int, type(None)),
    "cache_ttl": (int, type(None)),
    "width": (str,),
    "auto_apply_filters": (bool,),
}
DASHCARD_FIELDS = {
    "!id": (int,),
    "!row": (int,),
    "!col": (int,),
    "!size_x": (int,),
    "!size_y": (int,),
    "card_id": (int, type(None)),
    "dashboard_tab_id": (int, type(None)),
    "parameter_mappings": (list, type(None)),
    "visualization_settings": (dict, type(None)),
    "series": (list, type(None)),
    "action_id": (int, type(None)),
}
PARAMETER_FIELDS = {
    "!id": (str,),
    "!type": (str,),
    "name": (str,),
    "slug": (str,),
    "sectionId": (str,),
    "default": (str, list, type(None)),
}
MAPPING_FIELDS = {"!parameter_id": (str,), "!target": (list,), "card_id": (int,)}
TAG_FIELDS = {
    "!name": (str,),
    "!display-name": (str,),
    "!type": (str,),
    "id": (str,),
    "required": (bool,),
    "default": (str, type(None)),
    "dimension": (list,),
    "widget-type": (str,),
}
TAG_TYPES = {"text", "number", "date", "dimension", "card", "snippet"}
PARAMETER_TYPES = {"string/=", "number/=", "date/single", "date/range", "date/all-options"}
DISPLAYS = {"scalar", "table", "bar", "row", "line", "pie", "scatter", "area", "combo"}
TAG_IN_QUERY = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


class BadRequest(Exception):
    """A body a real server would refuse (HTTP 400)."""


def check_fields(what: str, body: Any, fields: dict[str, tuple[type, ...]]) -> None:
    """Raise BadRequest unless body is an object with known, well-typed fields and
    every required one present."""
    if not isinstance(body, dict):
        raise BadRequest(f"{what}: body must be a JSON object")
    known = {k.lstrip("!"): v for k, v in fields.items()}
    for key, value in body.items():
        if key not in known:
            raise BadRequest(f"{what}: unknown field {key!r}")
        types = known[key]
        if isinstance(value, bool) and bool not in types:
            raise BadRequest(f"{what}: {key} has the wrong type")
        if not isinstance(value, types):
            raise BadRequest(f"{what}: {key} has the wrong type")
    for key in (k[1:] for k in fields if k.startswith("!")):
        if key not in body:
            raise BadRequest(f"{what}: {key} is required")


def check_dataset_query(query: Any) -> None:
    """A native query: type, database, SQL and one template tag per {{tag}}."""
    check_fields("dataset_query", query, {"!type": (str,), "!database": (int,), "!native": (dict,)})
    if query["type"] != "native":
        raise BadRequest("dataset_query: only native queries are expected")
    native = query["native"]
    check_fields("native", native, {"!query": (str,), "template-tags": (dict,)})
    tags = native.get("template-tags") or {}
    for name, tag in tags.items():
        check_fields(f"template tag {name}", tag, TAG_FIELDS)
        if tag["name"] != name or tag["type"] not in TAG_TYPES:
            raise BadRequest(f"template tag {name}: name or type invalid")
    used = set(TAG_IN_QUERY.findall(native["query"]))
    if used != set(tags):
        raise BadRequest(f"template tags {sorted(tags)} do not match the query's {sorted(used)}")


def normalise_query(sql: str) -> str:
    """As stored: Unix line endings, no trailing blanks."""
    return "\n".join(line.rstrip() for line in sql.replace("\r\n", "\n").split("\n")).strip()


@dataclass
class Call:
    method: str
    path: str
    body: Any


@dataclass
class FakeMetabase:
    email: str = "admin@example.com"
    password: str = "s3cret-pw"
    starting_polls: int = 0  # /api/health answers 503 this many times first
    calls: list[Call] = field(default_factory=list)
    databases: dict[int, dict] = field(default_factory=dict)
    collections: dict[int, dict] = field(default_factory=dict)
    cards: dict[int, dict] = field(default_factory=dict)
    dashboards: dict[int, dict] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    rejected: list[str] = field(default_factory=list)
    _next: int = 1

    def _id(self) -> int:
        self._next += 1
        return self._next

    def writes(self) -> list[Call]:
        """Calls that change state (a login is not one)."""
        return [
            c
            for c in self.calls
            if c.method in ("POST", "PUT", "DELETE") and c.path != "/api/session"
        ]

    def __call__(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        self.calls.append(Call(request.method, request.path, copy.deepcopy(body)))
        method, path = request.method, request.path
        if path == "/api/health":
            if self.starting_polls > 0:
                self.starting_polls -= 1
                return _json({"status": "initializing", "progress": 0.5}, 503)
            return _json({"status": "ok"})
        if path == "/api/session" and method == "POST":
            if body != {"username": self.email, "password": self.password}:
                return _json({"errors": {"password": "did not match stored password"}}, 401)
            token = secrets.token_hex(8)
            self.sessions.add(token)
            return _json({"id": token})
        if request.headers.get("X-Metabase-Session") not in self.sessions:
            return Response("Unauthenticated", 401)
        if path == "/api/user/current":
            return _json({"id": 1, "email": self.email})
        try:
            return self._route(method, path, body, request)
        except BadRequest as exc:
            self.rejected.append(str(exc))
            return _json({"errors": {"_error": str(exc)}}, 400)

    def _stored_card(self, card: dict, body: dict) -> dict:
        """Apply a card body as a server does: normalised query, tag ids, parameters."""
        card.update(copy.deepcopy(body))
        query = card.get("dataset_query")
        if "dataset_query" in body:
            native = query["native"]
            native["query"] = normalise_query(native["query"])
            tags = native.setdefault("template-tags", {})
            for tag in tags.values():
                tag.setdefault("id", secrets.token_hex(16))
            card["parameters"] = [
                {
                    "id": t["id"],
                    "type": "category" if t["type"] == "text" else t["type"],
                    "target": ["variable", ["template-tag", name]],
                    "name": t["display-name"],
                    "slug": name,
                }
                for name, t in tags.items()
            ]
            card["query_type"] = "native"
        card["updated_at"] = f"2026-01-01T00:00:{self._next:02d}Z"
        return card

    def _route(self, method: str, path: str, body: Any, request: Request) -> Response:
        if path == "/api/database" and method == "GET":
            data = [
                {**d, "details": {**d["details"], "password": "**MetabasePass**"}}
                for d in self.databases.values()
            ]
            return _json({"data": data, "total": len(data)})
        if path == "/api/database" and method == "POST":
            check_fields(
                "database",
                body,
                {"!name": (str,), "!engine": (str,), "!details": (dict,), "is_full_sync": (bool,)},
            )
            new = {"id": self._id(), **body}
            self.databases[new["id"]] = new
            return _json(new)
        if m := re.fullmatch(r"/api/database/(\d+)", path):
            check_fields("database", body, {"engine": (str,), "details": (dict,), "name": (str,)})
            self.databases[int(m[1])].update(body)
            return _json(self.databases[int(m[1])])
        if path == "/api/collection" and method == "GET":
            root = {"id": "root", "name": "Our analytics"}
            return _json([root, *self.collections.values()])
        if path == "/api/collection" and method == "POST":
            check_fields("collection", body, {"!name": (str,), "parent_id": (int, type(None))})
            new = {"id": self._id(), "name": body["name"], "archived": False}
            self.collections[new["id"]] = new
            return _json(new)
        if m := re.fullmatch(r"/api/collection/(\d+)/items", path):
            models = request.args.getlist("models")
            items = [
                {"id": c["id"], "name": c["name"], "model": "card"}
                for c in self.cards.values()
                if c["collection_id"] == int(m[1]) and not c.get("archived")
            ] + [
                {"id": d["id"], "name": d["name"], "model": "dashboard"}
                for d in self.dashboards.values()
                if d["collection_id"] == int(m[1])
            ]
            return _json({"data": [i for i in items if not models or i["model"] in models]})
        if path == "/api/card" and method == "POST":
            check_fields("card", body, CARD_FIELDS)
            check_dataset_query(body["dataset_query"])
            if body["display"] not in DISPLAYS:
                raise BadRequest(f"card: unknown display {body['display']!r}")
            new = {
                "id": self._id(),
                "entity_id": secrets.token_hex(10),
                "creator_id": 1,
                "archived": False,
                "created_at": "2026-01-01T00:00:00Z",
                "description": None,
            }
            card = self._stored_card(new, body)
            self.cards[card["id"]] = card
            return _json(card)
        if m := re.fullmatch(r"/api/card/(\d+)", path):
            card = self.cards.get(int(m[1])) if method != "PUT" else None
            if method == "PUT":
                check_fields("card", body, CARD_UPDATE_FIELDS)
                if "dataset_query" in body:
                    check_dataset_query(body["dataset_query"])
                card = self._stored_card(self.cards[int(m[1])], body)
            return _json(card) if card else Response("Not found.", 404)
        if path == "/api/dashboard" and method == "POST":
            check_fields("dashboard", body, DASHBOARD_CREATE_FIELDS)
            new = {
                "id": self._id(),
                "entity_id": secrets.token_hex(10),
                "dashcards": [],
                "parameters": [],
                "tabs": [],
                "description": None,
                "creator_id": 1,
                **body,
            }
            self.dashboards[new["id"]] = new
            return _json(new)
        if m := re.fullmatch(r"/api/dashboard/(\d+)", path):
            board = self.dashboards[int(m[1])]
            if method == "PUT":
                self._update_dashboard(board, body)
            return _json(board)
        return Response(f"no route {method} {path}", 404)

    def _update_dashboard(self, board: dict, body: Any) -> None:
        """PUT /api/dashboard/:id: fields set; dashcards, when given, replace all."""
        check_fields("dashboard", body, DASHBOARD_UPDATE_FIELDS)
        parameters = body.get("parameters", board.get("parameters")) or []
        for p in parameters:
            check_fields("parameter", p, PARAMETER_FIELDS)
            if p["type"] not in PARAMETER_TYPES:
                raise BadRequest(f"parameter {p['id']}: unknown type {p['type']!r}")
        ids = {p["id"] for p in parameters}
        dashcards = body.get("dashcards")
        if dashcards is not None:
            existing = {d["id"] for d in board["dashcards"]}
            stored = []
            for d in dashcards:
                check_fields("dashcard", d, DASHCARD_FIELDS)
                if d["id"] > 0 and d["id"] not in existing:
                    raise BadRequest(f"dashcard {d['id']} is not on this dashboard")
                for mapping in d.get("parameter_mappings") or []:
                    self._check_mapping(mapping, d, ids)
                stored.append(
                    {
                        **copy.deepcopy(d),
                        "id": d["id"] if d["id"] > 0 else self._id(),
                        "dashboard_id": board["id"],
                        "card": copy.deepcopy(self.cards.get(d.get("card_id"), {})),
                        "created_at": "2026-01-01T00:00:00Z",
                    }
                )
            board["dashcards"] = stored
        for key in ("name", "description", "parameters", "archived", "collection_id"):
            if key in body:
                board[key] = copy.deepcopy(body[key])
        board["parameters"] = [{**p, "sectionId": p.get("sectionId")} for p in parameters]

    def _check_mapping(self, mapping: Any, dashcard: dict, ids: set[str]) -> None:
        """A mapping names a parameter of the dashboard and a template tag of the card."""
        check_fields("parameter mapping", mapping, MAPPING_FIELDS)
        if mapping["parameter_id"] not in ids:
            raise BadRequest(f"mapping to unknown parameter {mapping['parameter_id']!r}")
        target = mapping["target"]
        card = self.cards.get(dashcard.get("card_id"))
        tags = (card or {}).get("dataset_query", {}).get("native", {}).get("template-tags", {})
        if not (
            len(target) == 2
            and target[0] == "variable"
            and target[1][:1] == ["template-tag"]
            and target[1][1] in tags
        ):
            raise BadRequest(f"mapping target {json.dumps(target)} is no template tag of the card")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, content_type="application/json")
