"""Soda Core v4 quality gates: run a layer's contracts from Python, act on the result.

Soda's CLI exit codes (0 pass, 1 warn, 2 fail, 3 error) are easy to misread in a
pipeline, so the gate reads the result objects instead: every check becomes a
CheckReport with its outcome, severity and failing counts, and a failed check of
severity `fail` (the default) stops the run. A check with `attributes.severity: warn`
is reported and the run goes on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from olist_elt.errors import InfrastructureFailed, OlistEltError, infrastructure_cause
from olist_elt.security.audit import AuditLog
from olist_elt.settings import REPO_ROOT

log = logging.getLogger(__name__)
CONTRACTS_DIR = REPO_ROOT / "soda" / "contracts"
DATA_SOURCE_NAME = "olist"
COUNT_KEYS = (
    "missing_count",
    "invalid_count",
    "duplicate_count",
    "failed_rows_count",
    "schema_events_count",
    "freshness_in_days",
    "check_rows_tested",
)


@dataclass
class CheckReport:
    """One check's outcome, in words an analyst can act on."""

    dataset: str
    check: str
    check_type: str
    column: str | None
    outcome: str  # passed | failed | warned | not_evaluated | error
    severity: str  # fail | warn
    value: float | int | None
    counts: dict[str, float] = field(default_factory=dict)
    detail: str | None = None

    @property
    def blocking(self) -> bool:
        """A failure (or error) of a check whose severity is fail."""
        return self.outcome in ("failed", "error") and self.severity == "fail"

    def describe(self) -> str:
        """One line: where, which check, what was found."""
        where = f"{self.dataset}.{self.column}" if self.column else self.dataset
        found = ", ".join(f"{k}={_fmt(v)}" for k, v in self.counts.items() if k in COUNT_KEYS)
        extra = f" ({self.detail})" if self.detail else ""
        return f"{where}: {self.check} [{self.check_type}] {self.outcome}: {found}{extra}"


@dataclass
class GateReport:
    """A layer's gate: every check of every contract, and the time it took."""

    layer: str
    schema: str
    seconds: float = 0.0
    checks: list[CheckReport] = field(default_factory=list)

    @property
    def blocking(self) -> list[CheckReport]:
        """Checks that stop the run."""
        return [c for c in self.checks if c.blocking]

    @property
    def warnings(self) -> list[CheckReport]:
        """Checks that failed with severity warn."""
        return [c for c in self.checks if c.outcome in ("failed", "warned") and not c.blocking]

    @property
    def passed(self) -> bool:
        """No blocking check."""
        return not self.blocking

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "layer": self.layer,
            "schema": self.schema,
            "seconds": round(self.seconds, 3),
            "checks": len(self.checks),
            "passed": sum(c.outcome == "passed" for c in self.checks),
            "failed": [asdict(c) for c in self.blocking],
            "warnings": [asdict(c) for c in self.warnings],
            "results": [
                {
                    "dataset": c.dataset,
                    "check": c.check,
                    "column": c.column,
                    "outcome": c.outcome,
                    "severity": c.severity,
                }
                for c in self.checks
            ],
        }


class GateFailed(OlistEltError):
    """A quality gate found blocking failures; the run stops at this layer."""

    def __init__(self, report: GateReport) -> None:
        lines = [f"quality gate '{report.layer}' failed ({len(report.blocking)} check(s)):"]
        lines += [f"  - {c.describe()}" for c in report.blocking]
        super().__init__("\n".join(lines))
        self.report = report


def _fmt(value: float | int) -> str:
    """Counts as integers, the rest with two decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def contracts_for(layer: str, contracts_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """The contract files of a layer, sorted."""
    folder = contracts_dir / layer
    if not folder.is_dir():
        raise OlistEltError(f"no contracts folder for layer {layer!r}: {folder}")
    return sorted(folder.glob("*.yml"))


def _outcome(result: Any) -> str:
    """Soda's CheckOutcome as a word."""
    if result.is_failed:
        return "failed"
    if result.is_warned:
        return "warned"
    if result.is_passed:
        return "passed"
    return "not_evaluated"


def _report_check(dataset: str, result: Any) -> CheckReport:
    """A CheckReport from a soda CheckResult."""
    check = result.check
    attributes = check.attributes or {}
    outcome = _outcome(result)
    detail = None
    if check.type == "schema" and outcome == "failed":
        detail = (
            "; ".join(
                f"{label}: {value}"
                for label, value in (
                    ("missing columns", getattr(result, "expected_column_names_not_actual", None)),
                    (
                        "unexpected columns",
                        getattr(result, "actual_column_names_not_expected", None),
                    ),
                    ("type mismatches", getattr(result, "column_data_type_mismatches", None)),
                )
                if value
            )
            or None
        )
    return CheckReport(
        dataset=dataset,
        check=check.name or check.type,
        check_type=check.type,
        column=check.column_name,
        outcome=outcome,
        severity=str(attributes.get("severity", "fail")),
        value=result.threshold_value,
        counts={
            k: v
            for k, v in (result.diagnostic_metric_values or {}).items()
            if isinstance(v, int | float)
        },
        detail=detail,
    )


def duckdb_data_source(connection: Any) -> Any:
    """A Soda data source over an open DuckDB connection."""
    os.environ["SODA_CORE_TELEMETRY_ENABLED"] = "false"
    import soda_core.contracts  # noqa: F401  (loads Soda's plugins before the duckdb one)
    from soda_duckdb.common.data_sources.duckdb_data_source import DuckDBDataSourceImpl

    return DuckDBDataSourceImpl.from_existing_cursor(connection, name=DATA_SOURCE_NAME)


def postgres_data_source(host: str, port: int, user: str, password: str, database: str) -> Any:
    """A Soda data source for PostgreSQL (the warehouse target)."""
    os.environ["SODA_CORE_TELEMETRY_ENABLED"] = "false"
    from soda_core.common.data_source_impl import DataSourceImpl
    from soda_core.common.yaml import DataSourceYamlSource

    config = json.dumps(
        {
            "type": "postgres",
            "name": DATA_SOURCE_NAME,
            "connection": {
                "host": host,
                "port": port,
                "user": user,
                "password": password,
                "database": database,
            },
        }
    )
    return DataSourceImpl.from_yaml_source(DataSourceYamlSource.from_str(config))


def _contract_error(dataset: str, detail: str) -> CheckReport:
    """A contract that could not be verified: blocking, with Soda's words."""
    return CheckReport(
        dataset, "contract", "contract", None, "error", "fail", None, detail=detail[:500]
    )


def run_gate(
    data_source: Any,
    layer: str,
    *,
    schema: str | None = None,
    prefix: str | None = None,
    contracts_dir: Path = CONTRACTS_DIR,
    exclude: frozenset[str] = frozenset(),
    only: frozenset[str] | None = None,
) -> GateReport:
    """Verify every contract of a layer on a Soda data source (with only, the
    contracts of those data sets alone).

    schema: where the layer's tables are (gold_staging while gold is gated);
    prefix: Soda's dataset prefix (the schema on DuckDB, database/schema on PostgreSQL).
    """
    os.environ["SODA_CORE_TELEMETRY_ENABLED"] = "false"
    from soda_core.contracts import verify_contract_locally

    schema = schema or layer
    report = GateReport(layer=layer, schema=schema)
    started = time.perf_counter()
    for contract in contracts_for(layer, contracts_dir):
        dataset = contract.stem
        if dataset in exclude or (only is not None and dataset not in only):
            continue
        result = verify_contract_locally(
            data_sources=[data_source],
            contract_file_path=str(contract),
            variables={"SCHEMA": schema, "PREFIX": prefix or schema},
        )
        verifications = result.contract_verification_results
        errored = not verifications or any(v.has_errors for v in verifications)
        if errored and (cause := infrastructure_cause(result.get_errors_str() or "")):
            # the engine, not the data: never a failed gate that rejects a batch
            raise InfrastructureFailed(
                f"the {layer} gate could not run ({dataset}): {cause} (nothing was blamed "
                "on the data; fix the cause and run again)"
            )
        if not verifications or any(v.errored_without_results for v in verifications):
            errors = result.get_errors_str() or "the contract could not be verified"
            report.checks.append(_contract_error(dataset, errors.strip().splitlines()[-1]))
            continue
        for verification in verifications:
            for check_result in verification.check_results:
                report.checks.append(_report_check(dataset, check_result))
            if verification.has_errors:
                report.checks.append(
                    _contract_error(dataset, verification.get_errors_str().strip())
                )
    report.seconds = time.perf_counter() - started
    return report


def enforce(report: GateReport, audit_path: Path, run_id: str) -> GateReport:
    """Audit a gate's result, log its warnings, and raise GateFailed on a blocking one."""
    AuditLog(audit_path).append(
        "svc-quality-gate",
        "gate",
        report.layer,
        "passed" if report.passed else "failed",
        run_id=run_id,
        checks=len(report.checks),
        failed=[c.describe() for c in report.blocking],
        warnings=[c.describe() for c in report.warnings],
    )
    for warning in report.warnings:
        log.warning("gate %s warning: %s", report.layer, warning.describe())
    if report.passed:
        return report
    raise GateFailed(report)
