"""dbt's fixed cost is paid once per version of the project: a fresh process reuses the
parse an earlier process left in the pipeline's target folder (dbt's partial parsing),
and a changed model is parsed again, alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from olist_elt.settings import REPO_ROOT
from olist_elt.transform.parse_cache import KEEP_PARSES
from tests.conftest import copy_dbt_project
from tests.transform.test_parse_cache import fill_cache

pytestmark = pytest.mark.slow

PARSE = """
import sys
from pathlib import Path
from tests.conftest import workspace_settings
from olist_elt.targets import target_for
overrides = {"dbt_project_dir": Path(sys.argv[2]), "dbt_parse_cache": Path(sys.argv[3])}
target_for(workspace_settings(Path(sys.argv[1]), **overrides)).lake_dbt.parse()
"""


def _parse_in_a_fresh_process(root: Path, project: Path) -> dict:
    """Parse as a new `olist-elt run` does (the parse cache beside the workspace);
    return what dbt says it parsed."""
    cache = root.parent / "parse-cache"
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(root), str(project), str(cache)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (perf,) = (root / "target").glob("pipeline-*/perf_info.json")
    return json.loads(perf.read_text())


def test_a_fresh_process_reuses_the_parse_and_a_changed_model_alone_is_parsed_again(
    tmp_path: Path,
) -> None:
    project = copy_dbt_project(tmp_path / "dbt_project")
    root = tmp_path / "workspace"

    first = _parse_in_a_fresh_process(root, project)
    assert first["is_partial_parse_enabled"]
    assert first["parsed_path_count"] > 100  # every model, test and yml file

    (manifest,) = (root / "target").glob("pipeline-*/manifest.json")
    written = manifest.stat().st_mtime_ns
    second = _parse_in_a_fresh_process(root, project)
    assert second["parsed_path_count"] == 0, "an unchanged project was parsed again"
    # nor was its manifest.json written again: the same parse's
    assert manifest.stat().st_mtime_ns == written

    model = project / "models" / "gold" / "fct_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    third = _parse_in_a_fresh_process(root, project)
    assert 1 <= third["parsed_path_count"] < first["parsed_path_count"] // 10
    # the changed parse's manifest.json, with the edit
    nodes = json.loads(manifest.read_text())["nodes"]
    assert nodes["model.olist_elt.fct_orders"]["raw_code"].endswith("-- edited")


def test_a_moved_project_is_parsed_again_where_it_is(tmp_path: Path) -> None:
    """A parse keeps each node's absolute folder (dbt-duckdb loads a seed's CSV from
    it) and dbt does not compare it: a project moved elsewhere is parsed again, not
    served the parse of the folder it left."""
    project = copy_dbt_project(tmp_path / "a" / "dbt_project")
    root = tmp_path / "workspace"
    first = _parse_in_a_fresh_process(root, project)
    assert first["parsed_path_count"] > 100

    moved = (tmp_path / "a").rename(tmp_path / "b") / "dbt_project"
    again = _parse_in_a_fresh_process(root, moved)

    assert again["parsed_path_count"] > 100
    (manifest,) = (root / "target").glob("pipeline-*/manifest.json")
    nodes = json.loads(manifest.read_text())["nodes"].values()
    seeds = [n for n in nodes if n["resource_type"] == "seed"]
    assert len(seeds) == 3
    assert {n["root_path"] for n in seeds} == {str(moved)}


def test_a_parse_cache_that_cannot_be_used_leaves_the_parse_to_dbt(tmp_path: Path) -> None:
    """The parse cache is a cache: where it cannot be read or written (a file where
    its folder should be), a fresh process parses the project and goes on, where it
    failed at the parse before."""
    project = copy_dbt_project(tmp_path / "dbt_project")
    (tmp_path / "parse-cache").write_text("not a folder")
    parsed = _parse_in_a_fresh_process(tmp_path / "ws", project)
    assert parsed["parsed_path_count"] > 100


def test_a_new_workspace_starts_from_the_kept_parse_and_reads_its_own_lake(
    tmp_path: Path,
) -> None:
    """A second workspace (its own lake, build database and vault) of the same project
    parses nothing again: no source reads where the lake is at parse time. Its dbt
    connections read its own lake, from the session variables the olist_keys plugin
    sets."""
    import duckdb

    from olist_elt.transform.duckdb_plugin import Plugin

    project = copy_dbt_project(tmp_path / "dbt_project")
    # the cache already holds more parses than it keeps (other checkouts, used an
    # hour or more ago): the parse of this project stays, the oldest others go
    cache = tmp_path / "parse-cache"
    others, _ = fill_cache(cache, KEEP_PARSES + 5, 0)
    first = _parse_in_a_fresh_process(tmp_path / "a", project)
    assert first["parsed_path_count"] > 100

    second = _parse_in_a_fresh_process(tmp_path / "b", project)
    assert second["is_partial_parse_enabled"]
    assert second["parsed_path_count"] == 0, "a new workspace parsed files again"
    kept = set(cache.glob("*.msgpack"))
    assert len(kept) == KEEP_PARSES and kept - set(others)  # this project's parse
    assert kept & set(others) == set(others[-(KEEP_PARSES - 1) :])

    (manifest,) = (tmp_path / "b" / "target").glob("pipeline-*/manifest.json")
    sources = json.loads(manifest.read_text())["sources"].values()
    locations = [
        s["meta"]["external_location"] for s in sources if "external_location" in s["meta"]
    ]
    assert len(locations) >= 10
    assert not any(str(tmp_path) in loc for loc in locations)

    lake = tmp_path / "b" / "lake"
    (lake / "raw" / "_manifest" / "olist" / "orders").mkdir(parents=True)
    record = {"object_key": "raw/olist/orders/x.csv", "status": "accepted"}
    (lake / "raw" / "_manifest" / "olist" / "orders" / "x.json").write_text(json.dumps(record))
    plugin = Plugin(
        "olist_keys",
        {
            "vault_path": str(tmp_path / "b" / ".secrets" / "vault.json"),
            "vault_key_file": str(tmp_path / "b" / ".secrets" / "vault.key"),
            "lake_dir": str(lake),
            "raw_root": str(lake) + "/",
        },
    )
    con = duckdb.connect()
    plugin.configure_connection(con)
    orders = next(s for s in sources if s["unique_id"] == "source.olist_elt.olist.orders")
    where = orders["meta"]["external_location"].format_map({"name": "orders"})
    assert con.sql(f"select object_key, status from {where}").fetchall() == [
        ("raw/olist/orders/x.csv", "accepted")
    ]
    erasure = next(s for s in sources if s["source_name"] == "erasure")
    where = erasure["meta"]["external_location"].format_map({"name": erasure["name"]})
    assert con.sql(f"select count(*) from {where}").fetchone() == (0,)  # created empty


LAKE_TESTS = (
    "assert_bronze_rows_match_the_manifest",
    "assert_each_raw_object_listed_once",
    "assert_no_personal_data_past_bronze",
)


def test_an_edited_singular_test_keeps_its_lake_tag(tmp_path: Path) -> None:
    """The `lake` tag keeps a test that reads bronze out of gold built on PostgreSQL
    (warehouse_gold). dbt's partial parse drops what tests/_tests.yml sets for a
    singular test once its SQL is edited, so the tag lives in the test's own SQL and
    survives an edit parsed partially, as the next `olist-elt run` or `dbt build`
    parses it."""
    import yaml

    project = copy_dbt_project(tmp_path / "dbt_project")
    documented = yaml.safe_load((project / "tests" / "_tests.yml").read_text())["data_tests"]
    assert {key for entry in documented for key in entry} <= {"name", "description"}

    root = tmp_path / "workspace"
    _parse_in_a_fresh_process(root, project)
    for name in LAKE_TESTS:
        sql = project / "tests" / f"{name}.sql"
        sql.write_text(sql.read_text() + "\n-- edited\n")
    again = _parse_in_a_fresh_process(root, project)
    assert 1 <= again["parsed_path_count"] <= 10, "the edit was not parsed partially"

    (manifest,) = (root / "target").glob("pipeline-*/manifest.json")
    nodes = json.loads(manifest.read_text())["nodes"].values()
    tags = {n["name"]: n["tags"] for n in nodes if n["resource_type"] == "test"}
    assert {name: tags[name] for name in LAKE_TESTS} == {name: ["lake"] for name in LAKE_TESTS}
