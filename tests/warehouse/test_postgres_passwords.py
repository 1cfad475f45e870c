"""The warehouse roles on a PostgreSQL that asks for passwords (scram-sha-256 over
TCP): the shared test server trusts every login, so this file starts its own cluster,
which also logs every statement it runs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from olist_elt.settings import Settings
from olist_elt.warehouse.postgres import PgLogin, WarehouseError, ensure_roles, login
from tests.conftest import _free_port, start_postgres, workspace_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scram_cluster() -> Iterator[tuple[str, Path]]:
    """Its admin DSN (postgres, trusted on the local socket and 127.0.0.1 only) and its
    log; every other login must give its password."""
    port = _free_port()
    executor = start_postgres(port, "-c log_statement=all")
    data = Path(executor.datadir)
    try:
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        subprocess.run(
            [executor.executable, "reload", "-D", str(data)], check=True, capture_output=True
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", Path(executor.logfile)
    finally:
        executor.stop()
        shutil.rmtree(data.parent, ignore_errors=True)


def _settings(root: Path, dsn: str) -> Settings:
    port = int(dsn.split(":")[-1].split("/")[0])
    return workspace_settings(
        root,
        pg_host="127.0.0.1",
        pg_port=port,
        pg_database="olist_pw",
        pg_loader_role="olist_loader_pw",
        pg_bi_role="olist_bi_pw",
        pg_admin_dsn=dsn,
    )


def test_roles_set_by_two_at_once_log_in_with_their_passwords_and_no_other(
    scram_cluster: tuple[str, Path], tmp_path: Path
) -> None:
    dsn, server_log = scram_cluster
    settings = _settings(tmp_path / "ws", dsn)
    ensure_roles(settings)  # the vault's passwords made, the roles created
    # Two deployments setting the same roles at once: PostgreSQL failed one of them
    # ("tuple concurrently updated") before they took turns.
    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(ensure_roles, settings) for _ in range(48)]:
            done.result()
    loader, bi = login(settings), login(settings, "bi")
    for role in (loader, bi):
        with role.connect() as con:
            assert con.execute("select current_user").fetchone() == (role.user,)
    wrong = PgLogin(loader.host, loader.port, loader.database, loader.user, "not-it")
    assert "not-it" not in repr(wrong) and "not-it" not in str(wrong)  # tracebacks show it
    with pytest.raises(WarehouseError, match="password authentication failed"):
        wrong.connect()
    # the server logged every statement: the roles' verifiers, never their passwords
    logged = server_log.read_text()
    # (checked without showing a password should it fail)
    assert [r.user for r in (loader, bi) if r.password in logged] == []
    assert "alter role" in logged and "SCRAM-SHA-256$" in logged
    with psycopg.connect(dsn) as admin:
        stored = admin.execute(
            "select rolname, rolpassword from pg_authid where rolname like 'olist_%%_pw'"
        ).fetchall()
    assert {name for name, _ in stored} == {"olist_loader_pw", "olist_bi_pw"}
    assert all(password.startswith("SCRAM-SHA-256$4096:") for _, password in stored)
