"""`dashboards sync` against a local server implementing the Metabase endpoints it
uses: the calls, their payloads, idempotency, edits, removals and clear errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from olist_elt.dashboards import load_dashboards
from olist_elt.dashboards.commands import sync_dashboards
from olist_elt.dashboards.metabase import MetabaseError
from olist_elt.dashboards.metabase_shapes import filter_tags
from olist_elt.dashboards.model import DASHBOARDS_DIR
from olist_elt.security.audit import AuditLog
from olist_elt.security.vault import open_vault
from olist_elt.settings import Settings
from tests.conftest import _free_port, workspace_settings
from tests.dashboards.fake_metabase import FakeMetabase


@pytest.fixture()
def metabase(httpserver: HTTPServer) -> FakeMetabase:
    fake = FakeMetabase()
    httpserver.expect_request(re.compile("/api/.*")).respond_with_handler(fake)
    return fake


@pytest.fixture()
def settings(tmp_path: Path, httpserver: HTTPServer, metabase: FakeMetabase) -> Settings:
    s = workspace_settings(
        tmp_path,
        metabase_url=httpserver.url_for("/").rstrip("/"),
        metabase_user=metabase.email,
        metabase_wait_seconds=5,
        metabase_pg_host="postgres",
    )
    vault = open_vault(s, AuditLog(s.audit_path))
    vault.set("metabase_password", metabase.password)
    vault.set("warehouse_bi_password", "bi-pw")
    return s


@pytest.fixture()
def definitions(tmp_path: Path) -> Path:
    """An editable copy of dashboards/."""
    out = tmp_path / "dashboards"
    shutil.copytree(DASHBOARDS_DIR, out)
    return out


def test_first_sync_creates_connection_collection_cards_and_layout(
    settings: Settings, metabase: FakeMetabase, definitions: Path
) -> None:
    dashboards = load_dashboards(definitions)
    report = sync_dashboards(settings, definitions)
    n_cards = sum(len(d.cards) for d in dashboards)
    assert len(report.created) == n_cards + len(dashboards)
    writes = metabase.writes()
    [db_call] = [c for c in writes if c.path == "/api/database"]
    assert db_call.body["engine"] == "postgres"
    assert db_call.body["details"] == {
        "host": "postgres",
        "port": settings.pg_port,
        "dbname": settings.pg_database,
        "user": settings.pg_bi_role,  # read-only BI role, never the loader
        "password": "bi-pw",
        "ssl": False,
    }
    assert [c.body for c in writes if c.path == "/api/collection"] == [{"name": "olist-elt"}]
    posted = {c.body["name"]: c.body for c in writes if c.path == "/api/card"}
    for dashboard in dashboards:
        for card in dashboard.cards:
            native = posted[card.title]["dataset_query"]["native"]
            tags = [t.name for t in filter_tags(card.applied(dashboard.filters))]
            assert sorted(native["template-tags"]) == sorted(tags), card.title
            clauses = [f"{{{{{t}}}}}]]" for t in tags]
            assert all(c in native["query"] for c in clauses), card.title
            unfiltered = card.aggregate_sql().split("\ngroup by")[0].split("\norder by")[0]
            assert native["query"].startswith(unfiltered), card.title
    database_id = next(iter(metabase.databases))
    assert {b["dataset_query"]["database"] for b in posted.values()} == {database_id}
    sales = next(d for d in dashboards if d.name == "Sales")
    board = next(b for b in metabase.dashboards.values() if b["name"] == "Sales")
    by_card = {metabase.cards[d["card_id"]]["name"]: d for d in board["dashcards"]}
    for card in sales.cards:
        placed = by_card[card.title]
        assert (placed["row"], placed["col"], placed["size_x"], placed["size_y"]) == (
            card.position.row,
            card.position.col,
            card.position.width,
            card.position.height,
        )
    assert posted["Payment type mix"]["display"] == "pie"
    assert posted["Orders"]["display"] == "scalar"


def test_a_second_sync_changes_nothing(
    settings: Settings, metabase: FakeMetabase, definitions: Path
) -> None:
    sync_dashboards(settings, definitions)
    before = len(metabase.calls)
    report = sync_dashboards(settings, definitions)
    assert not report.changed
    second = metabase.calls[before:]
    assert [c for c in second if c.method != "GET" and c.path != "/api/session"] == []
    assert any(c.path.startswith("/api/card/") for c in second)  # it did look


def test_an_edited_card_is_updated_not_duplicated_and_a_removed_one_archived(
    settings: Settings, metabase: FakeMetabase, definitions: Path
) -> None:
    sync_dashboards(settings, definitions)
    cards_before = len(metabase.cards)
    path = definitions / "sales.yml"
    data = yaml.safe_load(path.read_text())
    data["cards"][0]["sql"] = "select count(*) as orders from gold.fct_orders where true\n"
    removed = data["cards"].pop()
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    mark = len(metabase.calls)
    report = sync_dashboards(settings, definitions)
    assert report.updated[:1] == ["card Orders"]
    assert report.archived == [f"card {removed['title']}"]
    assert len(metabase.cards) == cards_before  # nothing duplicated
    edited = next(c for c in metabase.cards.values() if c["name"] == "Orders")
    assert "where true" in edited["dataset_query"]["native"]["query"]
    puts = [c.path for c in metabase.calls[mark:] if c.method == "PUT"]
    assert puts.count(f"/api/card/{edited['id']}") == 1
    assert not [c for c in metabase.calls[mark:] if c.method == "POST" and c.path == "/api/card"]


def test_bad_credentials_are_a_clear_error(settings: Settings, metabase: FakeMetabase) -> None:
    open_vault(settings, AuditLog(settings.audit_path)).set("metabase_password", "wrong")
    with pytest.raises(MetabaseError, match=r"refused the login.*vault set metabase_password"):
        sync_dashboards(settings)
    assert metabase.writes() == []


def test_a_starting_metabase_is_waited_for(settings: Settings, metabase: FakeMetabase) -> None:
    metabase.starting_polls = 3
    report = sync_dashboards(settings)
    assert report.created
    assert [c.path for c in metabase.calls[:4]] == ["/api/health"] * 4


def test_a_metabase_that_never_comes_up_fails_within_the_bound(settings: Settings) -> None:
    port = _free_port()
    dead = settings.model_copy(
        update={"metabase_url": f"http://127.0.0.1:{port}", "metabase_wait_seconds": 1}
    )
    with pytest.raises(MetabaseError, match=r"not ready within 1s.*OLIST_METABASE_URL"):
        sync_dashboards(dead)


def test_a_server_that_is_not_metabase_is_named(settings: Settings, httpserver: HTTPServer) -> None:
    httpserver.clear()
    httpserver.expect_request("/api/health").respond_with_data("nope", status=404)
    with pytest.raises(MetabaseError, match="does not look like Metabase"):
        sync_dashboards(settings)


def test_the_filters_are_dashboard_parameters_wired_to_each_cards_template_tags(
    settings: Settings, metabase: FakeMetabase, definitions: Path
) -> None:
    sync_dashboards(settings, definitions)

    sales = next(b for b in metabase.dashboards.values() if b["name"] == "Sales")
    slugs = {p["slug"]: p for p in sales["parameters"]}
    assert set(slugs) == {"purchase_month_from", "purchase_month_to", "state_code", "category"}
    assert slugs["state_code"]["type"] == "string/=" and slugs["purchase_month_from"]["type"] == (
        "date/single"
    )
    by_title = {d["card"]["name"]: d for d in sales["dashcards"]}
    state = slugs["state_code"]["id"]
    category = slugs["category"]["id"]
    gmv = {m["parameter_id"]: m["target"] for m in by_title["GMV by state"]["parameter_mappings"]}
    assert gmv[state] == ["variable", ["template-tag", "state_code"]] and category in gmv
    orders = {m["parameter_id"] for m in by_title["Orders"]["parameter_mappings"]}
    assert state in orders and category not in orders  # Orders is not filtered by category
    ops = next(b for b in metabase.dashboards.values() if b["name"] == "Operations")
    slugs = {p["slug"]: p["id"] for p in ops["parameters"]}
    assert set(slugs) == {"run_month_from", "run_month_to", "outcome"}
    for dashcard in ops["dashcards"]:  # every card, the table of latest runs too
        assert {m["parameter_id"] for m in dashcard["parameter_mappings"]} == set(slugs.values())
    latest = next(c for c in metabase.cards.values() if c["name"] == "Latest runs")
    query = latest["dataset_query"]["native"]["query"]
    # filtered in a subquery, then ordered (nulls last on every engine) and cut
    assert query.index("[[and outcome = {{outcome}}]]") < query.index("order by run_started desc")
    assert query.endswith("order by run_started desc nulls last\nlimit 5")
    assert metabase.rejected == []


def test_the_stand_in_refuses_a_body_a_real_server_would_refuse(
    settings: Settings, metabase: FakeMetabase, definitions: Path
) -> None:
    from metabase_api import Metabase_API

    sync_dashboards(settings, definitions)
    api = Metabase_API(settings.metabase_url, metabase.email, metabase.password)
    query = {"type": "native", "database": 1, "native": {"query": "select {{x}}"}}
    no_tag = {"name": "n", "display": "table", "visualization_settings": {}, "dataset_query": query}
    unknown = {**no_tag, "dataset_query": {**query, "native": {"query": "select 1"}}, "colour": 1}

    assert api.post("/api/card", "raw", json=no_tag).status_code == 400
    assert api.post("/api/card", "raw", json=unknown).status_code == 400
    assert api.post("/api/card", "raw", json={"name": "n"}).status_code == 400
    assert len(metabase.rejected) == 3


def test_a_stored_card_that_differs_only_in_what_the_server_normalises_is_not_rewritten(
    settings: Settings, metabase: FakeMetabase, definitions: Path
) -> None:
    sync_dashboards(settings, definitions)
    for card in metabase.cards.values():  # as a server may return them
        native = card["dataset_query"]["native"]
        native["query"] = native["query"].replace("\n", "  \r\n")
    mark = len(metabase.calls)

    report = sync_dashboards(settings, definitions)

    assert not report.changed
    assert [
        c for c in metabase.calls[mark:] if c.method in ("POST", "PUT") and c.path != "/api/session"
    ] == []
