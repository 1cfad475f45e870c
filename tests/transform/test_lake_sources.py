"""Which lake sources a dbt build reads: on Spark the on-run-start hook registers
only those (each one costs Thrift round trips), so a source read through an
ephemeral model must count, or a silver build on a fresh metastore fails."""

from __future__ import annotations

import os
import shutil

import pytest

from olist_elt.settings import REPO_ROOT
from tests.conftest import copy_dbt_project, typed_dbt

pytestmark = pytest.mark.slow
PROBE = """{% macro probe(groups) %}
{%- for ids in groups -%}
{%- do log('READ ' ~ loop.index0 ~ ' ' ~ lake_sources_read_by(ids) | join(','), info=true) -%}
{%- endfor -%}
{% endmacro %}
"""
# Every group of nodes the tests below ask about, asked in one dbt run-operation:
# lake_sources_read_by keeps nothing between calls, so each answer is the one the
# group alone gets.
QUESTIONS = [
    ("model.olist_elt.silver_customers",),
    ("model.olist_elt.bronze_olist__orders",),
    ("model.olist_elt.fct_orders", "model.olist_elt.dim_date"),
    ("source.olist_elt.bcb.series_ipca",),
]


@pytest.fixture(scope="module")
def sources_read(tmp_path_factory: pytest.TempPathFactory):
    """Ask the project's own macro, through one `dbt run-operation` on DuckDB, in a
    copy of the project with one probe macro added, about every group in QUESTIONS;
    a test looks up the answer to its group."""
    root = tmp_path_factory.mktemp("project")
    project = copy_dbt_project(root / "dbt_project")
    shutil.copy(REPO_ROOT / "profiles.yml", root / "profiles.yml")
    (project / "macros" / "probe.sql").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLIST_", "DBT_"))}
    env |= {
        "OLIST_DEV_DATABASE": str(root / "dev.duckdb"),
        "OLIST_LAKE_DIR": str(root / "lake"),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    args = "{groups: [" + ", ".join("[" + ", ".join(ids) + "]" for ids in QUESTIONS) + "]}"
    done = typed_dbt(env, "run-operation", "probe", "--args", args, checkout=root, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    answers: dict[int, set[str]] = {}
    for line in done.stdout.splitlines():
        if "READ " in line:
            index, _, found = line.split("READ ", 1)[1].strip().partition(" ")
            assert int(index) not in answers, done.stdout[-3000:]
            answers[int(index)] = {s for s in found.split(",") if s}
    assert sorted(answers) == list(range(len(QUESTIONS))), done.stdout[-3000:]

    def ask(*unique_ids: str) -> set[str]:
        return answers[QUESTIONS.index(unique_ids)]  # a group not in QUESTIONS: ValueError

    return ask


def test_a_source_read_through_an_ephemeral_model_counts(sources_read) -> None:
    # silver_customers refs the ephemeral bronze_erasure__requests, which reads the register
    assert sources_read("model.olist_elt.silver_customers") == {"source.olist_elt.erasure.requests"}


def test_bronze_reads_its_sources_and_gold_none(sources_read) -> None:
    orders = sources_read("model.olist_elt.bronze_olist__orders")
    assert orders == {"source.olist_elt.olist.orders"}
    assert sources_read("model.olist_elt.fct_orders", "model.olist_elt.dim_date") == set()
    # a source selected itself (dbt source freshness) counts
    assert sources_read("source.olist_elt.bcb.series_ipca") == {"source.olist_elt.bcb.series_ipca"}
