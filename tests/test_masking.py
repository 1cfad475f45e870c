"""PII masking: keyed pseudonyms on every engine, redaction, no key leaks, erasure."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import duckdb
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from olist_elt.errors import PipelineFailed
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.sample import OLIST_FILES
from olist_elt.security.audit import AuditLog
from olist_elt.security.erasure import keyed_pseudonym, record_erasure
from olist_elt.security.vault import PII_KEY_NAME, FileVault, hmac_pads
from olist_elt.settings import REPO_ROOT, Settings
from olist_elt.transform.dbt import Dbt, compile_inline
from tests.conftest import workspace_settings

PSEUDONYMIZE = "select v, {{ pseudonymize('v') }} as p from input_values order by v"
REDACT = "select {{ redact_text('txt') }} as redacted from input_texts"
KEY_A = "11" * 32
KEY_B = "22" * 32


@pytest.fixture(scope="session")
def compiled(built: tuple[Settings, RunSummary]) -> dict[str, str]:
    """The masking macros compiled by dbt for DuckDB."""
    duck = Dbt(built[0])
    return {
        "duckdb_pseudonymize": compile_inline(duck, PSEUDONYMIZE),
        "duckdb_redact": compile_inline(duck, REDACT),
    }


@pytest.fixture(scope="session")
def compiled_pg(
    built: tuple[Settings, RunSummary], postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """pseudonymize compiled by dbt-postgres (the warehouse target) against postgres_dsn."""
    parts = conninfo_to_dict(postgres_dsn)
    os.environ.update(
        OLIST_PG_HOST=str(parts.get("host", "127.0.0.1")),
        OLIST_PG_PORT=str(parts.get("port", "5432")),
        OLIST_PG_USER=str(parts.get("user", "postgres")),
        OLIST_PG_PASSWORD=str(parts.get("password", "")),
        OLIST_PG_DATABASE=str(parts.get("dbname", "postgres")),
    )
    pg_settings = built[0].model_copy(
        update={"target": "warehouse", "dbt_target_path": tmp_path_factory.mktemp("pgtarget")}
    )
    return compile_inline(Dbt(pg_settings), PSEUDONYMIZE)


def _duck_pseudonyms(sql: str, key_hex: str, values: list[str]) -> list[str]:
    con = duckdb.connect()
    ipad, opad = hmac_pads(key_hex)
    con.execute("set variable olist_pii_ipad = ?", [ipad])
    con.execute("set variable olist_pii_opad = ?", [opad])
    con.execute("create table input_values(v varchar)")
    con.executemany("insert into input_values values (?)", [[v] for v in values])
    return [p for _, p in con.execute(sql).fetchall()]


def _pg_pseudonyms(dsn: str, sql: str, key_hex: str, values: list[str]) -> list[str]:
    ipad, opad = hmac_pads(key_hex)
    with psycopg.connect(dsn) as con:
        con.execute("select set_config('olist.pii_ipad', %s, false)", [ipad.hex()])
        con.execute("select set_config('olist.pii_opad', %s, false)", [opad.hex()])
        con.execute("create temp table input_values(v text)")
        with con.cursor() as cur:
            cur.executemany("insert into input_values values (%s)", [[v] for v in values])
            cur.execute(sql)
            return [p for _, p in cur.fetchall()]


VALUES = sorted(["06b8999e2fba1a1fbc88172c00ba8bc7", "SP", "são paulo", "é😀", "x" * 200])


def test_pseudonyms_agree_on_duckdb_postgres_and_python(
    compiled: dict[str, str], compiled_pg: str, postgres_dsn: str
) -> None:
    duck = _duck_pseudonyms(compiled["duckdb_pseudonymize"], KEY_A, VALUES)
    pg = _pg_pseudonyms(postgres_dsn, compiled_pg, KEY_A, VALUES)
    python = [keyed_pseudonym(KEY_A, v) for v in VALUES]
    assert duck == pg == python
    assert all(re.fullmatch(r"[0-9a-f]{64}", p) for p in duck)


def test_changing_the_key_changes_every_pseudonym(compiled) -> None:
    a = _duck_pseudonyms(compiled["duckdb_pseudonymize"], KEY_A, VALUES)
    b = _duck_pseudonyms(compiled["duckdb_pseudonymize"], KEY_B, VALUES)
    assert all(x != y for x, y in zip(a, b, strict=True))


def test_compiled_sql_holds_no_key_material(compiled: dict[str, str], compiled_pg: str) -> None:
    for sql in [*compiled.values(), compiled_pg]:
        assert not re.search(r"[0-9a-f]{64}", sql)


def test_a_dictionary_of_states_cities_and_ids_maps_back_no_pseudonym(
    built: tuple[Settings, RunSummary], warehouse: duckdb.DuckDBPyConnection, sample_dir: Path
) -> None:
    import csv

    with open(sample_dir / OLIST_FILES["customers"].file_name, encoding="utf-8") as fh:
        customers = list(csv.DictReader(fh))
    words = {c["customer_state"] for c in customers} | {c["customer_city"] for c in customers}
    words |= {c["customer_id"] for c in customers} | {c["customer_unique_id"] for c in customers}
    words |= {w.upper() for w in words} | {w.lower() for w in words}
    dictionary = set()
    for w in words:
        for algo in ("md5", "sha1", "sha256"):
            dictionary.add(hashlib.new(algo, w.encode()).hexdigest())
    pseudonyms = {
        p
        for (p,) in warehouse.execute(
            "select customer_id from gold.dim_customer union "
            "select customer_unique_id from gold.dim_customer"
        ).fetchall()
    }
    assert len(pseudonyms) > 100
    assert not pseudonyms & dictionary
    assert not pseudonyms & words


@st.composite
def _contact(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["email", "phone", "cpf"]))
    if kind == "email":
        user = draw(st.from_regex(r"[a-z][a-z0-9._]{0,12}[a-z0-9]", fullmatch=True))
        host = draw(st.from_regex(r"[a-z]{2,10}", fullmatch=True))
        tld = draw(st.sampled_from(["com", "com.br", "net", "org.br"]))
        return kind, f"{user}@{host}.{tld}"
    d = draw(st.lists(st.integers(0, 9), min_size=11, max_size=11))
    s = "".join(map(str, d))
    if kind == "cpf":
        fmt = draw(st.sampled_from(["{0}.{1}.{2}-{3}", "{0}{1}{2}{3}", "{0}{1}{2}-{3}"]))
        return kind, fmt.format(s[:3], s[3:6], s[6:9], s[9:11])
    fmt = draw(
        st.sampled_from(
            ["({0}) 9{1}-{2}", "+55 {0} 9{1}-{2}", "{0} 9{1} {2}", "({0}) {1}-{2}", "{0}9{1}{2}"]
        )
    )
    return kind, fmt.format(s[:2], s[2:6], s[6:10])


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéíóúãõç ,.!?\n", max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(before=_words, contact=_contact(), after=_words)
def test_redaction_removes_emails_phones_and_cpfs(compiled, before, contact, after) -> None:
    _, value = contact
    text = f"{before} {value} {after}"
    con = duckdb.connect()
    con.execute("create table input_texts(txt varchar)")
    con.execute("insert into input_texts values (?)", [text])
    (redacted,) = con.execute(compiled["duckdb_redact"]).fetchone()
    assert value not in redacted
    assert re.search(r"\[(email|phone|cpf)\]", redacted)
    digits = re.sub(r"\D", "", redacted)
    assert re.sub(r"\D", "", value) not in digits or len(re.sub(r"\D", "", value)) < 8


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCÁÉÍÓÚãõç ,.!?:;()\"'\n😀0123456789", max_size=80
    ).filter(lambda t: not re.search(r"\d{7,}|@", re.sub(r"[ .()\-]", "", t)))
)
def test_redaction_leaves_ordinary_text_alone(compiled, text: str) -> None:
    con = duckdb.connect()
    con.execute("create table input_texts(txt varchar)")
    con.execute("insert into input_texts values (?)", [text])
    assert con.execute(compiled["duckdb_redact"]).fetchone()[0] == text


def test_generated_review_texts_lose_their_contacts(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    texts = [
        t
        for (t,) in warehouse.execute(
            "select comment_message from silver.silver_reviews where comment_message is not null"
        ).fetchall()
    ]
    assert any("[email]" in t for t in texts)
    assert any("[phone]" in t for t in texts)
    assert any("[cpf]" in t for t in texts)
    assert not [t for t in texts if "@" in t or re.search(r"\d{3}\.\d{3}\.\d{3}-\d{2}", t)]


def test_the_key_is_found_nowhere_after_a_run_and_docs(
    built: tuple[Settings, RunSummary],
) -> None:
    settings, _ = built
    Dbt(settings).run("docs", "generate")
    vault = FileVault(settings.vault_path, settings.vault_key_file)
    key_hex = vault.get(PII_KEY_NAME)
    ipad, opad = hmac_pads(key_hex)
    needles = [
        key_hex.encode(),
        key_hex.upper().encode(),
        bytes.fromhex(key_hex),
        ipad.hex().encode(),
        opad.hex().encode(),
        ipad,
        opad,
    ]
    roots = [
        settings.dbt_target_path,
        settings.lake_dir,
        settings.warehouse_path.parent,
        settings.dbt_project_dir / "logs",
        Path.cwd() / "logs",
    ]
    scanned = 0
    for root in roots:
        if root is None or not root.exists():
            continue
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                scanned += 1
                assert not [n for n in needles if n in data], path
    assert scanned > 20
    assert (settings.dbt_target_path / "catalog.json").exists()


def _copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs")
    )
    return project


@pytest.mark.slow
def test_leak_check_fails_the_build_when_a_column_is_left_unmasked(
    tmp_path: Path, sample_dir: Path
) -> None:
    project = _copy_project(tmp_path)
    model = project / "models" / "silver" / "silver_customers.sql"
    source = model.read_text()
    unmasked = re.sub(
        r"\{\{ pseudonymize\('conformed\.customer_unique_id'\) \}\}\s+as customer_unique_id",
        "conformed.customer_unique_id as customer_unique_id",
        source,
    )
    assert unmasked != source
    model.write_text(unmasked)
    settings = workspace_settings(tmp_path / "ws", dbt_project_dir=project)
    with pytest.raises(PipelineFailed) as failure:
        run_pipeline(settings, sample_dir)
    assert "assert_no_personal_data_past_bronze" in str(failure.value)
    assert "dbt build gold" in str(failure.value)


@pytest.mark.slow
def test_erasure_leaves_nothing_that_links_to_the_person(tmp_path: Path, sample_dir: Path) -> None:
    import csv

    settings = workspace_settings(tmp_path)
    run_pipeline(settings, sample_dir)
    with open(sample_dir / OLIST_FILES["customers"].file_name, encoding="utf-8") as fh:
        customers = list(csv.DictReader(fh))
    with open(sample_dir / OLIST_FILES["order_reviews"].file_name, encoding="utf-8") as fh:
        reviews = list(csv.DictReader(fh))
    with open(sample_dir / OLIST_FILES["orders"].file_name, encoding="utf-8") as fh:
        orders = list(csv.DictReader(fh))
    reviewed = {r["order_id"] for r in reviews if r["review_comment_message"]}
    customer_of = {o["order_id"]: o["customer_id"] for o in orders}
    target_customer = next(customer_of[o] for o in sorted(reviewed))
    person = next(c for c in customers if c["customer_id"] == target_customer)
    their_orders = [o for o, c in customer_of.items() if c == target_customer]

    def totals() -> tuple:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        try:
            return con.execute(
                "select (select sum(payment_value_brl) from gold.fct_payments),"
                " (select sum(price_brl) from gold.fct_order_items),"
                " (select count(*) from gold.fct_orders)"
            ).fetchone()
        finally:
            con.close()

    before = totals()
    vault = FileVault(settings.vault_path, settings.vault_key_file)
    key = vault.get(PII_KEY_NAME)
    pseudo_person = keyed_pseudonym(key, person["customer_unique_id"])
    pseudo_customer = keyed_pseudonym(key, person["customer_id"])

    pseudonym, added = record_erasure(settings, person["customer_unique_id"], "dpo@test")
    assert added and pseudonym == pseudo_person
    assert record_erasure(settings, person["customer_unique_id"], "dpo@test")[1] is False
    register = (settings.lake_dir / "_erasure" / "requests.csv").read_text()
    assert person["customer_unique_id"] not in register and pseudo_person in register

    # every later rebuild keeps the erasure: rebuild from raw through the pipeline
    run_pipeline(settings, ingest_inputs=False)  # the erasure applies (full refresh)
    summary = run_pipeline(settings, sample_dir)
    assert summary.outcome == "success"  # dbt tests, including the leak check, pass

    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        for schema in ("silver", "gold"):
            for table, column in con.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = ? and data_type = 'VARCHAR'",
                [schema],
            ).fetchall():
                hits = con.execute(
                    f'select count(*) from {schema}."{table}" where "{column}" in (?, ?, ?, ?)',
                    [
                        pseudo_person,
                        pseudo_customer,
                        person["customer_unique_id"],
                        person["customer_id"],
                    ],
                ).fetchone()[0]
                assert hits == 0, f"{schema}.{table}.{column}"
        texts = con.execute(
            "select count(*) from gold.fct_reviews where order_id in (select unnest(?)) "
            "and (comment_message is not null or comment_title is not null)",
            [their_orders],
        ).fetchone()[0]
        anonymous = con.execute(
            "select customer_id, city, state_code, zip_code_prefix_3 from gold.dim_customer "
            "where customer_id = 'erased-customer'"
        ).fetchall()
        owner = con.execute(
            "select distinct customer_id from gold.fct_orders where order_id in (select unnest(?))",
            [their_orders],
        ).fetchall()
    finally:
        con.close()
    assert texts == 0
    assert anonymous == [("erased-customer", None, None, None)]
    assert owner == [("erased-customer",)]
    assert totals() == before
    actions = [r["action"] for r in AuditLog(settings.audit_path).records()]
    assert "erasure.request" in actions and "erasure.apply" in actions
