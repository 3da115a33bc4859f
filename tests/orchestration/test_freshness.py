"""The change-driven chain: a step runs when what it reads changed, and only then (leap.stamps,
leap.orchestration.freshness), on a real DuckDB warehouse and lake directory."""

from __future__ import annotations

import dataclasses
import os

import pandas as pd
import pytest

from leap import stamps
from leap.orchestration import freshness
from scoring_jobs import tables


def _lake_file(settings, name: str, content: bytes = b"PAR1") -> None:
    path = settings.layout.validated / "instrument=teacher/school_year=2024-25/term=fall" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _counting_run(calls: list):
    def run() -> dict:
        calls.append(1)
        return {"built": len(calls)}
    return run


def test_the_warehouse_fingerprint_follows_the_lake_its_results_the_inputs_and_the_settings(leap_env):
    settings = leap_env
    _lake_file(settings, "a.parquet")
    base = freshness.warehouse(settings)
    assert freshness.warehouse(settings) == base  # same files: same fingerprint
    _lake_file(settings, "b.parquet")
    grown = freshness.warehouse(settings)
    assert grown != base  # a new validated file
    _lake_file(settings, "b.parquet", b"PAR1 rewritten")
    assert freshness.warehouse(settings) != grown  # a rewritten one
    settings.layout.validation_results.mkdir(parents=True, exist_ok=True)
    before = freshness.warehouse(settings)
    (settings.layout.validation_results / "run-00000.parquet").write_bytes(b"PAR1")
    assert freshness.warehouse(settings) != before  # a validation run's results (fct_data_quality_daily)
    settings.layout.inputs.mkdir(parents=True, exist_ok=True)
    before = freshness.warehouse(settings)
    (settings.layout.inputs / "enrolment.csv").write_text("school_id\n")
    assert freshness.warehouse(settings) != before  # an enrolment file
    after = freshness.warehouse(settings)
    assert freshness.warehouse(dataclasses.replace(settings, min_cell_n=settings.min_cell_n + 1)) != after


def test_a_step_runs_once_then_is_skipped_with_its_last_result_until_its_inputs_change(leap_env):
    settings, calls = leap_env, []
    _lake_file(settings, "a.parquet")
    steps = {"warehouse": lambda con: freshness.warehouse(settings)}
    assert freshness.unless_current(settings, steps, _counting_run(calls)) == {"built": 1}
    assert freshness.unless_current(settings, steps, _counting_run(calls)) == {"built": 1, "skipped": "up to date"}
    assert len(calls) == 1
    assert freshness.unless_current(settings, steps, _counting_run(calls), force=True) == {"built": 2}
    _lake_file(settings, "b.parquet")
    assert freshness.unless_current(settings, steps, _counting_run(calls)) == {"built": 3}


def _write_scores(settings, term: str) -> None:
    """What scoring_jobs.term_scores does at its end: replace a term's partition of the scores."""
    con = tables.connect(settings)
    try:
        tables.write_frame(con, settings, "respondent_scores", {"school_year": "2024-25", "term": term},
                           pd.DataFrame({"school_year": ["2024-25"], "term": [term], "theta": [0.5]}))
    finally:
        con.close()


def test_a_write_of_the_scoring_jobs_makes_what_reads_the_scores_stale_and_nothing_else(leap_env):
    settings, calls = leap_env, []
    tables.ensure_scoring_tables(settings)
    score_marts = {"scores": lambda con: freshness.scores(settings)}
    term = {"score:2024-25:fall": lambda con: freshness.score_term(settings, "2024-25", "fall", None)}
    freshness.unless_current(settings, score_marts, _counting_run(calls))
    freshness.unless_current(settings, term, _counting_run(calls))
    tables.ensure_scoring_tables(settings)  # a build writes missing schema files: not a change of the scores
    assert freshness.unless_current(settings, score_marts, _counting_run(calls))["skipped"] == "up to date"
    _write_scores(settings, "fall")
    assert freshness.unless_current(settings, term, _counting_run(calls))["skipped"] == "up to date"
    assert "skipped" not in freshness.unless_current(settings, score_marts, _counting_run(calls))
    assert len(calls) == 3


def test_a_new_item_bank_makes_the_scoring_of_every_term_stale(leap_env):
    settings, calls = leap_env, []
    term = {"score:2024-25:fall": lambda con: freshness.score_term(settings, "2024-25", "fall", None)}
    freshness.unless_current(settings, term, _counting_run(calls))
    con = tables.connect(settings)
    try:
        tables.write_frame(con, settings, "item_bank_calibrations", {"calibration_id": "c1"},
                           pd.DataFrame({"calibration_id": ["c1"], "component": ["LF"]}))
    finally:
        con.close()
    assert "skipped" not in freshness.unless_current(settings, term, _counting_run(calls))
    assert len(calls) == 2


def test_a_new_term_leaves_the_other_terms_calibration_and_scoring_current(leap_env):
    """Calibrating or scoring fall reads fall's rows only: spring's files arriving (the warehouse changes)
    leave both current; a new fall file, or a change of the base (an enrolment file), does not."""
    settings, calls = leap_env, []
    _lake_file(settings, "a.parquet")
    fall = {"calibration:2024-25:fall:pcm": lambda con: freshness.calibration(settings, "2024-25", "fall", "pcm"),
            "score:2024-25:fall": lambda con: freshness.score_term(settings, "2024-25", "fall", None)}
    spring = {"score:2024-25:spring": lambda con: freshness.score_term(settings, "2024-25", "spring", None)}
    freshness.unless_current(settings, fall, _counting_run(calls))
    freshness.unless_current(settings, spring, _counting_run(calls))
    warehouse = freshness.warehouse(settings)
    path = settings.layout.validated / "instrument=student/school_year=2024-25/term=spring" / "s.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")
    assert freshness.warehouse(settings) != warehouse  # the warehouse is rebuilt for spring ...
    assert freshness.unless_current(settings, fall, _counting_run(calls))["skipped"] == "up to date"  # ... not fall
    assert "skipped" not in freshness.unless_current(settings, spring, _counting_run(calls))
    _lake_file(settings, "b.parquet")  # a new fall file
    assert "skipped" not in freshness.unless_current(settings, fall, _counting_run(calls))
    settings.layout.inputs.mkdir(parents=True, exist_ok=True)
    (settings.layout.inputs / "enrolment.csv").write_text("school_id\n")  # the base: every term
    assert "skipped" not in freshness.unless_current(settings, fall, _counting_run(calls))
    assert "skipped" not in freshness.unless_current(settings, spring, _counting_run(calls))
    assert len(calls) == 6


def test_a_failing_step_records_nothing_and_runs_again(leap_env):
    settings = leap_env
    steps = {"warehouse": lambda con: freshness.warehouse(settings)}

    def boom() -> dict:
        raise RuntimeError("dbt failed")

    with pytest.raises(RuntimeError):
        freshness.unless_current(settings, steps, boom)
    calls: list = []
    freshness.unless_current(settings, steps, _counting_run(calls))
    assert calls == [1]


def test_a_new_warehouse_forgets_every_stamp(leap_env):
    settings, calls = leap_env, []
    steps = {"warehouse": lambda con: freshness.warehouse(settings)}
    freshness.unless_current(settings, steps, _counting_run(calls))
    os.remove(settings.layout.warehouse)  # stamps live in the warehouse: deleting it forgets them
    freshness.unless_current(settings, steps, _counting_run(calls))
    assert calls == [1, 1]


def test_the_code_fingerprint_changes_with_a_model_and_ignores_caches(tmp_path, monkeypatch):
    for top in stamps.CODE_DIRS:
        (tmp_path / top / "__pycache__").mkdir(parents=True)
    model = tmp_path / "dbt_project" / "fct.sql"
    model.write_text("select 1")
    monkeypatch.setattr(stamps, "REPO", tmp_path)

    def fresh() -> str:
        monkeypatch.setattr(stamps, "_code", None)
        return stamps.code_fingerprint()

    first = fresh()
    (tmp_path / "leap" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    (tmp_path / "dbt_project" / "notes.txt").write_text("not code")
    assert fresh() == first
    model.write_text("select 2")
    assert fresh() != first


def test_new_scores_rebuild_what_reads_them_and_not_the_item_marts(leap_env):
    """build_scores selects source:scoring+; the school item marts and the classroom report compare
    schools with the item benchmark only, so they must stay out of that selection (at a million
    submissions they are 40 s of a 65 s build)."""
    from dbt_project.runner import dbt
    from leap.orchestration.tasks import GROWTH_MODELS, SCORES_SELECTION

    out = dbt(leap_env, "ls", "--select", *SCORES_SELECTION, "--resource-type", "model", "--output", "name",
              quiet=True).stdout
    models = {line.strip() for line in out.splitlines() if line.strip().startswith(("fct_", "int_", "rpt_", "stg_"))}
    assert set(GROWTH_MODELS) <= models  # build_scores records the growth stamp: it builds them
    assert {"fct_respondent_scores", "fct_school_scale_scores", "fct_school_growth", "fct_national_benchmarks",
            "int_national_scale_benchmarks", "fct_school_subgroup_scores"} <= models
    assert not models & {"fct_school_item_top_box", "rpt_classroom_items", "int_national_item_benchmarks",
                         "fct_item_top_box_shares", "int_school_item_shares"}
