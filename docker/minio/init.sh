#!/bin/sh
# One-shot MinIO set-up: the lake bucket (versioned, object lock off), one service
# account per connector, one for the transformer, one for lifecycle, one for
# erasure, each with only its policy. No flow uses the root credentials.
# Passwords come from secrets.
set -eu
# The root login reaches mc through its environment (export is the shell's own),
# not as arguments.
MC_HOST_lake="http://$(cat /run/secrets/minio_root_user):$(cat /run/secrets/minio_root_password)@minio:9000"
export MC_HOST_lake
mc mb --ignore-existing lake/lake
mc version enable lake/lake
for account in connector-olist connector-bcb connector-openweather connector-stream \
        transformer lifecycle quality-gate erasure; do
    mc admin policy create lake "$account" "/policies/$account.json"
    mc admin user add lake "svc-$account" "$(cat "/run/secrets/svc_${account}")"
    mc admin policy attach lake "$account" --user "svc-$account" || true
done
echo "minio: bucket lake and service accounts ready"
