"""Term scoring: every counted respondent of a term against an anchored calibration.

:func:`score_term` scores against a calibration (the latest one registered, or the given id): anchored
WLE, SE, scaled score/SE, level; respondents who answered fewer than ``min_answered_share``
(instruments.csv) of a scale's items are flagged, not scored. Per-item displacement goes to
``scoring.item_drift``; items past :data:`DRIFT_THRESHOLD` logits are flagged. A term's rows are one
partition file of each table, replaced whole, so re-running is idempotent. School growth is computed from these scores
by dbt (``marts.fct_school_growth``).
"""

from __future__ import annotations

import math
import os
import shutil
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from leap.config import Settings
from leap.errors import LeapError
from leap.instrument import level_order, levels
from leap.locks import scoring_lock, warehouse_lock
from leap.parallel import ordered_map, worker_count
from scoring_jobs import tables
from scoring_jobs.inputs import (
    arrow_responses,
    connect_warehouse,
    count_term,
    release_arrow_memory,
    term_record_batches,
)

__all__ = ["DRIFT_THRESHOLD", "DRIFT_Z", "drifting_items", "score_term"]

DRIFT_THRESHOLD = 0.3  # logits: the size of a displacement that matters (with DRIFT_Z, see drifting_items)
DRIFT_Z = 3.0  # |displacement / SE| a drift must also reach (one-sided tail ~0.1%: items are many)
MIN_ANCHORS = 3  # never anchor a scale on fewer items than this
MISFIT_MSQ = 2.0  # person infit or outfit mean square above this: a pattern that distorts its measure (Linacre)
# The reporting scale's nominal range: 200-300 is the reference mean +- 2.5 SD, so ~1% of respondents
# fall outside. Their scores are reported as they are, never clipped, with is_outside_reporting_range.
REPORTING_RANGE = (200.0, 300.0)
BATCH_ROWS = 200_000  # respondents read and scored at a time (a batch of 200,000 holds ~0.5 GB)
# Terms up to this many respondents are scored on LEAP_WORKERS processes, larger ones in this process: the
# ordered read of a term of 4.8 million students (ten million submissions) fills DuckDB's memory limit
# while it sorts, and with two workers beside it the scoring step peaked at 3.09 GB (2.93 GB in one
# process), over the chain's 3 GB per step.
WORKERS_MAX_TERM = 1_000_000


def _load_bank(con, calibration_id: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """A calibration's rows and thresholds, on a connection of :func:`scoring_jobs.tables.connect`."""
    if calibration_id is None:
        row = con.execute("select calibration_id from scoring.item_bank_calibrations "
                          "order by created_at desc, calibration_id desc limit 1").fetchone()
        if row is None:
            raise LeapError("no calibration in the item bank", hint="run `leap scoring calibrate` first")
        calibration_id = row[0]
    cals = con.execute("select * from scoring.item_bank_calibrations where calibration_id = ?",
                       [calibration_id]).df()
    if cals.empty:
        raise LeapError(f"unknown calibration id {calibration_id!r}", hint="list them with `leap scoring calibrations`")
    thr = con.execute("select * from scoring.item_bank_thresholds where calibration_id = ? "
                      "order by instrument, component, item_id, step", [calibration_id]).df()
    return calibration_id, cals, thr


def _bank_arrays(thr: pd.DataFrame, items: list[str]) -> tuple[np.ndarray, np.ndarray]:
    n_steps = np.array([int(thr.loc[thr["item_id"] == i, "step"].max()) for i in items])
    out = np.full((len(items), int(n_steps.max())), np.nan)
    for j, i in enumerate(items):
        t = thr[thr["item_id"] == i]
        out[j, t["step"].to_numpy() - 1] = t["threshold"].to_numpy()
    return out, n_steps


def _persons(resp: np.ndarray, need: int, thresholds: np.ndarray, n_steps: np.ndarray, keep: np.ndarray):
    """Anchored WLE of the respondents who answered at least ``need`` of the anchor items ``keep``, and
    the item sums of this batch (:class:`scoring_jobs.rasch.anchored.ItemSums`)."""
    from scoring_jobs.rasch import score_batch

    anchored = np.where(keep[None, :], resp, -1)
    n_ans = (anchored >= 0).sum(axis=1)
    ok = n_ans >= need
    persons, sums = score_batch(anchored[ok], thresholds, n_steps)
    return ok, n_ans, persons, sums


def drifting_items(table: pd.DataFrame) -> np.ndarray:
    """Items whose anchored location the term's data move by at least DRIFT_THRESHOLD logits *and*
    significantly (|displacement / SE| >= DRIFT_Z): size alone flags noise in small terms, significance
    alone flags trivial shifts in large ones. The displacement is Winsteps' one-step estimate
    ``-sum(x - E) / sum(Var)``, its SE ``1 / sqrt(sum(Var))`` (the item's information)."""
    se = 1.0 / np.sqrt(table["information"].to_numpy())
    d = table["displacement"].to_numpy()
    return (np.abs(d) >= DRIFT_THRESHOLD) & (np.abs(d) / se >= DRIFT_Z)


def _drop_from_anchors(table: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
    """The anchor set without the drifting items, largest |z| first, keeping at least MIN_ANCHORS."""
    flagged = np.flatnonzero(drifting_items(table) & keep)
    z = np.abs(table["displacement"].to_numpy() * np.sqrt(table["information"].to_numpy()))
    out = keep.copy()
    for j in flagged[np.argsort(-z[flagged])]:
        if out.sum() > MIN_ANCHORS:
            out[j] = False
    return out


class _ScaleScoring:
    """One scale of a term, scored batch by batch. The first pass anchors every item and adds up the
    item statistics over the batches; only then is the term's drift known (:func:`_drop_from_anchors`),
    and when it drops items from the anchor set the scale is scored again without them (second pass).
    The drift rows record the first pass and the decision per item. The batches are scored by
    :func:`_score_batch` (in worker processes) on the scale's :meth:`spec`; their item sums come back
    here (:meth:`add`)."""

    def __init__(self, cal: pd.Series, thr: pd.DataFrame, meta: dict):
        self.cal, self.thr, self.meta = cal, thr, meta
        self.items = list(dict.fromkeys(thr["item_id"]))  # item order as stored (sorted by item id)
        self.thresholds, self.n_steps = _bank_arrays(thr, self.items)
        self.anchors = np.ones(len(self.items), dtype=bool)
        self.sums, self.n_unscorable, self.first = None, 0, None

    def spec(self) -> _ScaleSpec:
        return _ScaleSpec(self.cal, self.items, self.thresholds, self.n_steps, self.anchors.copy(), self.meta)

    def add(self, sums, n_unscorable: int) -> None:
        """A batch's item sums (first pass only: the second pass scores, the drift is decided)."""
        if self.first is None and sums is not None:
            self.sums = sums if self.sums is None else self.sums + sums
            self.n_unscorable = self.n_unscorable + n_unscorable

    def score(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """The score rows of a batch, scored here (the item sums added)."""
        rows, sums, n_unscorable = self.spec().score(batch)
        self.add(sums, n_unscorable)
        return rows

    def finish_first_pass(self) -> bool:
        """Decide the anchors from the whole term's drift; True when the scale must be scored again."""
        self.first = self.sums.table()
        self.anchors = _drop_from_anchors(self.first, self.anchors)
        return not self.anchors.all()

    def drift(self) -> pd.DataFrame:
        return _drift_rows(self.cal, self.thr, self.items, self.meta, self.first, self.anchors, self.n_unscorable)


@dataclass(frozen=True)
class _ScaleSpec:
    """What scoring a batch on one scale needs (small, sent to a worker with each batch)."""

    cal: pd.Series
    items: list[str]
    thresholds: np.ndarray
    n_steps: np.ndarray
    anchors: np.ndarray
    meta: dict

    def score(self, batch: pa.RecordBatch | pa.Table):
        """The batch's score rows (Arrow), its item sums (:class:`~scoring_jobs.rasch.anchored.ItemSums`)
        and how many responses the bank cannot score."""
        from scoring_jobs.rasch.anchored import unscorable_as_missing

        # categories the item bank cannot score (unused in the reference data) count as missing
        resp = arrow_responses(batch, self.items).astype(np.int64)
        resp, n_unscorable = unscorable_as_missing(resp, self.thresholds, self.n_steps)
        need = max(1, math.ceil(float(self.cal["min_answered_share"]) * self.anchors.sum()))
        ok, n_ans, persons, sums = _persons(resp, need, self.thresholds, self.n_steps, self.anchors)
        return _score_rows(self.cal, batch, self.meta, resp, ok, n_ans, need, self.anchors, persons), sums, n_unscorable


def _score_batch(piece) -> tuple[str, list[tuple]]:
    """Stage a batch's score rows of each scale (an Arrow batch, ``k``-th of the instrument's term, in a
    worker process); return the instrument and each scale's item sums and unscorable count."""
    stage, name, k, batch, specs = piece
    out = []
    for spec in specs:
        rows, sums, n_unscorable = spec.score(batch)
        _stage(stage / f"{name}-{spec.cal['component']}-{k:06d}.parquet", rows)
        out.append((sums, n_unscorable))
    return name, out


def _level_orders() -> dict[str, int]:
    """{level: its order}, read once per call (instrument.level_order reads cut_scores.csv each time)."""
    return {name: level_order(name) for name in levels()}


def _score_rows(cal, batch, meta, resp, ok, n_ans, need, anchors, persons) -> pa.Table:
    """A batch's score rows as an Arrow table (the batch's text columns taken as they are: a pandas frame
    made a Python string of every id and key, twice, 1.2 s of CPU per term at a million submissions).
    A NaN measure (not scored, or no fit for an extreme score) is stored as null."""
    from scoring_jobs.rasch import CutScores, ScaleTransform, classify

    n = batch.num_rows
    theta, se, infit, outfit = (np.full(n, np.nan) for _ in range(4))
    theta[ok], se[ok], infit[ok], outfit[ok] = persons.theta, persons.se, persons.infit_msq, persons.outfit_msq
    raw = np.where((resp >= 0) & anchors[None, :], resp, 0).sum(axis=1).astype(float)
    st = ScaleTransform(float(cal["scale_intercept"]), float(cal["scale_slope"]), str(cal["scale_reference"]))
    scaled, scaled_se = st.apply(theta, se)
    cuts = CutScores(str(cal["cut_scores_version"]), float(cal["cut_moderate_low"]),
                     float(cal["cut_moderate_high"]), float(cal["cut_high"]))
    level = classify(scaled, cuts)
    accuracy, consistency = classification_quality(scaled, scaled_se, cuts)
    orders = _level_orders()
    fit = np.isfinite(infit)
    columns = {
        **{k: pa.repeat(v, n) for k, v in meta.items()}, "component": pa.repeat(cal["component"], n),
        **{k: batch.column(k) for k in ("submission_id", "respondent_key", "school_id", "grade_band", "sample",
                                        "instrument_version")},
        "n_scale_items": pa.repeat(int(anchors.sum()), n), "n_answered": pa.array(n_ans), "raw_score": pa.array(raw),
        "is_scored": pa.array(ok),
        "not_scored_reason": pa.array(np.where(ok, None, f"answered fewer than {need} of {int(anchors.sum())} items"),
                                      pa.string()),
        **{k: pa.array(v, from_pandas=True) for k, v in
           (("theta", theta), ("theta_se", se), ("scaled_score", scaled), ("scaled_se", scaled_se))},
        "level": pa.array(np.where(ok, level, None), pa.string()),
        "level_order": pa.array([orders[x] if o else None for x, o in zip(level, ok, strict=True)], pa.int32()),
        # reported unclipped (clipping would bias school means and growth), flagged
        "is_outside_reporting_range": pa.array((scaled < REPORTING_RANGE[0]) | (scaled > REPORTING_RANGE[1]),
                                               mask=~ok),
        # person fit: infit/outfit mean squares of the anchored WLE; misfitting above MISFIT_MSQ (a pattern
        # that degrades its own measure: erratic, careless or mis-keyed answers); null for extreme scores
        "infit_msq": pa.array(infit, from_pandas=True), "outfit_msq": pa.array(outfit, from_pandas=True),
        "is_misfitting": pa.array(np.maximum(infit, outfit) > MISFIT_MSQ, mask=~fit),
        "classification_accuracy": pa.array(accuracy, from_pandas=True),
        "classification_consistency": pa.array(consistency, from_pandas=True),
    }
    return pa.table(columns)


def classification_quality(scaled: np.ndarray, scaled_se: np.ndarray, cuts) -> tuple[np.ndarray, np.ndarray]:
    """Rudner's (2001) classification indices per respondent (the engine's
    :func:`scoring_jobs.rasch.classification.person_indices`) on the 200-300 scale: accuracy, that the
    true level is the reported one; consistency, that two independent administrations agree. The level
    bands are narrow against the person SE, which is why these are reported: a school's mean of them
    says how far its level shares can be trusted."""
    from scoring_jobs.rasch.classification import person_indices

    return person_indices(scaled, scaled_se, (cuts.moderate_low, cuts.moderate_high, cuts.high))


def _drift_rows(cal, thr, items, meta, first, anchors, n_unscorable) -> pd.DataFrame:
    loc = thr.groupby("item_id", sort=False)["location"].first().reindex(items).to_numpy()
    se = 1.0 / np.sqrt(first["information"].to_numpy())
    drift = pd.DataFrame({
        **meta, "component": cal["component"], "item_id": items, "n_responses": first["n"].to_numpy(),
        "anchored_location": loc, "displacement": first["displacement"].to_numpy(), "displacement_se": se,
        "infit_msq": first["infit_msq"].to_numpy(), "outfit_msq": first["outfit_msq"].to_numpy(),
        "n_unscorable_responses": n_unscorable, "drift_threshold": DRIFT_THRESHOLD,
    })
    drift["displacement_z"] = drift["displacement"] / drift["displacement_se"]
    drift["is_drifting"] = drifting_items(first)
    drift["is_dropped_from_anchor"] = ~anchors
    return drift


def score_term(settings: Settings, school_year: str, term: str, *, calibration_id: str | None = None) -> dict:
    """Score every counted respondent of a term on every calibrated scale; replace the term's partitions
    of ``scoring.respondent_scores`` and ``scoring.item_drift``. Returns counts.

    The term is read from the warehouse (read-only) and scored in batches of :data:`BATCH_ROWS`
    respondents (memory is set by a batch, not by the term: issue 14); the scores are those of scoring the
    term at once, the item statistics sums over the batches. Each batch's score rows are staged as a
    Parquet file in the restricted zone (respondent-level data) and the term's partition is written from
    them in one streaming copy at the end."""
    stage = settings.layout.restricted / f".scores-{school_year}-{term}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    bank = tables.connect(settings)
    try:
        cal_id, cals, thr = _load_bank(bank, calibration_id)
        with warehouse_lock(settings):
            con = connect_warehouse(settings)
            try:
                drift, drifting = _score_term(con, stage, cal_id, cals, thr, school_year, term)
            finally:
                con.close()
        with scoring_lock(settings):
            counts = _replace_term(bank, settings, stage, drift, school_year, term)
    finally:
        bank.close()
        shutil.rmtree(stage, ignore_errors=True)
        release_arrow_memory()  # not kept beside the dbt run that follows in this process
    return {"calibration_id": cal_id, "school_year": school_year, "term": term, **counts,
            "drifting_items": sorted(drifting)}


def _score_term(con, stage: Path, cal_id: str, cals: pd.DataFrame, thr: pd.DataFrame, school_year: str,
                term: str) -> tuple[list[pd.DataFrame], list[str]]:
    """Stage the score rows of every instrument's scales (one read of the term for all of them, a second
    for the scales whose anchors the drift changed, replacing their first files); the drift rows and the
    drifting items."""
    by_instrument = {
        name: [_ScaleScoring(cal, thr[(thr["instrument"] == name) & (thr["component"] == cal["component"])],
                             {"calibration_id": cal_id, "instrument": name, "school_year": school_year, "term": term})
               for _, cal in cals[cals["instrument"] == name].sort_values("component").iterrows()]
        for name in sorted(set(cals["instrument"]))}
    _score_pass(con, stage, school_year, term, by_instrument)
    scored = {name: [sc for sc in scales if sc.sums is not None]  # none when the term has no respondents
              for name, scales in by_instrument.items()}
    again = {name: [sc for sc in scales if sc.finish_first_pass()] for name, scales in scored.items()}
    again = {name: scales for name, scales in again.items() if scales}
    for name, scales in again.items():
        for sc in scales:
            for old in stage.glob(f"{name}-{sc.cal['component']}-*.parquet"):
                old.unlink()
    if again:
        _score_pass(con, stage, school_year, term, again)
    drift = [sc.drift() for scales in scored.values() for sc in scales]
    return drift, [i for d in drift for i in d.loc[d["is_drifting"], "item_id"]]


def _replace_term(bank, settings: Settings, stage: Path, drift: list[pd.DataFrame], school_year: str,
                  term: str) -> dict:
    """Write the term's partitions (scores first: a crash in between leaves the step's stamp unrecorded,
    so the chain scores the term again) and count them."""
    key = {"school_year": school_year, "term": term}
    files = sorted(stage.glob("*.parquet"))  # in name order: the same file for the same scores
    sql = (f"select * from read_parquet({[str(f) for f in files]}, union_by_name = true)" if files
           else tables.NO_ROWS)
    path = tables.write_partition(bank, settings, "respondent_scores", key, sql)
    tables.write_frame(bank, settings, "item_drift", key, pd.concat(drift, ignore_index=True) if drift
                       else pd.DataFrame())
    n_rows, scored = bank.execute(f"select count(*), count(*) filter (where is_scored) from read_parquet('{path}')"
                                  ).fetchone()
    return {"rows": int(n_rows), "scored": int(scored), "not_scored": int(n_rows - scored)}


def _score_pass(con, stage: Path, school_year: str, term: str, by_instrument: dict[str, list[_ScaleScoring]]
                ) -> None:
    """Score every batch of the term on the given scales of each instrument (:func:`_score_batch`, on the
    machine's cores; the next batch is read while the workers score) and add their item sums in batch
    order. The instruments' batches go to the same workers: a teacher batch is scored beside the student
    ones, not after them in this process."""
    def pieces():
        for name, scales in by_instrument.items():
            items = sorted({i for sc in scales for i in sc.items})
            specs = [sc.spec() for sc in scales]
            for k, batch in enumerate(term_record_batches(con, name, school_year, term, items, BATCH_ROWS)):
                yield stage, name, k, batch, specs

    workers = _workers([count_term(con, name, school_year, term) for name in by_instrument])
    results = ordered_map(_score_batch, pieces(), workers)
    with closing(results):
        for name, result in results:
            for sc, (sums, n_unscorable) in zip(by_instrument[name], result, strict=True):
                sc.add(sums, n_unscorable)


def _workers(n_respondents: list[int]) -> int:
    """One worker per batch of the term (its instruments' respondents ``n_respondents``), up to
    LEAP_WORKERS, while no instrument's term has more than WORKERS_MAX_TERM respondents (each is read in
    turn); one (this process) above."""
    batches = sum(-(-n // BATCH_ROWS) for n in n_respondents)
    return worker_count(batches) if max(n_respondents, default=0) <= WORKERS_MAX_TERM else 1


def _stage(path: Path, rows: pa.Table) -> None:
    """A batch's score rows, uncompressed: the file lives until the term's partition is written from it
    (read once, in this step), where snappy cost a quarter of the write (0.17 -> 0.12 s per 200,000 rows)
    for 11% of its size."""
    import pyarrow.parquet as pq

    if rows.num_rows:
        pq.write_table(rows, path, compression="none")
