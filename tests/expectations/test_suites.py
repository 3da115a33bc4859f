"""The committed suites are generated from the instrument definition and stay in sync with it."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from expectations import suites
from expectations.config import load_thresholds
from leap.instrument import DEFAULT_DIR, load_catalog


def test_committed_suites_match_the_definition():
    assert suites.drift() == {}, "run `leap validate suites --write` and commit expectations/suites/"


def test_every_item_and_required_column_is_guarded():
    catalog = load_catalog()
    for name in catalog.names:
        doc = json.loads((suites.suites_dir() / f"{suites.suite_name(name)}.json").read_text())
        checks = {e["meta"]["check"] for e in doc["expectations"]}
        by_check = {e["meta"]["check"]: e["kwargs"] for e in doc["expectations"]}
        assert set(by_check["categories"]["value_sets"]) == set(catalog.item_columns(name))
        assert by_check["skips"]["columns"] == catalog.item_columns(name)
        assert "respondent_key" in by_check["not_null"]["columns"]
        assert {"schema.columns", "schema.types", "unique.submission_id", "not_null", "categories", "skips",
                "window.submitted_at", "answered_share", "batch.row_count", "batch.school_flood",
                "domain.instrument", "domain.term", "domain.school_year", "domain.grade_band",
                "domain.sample"} <= checks


def test_suites_load_into_great_expectations_without_losing_expectations():
    from expectations.engine import gx

    for loaded in suites.load_suites().values():
        suite = gx().ExpectationSuite(**loaded.doc)
        assert len(suite.expectations) == len(loaded.doc["expectations"])


def test_generation_is_deterministic():
    assert suites.generate() == suites.generate()


def test_thresholds_come_from_the_versioned_file():
    version, th = load_thresholds()
    assert version >= 1 and set(th) == set(load_catalog().names)
    doc = json.loads((suites.suites_dir() / "raw_teacher_submissions.json").read_text())
    flood = next(e for e in doc["expectations"] if e["meta"]["check"] == "batch.school_flood")
    assert flood["kwargs"]["max_count"] == th["teacher"].max_submissions_per_school


def test_a_new_item_needs_no_hand_written_expectation(tmp_path, monkeypatch):
    """Add an item to the definition: the generated suite guards it, the committed one is stale."""
    shutil.copytree(DEFAULT_DIR, tmp_path / "def")
    with (tmp_path / "def" / "items.csv").open("a", newline="") as fh:
        csv.writer(fh).writerow(["teacher", "1.0", "t_new01", "LF", "99", "students5", "3", "A new item"])
    monkeypatch.setenv("LEAP_INSTRUMENT_DIR", str(tmp_path / "def"))
    assert suites.drift() == {"raw_teacher_submissions.json": "differs"}
    doc = json.loads(suites.generate()["raw_teacher_submissions.json"])
    by_check = {e["meta"]["check"]: e["kwargs"] for e in doc["expectations"]}
    assert by_check["categories"]["value_sets"]["t_new01"] == [0, 1, 2, 3, 4]
    assert "t_new01" in by_check["skips"]["columns"] and "t_new01" in by_check["schema.columns"]["column_set"]
    from leap.errors import LeapError

    with pytest.raises(LeapError, match="do not match the instrument definition"):
        suites.load_suites()


def test_missing_thresholds_for_an_instrument_is_an_error(tmp_path, monkeypatch):
    from leap.errors import LeapError

    shutil.copytree(suites.suites_dir().parent, tmp_path / "exp", ignore=shutil.ignore_patterns("uncommitted"))
    path = tmp_path / "exp" / "thresholds.yml"
    path.write_text(path.read_text().replace("  student: {}\n", ""))
    monkeypatch.setenv("LEAP_EXPECTATIONS_DIR", str(tmp_path / "exp"))
    with pytest.raises(LeapError, match="no thresholds for instrument"):
        suites.generate()
