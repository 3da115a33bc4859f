"""The DuckDB thread count a model sets for itself (dbt_project/macros/threads.sql) lasts while other
models start: dbt-duckdb opens a cursor for every model and runs the profile's `settings` on each, so
the base thread count is in `config_options` (set once, when the database opens), not in `settings`.
Checked with dbt-duckdb's own environment on the project's profile."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import yaml

PROFILES = Path(__file__).resolve().parents[2] / "dbt_project" / "profiles.yml"


def _local_output(env: dict[str, str]) -> dict:
    """profiles.yml's `local` output, rendered as dbt renders it (``env_var`` from ``env``)."""
    def env_var(name: str, default: str | None = None) -> str:
        return env.get(name, default)

    text = jinja2.Environment().from_string(PROFILES.read_text()).render(env_var=env_var)
    return yaml.safe_load(text)["leap"]["outputs"]["local"]


def test_a_model_keeps_its_threads_when_another_model_opens_a_cursor(tmp_path):
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.adapters.duckdb.environments import create

    out = _local_output({**os.environ, "LEAP_WAREHOUSE_PATH": str(tmp_path / "w.duckdb"),
                         "LEAP_DUCKDB_THREADS": "1", "LEAP_DUCKDB_MEMORY": "300MB"})
    creds = DuckDBCredentials.from_dict({
        "database": "w", "schema": "main", "path": out["path"],
        "config_options": out.get("config_options"), "settings": out.get("settings")})
    env = create(creds)
    try:
        first = env.handle().cursor()
        assert first.execute("select current_setting('threads')").fetchone()[0] == 1  # the base count
        first.execute("set threads = 2")  # a model built alone: threads_alone()
        second = env.handle().cursor()  # a model starting on dbt's other thread meanwhile
        assert second.execute("select current_setting('threads')").fetchone()[0] == 2
        assert second.execute("select current_setting('memory_limit')").fetchone()[0] == "286.1 MiB"
    finally:
        env.close()
        if env.conn is not None:
            env.conn.close()
