"""Gold's keys as its dbt contracts declare them, and what the served gold lacks of
them (or of the BI role's right to read it).

dbt creates the keys and the BI role's select grant with each table (the gold
models' `constraints`, dbt_project.yml's `+grants`); nothing here adds them. This
module only reads the declaration, so a run can tell when the served schema has
lost something a hand change took away."""

from __future__ import annotations

import re
from typing import Any

from olist_elt.warehouse.postgres import LIVE, PgLogin

_REF = re.compile(r"""ref\(\s*['"]([^'"]+)['"]\s*\)""")


def _type(constraint: Any) -> str:
    """A constraint's type as text ('primary_key'), enum or not."""
    kind = constraint.type
    return str(getattr(kind, "value", kind))


def _parent(to: str, tables: dict[str, str]) -> str | None:
    """The table a foreign key refers to: `to` is `ref('model')` as written, or the
    relation dbt resolved it to ("db"."schema"."table") once parsed."""
    ref = _REF.search(to)
    if ref:
        return tables.get(ref[1])
    name = to.split(".")[-1].strip('"`')
    return name if name in tables.values() else None


def declared_keys(manifest: Any) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Gold's keys as its contracts declare them: each model's primary key column and
    its foreign keys (primary keys: table -> column, foreign keys: (table, column,
    parent table, parent column))."""
    gold = [
        node
        for node in manifest.nodes.values()
        if node.resource_type == "model" and "gold" in node.fqn and node.config.enabled
    ]
    tables = {node.name: node.alias for node in gold}
    keys: dict[str, str] = {}
    foreign: list[tuple[str, str, str, str]] = []
    for node in sorted(gold, key=lambda n: n.alias):
        for name, column in node.columns.items():
            if any(_type(c) == "primary_key" for c in column.constraints):
                keys[node.alias] = name
        for constraint in node.constraints:
            if _type(constraint) != "foreign_key" or not constraint.to:
                continue
            parent = _parent(constraint.to, tables)
            if parent is not None:
                for column, field in zip(constraint.columns, constraint.to_columns, strict=True):
                    foreign.append((node.alias, column, parent, field))
    return keys, foreign


def served_problems(target: PgLogin, manifest: Any, bi_role: str) -> list[str]:
    """What is missing from the served gold that a publish puts there: a declared key,
    or the BI role's right to read a table."""
    keys, foreign = declared_keys(manifest)
    with target.connect() as con:
        found = con.execute(
            "select c.conrelid::regclass::text, c.contype, count(*) from pg_constraint c "
            "join pg_namespace n on n.oid = c.connamespace "
            "where n.nspname = %s and c.contype in ('p', 'f') group by 1, 2",
            [LIVE],
        ).fetchall()
        unreadable = con.execute(
            "select table_name from information_schema.tables where table_schema = %s "
            "and not (has_schema_privilege(%s, %s, 'usage') "
            "and has_table_privilege(%s, quote_ident(table_schema) || '.' || "
            "quote_ident(table_name), 'select')) order by 1",
            [LIVE, bi_role, LIVE, bi_role],
        ).fetchall()
    have = {(table.split(".")[-1].strip('"'), kind): n for table, kind, n in found}
    problems = [f"gold.{m} has no primary key" for m in keys if not have.get((m, "p"))]
    for model in sorted({f[0] for f in foreign}):
        want = sum(1 for f in foreign if f[0] == model)
        if have.get((model, "f"), 0) < want:
            problems.append(f"gold.{model} lacks foreign keys ({have.get((model, 'f'), 0)}/{want})")
    problems += [f"the BI role cannot read gold.{t}" for (t,) in unreadable]
    return problems
