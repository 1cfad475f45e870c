"""What dbt reports about a failed node reaches run records, alerts and ops.runs:
it names the class, the model and the counts, never a row's value."""

from __future__ import annotations

import pytest

from olist_elt.errors import MISSING_FROM_LAKE, SettingsError, infrastructure_cause, own_error
from olist_elt.transform.dbt import without_values


@pytest.mark.parametrize(
    "engine_text,kept,gone",
    [
        (
            "Conversion Error: Could not convert string 'joão@x.com 123.456.789-09' to DECIMAL",
            "Conversion Error: Could not convert string",
            "joão@x.com",
        ),
        (
            'invalid input syntax for type numeric: "+55 (11) 91234-5678"',
            "invalid input syntax for type numeric",
            "91234",
        ),
        (
            "duplicate key value violates unique constraint; Key (order_id)=(abc123) exists",
            "Key (order_id)=(…) exists",
            "abc123",
        ),
    ],
)
def test_engine_errors_lose_their_values(engine_text: str, kept: str, gone: str) -> None:
    cleaned = without_values(engine_text)
    assert kept in cleaned and gone not in cleaned


# A row shown whole, its values unquoted (PostgreSQL's and DuckDB's words, as they said
# them here): one of them reads like a service's failure, and must not count as one.
ROWS_SHOWN = [
    (
        'null value in column "k" of relation "t" violates not-null constraint\n'
        "DETAIL:  Failing row contains (null, sao paulo - deadlock detected).\n",
        "violates not-null constraint\nDETAIL:  Failing row contains …\n",
    ),
    (
        'duplicate key value violates unique constraint "t_pkey"\n'
        "DETAIL:  Key (k)=(a) deadlock detected (b) already exists.\n",
        "DETAIL:  Key (k)=(…) already exists.\n",
    ),
    (
        "Invalid Input Error: CSV Error on Line: 30002\nOriginal Line: 4,joao@x.com,6,7\n"
        "Expected Number of Columns: 3 Found: 4\nPossible fixes:\n",
        "Original Line: …\nExpected Number of Columns: 3 Found: 4\n",
    ),
]


@pytest.mark.parametrize(("engine_text", "kept"), ROWS_SHOWN)
def test_a_row_an_error_shows_loses_its_values_and_names_no_service(
    engine_text: str, kept: str
) -> None:
    cleaned = without_values(engine_text)
    assert kept in cleaned
    assert "deadlock" not in cleaned and "joao@x.com" not in cleaned
    assert infrastructure_cause(cleaned) is None


@pytest.mark.parametrize(
    "engine_text",
    [
        'IO Error: Could not set lock on file "/w/build/olist.duckdb": Conflicting lock',
        # PostgreSQL restarted, or the connection terminated by an administrator
        "server closed the connection unexpectedly\n\tThis probably means the server "
        "terminated abnormally\n\tbefore or while processing the request.",
        # the JVM of dbt-spark's in-process session killed: py4j cannot reconnect
        "[Errno 111] Connection refused",
        "java.lang.OutOfMemoryError: Java heap space",
    ],
)
def test_a_service_failure_is_still_told_apart_from_the_data(engine_text: str) -> None:
    """Each as this machine's engines said it (the heap's is the JVM's own words)."""
    assert infrastructure_cause(without_values(engine_text))


@pytest.mark.parametrize(
    "engine_text",
    [
        'IO Error: No files found that match the pattern "/w/lake/raw/olist/orders/x.csv"',
        "HTTP Error: HTTP GET error reading 's3://lake/raw/olist/orders/x.csv' in region "
        "'us-east-1' (HTTP 404 Not Found)",
        "[PATH_NOT_FOUND] Path does not exist: file:/w/lake/raw/olist/orders/x.csv. "
        "SQLSTATE: 42K03",
    ],
)
def test_a_file_gone_from_the_lake_is_not_the_data(engine_text: str) -> None:
    """DuckDB on a folder and on a bucket, and Spark, reading a raw object that is no
    longer there (their words, as they said it here)."""
    assert infrastructure_cause(without_values(engine_text)) == MISSING_FROM_LAKE


def test_an_own_error_is_found_through_the_library_that_wrapped_it() -> None:
    """What dbt raises around the plugin's error leads back to it; a chain with none
    (even a cycle of contexts) gives None."""
    try:
        try:
            raise SettingsError("the vault's token is missing")
        except SettingsError as inner:
            raise RuntimeError("Runtime Error in the adapter") from inner
    except RuntimeError as wrapped:
        assert str(own_error(wrapped)) == "the vault's token is missing"
    first, second = ValueError("a"), KeyError("b")
    first.__context__, second.__context__ = second, first
    assert own_error(first) is None and own_error(None) is None
