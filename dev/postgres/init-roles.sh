#!/bin/bash
# docker-compose: the official postgres image runs this once, on a fresh data directory, as the
# superuser it creates (POSTGRES_USER). It creates the services' login roles (dev/src/kutamo_dev/roles.sql)
# and gives them the passwords of IDENTITY_DB_PASSWORD and PROVISIONING_DB_PASSWORD.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f /kutamo/roles.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v identity_password="$IDENTITY_DB_PASSWORD" -v provisioning_password="$PROVISIONING_DB_PASSWORD" <<'SQL'
alter role kutamo_identity password :'identity_password';
alter role kutamo_provisioning password :'provisioning_password';
SQL
