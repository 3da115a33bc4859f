"""The simulation itself: responses from the partial credit model, encoded as v1 events in stream order."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson

from ingestion.contract import REASONS
from leap.errors import LeapError
from leap.instrument import Catalog, Instrument, load_catalog
from simulator.config import COMPONENTS, MS_PER_DAY, SimConfig
from simulator.malformed import malformed
from simulator.population import (
    _assign_classrooms,
    _draw_people,
    _draw_schools,
    _draw_slots,
    _draw_thresholds,
    _People,
    _response_rates,
    _Schools,
    _Streams,
    _submission_times,
    _term_fraction,
    _thetas,
    _weights,
    submission_ids,
)
from simulator.result import SimRecord, SimulationResult
from simulator.truth import Truth


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: the simulation allocates millions of acyclic objects, and
    collections triggered by them cost a quarter of the run time. The previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def simulate(config: SimConfig | None = None, catalog: Catalog | None = None) -> SimulationResult:
    """Simulate one school year of submissions; deterministic in ``config`` (and the instrument data)."""
    with _gc_paused():
        return _simulate(config or SimConfig(), catalog)


def _simulate(config: SimConfig, catalog: Catalog | None) -> SimulationResult:
    config.validate()
    catalog = catalog or load_catalog()
    rng = _Streams.from_seed(config.seed)
    instruments = [catalog.latest(name) for name in config.instruments]
    thresholds = {ins.name: _draw_thresholds(ins, rng.items) for ins in instruments}
    schools = _draw_schools(config, rng.schools)
    people = {ins.name: _draw_people(config, ins, schools, rng.people) for ins in instruments}
    slots = {term: _draw_slots(config.school_year, term, len(schools), rng.timing) for term in config.terms}
    _assign_classrooms(config, schools, people, rng.classrooms)
    pending: list[tuple] = []
    for t, term in enumerate(config.terms):
        for ins in instruments:
            pending += _term_block(config, schools, people[ins.name], thresholds[ins.name], t, slots[term], rng)
    pending += _resubmissions(pending, config.resubmission_share, rng.extras)
    pending += malformed(pending, config.malformed_share, catalog, rng.malformed)
    pending.sort(key=lambda r: (r[0], r[1]))
    records = [SimRecord(key, value, kind, reason) for _, _, key, value, kind, reason in pending]
    truth = _truth(config, instruments, thresholds, schools, people)
    rates = dict(zip(schools.ids, _response_rates(len(schools), rng.enrolment).tolist(), strict=True))
    return SimulationResult(config, records, truth, _counts(records, people, config, len(schools)),
                            _respondents(config, schools, people), rates)




def draw_pcm(theta: np.ndarray, thresholds: np.ndarray, rng: np.random.Generator,
             chunk: int = 20_000) -> np.ndarray:
    """Partial credit model draws: ``theta`` (n, I) per person × item, ``thresholds`` (I, M) NaN-padded.

    P(X = k) ∝ exp(k·θ − Σ_{j≤k} δ_ij). Returns int8 (n, I) categories.
    """
    n_items, steps = thresholds.shape
    eta = np.concatenate([np.zeros((n_items, 1)), np.cumsum(np.nan_to_num(thresholds), axis=1)], axis=1)
    valid = np.concatenate([np.ones((n_items, 1), bool), ~np.isnan(thresholds)], axis=1)
    cats = np.arange(steps + 1, dtype=float)
    out = np.empty(theta.shape, dtype=np.int8)
    for lo in range(0, theta.shape[0], chunk):
        t = theta[lo:lo + chunk]
        logit = np.where(valid[None], t[:, :, None] * cats - eta[None], -np.inf)
        logit -= logit.max(axis=2, keepdims=True)
        cum = np.cumsum(np.exp(logit), axis=2)
        u = rng.random((t.shape[0], n_items, 1)) * cum[:, :, -1:]
        out[lo:lo + chunk] = (u > cum).sum(axis=2)
    return out


def _term_block(config: SimConfig, schools: _Schools, people: _People, thresholds: np.ndarray, t: int,
                slots: dict, rng: _Streams) -> list[tuple]:
    """Encoded submissions of one instrument in one term: one per respondent plus the second answers."""
    term = config.terms[t]
    rows = np.flatnonzero(people.present[:, t])
    twice = np.flatnonzero(rng.extras.random(rows.size) < config.double_answer_share)
    sub_rows = np.concatenate([rows, rows[twice]])
    comp_idx = np.array([COMPONENTS.index(i.component) if i.component in COMPONENTS else 0
                         for i in people.ins.items])
    theta = _thetas(schools, people, sub_rows, _term_fraction(term))[:, comp_idx]
    resp = draw_pcm(theta, thresholds, rng.responses)
    resp[rng.responses.random(resp.shape) < people.skip_p[sub_rows, None]] = -1
    times = _submission_times(slots, people.school[rows], rng.timing)
    later = times[twice] + rng.timing.integers(600_000, 3 * MS_PER_DAY, size=twice.size)
    later = np.maximum(np.minimum(later, slots["end_ms"]), times[twice] + 1)
    times = np.concatenate([times, later])
    weights = _weights(schools, people, rows, twice)
    kinds = ["original"] * rows.size + ["double_answer"] * twice.size
    return _encode(config, schools, people, term, sub_rows, resp, times, weights, kinds, rng.timing)


def _encode(config: SimConfig, schools: _Schools, people: _People, term: str, sub_rows: np.ndarray,
            resp: np.ndarray, times: np.ndarray, weights: np.ndarray | None, kinds: list[str],
            rng: np.random.Generator) -> list[tuple]:
    """Build the v1 events as bytes: (sort_ms, seq, key, value, kind, reason) tuples."""
    ins = people.ins
    item_ids = ins.item_ids
    lookup = [*range(max(i.max_category for i in ins.items) + 1), None]  # index -1 (skipped) -> None
    stamps = [s + "Z" for s in np.datetime_as_string(times.astype("datetime64[ms]"), unit="ms").tolist()]
    sids = submission_ids(sub_rows.size, rng)
    wlist = weights.tolist() if weights is not None else None
    keys = [sid.encode() for sid in schools.ids]
    school_of = people.school[sub_rows].tolist()
    durations = _durations(resp, sids, config.seed).tolist()
    out = []
    for j, (p, row) in enumerate(zip(sub_rows.tolist(), resp.tolist(), strict=True)):
        s = school_of[j]
        event = {"submission_id": sids[j], "instrument": ins.name, "instrument_version": ins.version,
                 "school_id": schools.ids[s], "respondent_id": people.ids[p], "school_year": config.school_year,
                 "term": term, "submitted_at": stamps[j], "grade_band": schools.band[s],
                 "sample": schools.sample[s], "region": schools.region[s], "urbanicity": schools.urban[s]}
        if wlist is not None and wlist[j] == wlist[j]:  # NaN != NaN: not national
            event["weight"] = wlist[j]
        if people.demographics is not None and people.demographics[p] is not None:
            event["demographics"] = people.demographics[p]
        if people.classrooms is not None and people.classrooms[p] is not None:
            event["classroom_ids"] = people.classrooms[p]
        event["duration_seconds"] = durations[j]
        event["responses"] = dict(zip(item_ids, map(lookup.__getitem__, row), strict=True))
        out.append((int(times[j]), 0, keys[s], orjson.dumps(event), kinds[j], None))
    return out


def _durations(resp: np.ndarray, sids: list[str], seed: int) -> np.ndarray:
    """Seconds each respondent took: 20 s of instructions plus, per answered item, a lognormal time
    (median 7 s, sigma 0.35) floored at 3 s, so no simulated respondent is a speeder (the response-quality
    rule flags < 2 s per item; tests seed speeders themselves). Drawn from a generator of its own, seeded by
    the block's first submission id, so the other streams (answers, times, ids) are as without it."""
    if not sids:
        return np.zeros(0)
    rng = np.random.default_rng([seed, int(sids[0][:8], 16)])
    per_item = np.maximum(3.0, rng.lognormal(np.log(7.0), 0.35, size=len(sids)))
    return np.round(20.0 + per_item * (resp >= 0).sum(axis=1), 1)


def _resubmissions(pending: list[tuple], share: float, rng: np.random.Generator) -> list[tuple]:
    """The same bytes sent again 1 s – 2 min later (a client retry)."""
    if share <= 0 or not pending:
        return []
    picks = np.flatnonzero(rng.random(len(pending)) < share)
    delays = rng.integers(1_000, 120_000, size=picks.size)
    return [(pending[i][0] + int(d), 1, pending[i][2], pending[i][3], "resubmission", None)
            for i, d in zip(picks.tolist(), delays.tolist(), strict=True)]


# --------------------------------------------------------------------------- truth and counts


def _truth(config: SimConfig, instruments: list[Instrument], thresholds: dict, schools: _Schools,
           people: dict[str, _People]) -> Truth:
    items = []
    for ins in instruments:
        thr = thresholds[ins.name]
        for row, item in enumerate(ins.items):
            steps = thr[row, : item.max_category]
            items.append({"instrument": ins.name, "instrument_version": ins.version, "item_id": item.item_id,
                          "component": item.component, "location": float(steps.mean()),
                          "thresholds": steps.tolist()})
    fracs = {term: _term_fraction(term) for term in config.terms}
    school_rows = []
    for s, sid in enumerate(schools.ids):
        means = {term: dict(zip(COMPONENTS, (schools.base[s] + schools.growth[s] * f).tolist(), strict=True))
                 for term, f in fracs.items()}
        school_rows.append({"school_id": sid, "sample": schools.sample[s], "grade_band": schools.band[s],
                            "region": schools.region[s], "urbanicity": schools.urban[s], "mean_theta": means,
                            "growth": dict(zip(COMPONENTS, schools.growth[s].tolist(), strict=True))})
    return Truth(config.seed, config.school_year, tuple(config.terms), items, school_rows,
                 _respondent_truth(config, schools, people, fracs))


def _respondent_truth(config: SimConfig, schools: _Schools, people: dict[str, _People],
                      fracs: dict[str, float]) -> dict:
    cols: dict[str, list] = {"instrument": [], "school_id": [], "respondent_id": [], "term": []}
    thetas = []
    for name, ppl in people.items():
        for t, term in enumerate(config.terms):
            rows = np.flatnonzero(ppl.present[:, t])
            cols["instrument"] += [name] * rows.size
            cols["school_id"] += [schools.ids[s] for s in ppl.school[rows].tolist()]
            cols["respondent_id"] += [ppl.ids[r] for r in rows.tolist()]
            cols["term"] += [term] * rows.size
            thetas.append(_thetas(schools, ppl, rows, fracs[term]))
    theta = np.concatenate(thetas) if thetas else np.zeros((0, 4))
    out: dict = dict(cols)
    for j, c in enumerate(COMPONENTS):
        out[f"theta_{c}"] = theta[:, j].copy()
    return out


def _respondents(config: SimConfig, schools: _Schools, people: dict[str, _People]) -> list[tuple]:
    """(school_id, school_year, term, instrument, respondents) per school, term and instrument."""
    counts = {(t, name): np.bincount(ppl.school[ppl.present[:, t]], minlength=len(schools)).tolist()
              for t in range(len(config.terms)) for name, ppl in people.items()}
    by_id = sorted(range(len(schools)), key=schools.ids.__getitem__)
    return [(schools.ids[s], config.school_year, term, name, counts[t, name][s]) for s in by_id
            for t, term in enumerate(config.terms) for name in people]


def _counts(records: list[SimRecord], people: dict[str, _People], config: SimConfig, n_schools: int) -> dict:
    kinds = Counter(r.kind for r in records)
    malformed = Counter(r.reason for r in records if r.reason is not None)
    respondents = {f"{name}/{term}": int(ppl.present[:, t].sum())
                   for name, ppl in people.items() for t, term in enumerate(config.terms)}
    return {"produced": len(records), "valid_unique": kinds["original"] + kinds["double_answer"],
            "resubmitted": kinds["resubmission"], "double_answers": kinds["double_answer"],
            "malformed": {r: malformed.get(r, 0) for r in REASONS}, "schools": n_schools,
            "respondents": respondents}


# --------------------------------------------------------------------------- writers


def write_jsonl(records: Iterable, path: str | Path) -> int:
    """Write record values one per line (malformed bytes as they are); returns the line count.

    Raises LeapError when the file cannot be written.
    """
    path = Path(path)
    count = 0

    def lines() -> Iterator[bytes]:
        nonlocal count
        for rec in records:
            value = rec[1]
            if b"\n" in value:
                raise ValueError("a record value contains a newline; it cannot be one JSONL line")
            count += 1
            yield value + b"\n"

    try:
        with path.open("wb") as fh:
            fh.writelines(lines())
    except OSError as exc:
        raise LeapError(f"cannot write {path}: {exc.strerror or exc}", hint="choose a writable output path") from None
    return count

