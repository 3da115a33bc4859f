"""The survey-submission simulator: determinism, validity as the validator sees it, realism, truth, CLI.

No broker needed; the whole file runs in a few seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from support.sim import SMALL, small_result, valid_events

from ingestion.contract import REASONS, Rejected, check_submission
from leap.cli import main
from leap.instrument import load_catalog, term_window
from simulator import SimConfig, simulate


@pytest.fixture(scope="module")
def result():
    return small_result()


@pytest.fixture(scope="module")
def events(result):
    return valid_events(result)


def _digest(records) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(r.key or b"")
        h.update(b"\x00")
        h.update(r.value)
        h.update(b"\x01")
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(result):
    again = simulate(SMALL)
    assert _digest(again.records) == _digest(result.records)
    assert again.truth.to_dict() == result.truth.to_dict()
    other = simulate(dataclasses.replace(SMALL, seed=12))
    assert _digest(other.records) != _digest(result.records)


def test_every_record_gets_the_verdict_it_declares(result):
    catalog = load_catalog()
    seen = defaultdict(int)
    for rec in result.records:
        assert b"\n" not in rec.value
        if rec.valid:
            event = check_submission(rec.value, catalog)
            assert rec.key == event["school_id"].encode()
        else:
            with pytest.raises(Rejected) as exc:
                check_submission(rec.value, catalog)
            assert exc.value.reason == rec.reason, (rec.value[:200], exc.value.detail)
            seen[rec.reason] += 1
    assert set(seen) == set(REASONS)  # every dead-letter reason occurs
    assert dict(seen) == {r: n for r, n in result.malformed.items() if n}


def test_counts(result):
    kinds = defaultdict(int)
    for rec in result.records:
        kinds[rec.kind] += 1
    ids = {orjson.loads(r.value)["submission_id"] for r in result.records if r.valid}
    assert result.produced == len(result.records)
    assert result.valid_unique == len(ids) == kinds["original"] + kinds["double_answer"]
    assert result.resubmitted == kinds["resubmission"] > 0
    assert 0.02 < sum(result.malformed.values()) / result.produced < 0.04
    respondents = result.counts["respondents"]
    assert set(respondents) == {"teacher/fall", "teacher/spring", "student/fall", "student/spring"}


def test_no_malformed_records_by_default():
    res = simulate(SimConfig(seed=3, n_schools={"national": 2, "nextgen": 1, "leap_network": 1}))
    assert all(r.valid for r in res.records)
    assert sum(res.malformed.values()) == 0


def test_resubmissions_are_byte_identical_and_follow_their_original(result):
    first_at = {}
    for pos, rec in enumerate(result.records):
        sid = orjson.loads(rec.value)["submission_id"] if rec.valid else None
        if rec.kind == "resubmission":
            assert sid in first_at
            original_pos, original_value = first_at[sid]
            assert original_value == rec.value
            assert pos > original_pos
        elif rec.valid:
            assert sid not in first_at  # ids are unique apart from resubmissions
            first_at[sid] = (pos, rec.value)


def test_double_answers_same_respondent_new_id_later_same_term(result):
    by_person = defaultdict(list)
    for rec in result.records:
        if rec.kind in ("original", "double_answer"):
            e = orjson.loads(rec.value)
            by_person[(e["instrument"], e["school_id"], e["respondent_id"], e["term"])].append((rec.kind, e))
    doubles = [v for v in by_person.values() if len(v) > 1]
    assert doubles
    for subs in doubles:
        assert [k for k, _ in subs] == ["original", "double_answer"]
        (_, first), (_, second) = subs
        assert first["submission_id"] != second["submission_id"]
        assert second["submitted_at"] > first["submitted_at"]


def test_submitted_at_inside_the_term_window(events):
    for e in events:
        ts = datetime.fromisoformat(e["submitted_at"])
        assert e["submitted_at"].endswith("Z")
        start, end = term_window(e["school_year"], e["term"])
        assert start <= ts.astimezone(UTC).date().isoformat() <= end


def test_weights_only_on_the_national_sample(events):
    for e in events:
        if e["sample"] == "national":
            assert e["weight"] > 0
        else:
            assert "weight" not in e


def test_schools_and_respondents_are_consistent(events, result):
    schools = {s["school_id"]: s for s in result.truth.schools}
    bands = {"elementary": range(3, 6), "middle": range(6, 9), "high": range(9, 13)}
    for e in events:
        school = schools[e["school_id"]]
        assert (e["sample"], e["grade_band"], e["region"]) == (school["sample"], school["grade_band"],
                                                              school["region"])
        assert e["respondent_id"].startswith(f"{e['instrument'][0].upper()}-{e['school_id']}-")
        if "demographics" in e:
            assert e["instrument"] == "student"
            assert e["demographics"]["grade"] in bands[e["grade_band"]]
    fall = {e["respondent_id"] for e in events if e["term"] == "fall"}
    spring = {e["respondent_id"] for e in events if e["term"] == "spring"}
    assert 0.8 < len(fall & spring) / len(fall) < 0.97  # stable ids; attrition about 10%
    assert spring - fall  # new arrivals


def test_truth_covers_items_schools_and_respondents(result, tmp_path):
    truth = result.truth
    catalog = load_catalog()
    for name in ("teacher", "student"):
        thr = truth.item_thresholds(name)
        assert list(thr) == catalog.latest(name).item_ids
        assert all(np.all(np.diff(t) > 0) for t in thr.values())  # ordered steps
    school = truth.schools[0]
    assert set(school["mean_theta"]) == {"fall", "spring"}
    for c, g in school["growth"].items():
        assert school["mean_theta"]["spring"][c] - school["mean_theta"]["fall"][c] == pytest.approx(g)
    e = next(orjson.loads(r.value) for r in result.records if r.valid)
    assert set(truth.theta(e["instrument"], e["respondent_id"], e["term"])) == {"LF", "LD", "LL", "LC"}
    assert orjson.loads(truth.write(tmp_path / "truth.json").read_bytes())["seed"] == SMALL.seed
    directory = truth.write(tmp_path / "truth")
    assert {p.name for p in directory.iterdir()} == {"items.parquet", "schools.parquet", "respondents.parquet"}


def test_partial_credit_model_sanity():
    """Harder items get lower answers; schools that truly grow more show larger raw-score gains."""
    res = simulate(SimConfig(seed=5, n_schools={"national": 24, "nextgen": 8, "leap_network": 8},
                             teachers_per_school=0, students_per_school=60, skip_share=0.0))
    catalog = load_catalog()
    ids = catalog.latest("student").item_ids
    rows = [orjson.loads(r.value) for r in res.records if r.kind == "original"]
    matrix = np.array([[e["responses"][i] for i in ids] for e in rows], dtype=float)
    location = np.array([t["location"] for t in res.truth.items if t["instrument"] == "student"])
    assert np.corrcoef(location, matrix.mean(axis=0))[0, 1] < -0.8
    raw = defaultdict(lambda: defaultdict(list))
    for e, scores in zip(rows, matrix.mean(axis=1), strict=True):
        raw[e["school_id"]][e["term"]].append(scores)
    gain = {s: np.mean(t["spring"]) - np.mean(t["fall"]) for s, t in raw.items()}
    growth = {s["school_id"]: np.mean(list(s["growth"].values())) for s in res.truth.schools}
    schools = sorted(gain)
    assert np.corrcoef([growth[s] for s in schools], [gain[s] for s in schools])[0, 1] > 0.6


def test_scaled_to_reaches_the_target_roughly():
    config = SimConfig(seed=1).scaled_to(20_000)
    res = simulate(config)
    assert 17_000 < res.produced < 23_000


def test_cli_simulate_writes_jsonl_and_truth(tmp_path, capsys):
    out, truth = tmp_path / "out" / "sim.jsonl", tmp_path / "truth.json"
    code = main(["simulate", "--seed", "4", "--schools", "4", "--teachers-per-school", "3",
                 "--students-per-school", "10", "--malformed-share", "0.02", "--out", str(out),
                 "--truth", str(truth)])
    assert code == 0
    lines = out.read_bytes().splitlines()
    assert lines and truth.exists()
    assert f"wrote {len(lines)} records" in capsys.readouterr().out


def test_cli_unwritable_out_fails_cleanly(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = main(["simulate", "--schools", "3", "--out", str(blocker / "sim.jsonl")])
    err = capsys.readouterr().err
    assert code != 0
    assert "error:" in err and "sim.jsonl" in err and "Traceback" not in err


def test_cli_bad_arguments_fail_cleanly(tmp_path, capsys):
    assert main(["simulate", "--school-year", "2024-26", "--out", str(tmp_path / "x.jsonl")]) != 0
    assert main(["simulate", "--malformed-share", "2", "--out", str(tmp_path / "x.jsonl")]) != 0
    assert main(["produce", str(tmp_path / "missing.csv")]) != 0
    assert capsys.readouterr().err.count("error:") == 3


def test_simulated_demographics_are_levels_of_the_instrument_vocabulary():
    """The simulator draws only levels the warehouse knows (else they would all be 'other_unknown')."""
    from leap.instrument import demographic_levels
    from simulator.config import DEMOGRAPHICS

    vocabulary = demographic_levels()
    assert set(DEMOGRAPHICS) == set(vocabulary)
    for variable, shares in DEMOGRAPHICS.items():
        assert set(shares) <= set(vocabulary[variable]) and "other_unknown" in vocabulary[variable], variable
