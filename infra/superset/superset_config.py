"""Superset configuration of the LEAP production stack (baked into the Superset image).

No secrets here: every credential comes from the environment (see infra/.env.example). Superset
stores its own metadata (users, dashboards) in the stack's PostgreSQL, in a database of its own.
Analysts read the published marts through the DuckDB connection that ``init.sh`` registers: a
read-only DuckDB snapshot on a volume mounted read-only, so BI never blocks the pipeline's writers.
"""

import os
from urllib.parse import quote


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"{name} must be set (see infra/.env.example)")
    return value


SECRET_KEY = _required("SUPERSET_SECRET_KEY")

SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://superset:{password}@{host}:5432/superset".format(
    password=quote(_required("SUPERSET_DB_PASSWORD"), safe=""),
    host=os.environ.get("SUPERSET_DB_HOST") or "postgres",
)

# SQL Lab is for reading: no DML, bounded result sets and run time.
SQLLAB_TIMEOUT = 300
SQL_MAX_ROW = 100000
ROW_LIMIT = 50000

# Behind a reverse proxy that terminates TLS, set SUPERSET_BEHIND_PROXY=true.
ENABLE_PROXY_FIX = os.environ.get("SUPERSET_BEHIND_PROXY", "false").lower() == "true"
