"""What the API and stream connectors refuse in a JSON answer's text."""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def nul_at(value: Any, path: str = "$") -> str | None:
    """The JSON path of the first key or string holding a NUL character (U+0000,
    `\\u0000` in JSON), None when there is none. JSON and DuckDB carry it, but no
    PostgreSQL text column can store it: a value with one would fail the run where
    it is published, far from the answer it came in."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if NUL in key:
                return where.replace(NUL, "\\u0000")
            if (found := nul_at(item, where)) is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if (found := nul_at(item, f"{path}[{i}]")) is not None:
                return found
    return None


def nul_message(path: str) -> str:
    """Why an answer with a NUL character at path is refused (the path, never the
    value)."""
    return (
        f"a NUL character (U+0000) at {path}: text holds none, and no warehouse "
        "text column can store one"
    )
