#!/usr/bin/env bash
# One-shot setup of Superset (the `superset-init` service), idempotent: migrate the metadata DB,
# create the admin account once, sync roles, and register (or update) the DuckDB connection to the
# published marts.
set -euo pipefail
: "${SUPERSET_ADMIN_PASSWORD:?SUPERSET_ADMIN_PASSWORD must be set}"
: "${SUPERSET_MARTS_URI:?SUPERSET_MARTS_URI must be set}"

superset db upgrade
# Prints a notice and exits 0 when the user already exists.
superset fab create-admin \
  --username "${SUPERSET_ADMIN_USER:-admin}" \
  --firstname LEAP --lastname Admin \
  --email "${SUPERSET_ADMIN_EMAIL:-admin@example.org}" \
  --password "$SUPERSET_ADMIN_PASSWORD"
superset init
superset set-database-uri -d "${SUPERSET_MARTS_DATABASE:-LEAP marts}" -u "$SUPERSET_MARTS_URI"
echo "superset ready; marts connection: ${SUPERSET_MARTS_DATABASE:-LEAP marts} -> $SUPERSET_MARTS_URI"
