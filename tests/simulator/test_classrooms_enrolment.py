"""Class sections and enrolment in the simulator: events carry classroom_ids that land in the raw table,
sections are realistic, the earlier draws did not move, and the enrolment (roster) output."""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from ingestion.contract import check_submission_ex
from ingestion.decode import decode_run
from ingestion.pseudonym import Pseudonymizer
from leap.cli import main
from leap.instrument import load_catalog
from simulator import EnrolmentRow, SimConfig, simulate, write_enrolment

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events_v1_before_classrooms.jsonl"
YEAR = SimConfig(seed=5).with_total_schools(30)  # default school sizes: 12 teachers, 60 students


_RESULTS: dict[str, object] = {}


def _result(config: SimConfig):
    """One simulation per config in this module (SimConfig holds a dict, so it is not hashable)."""
    key = repr(config)
    if key not in _RESULTS:
        _RESULTS[key] = simulate(config)
    return _RESULTS[key]


def _events(config: SimConfig) -> list[dict]:
    return [orjson.loads(r.value) for r in _result(config).records if r.kind == "original"]


def test_an_event_with_classroom_ids_validates_and_reaches_the_raw_table():
    catalog = load_catalog()
    records = [r for r in _result(YEAR).records if r.valid]
    with_ids = [r for r in records if b'"classroom_ids"' in r.value]
    assert with_ids
    event, plain = check_submission_ex(with_ids[0].value, catalog)
    assert plain and event["classroom_ids"]
    run = decode_run([(i, r.key, r.value) for i, r in enumerate(records[:3000])], 0, catalog,
                     Pseudonymizer(b"k" * 32))
    assert not run.rejects
    stored = {s: c for t in run.tables.values() for s, c in zip(t.column("submission_id").to_pylist(),
                                                                 t.column("classroom_ids").to_pylist(), strict=True)}
    sent = {e["submission_id"]: e.get("classroom_ids") for e in map(orjson.loads, (r.value for r in records[:3000]))}
    assert stored == sent and any(v is None for v in stored.values()) and any(stored.values())


def _sections_by_respondent(events: list[dict]) -> dict[tuple[str, str], set[tuple[str, ...]]]:
    out: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    for e in events:
        if "classroom_ids" in e:
            out[e["instrument"], e["respondent_id"]].add(tuple(e["classroom_ids"]))
    return out


def test_students_have_one_section_teachers_one_to_four_stable_across_terms():
    events = _events(YEAR)
    by_person = _sections_by_respondent(events)
    students = [s for (ins, _), s in by_person.items() if ins == "student"]
    teachers = [s for (ins, _), s in by_person.items() if ins == "teacher"]
    assert students and teachers
    assert all(len(s) == 1 and len(next(iter(s))) == 1 for s in students)  # one section, every term
    assert all(len(s) == 1 and 1 <= len(next(iter(s))) <= 4 for s in teachers)
    sizes = {len(next(iter(s))) for s in teachers}
    assert sizes == {1, 2, 3, 4}
    for e in events:
        for c in e.get("classroom_ids") or []:
            assert re.fullmatch(re.escape(e["school_id"]) + r"-C\d{2}", c), c


def test_most_sections_are_reported_on_by_several_teachers():
    events = [e for e in _events(YEAR) if e["term"] == "fall"]
    teachers_of_school: dict[str, set[str]] = defaultdict(set)
    teachers_of_section: dict[tuple[str, str], set[str]] = defaultdict(set)
    sections: set[tuple[str, str]] = set()
    for e in events:
        for c in e.get("classroom_ids") or []:
            sections.add((e["school_id"], c))
            if e["instrument"] == "teacher":
                teachers_of_section[e["school_id"], c].add(e["respondent_id"])
        if e["instrument"] == "teacher":
            teachers_of_school[e["school_id"]].add(e["respondent_id"])
    staffed = [s for s in sections if len(teachers_of_school[s[0]]) >= 8]
    assert len(staffed) > 40
    well = sum(len(teachers_of_section[s]) >= 5 for s in staffed)
    assert well / len(staffed) > 0.8, (well, len(staffed))


def test_sections_per_school_follow_students_per_classroom():
    config = dataclasses.replace(YEAR, classroom_share=1.0, students_per_classroom=15)
    students: dict[str, set[str]] = defaultdict(set)
    sections: dict[str, set[str]] = defaultdict(set)
    for e in _events(config):
        if e["instrument"] == "student":
            students[e["school_id"]].add(e["respondent_id"])
            sections[e["school_id"]].update(e["classroom_ids"])
    members: dict[str, set[str]] = defaultdict(set)
    for e in _events(config):
        if e["instrument"] == "student":
            members[e["classroom_ids"][0]].add(e["respondent_id"])
    for school, people in students.items():
        assert len(sections[school]) == max(2, round(len(people) / 15)), school
        sizes = [len(members[c]) for c in sections[school]]
        assert max(sizes) - min(sizes) <= 1, (school, sizes)  # dealt round the roster: equal sections


def test_classroom_share_is_the_share_of_respondents_sending_them():
    events = _events(YEAR)
    people = {(e["instrument"], e["respondent_id"]): "classroom_ids" in e for e in events}
    assert 0.94 < sum(people.values()) / len(people) < 0.99
    none = dataclasses.replace(YEAR.with_total_schools(4), classroom_share=0.0)
    assert not any("classroom_ids" in e for e in _events(none))


def test_earlier_draws_did_not_move():
    """The fixture was written by the simulator before classrooms: the same config gives the same events
    apart from the new fields (classroom draws and durations are on their own, new random streams)."""
    before = FIXTURE.read_bytes().splitlines()
    now = [orjson.loads(r.value) for r in simulate(SimConfig(seed=7).with_total_schools(3)).records
           if r.valid and r.kind == "original"]
    assert any("classroom_ids" in e for e in now)
    assert all(e["duration_seconds"] > 20 for e in now)
    stripped = [orjson.dumps({k: v for k, v in e.items() if k not in ("classroom_ids", "duration_seconds")})
                for e in now]
    assert stripped == before[:len(stripped)] and len(before) - len(stripped) == 4  # + 4 hand-made edge events


# --------------------------------------------------------------------------- enrolment


def test_enrolment_is_respondents_over_the_school_response_rate():
    result = _result(YEAR)
    rows = result.enrolment()
    assert rows and all(isinstance(r, EnrolmentRow) for r in rows)
    assert rows == sorted(rows, key=lambda r: (r.school_id, YEAR.terms.index(r.term), YEAR.instruments.index(
        r.instrument)))
    answered: dict[tuple, set[str]] = defaultdict(set)
    for e in _events(YEAR):
        answered[e["school_id"], e["school_year"], e["term"], e["instrument"]].add(e["respondent_id"])
    assert {r[:4] for r in rows} == set(answered)
    for r in rows:
        n = len(answered[r[:4]])
        assert r.expected_respondents == math.ceil(n / result.response_rates[r.school_id]) >= n


def test_response_rates_mostly_60_to_95_percent_a_tenth_below_half():
    rates = list(simulate(SimConfig(seed=1).with_total_schools(400)).response_rates.values())
    assert len(rates) == 400
    assert 0.05 < sum(r < 0.5 for r in rates) / 400 < 0.16
    assert sum(0.6 <= r <= 0.95 for r in rates) / 400 > 0.6
    assert all(0 < r <= 1 for r in rates)


def test_enrolment_is_deterministic_and_independent_of_the_classroom_settings():
    a = _result(YEAR).enrolment()
    b = simulate(dataclasses.replace(YEAR, classroom_share=0.5, students_per_classroom=30)).enrolment()
    assert a == b


def test_write_enrolment_csv(tmp_path):
    rows = _result(YEAR).enrolment()
    path = tmp_path / "enrolment.csv"
    assert write_enrolment(rows, path) == len(rows)
    with path.open(newline="") as fh:
        back = list(csv.reader(fh))
    assert back[0] == ["school_id", "school_year", "term", "instrument", "expected_respondents"]
    assert back[1:] == [[*r[:4], str(r[4])] for r in rows]


def test_cli_simulate_writes_enrolment(tmp_path, capsys):
    out, enrolment = tmp_path / "sim.jsonl", tmp_path / "roster" / "enrolment.csv"
    assert main(["simulate", "--seed", "4", "--schools", "3", "--out", str(out), "--enrolment", str(enrolment)]) == 0
    lines = enrolment.read_text().splitlines()
    assert lines[0] == "school_id,school_year,term,instrument,expected_respondents" and len(lines) == 1 + 3 * 2 * 2
    assert f"wrote {len(lines) - 1} enrolment rows" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [{"students_per_classroom": 0}, {"classroom_share": 1.5}])
def test_bad_classroom_settings_are_refused(bad):
    from leap.errors import LeapError

    with pytest.raises(LeapError):
        dataclasses.replace(YEAR, **bad).validate()
