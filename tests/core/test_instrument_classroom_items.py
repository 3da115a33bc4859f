"""items.csv: is_classroom_indicator, and instrument directories from before the column still load."""

from __future__ import annotations

import csv
import shutil

import pyarrow as pa
import pytest

from leap.instrument import BASE_COLUMNS, BASE_FIELDS, DEFAULT_DIR, load_catalog


def test_teacher_items_are_classroom_indicators_student_items_are_not():
    catalog = load_catalog()
    for ins in catalog.instruments.values():
        flags = {i.is_classroom_indicator for i in ins.items}
        # The illustrative teacher bank asks only about the teacher's own students and class practice.
        assert flags == ({True} if ins.respondent_type == "teacher" else {False}), ins.name


def _copy_without_column(tmp_path, value: str | None = None):
    target = tmp_path / "def"
    shutil.copytree(DEFAULT_DIR, target)
    path = target / "items.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    columns = [c for c in rows[0] if c != "is_classroom_indicator" or value is not None]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([r | {"is_classroom_indicator": value} if value is not None else r for r in rows])
    return target


def test_an_items_file_without_the_column_loads_with_false(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAP_INSTRUMENT_DIR", str(_copy_without_column(tmp_path)))
    catalog = load_catalog()
    assert catalog.instruments and not any(i.is_classroom_indicator for ins in catalog.instruments.values()
                                           for i in ins.items)


def test_a_bad_flag_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAP_INSTRUMENT_DIR", str(_copy_without_column(tmp_path, "yes")))
    with pytest.raises(ValueError, match="is_classroom_indicator must be true or false"):
        load_catalog()


def test_raw_schema_has_a_nullable_list_of_section_ids_after_the_demographics():
    field = next(f for f in BASE_FIELDS if f.name == "classroom_ids")
    assert field.type == pa.list_(pa.string()) and field.nullable
    assert BASE_COLUMNS.index("classroom_ids") == BASE_COLUMNS.index("parent_education") + 1
