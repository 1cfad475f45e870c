"""An engine's error text as olist-elt passes it on (run records, alerts, the Prefect
UI): the class, the model and the counts, never a row's value."""

from __future__ import annotations

import re

_QUOTED = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|=\([^)]*\)")
# a row shown whole, its values unquoted, to the end of the line: PostgreSQL's
# constraint errors, DuckDB's CSV reader
_ROW_SHOWN = re.compile(r"(Failing row contains |Original Line: ).*")
# PostgreSQL's key values, up to the last parenthesis before its words on the key (a
# value may hold parentheses itself)
_KEY_VALUE = re.compile(
    r"=\([^\n]*\)(?= (?:already exists|is not present|is still referenced|conflicts with))"
)


def without_values(text: str) -> str:
    """An engine's error text with every quoted literal and key value replaced by …:
    errors name the class, the model and the counts, never a row's value (dbt's own
    log, readable by the owner only, keeps the whole text)."""
    text = _KEY_VALUE.sub("=(…)", _ROW_SHOWN.sub(lambda m: m.group(1) + "…", text))
    return _QUOTED.sub(lambda m: "=(…)" if m.group().startswith("=") else "…", text)
