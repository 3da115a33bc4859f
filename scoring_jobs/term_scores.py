"""Term scoring: every counted respondent of a term against an anchored calibration.

:func:`score_term` scores against a calibration (the latest one registered, or the given id): anchored
WLE, SE, scaled score/SE, level; respondents who answered fewer than ``min_answered_share``
(instruments.csv) of a scale's items are flagged, not scored. Per-item displacement goes to
``scoring.item_drift``; items past :data:`DRIFT_THRESHOLD` logits are flagged. A term's rows are
replaced in one transaction, so re-running is idempotent. School growth is computed from these scores
by dbt (``marts.fct_school_growth``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from leap import stamps
from leap.config import Settings
from leap.errors import LeapError
from leap.instrument import level_order, levels
from leap.locks import warehouse_lock
from scoring_jobs.inputs import responses, term_frame
from scoring_jobs.tables import connect, create_tables, has_table

__all__ = ["DRIFT_THRESHOLD", "DRIFT_Z", "drifting_items", "score_term"]

DRIFT_THRESHOLD = 0.3  # logits: the size of a displacement that matters (with DRIFT_Z, see drifting_items)
DRIFT_Z = 3.0  # |displacement / SE| a drift must also reach (one-sided tail ~0.1%: items are many)
MIN_ANCHORS = 3  # never anchor a scale on fewer items than this
MISFIT_MSQ = 2.0  # person infit or outfit mean square above this: a pattern that distorts its measure (Linacre)
# The reporting scale's nominal range: 200-300 is the reference mean +- 2.5 SD, so ~1% of respondents
# fall outside. Their scores are reported as they are, never clipped, with is_outside_reporting_range.
REPORTING_RANGE = (200.0, 300.0)


def _load_bank(con, calibration_id: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    if not has_table(con, "item_bank_calibrations"):
        raise LeapError("no calibration in the warehouse", hint="run `leap scoring calibrate` first")
    if calibration_id is None:
        row = con.execute("select calibration_id from scoring.item_bank_calibrations "
                          "order by created_at desc, calibration_id desc limit 1").fetchone()
        if row is None:
            raise LeapError("no calibration in the warehouse", hint="run `leap scoring calibrate` first")
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
    """Anchored WLE of the respondents who answered at least ``need`` of the anchor items ``keep``."""
    from scoring_jobs.rasch import score_responses

    anchored = np.where(keep[None, :], resp, -1)
    n_ans = (anchored >= 0).sum(axis=1)
    ok = n_ans >= need
    persons, table = score_responses(anchored[ok], thresholds, n_steps)
    return ok, n_ans, persons, table


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


def _score_scale(cal: pd.Series, thr: pd.DataFrame, frame: pd.DataFrame, meta: dict) -> tuple:
    """Score one scale of a term; items that drift are dropped from the anchor set and the term is
    scored again without them (the decision is recorded per item in item_drift)."""
    from scoring_jobs.rasch.anchored import unscorable_as_missing

    items = list(dict.fromkeys(thr["item_id"]))  # item order as stored (sorted by item id)
    thresholds, n_steps = _bank_arrays(thr, items)
    # categories the item bank cannot score (unused in the reference data) count as missing
    resp, n_unscorable = unscorable_as_missing(responses(frame, items), thresholds, n_steps)
    need = max(1, math.ceil(float(cal["min_answered_share"]) * len(items)))
    all_items = np.ones(len(items), dtype=bool)
    ok, n_ans, persons, first = _persons(resp, need, thresholds, n_steps, all_items)
    anchors = _drop_from_anchors(first, all_items)
    if not anchors.all():
        need = max(1, math.ceil(float(cal["min_answered_share"]) * anchors.sum()))
        ok, n_ans, persons, _ = _persons(resp, need, thresholds, n_steps, anchors)
    scores = _score_rows(cal, frame, meta, resp, ok, n_ans, need, anchors, persons)
    drift = _drift_rows(cal, thr, items, meta, first, anchors, n_unscorable)
    return scores, drift


def _level_orders() -> dict[str, int]:
    """{level: its order}, read once per call (instrument.level_order reads cut_scores.csv each time)."""
    return {name: level_order(name) for name in levels()}


def _score_rows(cal, frame, meta, resp, ok, n_ans, need, anchors, persons) -> pd.DataFrame:
    from scoring_jobs.rasch import CutScores, ScaleTransform, classify

    n = len(frame)
    theta, se, infit, outfit = (np.full(n, np.nan) for _ in range(4))
    theta[ok], se[ok], infit[ok], outfit[ok] = persons.theta, persons.se, persons.infit_msq, persons.outfit_msq
    raw = np.where((resp >= 0) & anchors[None, :], resp, 0).sum(axis=1).astype(float)
    st = ScaleTransform(float(cal["scale_intercept"]), float(cal["scale_slope"]), str(cal["scale_reference"]))
    scaled, scaled_se = st.apply(theta, se)
    cuts = CutScores(str(cal["cut_scores_version"]), float(cal["cut_moderate_low"]),
                     float(cal["cut_moderate_high"]), float(cal["cut_high"]))
    level = classify(scaled, cuts)
    accuracy, consistency = classification_quality(scaled, scaled_se, cuts)
    return pd.DataFrame({
        **meta, "component": cal["component"], "submission_id": frame["submission_id"].to_numpy(),
        "respondent_key": frame["respondent_key"].to_numpy(), "school_id": frame["school_id"].to_numpy(),
        "grade_band": frame["grade_band"].to_numpy(), "sample": frame["sample"].to_numpy(),
        "instrument_version": frame["instrument_version"].to_numpy(),
        "n_scale_items": int(anchors.sum()), "n_answered": n_ans, "raw_score": raw, "is_scored": ok,
        "not_scored_reason": np.where(ok, None, f"answered fewer than {need} of {int(anchors.sum())} items"),
        "theta": theta, "theta_se": se, "scaled_score": scaled, "scaled_se": scaled_se,
        "level": np.where(ok, level, None),
        "level_order": pd.Series(np.where(ok, level, None)).map(_level_orders()).astype("Int32").array,
        # reported unclipped (clipping would bias school means and growth), flagged
        "is_outside_reporting_range": pd.array(
            np.where(ok, (scaled < REPORTING_RANGE[0]) | (scaled > REPORTING_RANGE[1]), None), dtype="boolean"),
        # person fit: infit/outfit mean squares of the anchored WLE; misfitting above MISFIT_MSQ (a pattern
        # that degrades its own measure: erratic, careless or mis-keyed answers); null for extreme scores
        "infit_msq": infit, "outfit_msq": outfit,
        "is_misfitting": pd.array(np.where(np.isfinite(infit), np.maximum(infit, outfit) > MISFIT_MSQ, None),
                                  dtype="boolean"),
        "classification_accuracy": accuracy, "classification_consistency": consistency,
    })


def classification_quality(scaled: np.ndarray, scaled_se: np.ndarray, cuts) -> tuple[np.ndarray, np.ndarray]:
    """Rudner's (2001) classification indices per respondent, from the measure and its SE.

    With the true score ~ Normal(scaled, se), P_k is the probability that it lies in level k's band
    [c_k, c_{k+1}). Accuracy = P of the level assigned (that the true level is the reported one);
    consistency = sum_k P_k^2 (that two independent administrations agree). The level bands are narrow
    against the person SE, which is why these are reported: a school's mean of them says how far its
    level shares can be trusted.
    """
    from scipy.stats import norm

    edges = np.array([-np.inf, cuts.moderate_low, cuts.moderate_high, cuts.high, np.inf])
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = norm.cdf((edges[None, :] - scaled[:, None]) / scaled_se[:, None])
    p = np.diff(cdf, axis=1)  # (n, 4) probability of each level band
    assigned = np.searchsorted(edges[1:-1], scaled, side="right")
    ok = np.isfinite(scaled) & np.isfinite(scaled_se) & (scaled_se > 0)
    accuracy = np.where(ok, p[np.arange(len(scaled)), np.clip(assigned, 0, 3)], np.nan)
    consistency = np.where(ok, (p * p).sum(axis=1), np.nan)
    return accuracy, consistency


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
    """Score every counted respondent of a term on every calibrated scale; replace the term's rows of
    ``scoring.respondent_scores`` and ``scoring.item_drift`` in one transaction. Returns counts."""
    con = connect(settings, read_only=True)
    try:
        cal_id, cals, thr = _load_bank(con, calibration_id)
        frames = {}
        for name in sorted(set(cals["instrument"])):
            items = sorted(set(thr.loc[thr["instrument"] == name, "item_id"]))
            frames[name] = term_frame(con, name, school_year, term, items)
    finally:
        con.close()
    scores, drift = [], []
    for _, cal in cals.sort_values(["instrument", "component"]).iterrows():
        frame = frames[cal["instrument"]]
        t = thr[(thr["instrument"] == cal["instrument"]) & (thr["component"] == cal["component"])]
        meta = {"calibration_id": cal_id, "instrument": cal["instrument"], "school_year": school_year, "term": term}
        if frame.empty:
            continue
        s, d = _score_scale(cal, t, frame, meta)
        scores.append(s)
        drift.append(d)
    scores_df = pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(columns=["calibration_id"])
    drift_df = pd.concat(drift, ignore_index=True) if drift else pd.DataFrame(columns=["calibration_id"])
    _replace_term(settings, school_year, term, scores_df, drift_df)
    n_scored = int(scores_df["is_scored"].sum()) if len(scores_df) else 0
    return {"calibration_id": cal_id, "school_year": school_year, "term": term, "rows": len(scores_df),
            "scored": n_scored, "not_scored": len(scores_df) - n_scored,
            "drifting_items": sorted(drift_df.loc[drift_df["is_drifting"], "item_id"]) if len(drift_df) else []}


def _replace_term(settings: Settings, school_year: str, term: str, scores: pd.DataFrame,
                  drift: pd.DataFrame) -> None:
    with warehouse_lock(settings):
        con = connect(settings)
        try:
            create_tables(con)
            con.execute("begin transaction")
            for table, df in (("respondent_scores", scores), ("item_drift", drift)):
                con.execute(f"delete from scoring.{table} where school_year = ? and term = ?", [school_year, term])
                if len(df):
                    con.register("new_rows", df)
                    con.execute(f"insert into scoring.{table} by name select * from new_rows")
                    con.unregister("new_rows")
            stamps.bump(con, "scores")  # what reads the scores is out of date (leap.stamps)
            con.execute("commit")
        except Exception:
            try:
                con.execute("rollback")
            except Exception:  # noqa: BLE001 - no transaction open
                pass
            raise
        finally:
            con.close()


