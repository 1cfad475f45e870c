"""The project's own exceptions: each message tells the operator what to do."""


class OlistEltError(Exception):
    """Base class of every error olist-elt raises on purpose."""


class SettingsError(OlistEltError):
    """A setting is missing or invalid."""


class ValidationFailed(OlistEltError):
    """An input file or payload failed validation before reaching raw."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class DbtStepFailed(OlistEltError):
    """A dbt command failed: a model error or a failed test (nodes: their unique ids).
    counted: every failed node is a test that ran and counted failing rows (a
    measurement of the data, which the same rows repeat), none an error."""

    def __init__(self, message: str, nodes: tuple[str, ...] = (), counted: bool = False) -> None:
        super().__init__(message)
        self.nodes = nodes
        self.counted = counted


class InfrastructureFailed(OlistEltError):
    """A service the pipeline depends on failed (a lock, a connection, the disk, a
    password): the run stops, and nothing is blamed on the data."""


def own_error(exc: BaseException | None) -> OlistEltError | None:
    """olist-elt's own error in an exception's chain: one raised by this project's code
    inside a library that caught it (dbt running the DuckDB plugin: the vault, the
    audit log, the lake's storage). A service, a setting or a key failed there, never
    the data or the project, and the error says which as it is."""
    seen: set[int] = set()
    while exc is not None and not isinstance(exc, OlistEltError) and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return exc if isinstance(exc, OlistEltError) else None


class DbtProjectError(OlistEltError):
    """The dbt project itself does not parse or compile: a code problem, not the data's."""


class PipelineFailed(OlistEltError):
    """A pipeline step failed; the run stopped there."""


class InputRejected(OlistEltError):
    """The connector quarantined input; the run stops before any transform."""


# What an engine says when a service, not the data, failed.
MISSING_FROM_LAKE = (
    "an object the build reads is missing from the lake, deleted outside olist-elt "
    "(`olist-elt raw verify` checks every raw object)"
)
INFRASTRUCTURE_SIGNS = {
    # a file the build reads is gone: DuckDB on a folder, on a bucket, Spark
    "no files found that match the pattern": MISSING_FROM_LAKE,
    "(http 404": MISSING_FROM_LAKE,
    "path does not exist": MISSING_FROM_LAKE,
    # DuckDB's httpfs reading the lake's bucket (before the database signs: an
    # unreachable bucket also says "could not connect to server")
    "error for http": "the lake's storage did not answer",
    "returned http 5": "the lake's storage failed (HTTP 5xx)",
    "(http 5": "the lake's storage failed (HTTP 5xx)",
    "(http 401": "the lake's storage refused the transformer's credentials",
    "(http 403": "the lake's storage refused the transformer's credentials",
    # dbt-spark on a Thrift Server (PyHive): one that stopped answering, or a
    # connection it lost while a statement ran
    "could not connect to any of": "the Spark Thrift Server does not answer",
    "connection lost while polling": "the connection to the Spark Thrift Server was lost",
    "tsocket read 0 bytes": "the connection to the Spark Thrift Server was lost",
    "failed to connect": "the engine's server does not answer",
    "broken pipe": "the connection to the engine was lost",
    "connection reset by peer": "the connection to the engine was lost",
    "could not set lock": "another process holds the DuckDB file",
    "conflicting lock": "another process holds the DuckDB file",
    "no space left on device": "the disk is full",
    "read-only file system": "the file system is read-only",
    # PostgreSQL ending a statement or a session for a reason of its own: another
    # session's locks or writes, a limit, an operator (its words, as said here;
    # before the generic signs its drivers add after them)
    "deadlock detected": "two database sessions deadlocked and one was stopped",
    "could not serialize access": "a concurrent transaction conflicted with this one",
    "canceling statement due to statement timeout": (
        "a statement ran past the database's statement_timeout"
    ),
    "canceling statement due to user request": "the statement was canceled on the database",
    "terminating connection due to administrator command": (
        "the database ended the session (an administrator)"
    ),
    "terminating connection due to idle-in-transaction timeout": (
        "the database ended an idle transaction"
    ),
    "could not connect to server": "the database does not answer",
    "connection refused": "the database does not answer",
    "connection to server": "the connection to the database failed",
    "server closed the connection": "the connection to the database failed",
    "password authentication failed": "the database refused the password",
    "timeout expired": "the database did not answer in time",
    "lock timeout": "a database lock was held too long",
    "out of memory": "the engine ran out of memory",
    "outofmemoryerror": "the engine ran out of memory",  # Spark's JVM
}


def infrastructure_cause(message: str) -> str | None:
    """The infrastructure failure an engine's error message (dbt's, Soda's) shows, if
    it shows one."""
    text = message.lower()
    return next((cause for sign, cause in INFRASTRUCTURE_SIGNS.items() if sign in text), None)
