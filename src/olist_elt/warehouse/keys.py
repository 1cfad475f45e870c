"""Gold's keys as its dbt tests declare them: the statements that add them to the
staging star schema, and what the served gold lacks of them (or of the BI role's
right to read it)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from olist_elt.warehouse.postgres import LIVE, PgLogin


def declared_keys(manifest: Any) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Gold's keys as its dbt tests declare them: a primary key where a column has
    unique + not_null tests; a foreign key per relationships test to such a key.
    (primary keys: model -> column, foreign keys: (model, column, parent, field))."""
    tests: dict[str, dict[str, set[str]]] = {}
    relations: list[tuple[str, str, str, str]] = []
    gold = {
        uid: node
        for uid, node in manifest.nodes.items()
        if node.resource_type == "model" and "gold" in node.fqn
    }
    for node in manifest.nodes.values():
        meta = getattr(node, "test_metadata", None)
        attached = getattr(node, "attached_node", None)
        if not meta or attached not in gold or not getattr(node, "column_name", None):
            continue
        model = gold[attached].alias
        if meta.name in ("unique", "not_null") and not node.config.where:
            tests.setdefault(model, {}).setdefault(node.column_name, set()).add(meta.name)
        if meta.name == "relationships":
            to = str(meta.kwargs.get("to", ""))
            parent = to.split("'")[1] if "'" in to else to
            relations.append((model, node.column_name, parent, meta.kwargs["field"]))
    keys: dict[str, str] = {}
    for model, columns in sorted(tests.items()):
        for column, kinds in sorted(columns.items()):
            if kinds == {"unique", "not_null"}:
                keys[model] = column
                break
    foreign = [r for r in sorted(set(relations)) if keys.get(r[2]) == r[3]]
    return keys, foreign


def constraints_from_manifest(manifest: Any, schema: str) -> list[sql.Composable]:
    """Primary keys (unique + not_null tests), foreign keys (relationships) and indexes."""
    keys, foreign = declared_keys(manifest)
    statements: list[sql.Composable] = [
        sql.SQL("alter table {}.{} add primary key ({})").format(
            sql.Identifier(schema), sql.Identifier(model), sql.Identifier(column)
        )
        for model, column in keys.items()
    ]
    for model, column, parent, field in foreign:
        statements.append(
            sql.SQL("alter table {s}.{m} add foreign key ({c}) references {s}.{p} ({f})").format(
                s=sql.Identifier(schema),
                m=sql.Identifier(model),
                c=sql.Identifier(column),
                p=sql.Identifier(parent),
                f=sql.Identifier(field),
            )
        )
        statements.append(
            sql.SQL("create index on {}.{} ({})").format(
                sql.Identifier(schema), sql.Identifier(model), sql.Identifier(column)
            )
        )
    return statements


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
