"""PII masking: keyed pseudonyms on every engine, redaction, no key leaks, erasure."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import re._constants as sre
import re._parser as sre_parser
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from olist_elt.errors import PipelineFailed
from olist_elt.lake.manifest import Manifest
from olist_elt.lake.storage import LocalStorage
from olist_elt.run.pipeline import run_pipeline
from olist_elt.run.record import RunSummary
from olist_elt.sample import OLIST_FILES
from olist_elt.security.audit import AuditLog
from olist_elt.security.erasure import keyed_pseudonym, record_erasure
from olist_elt.security.vault import PII_KEY_NAME, FileVault, hmac_pads
from olist_elt.settings import Settings
from olist_elt.transform.dbt import Dbt, compile_inline
from tests.conftest import copy_dbt_project, copy_workspace, every_layer, workspace_settings

PSEUDONYMIZE = "select v, {{ pseudonymize('v') }} as p from input_values order by v"
REDACT = "select {{ redact_text('txt') }} as redacted from input_texts"
GENERALIZE = """
{%- set columns = ['row_id', 'person', 'zip', 'city', 'state'] -%}
{%- set cell = ['zip', 'city', 'state'] -%}
with
cities as ({{ MACRO('input_rows', columns, 'person', cell, 'city', "'OTHER'", 3) }}),
zips as ({{ MACRO('cities', columns, 'person', cell, 'zip', 'null', 3) }})
select * from zips
"""
KEY_A = "11" * 32
KEY_B = "22" * 32
# written out by the compile between two snippets (compile_apart)
NEXT_SNIPPET = "-- tests: the next snippet --"


def compile_apart(dbt: Dbt, snippets: dict[str, str]) -> dict[str, str]:
    """Several snippets compiled by one `dbt compile --inline` (one start, on the
    workspace's parse), each one's SQL by name, as compiling it alone gives it: they
    are joined by a marker the compile writes out, each without its last newline
    (Jinja drops a template's last newline). They share one Jinja context: a name
    one sets, the next ones see."""
    marker = "{{ '" + NEXT_SNIPPET + "' }}"
    joined = marker.join(s.removesuffix("\n") for s in snippets.values())
    parts = compile_inline(dbt, joined).split(NEXT_SNIPPET)
    assert len(parts) == len(snippets), parts
    return dict(zip(snippets, parts, strict=True))


@pytest.fixture(scope="session")
def compiled_duck(built: tuple[Settings, RunSummary]) -> dict[str, str]:
    """pseudonymize, redact_text and generalize_small_cells (the group-by version it
    dispatches to on DuckDB, and as every other engine runs it: windows) compiled by
    dbt for DuckDB, in one compile in the shared run's workspace (its own dbt target,
    with no vars: not the run's parse; a compile there builds nothing), where the
    pseudonymize snippet alone was compiled before."""
    return compile_apart(
        Dbt(built[0]),
        {
            "pseudonymize": PSEUDONYMIZE,
            "redact": REDACT,
            "generalize": GENERALIZE.replace("MACRO", "generalize_small_cells"),
            "generalize_windows": GENERALIZE.replace("MACRO", "default__generalize_small_cells"),
        },
    )


@pytest.fixture(scope="session")
def compiled(compiled_duck: dict[str, str]) -> dict[str, str]:
    """The masking macros compiled by dbt for DuckDB."""
    return {
        "duckdb_pseudonymize": compiled_duck["pseudonymize"],
    }


@pytest.fixture(scope="session")
def compiled_pg_snippets(
    built: tuple[Settings, RunSummary], postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """pseudonymize and redact_text compiled by dbt-postgres (the warehouse target)
    against postgres_dsn, in one compile. The login reaches dbt as the pipeline gives
    it, for that command only: later tests in this process do not inherit it."""
    parts = conninfo_to_dict(postgres_dsn)
    login = {
        "OLIST_PG_HOST": str(parts.get("host", "127.0.0.1")),
        "OLIST_PG_PORT": str(parts.get("port", "5432")),
        "OLIST_PG_USER": str(parts.get("user", "postgres")),
        "OLIST_PG_PASSWORD": str(parts.get("password", "")),
        "OLIST_PG_DATABASE": str(parts.get("dbname", "postgres")),
    }
    pg_settings = built[0].model_copy(
        update={"target": "warehouse", "dbt_target_path": tmp_path_factory.mktemp("pgtarget")}
    )
    before = {key: os.environ.get(key) for key in login}
    compiled = compile_apart(
        Dbt(pg_settings, extra_env=login), {"pseudonymize": PSEUDONYMIZE, "redact": REDACT}
    )
    assert {key: os.environ.get(key) for key in login} == before
    return compiled


@pytest.fixture(scope="session")
def compiled_pg(compiled_pg_snippets: dict[str, str]) -> str:
    """pseudonymize compiled by dbt-postgres (the warehouse target) against postgres_dsn."""
    return compiled_pg_snippets["pseudonymize"]


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


@pytest.fixture(scope="session")
def redact_sql(compiled_duck: dict[str, str]) -> str:
    """redact_text compiled by dbt for DuckDB (compiled_duck)."""
    return compiled_duck["redact"]


@pytest.fixture(scope="session")
def redact_sql_pg(compiled_pg_snippets: dict[str, str]) -> str:
    """redact_text compiled by dbt-postgres (the warehouse target), in compiled_pg's
    compile."""
    return compiled_pg_snippets["redact"]


_SEPARATORS = st.sampled_from(["", " ", ".", "-"])
_ACCENTED = "áàâãéêíóôõúüçÁÂÃÉÍÓÕÚÇ"


@st.composite
def _cpf(draw: st.DrawFn) -> str:
    """A CPF as people write it: 123.456.789-01, 12345678901, 123 456 789 01, ..."""
    d = draw(st.from_regex(r"[0-9]{11}", fullmatch=True))
    style = draw(st.sampled_from(["{0}.{1}.{2}-{3}", "{0}{1}{2}{3}", "{0} {1} {2} {3}", "mixed"]))
    if style != "mixed":
        return style.format(d[:3], d[3:6], d[6:9], d[9:])
    a, b, c = draw(_SEPARATORS), draw(_SEPARATORS), draw(_SEPARATORS)
    return f"{d[:3]}{a}{d[3:6]}{b}{d[6:9]}{c}{d[9:]}"


@st.composite
def _cnpj(draw: st.DrawFn) -> str:
    """A CNPJ: 12.345.678/0001-90, 12345678000190, 12 345 678 0001 90, ..."""
    d = draw(st.from_regex(r"[0-9]{14}", fullmatch=True))
    style = draw(st.sampled_from(["{0}.{1}.{2}/{3}-{4}", "{0}{1}{2}{3}{4}", "{0} {1} {2} {3} {4}"]))
    return style.format(d[:2], d[2:5], d[5:8], d[8:12], d[12:])


@st.composite
def _phone(draw: st.DrawFn) -> str:
    """A Brazilian phone: +55 or not, area code in parentheses or not, mobile
    (9 + 8 digits, the 9 apart or not) or landline (8 digits), any separators."""
    area = draw(st.from_regex(r"[1-9][1-9]", fullmatch=True))
    line = draw(st.from_regex(r"[2-9][0-9]{7}", fullmatch=True))
    sep = draw(_SEPARATORS)
    country = draw(st.sampled_from(["", "+55 ", "+55", "55 ", "+55-", "+55."]))
    area_part = draw(st.sampled_from([f"({area}) ", f"({area})", f"{area} ", f"{area}{sep}"]))
    mobile = draw(st.sampled_from(["", "9", f"9{sep}"]))
    return f"{country}{area_part}{mobile}{line[:4]}{draw(_SEPARATORS)}{line[4:]}"


@st.composite
def _email(draw: st.DrawFn) -> str:
    """An e-mail address: accented local parts, plus-tags, upper case."""
    word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz" + _ACCENTED, min_size=1, max_size=8)
    local = draw(word) + draw(st.sampled_from(["", ".", "_", "-"])) + draw(word)
    tag = draw(st.sampled_from(["", "+loja", "+Promo2024", "+a.b"]))
    host = draw(st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True))
    tld = draw(st.sampled_from(["com", "com.br", "net", "org.br", "COM.BR", "Com"]))
    address = f"{local}{tag}@{host}.{tld}"
    form = draw(st.sampled_from(["as is", "upper", "nfd"]))
    if form == "upper":
        return address.upper()
    return unicodedata.normalize("NFD", address) if form == "nfd" else address


_CONTACTS = {"cpf": _cpf(), "cnpj": _cnpj(), "phone": _phone(), "email": _email()}
_contact = st.sampled_from(sorted(_CONTACTS)).flatmap(
    lambda kind: _CONTACTS[kind].map(lambda value: (kind, value))
)
# Context without digits or "@": whatever digits or "@" survive came from the contact.
_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéíóúãõç ,.!?\n", max_size=40)
_around = st.sampled_from([("", ""), ("CPF: ", "."), ("(", ")"), ("tel.", ","), ("<", ">")])


def _redact(con: duckdb.DuckDBPyConnection | psycopg.Connection, sql: str, text: str) -> str:
    """Run the compiled redaction on one text."""
    con.execute("delete from input_texts")
    placeholder = "%s" if isinstance(con, psycopg.Connection) else "?"
    con.execute(f"insert into input_texts values ({placeholder})", [text])
    return con.execute(sql).fetchone()[0]


def _assert_redacted(kind: str, value: str, redacted: str) -> None:
    """No digit, no "@" and nothing of the contact's local part is left."""
    assert not re.search(r"[0-9@]", redacted), (kind, value, redacted)
    assert re.search(r"\[(email|phone|cpf|cnpj)\]", redacted), (kind, value, redacted)
    if kind == "email":
        local = unicodedata.normalize("NFC", value.split("@")[0])
        assert local not in unicodedata.normalize("NFC", redacted), (value, redacted)


@pytest.fixture(scope="module")
def duck_texts() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the input_texts table the compiled snippet reads."""
    con = duckdb.connect()
    con.execute("create table input_texts(txt varchar)")
    try:
        yield con
    finally:
        con.close()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(before=_words, contact=_contact, around=_around, after=_words)
def test_redaction_removes_every_writing_of_emails_phones_cpfs_and_cnpjs(
    redact_sql: str, duck_texts, before: str, contact, around, after: str
) -> None:
    kind, value = contact
    text = f"{before} {around[0]}{value}{around[1]} {after}"
    _assert_redacted(kind, value, _redact(duck_texts, redact_sql, text))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(before=_words, contact=_contact, around=_around, after=_words)
def test_redaction_holds_on_postgresql_too(
    redact_sql_pg: str, postgres_dsn: str, before: str, contact, around, after: str
) -> None:
    kind, value = contact
    text = f"{before} {around[0]}{value}{around[1]} {after}"
    with psycopg.connect(postgres_dsn) as con:
        con.execute("create temp table input_texts(txt text)")
        _assert_redacted(kind, value, _redact(con, redact_sql_pg, text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CPF 123 456 789 01 ok", "CPF [cpf] ok"),
        ("cpf 12345678901", "cpf [cpf]"),
        ("CNPJ 12.345.678/0001-90.", "CNPJ [cnpj]."),
        ("ligue +55 11 91234-5678", "ligue [phone]"),
        ("tel (21) 3456.7890 fixo", "tel [phone] fixo"),
        ("zap 11 9 8765 4321", "zap [phone]"),
        ("joão.silva+loja@Exemplo.COM.BR", "[email]"),
        ("paguei 2 de 3 parcelas em 10/12/2017", "paguei 2 de 3 parcelas em 10/12/2017"),
    ],
)
def test_redaction_labels_what_it_removes(
    redact_sql: str, duck_texts, text: str, expected: str
) -> None:
    assert _redact(duck_texts, redact_sql, text) == expected


# One writing of each kind a person uses, for the engine too slow to start per example.
WRITINGS = [
    ("cpf", "123.456.789-01"),
    ("cpf", "12345678901"),
    ("cpf", "123 456 789 01"),
    ("cpf", "123.456.789 01"),
    ("cnpj", "12.345.678/0001-90"),
    ("cnpj", "12345678000190"),
    ("cnpj", "12 345 678 0001 90"),
    ("phone", "+55 (11) 91234-5678"),
    ("phone", "+5511912345678"),
    ("phone", "55 11 9 1234 5678"),
    ("phone", "(11) 91234-5678"),
    ("phone", "11.91234.5678"),
    ("phone", "(21)3456-7890"),
    ("phone", "21 3456 7890"),
    ("email", "joão.silva@exemplo.com.br"),
    ("email", "Maria+loja@Exemplo.COM"),
    ("email", "JOÃO_ÇÉ@GMAIL.COM"),
    ("email", unicodedata.normalize("NFD", "conceição@correio.net")),
]


def test_every_fixed_writing_is_redacted_on_duckdb(redact_sql: str, duck_texts) -> None:
    for kind, value in WRITINGS:
        text = f"contato: {value}, obrigado"
        _assert_redacted(kind, value, _redact(duck_texts, redact_sql, text))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCÁÉÍÓÚãõç ,.!?:;()\"'\n😀0123456789", max_size=80
    ).filter(lambda t: not re.search(r"\d{7,}|@", re.sub(r"[ .()\-]", "", t)))
)
def test_redaction_leaves_ordinary_text_alone(redact_sql: str, duck_texts, text: str) -> None:
    assert _redact(duck_texts, redact_sql, text) == text


def test_generated_review_texts_lose_their_contacts(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    for relation in ("silver.silver_reviews", "gold.fct_reviews"):
        texts = [
            t
            for (t,) in warehouse.execute(
                f"select comment_message from {relation} where comment_message is not null"
            ).fetchall()
        ]
        for label in ("[email]", "[phone]", "[cpf]", "[cnpj]"):
            assert any(label in t for t in texts), (relation, label)
        assert not [t for t in texts if "@" in t or re.search(r"\d{4}[ .-]?\d{4}", t)]


def test_the_contact_gates_pass_on_the_built_silver_and_gold(
    built: tuple[Settings, RunSummary],
) -> None:
    gates = ["assert_no_contact_details_in_silver", "assert_no_contact_details_in_gold"]
    result = Dbt(built[0]).run("test", "--select", " ".join(gates))
    tests = [n for n in result.nodes if n.resource_type == "test"]
    assert sorted(n.unique_id.split(".")[-1] for n in tests) == sorted(gates)
    assert {n.status for n in tests} == {"pass"}


@pytest.mark.slow
def test_the_contact_gate_fails_the_run_when_redaction_is_weaker(
    built: tuple[Settings, RunSummary], tmp_path: Path, sample_dir: Path
) -> None:
    project = copy_dbt_project(tmp_path / "dbt_project")
    # The redaction this project had before: e-mails with ASCII local parts only,
    # CPFs with dots or none, phones without dots.
    (project / "macros" / "masking" / "redact_text.sql").write_text(WEAKER_REDACTION)
    # the changed project on a workspace with a good run behind it: a full rebuild
    settings = copy_workspace(built[0], tmp_path / "ws", dbt_project_dir=project)
    with pytest.raises(PipelineFailed) as failure:
        run_pipeline(settings, sample_dir)
    assert "assert_no_contact_details_in_silver" in str(failure.value)
    assert "dbt build silver" in str(failure.value)
    assert "@" not in str(failure.value)


@pytest.fixture(scope="module")
def contact_rules(built: tuple[Settings, RunSummary]) -> tuple[list[str], list[str], list[str]]:
    """The contact gates' patterns for any text column, for free text, and the marks
    the gates rely on outside free text."""
    rules = compile_inline(
        Dbt(built[0]),
        "{{ tojson([contact_patterns(false), contact_patterns(true), contact_marks()]) }}",
    )
    anywhere, free_text, marks = json.loads(rules)
    return anywhere, free_text, marks


def _always_holds(nodes: Any, marks: set[str]) -> bool:
    """Whether every string a parsed regex matches holds one of marks: some node of
    the sequence always does (a literal mark, a class of marks only, a group or a
    repeat at least once of one that does, a branch whose every way does)."""
    return any(_node_holds(op, arg, marks) for op, arg in nodes)


def _node_holds(op: Any, arg: Any, marks: set[str]) -> bool:
    if op is sre.LITERAL:
        return chr(arg) in marks
    if op is sre.IN:
        return all(kind is sre.LITERAL and chr(code) in marks for kind, code in arg)
    if op is sre.SUBPATTERN:
        return _always_holds(arg[-1], marks)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        return arg[0] >= 1 and _always_holds(arg[2], marks)
    if op is sre.BRANCH:
        return all(_always_holds(way, marks) for way in arg[1])
    return False


def test_every_contact_the_gates_find_outside_free_text_holds_a_mark(
    contact_rules: tuple[list[str], list[str], list[str]],
) -> None:
    """The gates read only the values holding a mark outside free text: every match
    of every such pattern must hold one, or a contact there goes unseen. The bare
    runs of digits looked for in free text hold none (the check tells them apart)."""
    anywhere, free_text, marks = contact_rules
    assert len(anywhere) >= 6
    for pattern in anywhere:
        assert _always_holds(sre_parser.parse(pattern), set(marks)), pattern
    bare = [p for p in free_text if p not in anywhere]
    assert bare and not any(_always_holds(sre_parser.parse(p), set(marks)) for p in bare)


def test_the_contact_gate_counts_every_row_holding_a_contact_in_any_text_column(
    built: tuple[Settings, RunSummary], tmp_path: Path
) -> None:
    """Contacts left in a text column, in a lineage column that repeats one value over
    every row, and a bare run of digits in free text (only free text is searched for
    those) are each found and their rows counted; a bare run elsewhere is not."""
    settings = copy_workspace(built[0], tmp_path / "ws")
    planted = {
        "silver_customers.city": ("maria.silva@exemplo.com.br", 3),
        "silver_sellers.city": ("(11)912345678", 2),  # only "(" marks it
        "silver_products.category_name_pt": ("+5511912345678", 1),  # only "+"
        "silver_reviews.comment_message": ("ligue 11912345678", 2),  # free text
        "silver_orders.order_status": ("11912345678", 4),  # bare run, not free text
    }
    con = duckdb.connect(str(settings.build_database))
    try:
        for location, (value, rows) in planted.items():
            table, column = location.split(".")
            con.execute(
                f"update silver.{table} set {column} = ? where rowid in "
                f"(select rowid from silver.{table} order by rowid limit {rows})",
                [value],
            )
        con.execute("update silver.silver_orders set _source_object = '12.345.678/0001-90'")
        orders = con.execute("select count(*) from silver.silver_orders").fetchone()[0]
    finally:
        con.close()
    # the SQL this compile wrote, where dbt says it wrote it
    (gate,) = Dbt(settings).run("compile", "--select", "assert_no_contact_details_in_silver").nodes
    con = duckdb.connect(str(settings.build_database), read_only=True)
    try:
        found = dict(con.execute(Path(gate.compiled_path).read_text()).fetchall())
    finally:
        con.close()
    assert found == {
        "silver_customers.city": 3,
        "silver_sellers.city": 2,
        "silver_products.category_name_pt": 1,
        "silver_reviews.comment_message": 2,
        "silver_orders._source_object": orders,
    }


WEAKER_REDACTION = """
{% macro redact_text(column) -%}
    {{ return(adapter.dispatch('redact_text')(column)) }}
{%- endmacro %}

{% macro default__redact_text(column) -%}
    regexp_replace(regexp_replace(regexp_replace({{ column }},
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+[.][A-Za-z]{2,}', '[email]', 'g'),
        '[0-9]{3}[.]?[0-9]{3}[.]?[0-9]{3}-?[0-9]{2}', '[cpf]', 'g'),
        '([+]?55 ?)?[(]?[0-9]{2}[)]? ?9?[0-9]{4}[- ]?[0-9]{4}', '[phone]', 'g')
{%- endmacro %}
"""


@pytest.fixture(scope="session")
def generalize_sql(compiled_duck: dict[str, str]) -> dict[str, str]:
    """generalize_small_cells compiled for DuckDB (the group-by version it dispatches
    to) and as every other engine runs it (windows), in compiled_duck's compile."""
    return {"duckdb": compiled_duck["generalize"], "windows": compiled_duck["generalize_windows"]}


def test_duckdbs_generalization_equals_the_windowed_one_every_engine_runs(
    generalize_sql: dict[str, str],
) -> None:
    """Two rounds (city, then zip) over cells of 1 to 6 rows drawn from 1 to 4
    persons (the same person several times in a cell, as a customer's versions are),
    null persons, zips and cities: the same rows. It fails if the DuckDB version
    counts rows instead of persons, moves the threshold or drops the null person."""
    assert "over (" in generalize_sql["windows"] and "over (" not in generalize_sql["duckdb"]
    rng = random.Random(7)
    rows_in = []
    for cell in range(600):  # 1 to 6 rows a cell, drawn from 1 to 4 persons
        zip_, city = f"z{cell % 40}", f"c{cell}"
        if cell % 13 == 0:
            zip_ = None
        if cell % 11 == 0:
            city = None
        persons = [f"p{cell}-{n}" for n in range(rng.randint(1, 4))]
        for _ in range(rng.randint(1, 6)):
            person = None if rng.random() < 0.05 else rng.choice(persons)
            rows_in.append((len(rows_in), person, zip_, city, f"s{cell % 3}"))
    con = duckdb.connect()
    con.execute(
        "create table input_rows (row_id int, person text, zip text, city text, state text)"
    )
    con.executemany("insert into input_rows values (?, ?, ?, ?, ?)", rows_in)
    rows = {
        name: con.execute(f"select * from ({sql}) order by row_id").fetchall()
        for name, sql in generalize_sql.items()
    }
    assert rows["duckdb"] == rows["windows"]
    cities = {r[3] for r in rows["duckdb"]}
    zips = {r[2] for r in rows["duckdb"]}
    # both rounds generalized some cells and kept others
    assert "OTHER" in cities and len(cities) > 5
    assert None in zips and len(zips) > 3


def test_every_location_gold_shows_holds_at_least_five_customers(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    cells = warehouse.execute(
        "select zip_code_prefix_3, city, state_code, region,"
        " count(distinct customer_unique_id) as persons"
        " from gold.dim_customer where customer_id != 'erased-customer'"
        " group by all"
    ).fetchall()
    shown = [c for c in cells if any(v not in (None, "OTHER") for v in c[:4])]
    assert shown and not [c for c in shown if c[4] < 5]
    # generalized only as far as needed: real cities and zip prefixes are still shown
    assert [c for c in shown if c[1] != "OTHER" and c[0] is not None]


@pytest.mark.slow
def test_the_k_anonymity_test_fails_the_build_when_small_locations_are_shown(
    tmp_path: Path, sample_dir: Path
) -> None:
    project = copy_dbt_project(tmp_path / "dbt_project")
    model = project / "models" / "gold" / "dim_customer.sql"
    source = model.read_text()
    ungeneralized = source.replace("select * from k_anonymous", "select * from versions")
    assert ungeneralized != source
    model.write_text(ungeneralized)
    settings = workspace_settings(tmp_path / "ws", dbt_project_dir=project)
    with pytest.raises(PipelineFailed) as failure:
        run_pipeline(settings, sample_dir)
    assert "k_anonymous_dim_customer" in str(failure.value)
    assert "dbt build gold" in str(failure.value)
    # a first delivery: gold has no good build to judge the files by (a trial without
    # them is empty and passes), so the model is named and no file is blamed
    records = Manifest(LocalStorage(settings.lake_dir)).records("olist")
    assert records and all(r.status == "accepted" for r in records)


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


@pytest.mark.slow
def test_leak_check_fails_the_build_when_a_column_is_left_unmasked(
    tmp_path: Path, sample_dir: Path
) -> None:
    project = copy_dbt_project(tmp_path / "dbt_project")
    model = project / "models" / "silver" / "silver_customers.sql"
    source = model.read_text()
    unmasked = re.sub(
        r"\{\{ pseudonymize\('conformed\.customer_unique_id'\) \}\}\s+as customer_unique_id",
        "conformed.customer_unique_id as customer_unique_id",
        source,
    )
    assert unmasked != source
    model.write_text(unmasked)
    # a fresh workspace: on one with history, the unmasked ids would first show as new
    # customer versions and fail gold's key test before the leak check
    settings = workspace_settings(tmp_path / "ws", dbt_project_dir=project)
    with pytest.raises(PipelineFailed) as failure:
        run_pipeline(settings, sample_dir)
    assert "assert_no_personal_data_past_bronze" in str(failure.value)
    assert "dbt build gold" in str(failure.value)


@pytest.mark.slow
def test_erasure_leaves_nothing_that_links_to_the_person(
    built_copy: Settings, sample_dir: Path
) -> None:
    import csv

    settings = built_copy  # one good run behind it
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

    con = every_layer(settings)  # silver as built, gold as served
    try:
        for schema in ("silver", "gold"):
            text_columns = con.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_catalog = 'memory' and table_schema = ? "
                "and data_type = 'VARCHAR'",
                [schema],
            ).fetchall()
            assert len(text_columns) > 10, schema  # every text column is searched
            for table, column in text_columns:
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
    # the new versions are landings in this lake, each recorded before it was audited:
    # compliance's check reads every object back and finds every landing recorded
    from olist_elt.lake.storage import lake_root, open_storage
    from olist_elt.lake.verify import verify_lake

    here = lake_root(open_storage(settings, "tests"))
    versions = [
        r
        for r in AuditLog(settings.audit_path).records()
        if r["action"] == "raw.write" and r["detail"].get("supersedes")
    ]
    assert versions and all(r["detail"]["lake"] == here for r in versions)
    assert verify_lake(settings, "compliance") > 0
