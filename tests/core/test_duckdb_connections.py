"""Every DuckDB connection the platform opens is under LEAP_DUCKDB_MEMORY (Settings.duckdb): DuckDB's own
default is 80% of the machine's memory, which publishing ten million submissions' marts took."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leap.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["leap", "ingestion", "expectations", "scoring_jobs", "dbt_project", "reports", "intake", "weights",
            "simulator", "dags"]
# in-memory connections over a term's Parquet files (small counts); not the warehouse or its copies
ALLOWED = {"expectations/term_checks.py"}


@pytest.mark.parametrize(("limit", "shown"), [("300MB", "286.1 MiB"), ("1GB", "953.6 MiB")])
def test_settings_duckdb_applies_the_memory_limit(tmp_path, monkeypatch, limit, shown):
    monkeypatch.setenv("LEAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEAP_DUCKDB_MEMORY", limit)
    settings = load_settings()
    for con in (settings.duckdb(), settings.duckdb(tmp_path / "x.duckdb")):
        try:
            got = con.execute("select current_setting('memory_limit')").fetchone()[0]
        finally:
            con.close()
        assert got == shown  # DuckDB's own default here: 80% of the machine's memory


def test_no_module_opens_duckdb_on_its_own():
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "leap/config.py" or rel in ALLOWED or "/tests/" in rel:
                continue
            if re.search(r"duckdb\.connect\(", path.read_text()):
                offenders.append(rel)
    assert offenders == [], "open DuckDB with settings.duckdb(path) so that LEAP_DUCKDB_MEMORY applies"
