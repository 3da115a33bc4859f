"""Scoring jobs over the warehouse: reference calibration, term scoring, growth (in dbt).

- :func:`ensure_scoring_tables` creates the ``scoring`` schema and its (empty) tables; the pipeline calls
  it before dbt so the scoring sources exist even before any scoring ran.
- :func:`calibrate_reference` calibrates every instrument × scaled component (LF, LD, LL) on one
  reference administration and stores a versioned item bank: ``scoring.item_bank_calibrations`` (one row
  per calibration id × instrument × component: model, reliability, source data, 200–300 constants, cut
  scores and their version) and ``scoring.item_bank_thresholds`` (thresholds with SEs and item fit), plus
  files under ``$LEAP_DATA_DIR/scoring/calibrations/<calibration_id>/<instrument>-<component>/``
  (``leap rasch calibrate`` format + ``scale.json`` + ``cut_scores.json``). The calibration id is a content
  hash of the inputs, so re-running on the same data gives the same id and no new rows.
- :func:`score_term` scores every counted respondent of a term against a calibration (the latest one
  registered, or the given id): anchored WLE, SE, scaled score/SE, level; respondents who answered fewer
  than ``min_answered_share`` (instruments.csv) of a scale's items are flagged, not scored. Per-item
  displacement goes to ``scoring.item_drift``; items past :data:`DRIFT_THRESHOLD` logits are flagged.
  A term's rows are replaced in one transaction, so re-running is idempotent.
- :func:`growth` is a no-op: school growth is the dbt mart ``marts.fct_school_growth``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from leap.config import Settings
from leap.errors import LeapError
from leap.instrument import SCALED_COMPONENTS, cut_scores, load_catalog
from leap.warehouse import warehouse_lock, warehouse_path

__all__ = ["DRIFT_THRESHOLD", "calibrate_reference", "calibrations_dir", "ensure_scoring_tables", "growth",
           "list_calibrations", "score_term"]

DRIFT_THRESHOLD = 0.5  # |displacement| in logits past which an anchored item is flagged as drifting

_DDL = {
    "item_bank_calibrations": """
        calibration_id varchar, instrument varchar, instrument_version varchar, component varchar,
        model varchar, reference_school_year varchar, reference_term varchar, data_fingerprint varchar,
        n_persons bigint, n_items integer, n_responses bigint, converged boolean, iterations integer,
        reliability double, scale_intercept double, scale_slope double, scale_reference varchar,
        cut_scores_version varchar, cut_moderate_low double, cut_moderate_high double, cut_high double,
        min_answered_share double, files_dir varchar, created_at timestamptz""",
    "item_bank_thresholds": """
        calibration_id varchar, instrument varchar, component varchar, item_id varchar, step integer,
        threshold double, threshold_se double, location double, location_se double, infit_msq double,
        outfit_msq double, n_responses bigint""",
    "respondent_scores": """
        calibration_id varchar, instrument varchar, instrument_version varchar, school_year varchar,
        term varchar, component varchar, submission_id varchar, respondent_key varchar, school_id varchar,
        grade_band varchar, sample varchar, n_scale_items integer, n_answered integer, raw_score double,
        is_scored boolean, not_scored_reason varchar, theta double, theta_se double, scaled_score double,
        scaled_se double, level varchar, level_order integer""",
    "item_drift": """
        calibration_id varchar, instrument varchar, school_year varchar, term varchar, component varchar,
        item_id varchar, n_responses bigint, anchored_location double, displacement double, infit_msq double,
        outfit_msq double, n_unscorable_responses bigint, drift_threshold double, is_drifting boolean""",
}
_LEVEL_ORDER = {"emerging": 1, "moderate_low": 2, "moderate_high": 3, "high": 4}


def calibrations_dir(settings: Settings) -> Path:
    return settings.data_dir / "scoring" / "calibrations"


def _connect(settings: Settings, read_only: bool = False):
    import duckdb

    path = warehouse_path(settings)
    if read_only and not path.exists():
        raise LeapError(f"no warehouse at {path}", hint="build it first with `leap warehouse build`")
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only)


def _create_tables(con) -> None:
    con.execute("create schema if not exists scoring")
    for name, cols in _DDL.items():
        con.execute(f"create table if not exists scoring.{name} ({cols})")


def ensure_scoring_tables(settings: Settings) -> None:
    """Create the ``scoring`` schema and its empty tables if missing (call before dbt)."""
    with warehouse_lock(settings):
        con = _connect(settings)
        try:
            _create_tables(con)
        finally:
            con.close()


# ---------------------------------------------------------------------------------------------- reading


def _term_frame(con, instrument: str, school_year: str, term: str, items: list[str]) -> pd.DataFrame:
    """Counted respondents of a term with their item columns, ordered by submission id."""
    cols = ", ".join(f"s.{i}" for i in items)
    sql = f"""
        select r.submission_id, r.respondent_key, r.school_id, r.grade_band, r.sample,
               s.instrument_version, {cols}
        from intermediate.int_respondents as r
        inner join staging.stg_lake__{instrument}_submissions as s using (submission_id)
        where r.instrument = ? and r.school_year = ? and r.term = ?
        order by r.submission_id"""
    try:
        return con.execute(sql, [instrument, school_year, term]).df()
    except Exception as exc:  # noqa: BLE001 - duckdb raises CatalogException etc.
        raise LeapError(f"cannot read {instrument} responses of {school_year} {term} from the warehouse: {exc}",
                        hint="build the warehouse first with `leap warehouse build`") from None


def _responses(frame: pd.DataFrame, items: list[str]) -> np.ndarray:
    if frame.empty:
        return np.zeros((0, len(items)), dtype=np.int64)
    return frame[items].astype("float64").fillna(-1).to_numpy().astype(np.int64)


def _cuts(instrument: str, version: str, component: str) -> dict:
    rows = [r for r in cut_scores() if r["instrument"] == instrument and r["instrument_version"] == version
            and r["component"] == component]
    by_level = {r["level"]: float(r["min_scaled_score"]) for r in rows}
    missing = {"moderate_low", "moderate_high", "high"} - set(by_level)
    if missing:
        raise LeapError(f"cut_scores.csv has no {sorted(missing)} for {instrument} {version} {component}")
    return {"version": f"{instrument}-{version}-{component}", **{k: by_level[k] for k in _LEVEL_ORDER
                                                                 if k != "emerging"}}


# ------------------------------------------------------------------------------------------ calibration


def _fingerprint(parts: list) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def calibrate_reference(settings: Settings, school_year: str, term: str, *, model: str = "pcm") -> dict:
    """Calibrate every instrument × scaled component on ``school_year``/``term``; returns a summary dict
    with ``calibration_id``, ``created`` (False when the same inputs were calibrated before) and per-scale
    reliability and n."""
    from scoring_jobs.rasch import ScaleTransform, calibrate

    if model not in ("pcm", "rsm"):
        raise LeapError(f"model must be pcm or rsm, not {model!r}")
    catalog = load_catalog()
    con = _connect(settings, read_only=True)
    try:
        data = {}
        for name in catalog.names:
            ins = catalog.latest(name)
            items = [i.item_id for c in SCALED_COMPONENTS for i in ins.scale_items(c)]
            data[name] = (ins, _term_frame(con, name, school_year, term, items))
    finally:
        con.close()
    if all(f.empty for _, f in data.values()):
        raise LeapError(f"no respondents in {school_year} {term}", hint="pick a term that has data: "
                        "`select distinct school_year, term from intermediate.int_respondents`")
    scales = []
    for name, (ins, frame) in data.items():
        for comp in SCALED_COMPONENTS:
            items = [i.item_id for i in ins.scale_items(comp)]
            resp = _responses(frame, items)
            keep = (resp >= 0).sum(axis=1) > 0
            cuts = _cuts(name, ins.version, comp)
            fp = _fingerprint([model, name, ins.version, comp, items, cuts, ins.min_answered_share,
                               np.ascontiguousarray(resp[keep]).tobytes(),
                               "\n".join(frame["submission_id"][keep]).encode()])
            scales.append((ins, comp, items, resp[keep], frame["submission_id"][keep].to_numpy(), cuts, fp))
    cal_id = f"{school_year}-{term}-{model}-" + _fingerprint([s[-1] for s in scales])[:12]
    root = calibrations_dir(settings) / cal_id
    rows, thr_rows, summary = [], [], []
    created_at = datetime.now(UTC)
    for ins, comp, items, resp, ids, cuts, fp in scales:
        if resp.shape[0] == 0:
            continue
        try:
            cal = calibrate(resp, model=model, item_names=items,
                            n_steps=np.array([ins.item(i).max_category for i in items]))
        except ValueError as exc:  # RaschDataError: e.g. an item with fewer than two observed categories
            raise LeapError(f"cannot calibrate {ins.name} {comp} on {school_year} {term}: {exc}",
                            hint="choose a larger reference administration") from None
        keep = (cal.persons.n_answered > 0) & np.isfinite(cal.persons.theta)
        st = ScaleTransform.from_reference(cal.persons.theta[keep], reference=f"{cal_id}/{ins.name}-{comp}")
        out = root / f"{ins.name}-{comp}"
        if not (out / "scale.json").exists():
            tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            cal.to_dir(tmp, ids=ids)
            (tmp / "scale.json").write_text(json.dumps(st.to_dict(), indent=2) + "\n")
            (tmp / "cut_scores.json").write_text(json.dumps(cuts, indent=2) + "\n")
            shutil.rmtree(out, ignore_errors=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, out)
        rows.append({
            "calibration_id": cal_id, "instrument": ins.name, "instrument_version": ins.version, "component": comp,
            "model": model, "reference_school_year": school_year, "reference_term": term, "data_fingerprint": fp,
            "n_persons": int(resp.shape[0]), "n_items": len(items), "n_responses": int((resp >= 0).sum()),
            "converged": bool(cal.converged), "iterations": int(cal.iterations),
            "reliability": float(cal.reliability), "scale_intercept": st.intercept, "scale_slope": st.slope,
            "scale_reference": st.reference, "cut_scores_version": cuts["version"],
            "cut_moderate_low": cuts["moderate_low"], "cut_moderate_high": cuts["moderate_high"],
            "cut_high": cuts["high"], "min_answered_share": ins.min_answered_share, "files_dir": str(out),
            "created_at": created_at,
        })
        fit = cal.item_fit.set_index("item")
        for _, r in cal.items_table().iterrows():
            f = fit.loc[r["item"]]
            thr_rows.append({
                "calibration_id": cal_id, "instrument": ins.name, "component": comp, "item_id": r["item"],
                "step": int(r["step"]), "threshold": r["threshold"], "threshold_se": r["se"],
                "location": f["location"], "location_se": f["se"], "infit_msq": f["infit_msq"],
                "outfit_msq": f["outfit_msq"], "n_responses": int(f["n"]),
            })
        summary.append({"instrument": ins.name, "component": comp, "n_persons": int(resp.shape[0]),
                        "reliability": float(cal.reliability), "converged": bool(cal.converged),
                        "scale_slope": st.slope, "scale_intercept": st.intercept})
    created = _store_calibration(settings, cal_id, pd.DataFrame(rows), pd.DataFrame(thr_rows))
    manifest = {"calibration_id": cal_id, "model": model, "reference_school_year": school_year,
                "reference_term": term, "scales": summary}
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "created": created, "files_dir": str(root)}


def _store_calibration(settings: Settings, cal_id: str, rows: pd.DataFrame, thr: pd.DataFrame) -> bool:
    with warehouse_lock(settings):
        con = _connect(settings)
        try:
            _create_tables(con)
            exists = con.execute("select count(*) from scoring.item_bank_calibrations where calibration_id = ?",
                                 [cal_id]).fetchone()[0]
            if exists:
                return False
            con.execute("begin transaction")
            con.register("cal_rows", rows)
            con.register("thr_rows", thr)
            con.execute("insert into scoring.item_bank_calibrations by name select * from cal_rows")
            con.execute("insert into scoring.item_bank_thresholds by name select * from thr_rows")
            con.execute("commit")
            return True
        finally:
            con.close()


def list_calibrations(settings: Settings) -> pd.DataFrame:
    """One row per calibration id: model, reference administration, scales, created_at (newest first)."""
    con = _connect(settings, read_only=True)
    try:
        if not _has_table(con, "item_bank_calibrations"):
            return pd.DataFrame(columns=["calibration_id", "model", "reference_school_year", "reference_term",
                                         "n_scales", "created_at"])
        return con.execute("""
            select calibration_id, any_value(model) as model, any_value(reference_school_year)
                   as reference_school_year, any_value(reference_term) as reference_term,
                   count(*) as n_scales, min(created_at) as created_at
            from scoring.item_bank_calibrations group by calibration_id
            order by created_at desc, calibration_id desc""").df()
    finally:
        con.close()


def _has_table(con, name: str) -> bool:
    return bool(con.execute("select count(*) from duckdb_tables() where schema_name = 'scoring' and "
                            "table_name = ?", [name]).fetchone()[0])


# ---------------------------------------------------------------------------------------------- scoring


def _load_bank(con, calibration_id: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    if not _has_table(con, "item_bank_calibrations"):
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
    from scoring_jobs.rasch import CutScores, ScaleTransform, classify
    from scoring_jobs.rasch.anchored import score_responses
    from scoring_jobs.rasch.params import log_eps_from_thresholds

    items = list(dict.fromkeys(thr["item_id"]))  # item order as stored (sorted by item id)
    thresholds, n_steps = _bank_arrays(thr, items)
    resp = _responses(frame, items)
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
            [_LEVEL_ORDER.get(v) for v in level], dtype="Int32"),
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
    con = _connect(settings, read_only=True)
    try:
        cal_id, cals, thr = _load_bank(con, calibration_id)
        frames = {}
        for name in sorted(set(cals["instrument"])):
            items = sorted(set(thr.loc[thr["instrument"] == name, "item_id"]))
            frames[name] = _term_frame(con, name, school_year, term, items)
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
        con = _connect(settings)
        try:
            _create_tables(con)
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


def growth(settings: Settings, school_year: str) -> dict:  # noqa: ARG001 - part of the DAG contract
    """No-op: school growth fall → spring is computed by dbt in ``marts.fct_school_growth``."""
    return {"school_year": school_year, "computed_by": "dbt", "model": "marts.fct_school_growth"}
