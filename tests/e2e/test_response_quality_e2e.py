"""Seeded bad batches through the whole pipeline (broker, ingestion, GE, dbt): a batch of straight-liners
answering 4 everywhere, one answering 0 everywhere, real submissions re-sent under new submission and
respondent ids, and real answers given in 1 second per item (speeders). Each passes validation (every value is legal), is caught by the response-quality checks
(int_response_quality) and has none of its rows in the estimates, while the school's genuine respondents
stay (neighbours are not quarantined)."""

from __future__ import annotations

import json
import random
import uuid

import duckdb
import pytest

from expectations.runner import run_validation
from ingestion.consumer import run_ingestion
from ingestion.producer import produce
from leap.orchestration.tasks import run_dbt
from simulator import SimConfig, simulate

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

YEAR = "2024-25"


def _student_fall(sim) -> list[dict]:
    return [json.loads(r.value) for r in sim.records if r.kind == "original"
            and json.loads(r.value)["instrument"] == "student" and json.loads(r.value)["term"] == "fall"]


def _copies(events: list[dict], n: int, rng: random.Random, answer: int | None, tag: str,
            seconds_per_item: float | None = None) -> list[dict]:
    """``n`` new submissions (new submission and respondent ids) from ``events``: every answer
    ``answer``, or (None) the very answers of the originals; with ``seconds_per_item``, answered that
    fast (and each answer vector made unique, so only the speed gives them away)."""
    out = []
    for k in range(n):
        e = json.loads(json.dumps(events[k % len(events)]))
        e.update(submission_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                 respondent_id=f"S-{e['school_id']}-{tag}-{k}")
        if answer is not None:
            e["responses"] = dict.fromkeys(e["responses"], answer)
        if seconds_per_item is not None:
            items = sorted(e["responses"])
            e["responses"] = {i: rng.randint(0, 3) for i in items}
            e["duration_seconds"] = seconds_per_item * len(items)
        out.append(e)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, kafka_server):
    from support.kafka import shared_platform

    with shared_platform(kafka_server, tmp_path_factory.mktemp("quality") / "data", "55" * 32) as settings:
        sim = simulate(SimConfig(seed=8, resubmission_share=0.0, double_answer_share=0.0).with_total_schools(8))
        fall = _student_fall(sim)
        schools = sorted({e["school_id"] for e in fall})
        by_school = {s: [e for e in fall if e["school_id"] == s] for s in schools}
        rng = random.Random(3)
        bad = {"all_fours": _copies(by_school[schools[0]], 40, rng, 4, "x4"),
               "all_zeros": _copies(by_school[schools[1]], 40, rng, 0, "x0"),
               "resent": _copies(by_school[schools[2]][:30], 30, rng, None, "dup"),
               "speeders": _copies(by_school[schools[3]], 25, rng, None, "fast", seconds_per_item=1.0)}
        records = [(r.key, r.value) for r in sim.records]
        records += [(e["school_id"].encode(), json.dumps(e).encode()) for batch in bad.values() for e in batch]
        produce(records, settings, progress=False)
        run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
        validation = run_validation(settings)
        run_dbt(settings)
        yield settings, sim, bad, by_school, validation


def _q(settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.layout.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_bad_batches_pass_validation(built):
    _, _, _, _, validation = built
    assert not validation.quarantined  # every value is legal: only their pattern gives them away


def test_each_bad_batch_is_caught_and_out_of_the_estimates(built):
    settings, _, bad, _, _ = built
    ids = {name: {e["submission_id"] for e in batch} for name, batch in bad.items()}
    flagged = dict(_q(settings, "select submission_id, exclusion_reason from intermediate.int_response_quality "
                                "where is_excluded"))
    assert {flagged.get(i) for i in ids["all_fours"] | ids["all_zeros"]} == {"straightline_batch"}
    assert {flagged.get(i) for i in ids["resent"]} == {"duplicate_content"}
    assert {flagged.get(i) for i in ids["speeders"]} == {"too_fast"}
    assert set(flagged) == set().union(*ids.values())  # nothing genuine excluded
    counted = {r[0] for r in _q(settings, "select submission_id from intermediate.int_respondents")}
    in_responses = {r[0] for r in _q(settings, "select distinct submission_id from intermediate.int_responses_unpivoted")}
    assert not (counted | in_responses) & set().union(*ids.values())
    (row,) = _q(settings, f"""select sum(n_excluded_straightline_batch), sum(n_excluded_duplicate_content),
        sum(n_too_fast), sum(n_excluded), sum(n_with_duration) = sum(n_submissions)
        from marts.fct_response_quality where school_year = '{YEAR}' and term = 'fall' and instrument = 'student'""")
    assert row == (80, 30, 25, 135, True)


def test_the_schools_genuine_respondents_stay_in_their_marts(built):
    """The school that got the straight-liners: its item marts count exactly its genuine students."""
    settings, _, bad, by_school, _ = built
    school = bad["all_fours"][0]["school_id"]
    genuine = len(by_school[school])
    n = _q(settings, f"""select max(n_respondents) from marts.fct_school_item_top_box where school_id = '{school}'
        and instrument = 'student' and term = 'fall'""")[0][0]
    assert n == genuine
