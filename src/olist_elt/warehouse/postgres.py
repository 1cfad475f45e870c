"""The served star schema in PostgreSQL: roles, silver publish, atomic swap."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from olist_elt.errors import OlistEltError
from olist_elt.security.audit import AuditLog
from olist_elt.security.exceptions import MissingSecret
from olist_elt.security.vault import Vault, open_vault
from olist_elt.settings import Settings
from olist_elt.transform.duckdb_ext import extension_path

log = logging.getLogger(__name__)

LOADER_SECRET = "warehouse_loader_password"
BI_SECRET = "warehouse_bi_password"
ADMIN_SECRET = "warehouse_admin_password"
LIVE = "gold"
PREVIOUS = "gold_previous"


class WarehouseError(OlistEltError):
    """The PostgreSQL warehouse could not be reached or updated."""


@dataclass(frozen=True)
class PgLogin:
    """One role's connection to the warehouse database (its repr, in a traceback,
    leaves the password out)."""

    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)

    def conninfo(self) -> str:
        """A libpq connection string (never logged)."""
        return make_conninfo(
            host=self.host,
            port=self.port,
            dbname=self.database,
            user=self.user,
            password=self.password,
            connect_timeout=10,
        )

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        """Open a connection; a clear error when the server does not answer."""
        try:
            return psycopg.connect(self.conninfo(), autocommit=autocommit)
        except psycopg.OperationalError as exc:
            raise WarehouseError(
                f"cannot connect to PostgreSQL {self.host}:{self.port}/{self.database} as "
                f"{self.user}: {str(exc).strip().splitlines()[0]}; is it running, and did "
                "`olist-elt warehouse roles` run?"
            ) from None


def _vault(settings: Settings) -> Vault:
    """The configured vault (audited reads)."""
    return open_vault(settings, AuditLog(settings.audit_path))


def _secret(vault: Vault, name: str, actor: str, create: bool = False) -> str:
    """A secret from the vault, generated when asked and absent."""
    if create:
        vault.ensure(name, lambda: secrets.token_urlsafe(24))
    return vault.get(name, actor=actor)


def login(settings: Settings, role: str = "loader") -> PgLogin:
    """The loader's or the BI role's login, the password read from the vault."""
    user = settings.pg_loader_role if role == "loader" else settings.pg_bi_role
    secret = LOADER_SECRET if role == "loader" else BI_SECRET
    try:
        password = _secret(_vault(settings), secret, actor=f"svc-warehouse-{role}")
    except MissingSecret:
        raise WarehouseError(
            f"no {secret} in the vault; run `olist-elt warehouse roles` first"
        ) from None
    return PgLogin(settings.pg_host, settings.pg_port, settings.pg_database, user, password)


def _admin(settings: Settings, database: str | None = None) -> psycopg.Connection:
    """An autocommit admin connection (password, if any, from the vault)."""
    params: dict[str, Any] = conninfo_to_dict(settings.pg_admin_dsn)
    vault = _vault(settings)
    if ADMIN_SECRET in vault.names():
        params["password"] = vault.get(ADMIN_SECRET, actor="svc-warehouse-admin")
    if database:
        params["dbname"] = database
    params.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(make_conninfo(**params), autocommit=True)
    except psycopg.OperationalError as exc:
        raise WarehouseError(
            f"cannot connect as admin ({params.get('host')}:{params.get('port')}): "
            f"{str(exc).strip().splitlines()[0]}"
        ) from None


# Roles and grants are the cluster's: two ensure_roles at once (two deployments' `roles`,
# two test workers) made PostgreSQL fail one ("tuple concurrently updated"). They take
# turns on this advisory lock (released when the admin connection closes).
ROLES_LOCK = "olist_elt.ensure_roles"


def ensure_roles(settings: Settings) -> None:
    """Create or update the database, the loader and the read-only BI role (idempotent;
    one process at a time per cluster). A password reaches PostgreSQL as its SCRAM
    verifier, as `psql`'s \\password sends it: in no statement the server could log."""
    vault = _vault(settings)
    loader_pw = _secret(vault, LOADER_SECRET, "svc-warehouse-admin", create=True)
    bi_pw = _secret(vault, BI_SECRET, "svc-warehouse-admin", create=True)
    loader, bi, db = (
        sql.Identifier(settings.pg_loader_role),
        sql.Identifier(settings.pg_bi_role),
        sql.Identifier(settings.pg_database),
    )
    with _admin(settings) as con:
        con.execute("select pg_advisory_lock(hashtext(%s))", [ROLES_LOCK])
        for role, pw in ((settings.pg_loader_role, loader_pw), (settings.pg_bi_role, bi_pw)):
            exists = con.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
            verb = "alter" if exists else "create"
            verifier = con.pgconn.encrypt_password(pw.encode(), role.encode(), b"scram-sha-256")
            con.execute(
                sql.SQL(
                    verb + " role {} with login nosuperuser nocreatedb nocreaterole password {}"
                ).format(sql.Identifier(role), sql.Literal(verifier.decode()))
            )
        if not con.execute(
            "select 1 from pg_database where datname = %s", [settings.pg_database]
        ).fetchone():
            con.execute(sql.SQL("create database {}").format(db))
        con.execute(sql.SQL("revoke all on database {} from public").format(db))
        con.execute(
            sql.SQL("grant connect, create, temporary on database {} to {}").format(db, loader)
        )
        con.execute(sql.SQL("grant connect on database {} to {}").format(db, bi))
        live = sql.Identifier(LIVE)
        with _admin(settings, settings.pg_database) as inner:  # the lock still held
            for statement in (
                sql.SQL("revoke create on schema public from public"),
                sql.SQL("create schema if not exists {} authorization {}").format(live, loader),
                sql.SQL("grant usage on schema {} to {}").format(live, bi),
                sql.SQL("grant select on all tables in schema {} to {}").format(live, bi),
            ):
                inner.execute(statement)


def _postgres_extension() -> Path:
    """The signed postgres_scanner binary shipped by its PyPI package."""
    try:
        return extension_path("duckdb_extension_postgres_scanner", "postgres_scanner")
    except OlistEltError as exc:
        raise WarehouseError(str(exc)) from None


def publish_silver(
    settings: Settings,
    target: PgLogin,
    relations: dict[str, tuple[str, str]],
    attach_source: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> dict[str, int]:
    """Copy silver tables into PostgreSQL under the names ref() resolves to.

    relations: silver table -> (postgres schema, table). The source is the DuckDB
    warehouse file, or what attach_source makes readable as lake.silver (the spark
    target's parquet). Uses DuckDB's postgres extension (binary COPY), not inserts.
    """
    con = duckdb.connect()
    counts: dict[str, int] = {}
    try:
        con.execute(f"load '{_postgres_extension()}'")
        if attach_source is None:
            lake_path = str(settings.build_database).replace("'", "''")
            con.execute(f"attach '{lake_path}' as lake (read_only)")
        else:
            con.execute("attach ':memory:' as lake")
            con.execute("use lake")
            attach_source(con)
        literal = target.conninfo().replace("'", "''")
        con.execute(f"attach '{literal}' as pg (type postgres)")  # local; never logged
        for source, (schema, table) in relations.items():
            con.execute(f'create schema if not exists pg."{schema}"')
            con.execute(f'drop table if exists pg."{schema}"."{table}"')
            con.execute(
                f'create table pg."{schema}"."{table}" as select * from lake.silver."{source}"'
            )
            counts[f"{schema}.{table}"] = int(
                con.execute(f'select count(*) from lake.silver."{source}"').fetchone()[0]  # type: ignore[index]
            )
        con.execute("detach pg")
    except duckdb.Error as exc:
        raise WarehouseError(f"publishing silver to PostgreSQL failed: {exc}") from None
    finally:
        con.close()
    return counts


def swap_gold(
    target: PgLogin,
    bi_role: str,
    staging: str,
    *,
    attempts: int = 5,
    lock_timeout: str = "2s",
) -> str | None:
    """Put the gated staging schema in place of the live one: two renames and the BI
    role's USAGE of the schema in one short transaction that commits on its own, waiting at most
    lock_timeout for locks (retried a few times), so readers are never queued behind
    a long operation. Returns the previous schema's new name (dropped later, see
    drop_previous), or None on a first publish."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    previous = f"{PREVIOUS}_{secrets.token_hex(3)}"
    retrying = Retrying(
        retry=retry_if_exception_type(psycopg.errors.LockNotAvailable),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=5),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt, target.connect() as con:
                con.execute(
                    sql.SQL("set local lock_timeout = {}").format(sql.Literal(lock_timeout))
                )
                live = con.execute(
                    "select 1 from information_schema.schemata where schema_name = %s", [LIVE]
                ).fetchone()
                if live:
                    con.execute(
                        sql.SQL("alter schema {} rename to {}").format(
                            sql.Identifier(LIVE), sql.Identifier(previous)
                        )
                    )
                con.execute(
                    sql.SQL("alter schema {} rename to {}").format(
                        sql.Identifier(staging), sql.Identifier(LIVE)
                    )
                )
                _grant_read(con, LIVE, bi_role)
    except psycopg.errors.LockNotAvailable:
        raise WarehouseError(
            f"could not swap in the new gold: readers held locks longer than {lock_timeout} "
            f"{attempts} times; the previous gold is still served, run again later"
        ) from None
    return previous if live else None


def _grant_read(con: psycopg.Connection, schema: str, role: str) -> None:
    """The BI role may enter the schema. Its select on each table is dbt's grant
    (dbt_project.yml, +grants) in staging, given again on the copy that is published
    (copy_schema); a schema's USAGE is no table's grant, so dbt cannot express it,
    and the schema renamed to gold is new to the role."""
    con.execute(
        sql.SQL("grant usage on schema {} to {}").format(
            sql.Identifier(schema), sql.Identifier(role)
        )
    )


def drop_previous(target: PgLogin, lock_timeout: str = "1s") -> tuple[list[str], list[str]]:
    """Drop every previous gold schema a swap left; one that a reader still holds is
    left for a later run instead of queueing anyone. (dropped, deferred)."""
    dropped: list[str] = []
    deferred: list[str] = []
    with target.connect(autocommit=True) as con:
        con.execute(sql.SQL("set lock_timeout = {}").format(sql.Literal(lock_timeout)))
        names = [
            n
            for (n,) in con.execute(
                "select nspname from pg_namespace where nspname like %s order by 1",
                [PREVIOUS.replace("_", "\\_") + "\\_%"],
            ).fetchall()
        ]
        for name in names:
            try:
                con.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
                dropped.append(name)
            except psycopg.errors.LockNotAvailable:
                deferred.append(name)
                log.warning("%s is still read by someone: dropped by a later run", name)
    return dropped, deferred


def drop_schema(target: PgLogin, schema: str, lock_timeout: str = "5s") -> bool:
    """Remove a schema (a leftover staging one); whether it existed."""
    with target.connect() as con:
        con.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(lock_timeout)))
        found = con.execute(
            "select 1 from information_schema.schemata where schema_name = %s", [schema]
        ).fetchone()
        con.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        return bool(found)


def gold_row_counts(target: PgLogin, schema: str = LIVE) -> dict[str, int]:
    """Rows per table of a schema."""
    count, live = sql.SQL("select count(*) from {}.{}"), sql.Identifier(schema)
    with target.connect() as con:
        return {
            t: int(con.execute(count.format(live, sql.Identifier(t))).fetchone()[0])  # type: ignore[index]
            for t in _tables(con, schema)
        }


def gold_checksums(target: PgLogin, schema: str = LIVE) -> dict[str, str]:
    """Per table of a schema, an order-independent checksum of its content: the sum of
    each row's md5 (its first 64 bits), so any changed, added or removed row shows."""
    with target.connect() as con:
        return {
            t: str(
                con.execute(
                    sql.SQL(
                        "select coalesce(sum(('x' || left(md5(r::text), 16))::bit(64)::bigint"
                        "::numeric), 0)::text from {}.{} as r"
                    ).format(sql.Identifier(schema), sql.Identifier(t))
                ).fetchone()[0]  # type: ignore[index]
            )
            for t in _tables(con, schema)
        }


def _tables(con: psycopg.Connection, schema: str) -> list[str]:
    return [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = %s and table_type = 'BASE TABLE' order by 1",
            [schema],
        ).fetchall()
    ]


def copy_schema(
    target: PgLogin,
    source: str,
    dest: str,
    foreign: list[tuple[str, str, str, str]],
    reader: str,
) -> int:
    """A fresh copy of every table of source in dest, in one transaction; source stays
    where it is for the next incremental build. The copy keeps column types, not-null
    and check constraints, primary keys and indexes (LIKE ... INCLUDING ALL); foreign
    keys and grants are not copied by PostgreSQL, so the declared foreign keys
    (table, column, parent table, parent column) are added and reader gets select on
    every table, as dbt gave them in source. Tables copied."""
    with target.connect() as con:
        con.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(dest)))
        con.execute(sql.SQL("create schema {}").format(sql.Identifier(dest)))
        tables = _tables(con, source)
        for table in tables:
            src, dst = sql.Identifier(source, table), sql.Identifier(dest, table)
            con.execute(sql.SQL("create table {} (like {} including all)").format(dst, src))
            con.execute(sql.SQL("insert into {} select * from {}").format(dst, src))
        for table, column, parent, field in foreign:
            if table in tables and parent in tables:
                con.execute(
                    sql.SQL(
                        "alter table {} add foreign key ({}) references {} ({})"
                        " deferrable initially deferred"
                    ).format(
                        sql.Identifier(dest, table),
                        sql.Identifier(column),
                        sql.Identifier(dest, parent),
                        sql.Identifier(field),
                    )
                )
        con.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(
                sql.Identifier(dest), sql.Identifier(reader)
            )
        )
    return len(tables)


def drop_tables_except(target: PgLogin, schema: str, keep: frozenset[str]) -> list[str]:
    """Drop the tables of a schema that are not in keep; what was dropped."""
    with target.connect() as con:
        dropped = [t for t in _tables(con, schema) if t not in keep]
        for table in dropped:
            con.execute(sql.SQL("drop table {} cascade").format(sql.Identifier(schema, table)))
    return dropped
