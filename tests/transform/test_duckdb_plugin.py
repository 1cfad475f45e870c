"""The olist_keys plugin dbt loads: its reads of the vault go to the audit log it is
given, and that log's head is signed in the anchor of the lake it is given; gold's
foreign keys, which DuckDB does not get, no longer make dbt-duckdb build gold's facts
one at a time."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from dbt.adapters.duckdb.impl import DuckDBAdapter
from dbt.contracts.graph.manifest import WritableManifest
from dbt_common.contracts.constraints import ConstraintType

from olist_elt.run.record import RunSummary
from olist_elt.security.audit import AuditLog
from olist_elt.security.audit_anchor import anchor_for
from olist_elt.settings import Settings
from olist_elt.transform.duckdb_plugin import Plugin


def _plugin(tmp_path: Path, lake: Path) -> Plugin:
    """The plugin as profiles.yml loads it, on a lake and vault under tmp_path."""
    return Plugin(
        "olist_keys",
        {
            "vault_path": str(tmp_path / ".secrets" / "vault.json"),
            "vault_key_file": str(tmp_path / ".secrets" / "vault.key"),
            "audit_log": str(lake / "_audit" / "audit.jsonl"),
            "lake_dir": str(lake),
            "raw_root": str(lake),
        },
    )


def test_the_plugin_signs_its_lakes_audit_log_in_that_lakes_anchor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An analyst's `dbt build` with no OLIST_ setting: profiles.yml hands the plugin
    the lake beside the project (../lake) and its audit log. The head of that log is
    signed in that lake's runs/, never in the default lake (OLIST_HOME's or this
    checkout's), where it would leave the workspace's own anchor behind and a stray
    anchor that `audit verify` there calls forged."""
    for name in ("OLIST_LAKE_DIR", "OLIST_AUDIT_LOG"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"  # the default lake: home/lake (unset: this checkout's)
    monkeypatch.setenv("OLIST_HOME", str(home))
    lake = tmp_path / "lake"
    log = lake / "_audit" / "audit.jsonl"
    _plugin(tmp_path, lake)
    anchor = anchor_for(log)
    assert anchor is not None and anchor.path == (lake / "runs" / "audit-anchor.json").resolve()
    result = AuditLog(log).verify()
    assert result.ok and result.records > 0 and result.anchored == result.records
    assert not (home / "lake").exists()


def _node(package: str, model_keys: list[str], column_keys: list[str]) -> SimpleNamespace:
    """A contracted model as dbt-duckdb reads it: its model-level and its one column's
    constraints."""

    def keys(types: list[str]) -> list[SimpleNamespace]:
        return [SimpleNamespace(type=ConstraintType(t)) for t in types]

    return SimpleNamespace(
        package_name=package,
        contract=SimpleNamespace(enforced=True),
        constraints=keys(model_keys),
        columns={"key": SimpleNamespace(constraints=keys(column_keys))},
    )


def test_gold_facts_declaring_foreign_keys_take_no_lock_on_duckdb(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    """Gold's contracts declare foreign keys at model level for PostgreSQL; DuckDB's
    DDL leaves them out (macros/engine/duckdb_foreign_keys.sql). dbt-duckdb held one
    lock for the whole build of a model that declares one, and every model with a key
    waited for it to start: gold's facts built one at a time. Once the plugin is
    loaded, those declarations no longer count towards that lock; a fact's primary
    key still does, as does a column-level foreign key (DuckDB gets it) and any key of
    another project's model."""
    settings, _ = built
    manifest = WritableManifest.read_and_check_versions(
        str(settings.dbt_target_path / "pipeline-local" / "manifest.json")
    )
    facts = {
        name.rsplit(".", 1)[1]: node
        for name, node in manifest.nodes.items()
        if any(c.type == ConstraintType.foreign_key for c in getattr(node, "constraints", []))
    }
    assert set(facts) == {"fct_orders", "fct_order_items", "fct_payments", "fct_reviews"}
    column_key = _node("olist_elt", ["foreign_key"], ["primary_key", "foreign_key"])
    elsewhere = _node("other_project", ["foreign_key"], ["primary_key"])
    _plugin(tmp_path, tmp_path / "lake")
    for node in facts.values():
        assert node.contract.enforced
        assert DuckDBAdapter._key_constraint_types(node) == {ConstraintType.primary_key}
    both = {ConstraintType.primary_key, ConstraintType.foreign_key}
    assert DuckDBAdapter._key_constraint_types(column_key) == both
    assert DuckDBAdapter._key_constraint_types(elsewhere) == both


def test_every_cursor_gets_the_pads_and_the_lake_and_no_statement_names_a_pad(
    tmp_path: Path,
) -> None:
    """A dbt connection and each cursor on it (cursors do not inherit session
    variables) hold the PII key's pads and the lake's location, bound as parameters,
    never written into a statement: DuckDB's own query log shows no pad."""
    import duckdb

    from olist_elt.transform.duckdb_plugin import IPAD_VAR, LAKE_DIR_VAR, OPAD_VAR, RAW_ROOT_VAR

    lake = tmp_path / "lake"
    plugin = _plugin(tmp_path, lake)
    ipad, opad = plugin._pads
    con = duckdb.connect()
    con.execute("call enable_logging('QueryLog')")
    plugin.configure_connection(con)
    cursor = con.cursor()
    plugin.configure_cursor(cursor)
    for session in (con, cursor):
        assert session.execute(
            "select getvariable(?), getvariable(?), getvariable(?), getvariable(?), "
            "typeof(getvariable(?))",
            [IPAD_VAR, OPAD_VAR, LAKE_DIR_VAR, RAW_ROOT_VAR, IPAD_VAR],
        ).fetchone() == (ipad, opad, str(lake.resolve()), str(lake.resolve()), "BLOB")
    logged = [m for (m,) in con.execute("select message from duckdb_logs").fetchall()]
    assert sum(f"set variable {IPAD_VAR} = ?" in m for m in logged) == 2  # both sessions
    for pad in (ipad, opad):
        assert not any(pad.hex() in m.lower() or repr(pad)[2:-1] in m for m in logged)
