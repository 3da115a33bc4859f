"""One definition per concept: the data-directory layout, the vocabularies, the HMAC, the table schemas."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from leap import instrument
from leap.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("leap", "ingestion", "simulator", "expectations", "weights", "dbt_project", "scoring_jobs", "dags", "reports",
            "intake")
# Names of the directories and files under $LEAP_DATA_DIR (leap/layout.py).
LAYOUT_NAMES = {"lake", "raw", "validated", "quarantine", "_released", "_validation", "_ingest_log", "warehouse",
                "leap.duckdb", ".dbt.lock", "dbt", "published", "marts", "marts.duckdb", "exports", "scoring",
                "calibrations", "secrets", "pseudonym.key", "run", "airflow", "orchestration", "reports",
                "simulation", "docs", "gx", "intake", "intake.key", "access.sqlite"}


def _path_joins(tree: ast.AST) -> list[str]:
    """String constants joined onto a path with ``/``."""
    return [node.right.value for node in ast.walk(tree)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            and isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)]


def test_only_the_layout_module_spells_data_directory_paths():
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "leap" / "layout.py" or "models" in path.parts:
                continue
            joined = set(_path_joins(ast.parse(path.read_text()))) & LAYOUT_NAMES
            if joined:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(joined)}")
    assert not offenders, offenders


def test_dbt_reads_its_paths_from_the_layout():
    texts = [p.read_text() for p in (ROOT / "dbt_project").rglob("*.yml")]
    assert not any("LEAP_DATA_DIR" in t and "env_var" in t for t in texts)
    env = load_settings().layout.dbt_env()
    for name in ("LEAP_WAREHOUSE_PATH", "LEAP_VALIDATED_DIR", "LEAP_VALIDATION_RESULTS_DIR"):
        assert any(f"env_var('{name}')" in t or f'env_var("{name}")' in t for t in texts), name
        assert name in env


def test_the_event_schema_uses_the_instrument_vocabularies():
    schema = json.loads((ROOT / "ingestion" / "schemas" / "submission.v1.schema.json").read_text())
    props = schema["properties"]
    assert props["term"]["enum"] == instrument.terms()
    assert props["grade_band"]["enum"] == instrument.grade_bands()
    assert props["sample"]["enum"] == instrument.samples()
    assert [v for v in props["region"]["enum"] if v] == instrument.margin_levels("region")
    assert [v for v in props["urbanicity"]["enum"] if v] == instrument.margin_levels("urbanicity")


def test_the_rasch_engine_levels_are_the_instrument_levels():
    from scoring_jobs.rasch import LEVELS

    assert list(LEVELS) == instrument.levels()
    assert [instrument.level_order(level) for level in LEVELS] == [1, 2, 3, 4]
    assert instrument.scaled_components() == ["LF", "LD", "LL"]


def test_scoring_staging_passes_the_one_table_definition_through():
    from scoring_jobs.tables import TABLES, column_names

    for path in (ROOT / "dbt_project" / "models" / "staging" / "scoring").glob("stg_scoring__*.sql"):
        sql = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("--"))
        assert sql.strip().startswith("select * from {{ source('scoring'"), path.name
    assert set(TABLES) == {"item_bank_calibrations", "item_bank_thresholds", "respondent_scores", "item_drift",
                           "reporting_scales", "item_dif", "scale_dif"}
    assert column_names("respondent_scores")[:3] == ["calibration_id", "instrument", "instrument_version"]


def test_dbt_reads_the_scoring_tables_with_the_jobs_glob():
    """The scoring source's external locations are scoring_jobs.tables.relation of $LEAP_SCORING_DIR: dbt
    and the jobs read the same files the same way."""
    import yaml

    from scoring_jobs.tables import TABLES, relation

    doc = yaml.safe_load((ROOT / "dbt_project/models/staging/scoring/_scoring__sources.yml").read_text())
    (source,) = doc["sources"]
    locations = {t["name"]: " ".join(t["config"]["external_location"].split()) for t in source["tables"]}
    assert set(locations) == set(TABLES)
    for table in TABLES:
        assert locations[table] == relation('{{ env_var("LEAP_SCORING_DIR") }}', table), table
