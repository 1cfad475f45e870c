"""DuckDB extensions from their PyPI packages (nothing is downloaded at run time)."""

from __future__ import annotations

import importlib
from pathlib import Path

from olist_elt.errors import OlistEltError
from olist_elt.settings import Settings


def extension_path(package: str, name: str) -> Path:
    """The signed extension binary a duckdb-extension-* package ships."""
    pkg = importlib.import_module(package)
    found = sorted(Path(pkg.__file__).parent.glob(f"extensions/*/{name}.duckdb_extension"))
    if not found:
        raise OlistEltError(f"{package} ships no {name} extension binary")
    return found[-1]


def load_httpfs(con: object) -> None:
    """LOAD httpfs (s3://, https://) from duckdb-extension-httpfs."""
    path = str(extension_path("duckdb_extension_httpfs", "httpfs")).replace("'", "''")
    con.execute(f"load '{path}'")  # type: ignore[attr-defined]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_s3_secret(
    con: object,
    *,
    key_id: str,
    secret: str,
    region: str,
    endpoint_url: str | None,
    scope: str,
) -> None:
    """A temporary (in-memory, never persisted) S3 secret scoped to the lake's URI."""
    options = [
        "type s3",
        f"key_id {_literal(key_id)}",
        f"secret {_literal(secret)}",
        f"region {_literal(region)}",
        f"scope {_literal(scope)}",
    ]
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        options += [
            f"endpoint {_literal(host.rstrip('/'))}",
            "url_style 'path'",
            f"use_ssl {'true' if scheme == 'https' else 'false'}",
        ]
    con.execute(  # type: ignore[attr-defined]
        f"create or replace temporary secret olist_lake ({', '.join(options)})"
    )


def attach_lake(con: object, settings: Settings) -> None:
    """Make the raw zone readable: httpfs and the transformer's S3 secret when the
    lake is a bucket; nothing for a local folder."""
    from olist_elt.lake.storage import s3_secret_name
    from olist_elt.security.audit import AuditLog
    from olist_elt.security.vault import open_vault

    if settings.lake_backend != "s3":
        return
    identity = "svc-transformer"
    vault = open_vault(settings, AuditLog(settings.audit_path))
    load_httpfs(con)
    create_s3_secret(
        con,
        key_id=identity,
        secret=vault.get(s3_secret_name(identity), actor=identity),
        region=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url,
        scope=settings.raw_root,
    )
