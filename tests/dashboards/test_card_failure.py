"""A card whose query fails on PostgreSQL fails alone: its statement is rolled back, so
the cards after it still render; the page shows it failed with its error class only
(never a value from a row), and the render reports the count, or fails if told to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from olist_elt.dashboards.commands import CardsFailed, render_dashboards
from olist_elt.settings import Settings
from olist_elt.warehouse.postgres import login
from tests.conftest import pg_workspace

PRIVATE_VALUE = "zz-private-7731"
DASHBOARD = """
name: Broken on purpose
description: One card in the middle fails.
cards:
  - title: Rows before
    chart: number
    sql: select count(*) as n from gold.things
    y: [n]
    formats: {n: integer}
    position: {row: 0, col: 0, width: 8, height: 3}
  - title: Broken card
    chart: number
    sql: select sum(cast(code as integer)) as n from gold.things
    y: [n]
    formats: {n: integer}
    position: {row: 0, col: 8, width: 8, height: 3}
  - title: Amount by kind
    chart: bar
    sql: select kind, sum(amount) as amount from gold.things group by kind order by kind
    x: kind
    y: [amount]
    formats: {kind: text, amount: integer}
    x_title: Kind
    y_title: Amount
    position: {row: 3, col: 0, width: 24, height: 6}
"""


@pytest.fixture()
def broken(tmp_path: Path, postgres_dsn: str) -> Iterator[tuple[Settings, Path]]:
    """A PostgreSQL warehouse with one gold table (a text column holding a value that
    is not a number) and a dashboard folder whose middle card casts it."""
    with pg_workspace(tmp_path, postgres_dsn) as settings:
        with login(settings, "loader").connect(autocommit=True) as con:
            con.execute("create schema if not exists gold")
            con.execute("create table gold.things (kind text, amount int, code text)")
            con.execute(
                "insert into gold.things values ('a', 1, '1'), ('b', 2, %s)", [PRIVATE_VALUE]
            )
            bi = sql.Identifier(settings.pg_bi_role)
            con.execute(sql.SQL("grant usage on schema gold to {}").format(bi))
            con.execute(sql.SQL("grant select on all tables in schema gold to {}").format(bi))
        folder = tmp_path / "dashboards"
        folder.mkdir()
        (folder / "broken.yml").write_text(DASHBOARD, encoding="utf-8")
        yield settings, folder


def test_a_failing_card_on_postgres_fails_alone_and_is_reported(
    broken: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, folder = broken

    report = render_dashboards(settings, "postgres", tmp_path / "html", folder)

    assert report.failed_cards == 1
    (page,) = report
    assert page.errors == ["Broken card: InvalidTextRepresentation (SQLSTATE 22P02)"]
    assert page.charts == 1  # the card after the failed one was drawn
    text = page.path.read_text(encoding="utf-8")
    assert 'class="error failed-card"' in text and "InvalidTextRepresentation" in text
    assert '"columns":["n"],"rows":[[2]]' in text  # the card before it, drawn by page.js
    assert PRIVATE_VALUE not in text and PRIVATE_VALUE not in "".join(page.errors)


def test_failing_cards_fail_the_render_when_the_setting_says_so(
    broken: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, folder = broken
    strict = settings.model_copy(update={"dashboards_on_card_failure": "fail"})

    with pytest.raises(CardsFailed, match="1 dashboard card") as failed:
        render_dashboards(strict, "postgres", tmp_path / "html", folder)

    assert PRIVATE_VALUE not in str(failed.value)
    assert (tmp_path / "html" / "broken.html").exists()  # the pages are still written
