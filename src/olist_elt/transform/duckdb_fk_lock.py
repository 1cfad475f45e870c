"""dbt-duckdb's foreign-key lock, taken only for keys this project creates on DuckDB.

dbt-duckdb serializes every model that declares a foreign key in its contract: the
model holds one process-wide lock for its whole build, and any model with a key
waits for it, even to start. That guards against DuckDB's write-write conflict
between a table and one its foreign key references. Gold's contracts declare their
foreign keys at model level for PostgreSQL, which serves them; on DuckDB this
project creates none of those (macros/engine/duckdb_foreign_keys.sql leaves them out
of the DDL), so the lock guarded nothing and gold's facts built one at a time: at
scale 10 a fact waited 7 s for another to commit before it could start.

Here a model-level foreign key of this project's models stops counting, as the DDL
leaves it out. A column-level one is still created on DuckDB and still counts, as do
the catalog's real keys (a file built by an older version that made them takes the
lock as before) and every other project's models. Applied by the olist_keys plugin,
so an analyst's dbt gets it too. A dbt-duckdb without the method this wraps is left
as it is: slower, as correct.
"""

from __future__ import annotations

import logging
from typing import Any

from dbt.adapters.duckdb.impl import DuckDBAdapter
from dbt_common.contracts.constraints import ConstraintType

log = logging.getLogger(__name__)

PROJECT = "olist_elt"
_MARK = "_olist_model_level_foreign_keys_left_out"


def _column_foreign_key(model: Any) -> bool:
    return any(
        constraint.type == ConstraintType.foreign_key
        for column in (getattr(model, "columns", None) or {}).values()
        for constraint in (getattr(column, "constraints", None) or [])
    )


def leave_out_declared_foreign_keys() -> None:
    """Make DuckDBAdapter count this project's models' declared keys without their
    model-level foreign keys (once per process)."""
    current = DuckDBAdapter.__dict__.get("_key_constraint_types")
    if not isinstance(current, staticmethod):
        log.warning(
            "dbt-duckdb has no _key_constraint_types: gold's facts build one at a time "
            "under its foreign-key lock"
        )
        return
    declared = current.__func__
    if getattr(declared, _MARK, False):
        return

    def created_on_duckdb(model: Any) -> set[ConstraintType]:
        types = declared(model)
        if getattr(model, "package_name", None) != PROJECT or _column_foreign_key(model):
            return types
        return types - {ConstraintType.foreign_key}

    setattr(created_on_duckdb, _MARK, True)
    DuckDBAdapter._key_constraint_types = staticmethod(created_on_duckdb)
