#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is new: the warehouse database, a loader
# role that writes the warehouse schemas and a BI role that reads gold only.
# Passwords come from Docker secrets; `olist-elt warehouse roles` does the same
# (idempotently) against any server, reading them from the vault.
set -euo pipefail
# psql reads each password from its file itself (\set with a backquoted command): no
# password is ever an argument of a process.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\set loader_pw `cat /run/secrets/warehouse_loader_password`
\set bi_pw `cat /run/secrets/warehouse_bi_password`
create role olist_loader with login password :'loader_pw';
create role olist_bi with login password :'bi_pw';
revoke all on database olist from public;
grant connect, create, temporary on database olist to olist_loader;
grant connect on database olist to olist_bi;
revoke create on schema public from public;
create schema if not exists gold authorization olist_loader;
grant usage on schema gold to olist_bi;
SQL
