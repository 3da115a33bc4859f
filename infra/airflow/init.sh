#!/usr/bin/env bash
# One-shot setup of Airflow (the `airflow-init` service), idempotent: migrate the metadata DB (core
# and FAB auth tables) and create the admin account once. Runs before any other Airflow component.
set -euo pipefail
: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD must be set}"

airflow db migrate
# FAB's `users create` prints "... already exist in the db" and exits 0 on a second run.
airflow users create \
  --role Admin \
  --username "${AIRFLOW_ADMIN_USER:-admin}" \
  --password "$AIRFLOW_ADMIN_PASSWORD" \
  --firstname LEAP --lastname Admin \
  --email "${AIRFLOW_ADMIN_EMAIL:-admin@example.org}"
# The volumes mounted here are initialised with the image's ownership; make sure the layout exists.
mkdir -p "${LEAP_DATA_DIR:?}/published"
echo "airflow metadata DB migrated; admin user: ${AIRFLOW_ADMIN_USER:-admin}"
