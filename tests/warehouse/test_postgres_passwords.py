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
from tests.conftest import _free_port, at_once, pg_workspace, start_postgres

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


@pytest.fixture()
def settings(scram_cluster: tuple[str, Path], tmp_path: Path) -> Iterator[Settings]:
    """A workspace whose warehouse is on that cluster, its roles made once."""
    with pg_workspace(tmp_path / "ws", scram_cluster[0]) as made:
        yield made


def test_roles_set_by_two_at_once_log_in_with_their_passwords_and_no_other(
    scram_cluster: tuple[str, Path], settings: Settings
) -> None:
    dsn, server_log = scram_cluster
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
            "select rolname, rolpassword from pg_authid where rolname = any(%s)",
            [[loader.user, bi.user]],
        ).fetchall()
    assert {name for name, _ in stored} == {settings.pg_loader_role, settings.pg_bi_role}
    assert all(password.startswith("SCRAM-SHA-256$4096:") for _, password in stored)


def test_deployments_setting_up_one_new_workspace_at_once_agree_on_the_passwords(
    scram_cluster: tuple[str, Path], tmp_path: Path
) -> None:
    """Three `olist-elt warehouse roles` processes on a workspace with no vault yet (three
    deployments starting together): each ends well, and the roles log in with the one
    password the vault holds."""
    from psycopg.conninfo import conninfo_to_dict

    from tests.conftest import workspace_env, workspace_settings
    from tests.test_cli import CLI, _env

    dsn = scram_cluster[0]
    parts = conninfo_to_dict(dsn)
    pg = {
        "pg_host": "127.0.0.1",
        "pg_port": int(parts["port"]),
        "pg_database": "olist_three",
        "pg_loader_role": "olist_loader_three",
        "pg_bi_role": "olist_bi_three",
        "pg_admin_dsn": dsn,
    }
    settings = workspace_settings(tmp_path / "ws", **pg)
    env = _env(
        None,
        **workspace_env(settings),
        **{f"OLIST_{key.upper()}": str(value) for key, value in pg.items()},
    )
    done = at_once(
        [*CLI, "warehouse", "roles"], 3, 120, env=env, cwd=tmp_path, stderr=subprocess.STDOUT
    )
    assert [d.returncode for d in done] == [0, 0, 0], [d.stdout for d in done]
    for role in (login(settings), login(settings, "bi")):
        with role.connect() as con:
            assert con.execute("select current_user").fetchone() == (role.user,)
