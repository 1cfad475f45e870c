"""docker-compose.yml validated against the Compose specification (compose-spec, the
compose_spec Rust parser), plus the cross-references the parser leaves to the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from compose_spec import PyCompose

from olist_elt.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
STACK = {
    "postgres",
    "minio",
    "minio-init",
    "spark-master",
    "spark-worker",
    "spark-thrift",
    "prefect-server",
    "prefect-worker",
    "metabase",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return PyCompose.from_yaml(COMPOSE.read_text()).to_dict()


def test_the_compose_file_follows_the_specification_and_holds_the_whole_stack(
    compose: dict,
) -> None:
    assert set(compose["services"]) == STACK


def test_every_reference_resolves(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            assert secret_name in compose["secrets"], f"{name}: undefined secret {secret_name}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name}: undefined volume {source}"
    for secret in compose["secrets"].values():
        assert Path(secret["file"]).parts[0] == ".secrets", "secrets live in .secrets/ only"


def test_minio_init_creates_an_account_for_each_policy() -> None:
    init = (REPO_ROOT / "docker" / "minio" / "init.sh").read_text()
    policies = {p.stem for p in (REPO_ROOT / "docker" / "minio" / "policies").glob("*.json")}
    listed = init.split("for account in", 1)[1].split("; do", 1)[0].replace("\\", " ").split()
    assert set(listed) == policies


def test_a_broken_compose_file_is_refused() -> None:
    with pytest.raises(ValueError, match="portz"):
        PyCompose.from_yaml("services:\n  x:\n    image: a\n    portz: 1\n")


def test_no_secret_is_an_argument_of_a_process(compose: dict) -> None:
    """A process's arguments are readable by anyone on its host (`ps`, /proc) and
    Spark shows its command line in the UI: secrets reach processes as files or
    through the environment."""
    thrift = " ".join(compose["services"]["spark-thrift"]["command"])
    server_args = thrift.split("exec ", 1)[1]
    assert "/run/secrets/svc_transformer" not in server_args
    assert "secret.key" not in server_args
    # the secret key joins a copy of the conf file only the server's user reads
    assert thrift.index("umask 077") < thrift.index("/tmp/spark-thrift.conf")
    assert "--properties-file /tmp/spark-thrift.conf" in server_args
    roles = (REPO_ROOT / "docker" / "postgres" / "10-roles.sh").read_text()
    assert "psql" in roles and " -v loader_pw" not in roles and " -v bi_pw" not in roles
    assert "\\set loader_pw `cat /run/secrets/warehouse_loader_password`" in roles
    init = (REPO_ROOT / "docker" / "minio" / "init.sh").read_text()
    assert "mc alias set" not in init and "export MC_HOST_lake" in init
    # the Prefect server's database password: read from its secret into the server's
    # environment by the shell, never part of its command line or of this file
    prefect = compose["services"]["prefect-server"]
    command = " ".join(prefect["command"])
    # ($$: compose's escape for the shell's $)
    assert 'PASSWORD="$$(cat /run/secrets/prefect_db_password)"' in command
    assert "prefect server start" in command.split("exec ", 1)[1]
    assert "PREFECT_SERVER_DATABASE_PASSWORD" not in prefect["environment"]
    prefect_db = (REPO_ROOT / "docker" / "postgres" / "20-prefect.sh").read_text()
    assert "\\set prefect_pw `cat /run/secrets/prefect_db_password`" in prefect_db


def test_the_prefect_server_keeps_its_runs_in_postgresql(compose: dict) -> None:
    """Not SQLite, Prefect's default: it answers 503 'database is locked' while a
    run's dbt nodes are recorded (test_prefect_server runs on PostgreSQL as this)."""
    prefect = compose["services"]["prefect-server"]
    env = prefect["environment"]
    assert env["PREFECT_SERVER_DATABASE_DRIVER"] == "postgresql+asyncpg"
    assert env["PREFECT_SERVER_DATABASE_HOST"] == "postgres"
    assert (env["PREFECT_SERVER_DATABASE_USER"], env["PREFECT_SERVER_DATABASE_NAME"]) == (
        "prefect",
        "prefect",
    )
    assert prefect["depends_on"]["postgres"]["condition"] == "service_healthy"
    mounted = compose["services"]["postgres"]["volumes"]
    assert any("20-prefect.sh:/docker-entrypoint-initdb.d/" in str(v) for v in mounted)
