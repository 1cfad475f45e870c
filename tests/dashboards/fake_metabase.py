"""A local stand-in for the Metabase endpoints `dashboards sync` uses, with state, so
idempotency can be asserted; every call is recorded with its JSON body."""

from __future__ import annotations

import copy
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response


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
        return self._route(method, path, body, request)

    def _route(self, method: str, path: str, body: Any, request: Request) -> Response:
        if path == "/api/database" and method == "GET":
            data = [
                {**d, "details": {**d["details"], "password": "**MetabasePass**"}}
                for d in self.databases.values()
            ]
            return _json({"data": data, "total": len(data)})
        if path == "/api/database" and method == "POST":
            new = {"id": self._id(), **body}
            self.databases[new["id"]] = new
            return _json(new)
        if m := re.fullmatch(r"/api/database/(\d+)", path):
            self.databases[int(m[1])].update(body)
            return _json(self.databases[int(m[1])])
        if path == "/api/collection" and method == "GET":
            root = {"id": "root", "name": "Our analytics"}
            return _json([root, *self.collections.values()])
        if path == "/api/collection" and method == "POST":
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
            new = {"id": self._id(), "archived": False, **body}
            self.cards[new["id"]] = new
            return _json(new)
        if m := re.fullmatch(r"/api/card/(\d+)", path):
            card = self.cards[int(m[1])]
            if method == "PUT":
                card.update(body)
            return _json(card)
        if path == "/api/dashboard" and method == "POST":
            new = {"id": self._id(), "dashcards": [], **body}
            self.dashboards[new["id"]] = new
            return _json(new)
        if m := re.fullmatch(r"/api/dashboard/(\d+)", path):
            board = self.dashboards[int(m[1])]
            if method == "PUT":
                board["description"] = body.get("description", board.get("description"))
                if "dashcards" in body:
                    board["dashcards"] = [
                        {**d, "id": d["id"] if d["id"] > 0 else self._id()}
                        for d in body["dashcards"]
                    ]
            return _json(board)
        return Response(f"no route {method} {path}", 404)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, content_type="application/json")
