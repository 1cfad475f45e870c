"""dbt-duckdb plugin: puts the PII key's HMAC pads and the lake's location in
session variables.

The key is read from the vault when dbt opens its connection and is set with a bound
parameter, so it never appears in compiled SQL, dbt artifacts, logs or docs. The
lake's location is a variable too (olist_raw_root, olist_lake_dir), read by the
sources' external locations when a model runs: the sources' YAML reads no
environment, so a new workspace reuses the kept parse whole (dbt parses again every
file whose rendering read an environment variable that changed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from olist_elt.lake.private import FILE_MODE, private_dirs
from olist_elt.security.audit import AuditLog
from olist_elt.security.erasure import ensure_register
from olist_elt.security.vault import PII_KEY_NAME, hmac_pads, new_pii_key, open_vault
from olist_elt.settings import Settings, load_settings
from olist_elt.transform.duckdb_ext import attach_lake
from olist_elt.transform.duckdb_fk_lock import leave_out_declared_foreign_keys

IPAD_VAR = "olist_pii_ipad"
OPAD_VAR = "olist_pii_opad"
RAW_ROOT_VAR = "olist_raw_root"
LAKE_DIR_VAR = "olist_lake_dir"


def project_dir() -> Path:
    """The dbt project's folder: profiles.yml's relative paths are relative to it (the
    repository's layout seen from dbt_project/), wherever dbt was typed (the folder
    above with --project-dir, a model folder: dbt looks upwards for the project).
    Outside a dbt command (no flags yet), the current folder."""
    try:
        from dbt.flags import get_flags

        folder = getattr(get_flags(), "PROJECT_DIR", None)
    except Exception:  # flags not set: not inside a dbt command
        folder = None
    return Path(folder).resolve() if folder else Path.cwd()


def in_project(value: str) -> Path:
    """A path of profiles.yml made absolute against the dbt project's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (project_dir() / path).resolve()


def _location(value: str) -> str:
    """A folder made absolute (against the dbt project), a URI (s3://) as it is;
    without a trailing slash."""
    return (value if "://" in value else str(in_project(value))).rstrip("/")


def lake_variables(lake_dir: str, raw_root: str | None = None) -> dict[str, str]:
    """The session variables the sources' locations read: the lake's folder (or
    bucket) and where its raw zone is (the lake's, unless set apart)."""
    return {LAKE_DIR_VAR: _location(lake_dir), RAW_ROOT_VAR: _location(raw_root or lake_dir)}


def pii_pads(settings: Settings) -> tuple[bytes, bytes]:
    """Read (creating on first use) the PII key and return its HMAC pads; the read is
    audited in the settings' audit log, its head signed in their lake's anchor."""
    vault = open_vault(settings, AuditLog(settings.audit_path))
    vault.ensure(PII_KEY_NAME, new_pii_key)
    return hmac_pads(vault.get(PII_KEY_NAME, actor="svc-transformer"))


class Plugin(BasePlugin):
    """Sets olist_pii_ipad / olist_pii_opad on every connection and cursor."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Read the key once per dbt invocation."""
        leave_out_declared_foreign_keys()
        audit = plugin_config.get("audit_log")
        lake = plugin_config.get("lake_dir")
        lake_path = in_project(lake) if lake else None
        if lake_path:
            ensure_register(lake_path)
        self._lake = lake_variables(lake or "../lake", plugin_config.get("raw_root"))
        # The lake profiles.yml names (an analyst's: the one beside the project), not
        # the default one: the audit log's head is signed in this lake's runs/. The
        # default lake's anchor would be left signing another lake's log, which `audit
        # verify` there calls forged, and this lake's own anchor behind.
        self._settings = load_settings(
            vault_path=in_project(plugin_config["vault_path"]),
            vault_key_file=in_project(plugin_config["vault_key_file"]),
            **({"lake_dir": lake_path} if lake_path and "://" not in lake else {}),
            **({"audit_log": in_project(audit)} if audit else {}),
        )
        self._pads = pii_pads(self._settings)

    def _set(self, conn: DuckDBPyConnection) -> None:
        """Bind the pads and the lake's location as session variables."""
        ipad, opad = self._pads
        conn.execute(f"set variable {IPAD_VAR} = ?", [ipad])
        conn.execute(f"set variable {OPAD_VAR} = ?", [opad])
        for name, value in self._lake.items():
            conn.execute(f"set variable {name} = ?", [value])

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        """The database file, when profiles.yml names it relatively, against the dbt
        project too: dbt typed in another folder opens the analyst's file, not a new
        one there (dbt-duckdb opens creds.path right after this call); that file
        made or kept 0600."""
        path = str(creds.path)
        if path != ":memory:" and "://" not in path and not path.startswith("md:"):
            creds.path = str(in_project(path))
            private_dirs(Path(creds.path).parent)  # a fresh clone has no warehouse/
            # bronze holds raw personal data: the file (and what this dbt writes
            # after, its WAL, artifacts and log) is its owner's only, as the lake is
            os.umask(0o077)
            if Path(creds.path).exists():
                os.chmod(creds.path, FILE_MODE)

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Called once per new connection: the pads, and the lake when it is a bucket."""
        self._set(conn)
        attach_lake(conn, self._settings)

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        """Cursors do not inherit session variables; set them again."""
        self._set(cursor)
