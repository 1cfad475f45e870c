"""What the API and stream connectors refuse in a JSON answer's text."""

from __future__ import annotations

import re
from typing import Any

NUL = "\x00"
# a key named in a path as it is; any other key by its place among its object's keys
# (a path names where a value is, never a text the source sent)
PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _step(key: str, i: int) -> str:
    return f".{key}" if PLAIN_KEY.fullmatch(key) else f".<key {i}>"


def nul_at(value: Any) -> str | None:
    """The JSON path of the first key or string holding a NUL character (U+0000,
    `\\u0000` in JSON), None when there is none. JSON and DuckDB carry it, but no
    PostgreSQL text column can store it: a value with one would fail the run where
    it is published, far from the answer it came in. Walked without recursion, so
    no nesting depth json.loads accepts fails it."""
    pending: list[tuple[Any, str]] = [(value, "$")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return path
        elif isinstance(item, dict):
            children = []
            for i, (key, child) in enumerate(item.items()):
                where = path + _step(key, i)
                if NUL in key:
                    return where
                children.append((child, where))
            pending.extend(reversed(children))
        elif isinstance(item, list):
            pending.extend(reversed([(c, f"{path}[{i}]") for i, c in enumerate(item)]))
    return None


def nul_message(path: str) -> str:
    """Why an answer with a NUL character at path is refused (the path, never the
    value)."""
    shown = path if len(path) <= 200 else path[:200] + "…"
    return (
        f"a NUL character (U+0000) at {shown}: text holds none, and no warehouse "
        "text column can store one"
    )
