"""One typed settings object, read from the environment and `.env` once."""

from __future__ import annotations

import hashlib
import os
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from olist_elt.errors import SettingsError

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parents[1]


def project_home() -> Path:
    """The folder every relative path resolves against: OLIST_HOME, else the
    repository this package was installed from. Never the working directory, so a
    command gives the same answer wherever it is started."""
    home = os.environ.get("OLIST_HOME")
    return Path(home).expanduser().resolve() if home else REPO_ROOT


class Settings(BaseSettings):
    """Settings of olist-elt; every field can be set as `OLIST_<FIELD>`. Relative
    paths are resolved against `home` (OLIST_HOME, default the repository root)."""

    model_config = SettingsConfigDict(
        env_prefix="OLIST_", env_file=".env", extra="ignore", validate_default=True
    )

    home: Path = Field(
        default_factory=project_home,
        description="Project home: relative paths and .env are taken from here",
    )
    target: Literal["local", "spark", "spark_thrift", "warehouse"] = "local"
    source: str | None = Field(
        None,
        description="Folder, .zip or URL of the Olist CSVs for `run` and the flows;"
        " unset: the generated sample",
    )
    lake_dir: Path = Field(Path("lake"), description="Root of the local lake folder.")
    lake_backend: Literal["local", "s3"] = Field(
        "local",
        description="Where the raw zone lives: the lake_dir folder, or an S3/MinIO bucket"
        " (runs, erasure register and derived tables stay in lake_dir)",
    )
    s3_bucket: str = Field("lake", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_prefix: str = Field("", description="Key prefix of the lake inside the bucket")
    s3_endpoint_url: str | None = Field(
        None, description="MinIO or another S3-compatible endpoint; unset for AWS"
    )
    s3_region: str = "us-east-1"
    warehouse_path: Path = Field(
        Path("warehouse/olist.duckdb"),
        description="The DuckDB file BI tools open: gold and ops, replaced atomically by"
        " each publish (a reader holding it keeps the star schema it opened)",
    )
    build_database: Path | None = Field(
        None,
        description="The DuckDB file the pipeline builds in (bronze, silver, staged gold,"
        " snapshots, ops); only the pipeline opens it. Default: build/<name> beside"
        " OLIST_WAREHOUSE_PATH",
    )
    dbt_project_dir: Path = Field(REPO_ROOT / "dbt_project")
    profiles_dir: Path = Field(REPO_ROOT)
    vault_backend: Literal["file", "hashicorp"] = "file"
    vault_url: str = "http://127.0.0.1:8200"
    vault_mount: str = "secret"
    vault_prefix: str = "olist-elt"
    vault_path: Path = Field(Path(".secrets/vault.json"))
    vault_key_file: Path = Field(Path(".secrets/vault.key"))
    audit_log: Path | None = Field(None, description="Defaults to <lake_dir>/_audit/audit.jsonl")
    sample_scale: float = Field(1.0, gt=0, le=100)
    sample_seed: int = 42
    sample_dir: Path | None = Field(None, description="Defaults to <lake_dir>/landing/olist")
    dbt_threads: int = Field(2, ge=1, le=64)
    dbt_target_path: Path = Field(
        Path("build/dbt"),
        description="Where the pipeline's dbt writes its artifacts and log, one folder per"
        " engine; outside the dbt project, whose target/ an analyst's `dbt docs serve`"
        " serves over HTTP",
    )
    dbt_parse_cache: Path | None = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
            / "olist-elt"
            / "dbt-parse"
        ),
        description="dbt's parse kept per project, target and vars, for any workspace of"
        " this user: a new lake or warehouse starts from it instead of parsing the whole"
        " project; beside it, which tests of fixed rows passed (run.fixed_rows)",
    )
    soda_contracts_dir: Path = Field(REPO_ROOT / "soda" / "contracts")
    pg_host: str = "127.0.0.1"
    pg_port: int = Field(5432, ge=1, le=65535)
    pg_database: str = Field("olist", pattern=r"^[a-z_][a-z0-9_]*$")
    pg_loader_role: str = Field("olist_loader", pattern=r"^[a-z_][a-z0-9_]*$")
    pg_bi_role: str = Field("olist_bi", pattern=r"^[a-z_][a-z0-9_]*$")
    pg_admin_dsn: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        description="Admin connection for `olist-elt warehouse roles` only; no password here:"
        " put it in the vault as warehouse_admin_password",
    )
    apis: Literal["sample", "live", "off"] = Field(
        "sample",
        description="BCB and OpenWeather: offline sample answers (default), the live "
        "APIs, or off (their models are disabled)",
    )
    bcb_base_url: str = "https://api.bcb.gov.br"
    bcb_start_date: date = date(2016, 1, 1)
    openweather_base_url: str = "https://api.openweathermap.org"
    stream_servers: str = "nats://127.0.0.1:4222"
    stream_user: str = "svc-connector-stream"
    raw_retention_days: int = Field(
        90, ge=1, description="Raw objects older than this move to the cold zone"
    )
    spark_master: str = Field("local[2]", description="Spark master of the spark target's session")
    spark_driver_memory: str = Field("2g", pattern=r"^[0-9]+[mgMG]$")
    spark_shuffle_partitions: int = Field(4, ge=1, le=10000)
    spark_host: str = Field(
        "127.0.0.1", description="Spark Thrift Server of the spark_thrift target (dbt connects)"
    )
    spark_port: int = Field(10000, ge=1, le=65535, description="Its Thrift port")
    spark_user: str = Field("olist", description="User name dbt gives the Thrift Server")
    spark_master_port: int = Field(
        7077, ge=1, le=65535, description="Master port of `olist-elt spark up` (loopback)"
    )
    spark_workers: int = Field(1, ge=1, le=16, description="Workers `olist-elt spark up` starts")
    spark_worker_cores: int = Field(2, ge=1, le=256, description="Cores each worker offers")
    spark_worker_memory: str = Field(
        "2g", pattern=r"^[0-9]+[mgMG]$", description="Memory each worker offers its executors"
    )
    spark_cluster_java_options: str = Field(
        "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=240m",
        pattern=r"^( *-[A-Za-z0-9:+=.,_/*%@-]+)* *$",
        description=(
            "JVM options of `spark up`'s master, workers, executors and Thrift Server; "
            "empty for the JVM's own"
        ),
    )
    spark_session_java_options: str = Field(
        "",
        pattern=r"^( *-[A-Za-z0-9:+=.,_/*%@-]+)* *$",
        description=(
            "JVM options of the spark target's in-process session (its driver); empty "
            "for the JVM's own"
        ),
    )
    spark_start_seconds: float = Field(
        180, gt=0, description="How long `olist-elt spark up` waits for the Thrift port"
    )
    metabase_url: str = "http://127.0.0.1:3000"
    metabase_user: str = Field(
        "admin@olist-elt.local",
        description="Metabase login; its password is the vault's metabase_password",
    )
    metabase_collection: str = "olist-elt"
    metabase_database_name: str = "Olist warehouse"
    metabase_pg_host: str | None = Field(
        None, description="PostgreSQL host as Metabase sees it (compose: postgres); default pg_host"
    )
    metabase_wait_seconds: float = Field(
        120, ge=0, description="How long `dashboards sync` waits for a starting Metabase"
    )
    dashboards_out: Path = Field(
        Path("build/dashboards"), description="Where `dashboards render` writes HTML"
    )
    dashboards_on_card_failure: Literal["warn", "fail"] = Field(
        "warn",
        description="A dashboard card whose query fails is shown failed and reported"
        " (warn), or also fails the render (fail)",
    )
    as_of: date | None = Field(
        None,
        description="Build as of this ingest date (raw objects ingested by then only);"
        " set per day by a backfill",
    )
    freshness_on_stale: Literal["fail", "warn"] = Field(
        "fail", description="A stale source fails the run (fail) or is reported (warn)"
    )
    alert_webhook_url: str | None = Field(None, description="POST a JSON alert here")
    alert_email_to: str | None = Field(None, description="E-mail alerts to this address")
    alert_email_from: str = "olist-elt@localhost"
    alert_smtp_host: str = "127.0.0.1"
    alert_smtp_port: int = Field(25, ge=1, le=65535)
    alert_smtp_user: str | None = Field(
        None, description="SMTP login; its password is the vault's smtp_password"
    )
    alert_smtp_starttls: bool = False
    alert_file: Path | None = Field(
        None, description="Append alerts as JSON lines to this file (a local channel)"
    )
    zip_max_bytes: int = Field(
        8 * 1024**3,
        ge=1,
        description="Bytes a .zip input may expand to in all; past it the archive is refused"
        " (a zip bomb stops here)",
    )
    zip_max_ratio: float = Field(
        100.0,
        gt=1,
        description="Expanded / compressed size a .zip member may reach (past its first"
        " MiB); past it the archive is refused",
    )
    fail_on_quarantine: bool = Field(
        True, description="Stop the run when the connector quarantines a file"
    )
    apis_now: datetime | None = Field(
        None,
        description="Pin 'now' for the API connectors (the end of the BCB window, the"
        " offline answers): reproducible demos and tests; default the system clock",
    )

    @field_validator(
        "lake_dir",
        "warehouse_path",
        "build_database",
        "dbt_project_dir",
        "profiles_dir",
        "vault_path",
        "vault_key_file",
        "audit_log",
        "sample_dir",
        "dbt_target_path",
        "dbt_parse_cache",
        "soda_contracts_dir",
        "dashboards_out",
        "alert_file",
    )
    @classmethod
    def _absolute(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """Resolve relative paths against the project home once, at start."""
        if value is None:
            return None
        home = info.data.get("home") or project_home()
        return (home / value.expanduser()).resolve()

    @model_validator(mode="after")
    def _build_beside_served(self) -> Settings:
        """The build database lives beside the served file unless set."""
        if self.build_database is None:
            self.build_database = self.warehouse_path.parent / "build" / self.warehouse_path.name
        return self

    @field_validator("apis_now")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A pinned time without a zone is UTC."""
        if value is not None and value.tzinfo is None:
            from datetime import UTC

            return value.replace(tzinfo=UTC)
        return value

    @field_validator("spark_cluster_java_options", "spark_session_java_options")
    @classmethod
    def _no_spark_settings(cls, value: str) -> str:
        """Spark refuses a heap size or a spark.* property among JVM options: say so
        here, not in a cluster log after `spark up` failed."""
        for option in value.split():
            if option.startswith(("-Xmx", "-Xms")):
                raise ValueError(
                    f"{option}: set the heap with OLIST_SPARK_DRIVER_MEMORY and "
                    "OLIST_SPARK_WORKER_MEMORY, not a JVM option"
                )
            if option.startswith("-Dspark."):
                raise ValueError(f"{option}: a Spark setting, not a JVM option")
        return value

    @property
    def audit_path(self) -> Path:
        """Where the append-only audit log lives."""
        return self.audit_log or self.lake_audit_path

    @property
    def lake_audit_path(self) -> Path:
        """The lake's own audit log (where audit_path is unless OLIST_AUDIT_LOG sets
        one apart)."""
        return self.lake_dir / "_audit" / "audit.jsonl"

    @property
    def audit_anchor_path(self) -> Path:
        """Where the audit log's signed head is kept: beside the run records, apart
        from the log. A log set apart (OLIST_AUDIT_LOG, not the lake's) has an anchor
        of its own there, named by the log's path: two logs never sign one anchor."""
        runs = self.lake_dir / "runs"
        log = self.audit_path.resolve()
        if log == self.lake_audit_path.resolve():
            return runs / "audit-anchor.json"
        return runs / f"audit-anchor-{hashlib.sha256(str(log).encode()).hexdigest()[:16]}.json"

    @property
    def raw_root(self) -> str:
        """The raw zone's root as DuckDB and Spark read it: a folder or s3:// URI."""
        if self.lake_backend == "s3":
            prefix = self.s3_prefix.strip("/")
            return f"s3://{self.s3_bucket}" + (f"/{prefix}" if prefix else "")
        return str(self.lake_dir)

    @property
    def landing_dir(self) -> Path:
        """Where generated sample CSVs are dropped for the Olist connector."""
        return self.sample_dir or self.lake_dir / "landing" / "olist"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings (environment, then OLIST_HOME/.env); a bad one
    raises SettingsError naming it. Every AuditLog on their audit log then keeps its
    head signed in the anchor (key from their vault)."""
    home = Path(overrides["home"]) if overrides.get("home") else project_home()
    try:
        settings = Settings(_env_file=home / ".env", **overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"OLIST_{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid setting(s): {problems}") from None
    from olist_elt.security.audit_anchor import register_settings_anchor

    register_settings_anchor(settings)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
