#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is new: the Prefect server's own database and
# role (its runs, task runs and logs), apart from the warehouse. The password comes
# from a Docker secret, read by psql itself: never an argument of a process.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\set prefect_pw `cat /run/secrets/prefect_db_password`
create role prefect with login password :'prefect_pw';
create database prefect owner prefect;
revoke all on database prefect from public;
SQL
