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

from leap.config import Settings
from leap.errors import LeapError
from leap.instrument import level_order
from leap.locks import warehouse_lock
from scoring_jobs.inputs import responses, term_frame
from scoring_jobs.tables import connect, create_tables, has_table

__all__ = ["DRIFT_THRESHOLD", "score_term"]

DRIFT_THRESHOLD = 0.5  # |displacement| in logits past which an anchored item is flagged as drifting


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


def _score_scale(cal: pd.Series, thr: pd.DataFrame, frame: pd.DataFrame, meta: dict) -> tuple:
    from scoring_jobs.rasch import CutScores, ScaleTransform, classify, score_responses
    from scoring_jobs.rasch.params import log_eps_from_thresholds

    items = list(dict.fromkeys(thr["item_id"]))  # item order as stored (sorted by item id)
    thresholds, n_steps = _bank_arrays(thr, items)
    resp = responses(frame, items)
    # categories the item bank cannot score (unused in the reference data) count as missing
    allowed = np.isfinite(log_eps_from_thresholds(thresholds, n_steps))
    cats = allowed.shape[1]
    bad = (resp >= cats) | ((resp >= 0) & ~allowed[np.arange(len(items))[None, :], np.clip(resp, 0, cats - 1)])
    resp = np.where(bad, -1, resp)
    n_ans = (resp >= 0).sum(axis=1)
    need = max(1, math.ceil(float(cal["min_answered_share"]) * len(items)))
    ok = n_ans >= need
    persons, table = score_responses(resp[ok], thresholds, n_steps)
    theta = np.full(len(frame), np.nan)
    se = np.full(len(frame), np.nan)
    raw = np.where(resp >= 0, resp, 0).sum(axis=1).astype(float)
    theta[ok], se[ok] = persons.theta, persons.se
    st = ScaleTransform(float(cal["scale_intercept"]), float(cal["scale_slope"]), str(cal["scale_reference"]))
    scaled, scaled_se = st.apply(theta, se)
    cuts = CutScores(str(cal["cut_scores_version"]), float(cal["cut_moderate_low"]),
                     float(cal["cut_moderate_high"]), float(cal["cut_high"]))
    level = classify(scaled, cuts)
    scores = pd.DataFrame({
        **meta, "component": cal["component"], "submission_id": frame["submission_id"].to_numpy(),
        "respondent_key": frame["respondent_key"].to_numpy(), "school_id": frame["school_id"].to_numpy(),
        "grade_band": frame["grade_band"].to_numpy(), "sample": frame["sample"].to_numpy(),
        "instrument_version": frame["instrument_version"].to_numpy(),
        "n_scale_items": len(items), "n_answered": n_ans, "raw_score": raw, "is_scored": ok,
        "not_scored_reason": np.where(ok, None, f"answered fewer than {need} of {len(items)} items"),
        "theta": theta, "theta_se": se, "scaled_score": scaled, "scaled_se": scaled_se,
        "level": np.where(ok, level, None), "level_order": pd.array(
            [level_order(v) for v in level], dtype="Int32"),
    })
    loc = thr.groupby("item_id", sort=False)["location"].first().reindex(items).to_numpy()
    drift = pd.DataFrame({
        **meta, "component": cal["component"], "item_id": items, "n_responses": table["n"].to_numpy(),
        "anchored_location": loc, "displacement": table["displacement"].to_numpy(),
        "infit_msq": table["infit_msq"].to_numpy(), "outfit_msq": table["outfit_msq"].to_numpy(),
        "n_unscorable_responses": bad.sum(axis=0), "drift_threshold": DRIFT_THRESHOLD,
    })
    drift["is_drifting"] = drift["displacement"].abs() > DRIFT_THRESHOLD
    return scores, drift


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
            con.execute("commit")
        except Exception:
            try:
                con.execute("rollback")
            except Exception:  # noqa: BLE001 - no transaction open
                pass
            raise
        finally:
            con.close()


