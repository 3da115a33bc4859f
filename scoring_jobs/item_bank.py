"""The versioned item bank: reference calibration of every instrument × scaled component.

:func:`calibrate_reference` calibrates every instrument × scaled component (LF, LD, LL) on one reference
administration and stores a versioned item bank: ``scoring.item_bank_calibrations`` (one row per
calibration id × instrument × component: model, reliability, source data, 200–300 constants, cut scores
and their version) and ``scoring.item_bank_thresholds`` (thresholds with SEs and item fit), plus files
under ``$LEAP_DATA_DIR/scoring/calibrations/<calibration_id>/<instrument>-<component>/`` (``leap rasch
calibrate`` format + ``scale.json`` + ``cut_scores.json``). The calibration id is a content hash of the
inputs, so re-running on the same data gives the same id and no new rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from leap.config import Settings
from leap.errors import LeapError
from leap.fsutil import write_atomic
from leap.instrument import cut_scores, levels, load_catalog, scaled_components
from leap.locks import scoring_lock
from leap.parallel import WorkerPool, ordered_map, worker_count, worker_pool
from scoring_jobs import tables
from scoring_jobs.inputs import connect_warehouse, term_matrix

__all__ = ["calibrate_reference", "list_calibrations"]


def _cuts(instrument: str, version: str, component: str) -> dict:
    rows = [r for r in cut_scores() if r["instrument"] == instrument and r["instrument_version"] == version
            and r["component"] == component]
    by_level = {r["level"]: float(r["min_scaled_score"]) for r in rows}
    missing = set(levels()[1:]) - set(by_level)
    if missing:
        raise LeapError(f"cut_scores.csv has no {sorted(missing)} for {instrument} {version} {component}")
    return {"version": f"{instrument}-{version}-{component}", **{k: by_level[k] for k in levels()[1:]}}



def _fingerprint(parts: list) -> str:
    """SHA-256 of the parts, each bytes, a generator of bytes chunks (hashed as their concatenation) or
    a JSON-able value, separated by NUL."""
    h = hashlib.sha256()
    for p in parts:
        chunks = p if isinstance(p, Iterator) else [p]
        for chunk in chunks:
            h.update(chunk if isinstance(chunk, bytes) else json.dumps(chunk, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


FINGERPRINT_ROWS = 500_000


def _response_bytes(resp: np.ndarray) -> Iterator[bytes]:
    """``resp.astype(np.int64).tobytes()`` in chunks of rows: the calibration id was defined on the int64
    responses; the whole int64 copy and its bytes were 0.5 GB at ten million submissions."""
    for start in range(0, resp.shape[0], FINGERPRINT_ROWS):
        yield resp[start:start + FINGERPRINT_ROWS].astype(np.int64).tobytes()


def _id_bytes(ids) -> Iterator[bytes]:
    """``"\\n".join(ids).encode()`` in chunks, joined by Arrow (the ids are Arrow strings: joining them as
    Python strings made one Python object per id, 1.1 s of a million submissions' calibration)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(ids, type=pa.string())
    for start in range(0, len(ids), FINGERPRINT_ROWS):
        chunk = ids.slice(start, FINGERPRINT_ROWS)
        one_list = pa.ListArray.from_arrays(pa.array([0, len(chunk)], pa.int32()), chunk)
        yield (b"\n" if start else b"") + pc.binary_join(one_list, "\n")[0].as_py().encode()


def calibrate_reference(settings: Settings, school_year: str, term: str, *, model: str = "pcm") -> dict:
    """Calibrate every instrument × scaled component on ``school_year``/``term``; returns a summary dict
    with ``calibration_id``, ``created`` (False when the same inputs were calibrated before), per-scale
    reliability and n, and ``failed``: the scales that could not be calibrated, each with the reason
    (the others are calibrated and stored all the same)."""
    from scoring_jobs.rasch import MODELS

    if model not in MODELS:
        raise LeapError(f"model must be one of {', '.join(MODELS)}, not {model!r}", hint="--model pcm or --model rsm")
    catalog = load_catalog()
    con = connect_warehouse(settings)
    try:
        data = {}
        for name in catalog.names:
            ins = catalog.latest(name)
            items = [i.item_id for c in scaled_components() for i in ins.scale_items(c)]
            data[name] = (ins, items, *term_matrix(con, name, school_year, term, items))
    finally:
        con.close()
    bank = tables.connect(settings)
    try:
        scales_before = reporting_scales(bank)
    finally:
        bank.close()
    if all(len(ids) == 0 for _, _, ids, _ in data.values()):
        raise LeapError(f"no respondents in {school_year} {term}", hint="pick a term that has data: "
                        "`select distinct school_year, term from intermediate.int_respondents`")
    scales = []
    for name, (ins, all_items, ids, matrix) in data.items():
        for comp in scaled_components():
            items = [i.item_id for i in ins.scale_items(comp)]
            resp = matrix[:, [all_items.index(i) for i in items]]
            keep = (resp >= 0).sum(axis=1) > 0
            resp = resp[keep]
            kept = ids if keep.all() else ids[keep]  # a copy of 4 million ids per scale only when needed
            cuts = _cuts(name, ins.version, comp)
            # the fingerprint of the int64 responses, as before they were read as int8: same data, same id
            fp = _fingerprint([model, name, ins.version, comp, items, cuts, ins.min_answered_share,
                               _response_bytes(resp), _id_bytes(kept)])
            scales.append((ins, comp, items, resp, kept, cuts, fp))
    cal_id = f"{school_year}-{term}-{model}-" + _fingerprint([s[-1] for s in scales])[:12]
    run = _Run(cal_id, settings.layout.calibrations / cal_id, model, school_year, term, scales_before)
    # the scales are fitted on the workers, and linked here while the quality reports of the scales before
    # them are computed (the generator is read as the workers free up); a scale's folder is put in place
    # once its report is in
    with worker_pool(_quality_workers(scales)) as pool, \
            closing(ordered_map(_quality_files, _calibrated_scales(run, scales, pool), pool=pool)) as done:
        for tmp, out in done:
            shutil.rmtree(out, ignore_errors=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, out)
    created = _store_calibration(settings, cal_id, pd.DataFrame(run.rows), pd.DataFrame(run.thresholds),
                                 pd.DataFrame(run.created_new))
    manifest = {"calibration_id": cal_id, "model": model, "reference_school_year": school_year,
                "reference_term": term, "scales": run.summary}
    run.root.mkdir(parents=True, exist_ok=True)
    write_atomic(run.root / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return {**manifest, "created": created, "files_dir": str(run.root), "failed": run.failed}


@dataclass
class _Run:
    """One reference calibration under way: its id and folder, and the rows it collects scale by scale."""

    cal_id: str
    root: Path
    model: str
    school_year: str
    term: str
    scales_before: dict
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rows: list = field(default_factory=list)
    thresholds: list = field(default_factory=list)
    summary: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    created_new: list = field(default_factory=list)


def _calibrated_scales(run: _Run, scales: list, pool: WorkerPool) -> Iterator[tuple]:
    """Calibrate and link each scale, collecting its rows in ``run``; for a scale whose folder does not
    exist yet, write the calibration files into a temporary folder and yield the piece of work that adds
    its quality report (:func:`_quality_files`). The fits run on the workers (:func:`_fit_scale`), the
    scales side by side; the linking (each scale on its own reporting scale) and the rows here, in order.
    ``pool`` is the quality reports' too, so a fit and a report queue for the same processes: with a pool
    each, four workers ran on two cores, each importing the engine (the step 18.4 -> 17.7 s alone at a
    million submissions, 32.1 -> 30.8 CPU-seconds, every file and row the same)."""
    todo = [s for s in scales if s[3].shape[0] > 0]
    fits = ordered_map(_fit_scale, ((run.model, items, resp, np.array([ins.item(i).max_category for i in items]))
                                    for ins, _, items, resp, *_ in todo), pool=pool)
    with closing(fits):
        for (ins, comp, items, resp, ids, cuts, fp), cal in zip(todo, fits, strict=True):
            if isinstance(cal, str):  # one scale that cannot be calibrated never stops the others
                run.failed.append({"instrument": ins.name, "component": comp, "reason": cal})
                continue
            keep = (cal.persons.n_answered > 0) & np.isfinite(cal.persons.theta)
            link = _link(run.scales_before.get((ins.name, comp)), cal, items, cal.persons.theta[keep], run.cal_id,
                         ins.name, comp, run.created_new)
            out = run.root / f"{ins.name}-{comp}"
            _collect_rows(run, ins, comp, items, resp, cuts, fp, cal, link, out)
            if not (out / "scale.json").exists():
                tmp, scale_doc = _scale_files(out, cal, ids, link, cuts)
                yield tmp, out, cal, resp, cuts, scale_doc, f"{ins.name} {comp}, calibration {run.cal_id}"
            del cal  # its person estimates (0.3 GB at four million persons) go before the next scale's come


def _scale_files(out: Path, cal, ids, link: dict, cuts: dict) -> tuple[Path, dict]:
    """A scale's calibration files in a temporary folder beside ``out``; (that folder, its scale.json)."""
    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    cal.to_dir(tmp, ids=ids)
    scale_doc = {**link["transform"].to_dict(), **{k: link[k] for k in (
        "reporting_scale_version", "link_shift", "linking_error", "n_link_items")}}
    (tmp / "scale.json").write_text(json.dumps(scale_doc, indent=2) + "\n")
    (tmp / "cut_scores.json").write_text(json.dumps(cuts, indent=2) + "\n")
    return tmp, scale_doc


def _fit_scale(piece: tuple):
    """One scale's calibration (on a worker): the Calibration, or why it cannot be calibrated (e.g. an
    item with one informative category)."""
    from scoring_jobs.rasch import calibrate

    model, items, resp, n_steps = piece
    try:
        return calibrate(resp, model=model, item_names=items, n_steps=n_steps)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return str(exc)


def _collect_rows(run: _Run, ins, comp: str, items: list[str], resp, cuts: dict, fp: str, cal, link: dict,
                  out: Path) -> None:
    """A scale's row of ``item_bank_calibrations``, its rows of ``item_bank_thresholds`` and its summary."""
    st = link["transform"]
    run.rows.append({
        "calibration_id": run.cal_id, "instrument": ins.name, "instrument_version": ins.version, "component": comp,
        "model": run.model, "reference_school_year": run.school_year, "reference_term": run.term,
        "data_fingerprint": fp, "n_persons": int(resp.shape[0]), "n_items": len(items),
        "n_responses": int((resp >= 0).sum()), "converged": bool(cal.converged), "iterations": int(cal.iterations),
        "reliability": float(cal.reliability), "scale_intercept": st.intercept, "scale_slope": st.slope,
        "scale_reference": st.reference, "cut_scores_version": cuts["version"],
        "cut_moderate_low": cuts["moderate_low"], "cut_moderate_high": cuts["moderate_high"],
        "cut_high": cuts["high"], "min_answered_share": ins.min_answered_share, "files_dir": str(out),
        "created_at": run.created_at, "reporting_scale_version": link["reporting_scale_version"],
        "link_shift": link["link_shift"], "linking_error": link["linking_error"],
        "n_link_items": link["n_link_items"],
    })
    fit = cal.item_fit.set_index("item")
    for _, r in cal.items_table().iterrows():
        f = fit.loc[r["item"]]
        run.thresholds.append({
            "calibration_id": run.cal_id, "instrument": ins.name, "component": comp, "item_id": r["item"],
            "step": int(r["step"]), "threshold": r["threshold"], "threshold_se": r["se"],
            "location": f["location"], "location_se": f["se"], "infit_msq": f["infit_msq"],
            "outfit_msq": f["outfit_msq"], "n_responses": int(f["n"]),
        })
    run.summary.append({"instrument": ins.name, "component": comp, "n_persons": int(resp.shape[0]),
                        "reliability": float(cal.reliability), "converged": bool(cal.converged),
                        "scale_slope": st.slope, "scale_intercept": st.intercept,
                        "reporting_scale_version": link["reporting_scale_version"],
                        "linking_error_scaled": link["linking_error"] * st.slope})


# Fits and quality reports go to worker processes while the largest scale has at most this many persons;
# a larger one is fitted and reported in this process. Each quality piece carries the scale's calibration
# (its person estimates: 0.3 GB at 4.8 million students, ten million submissions) and the report's work
# holds several times that, beside the next scales' fits: the same bound as DIF's workers
# (scoring_jobs.item_dif).
QUALITY_WORKERS_MAX_PERSONS = 1_000_000


def _quality_workers(scales: list) -> int:
    largest = max((s[3].shape[0] for s in scales), default=0)
    return worker_count(len(scales)) if largest <= QUALITY_WORKERS_MAX_PERSONS else 1


def _quality_files(piece: tuple) -> tuple[Path, Path]:
    """Write a scale's quality report into its temporary folder (on a worker); (that folder, its place)."""
    tmp, out, cal, resp, cuts, scale_doc, title = piece
    _write_quality(tmp, cal, resp, cuts, scale_doc, title)
    return tmp, out


# Parallel-analysis draws behind the dimensionality flags of a pipeline calibration (each ~0.3 s on the
# engine's 5,000-person subsample): 20 give the 95th percentile to about +-0.05 eigenvalue units.
QUALITY_SIMULATIONS = 20


def _write_quality(out, cal, resp, cuts: dict, scale_doc: dict, title: str) -> None:
    """The measurement-quality files of one scale (Wright map, category curves, item fit, information
    with the cut scores, dimensionality, Rudner accuracy: ``report.html``, ``quality.json`` and the SVGs)
    beside its ``leap rasch calibrate`` files."""
    from scoring_jobs.rasch.classification import LevelCuts
    from scoring_jobs.rasch.report import write_quality

    write_quality(out, cal, resp, cuts=LevelCuts.from_scaled(cuts, scale_doc), n_sim=QUALITY_SIMULATIONS,
                  title=title)


def _store_calibration(settings: Settings, cal_id: str, rows: pd.DataFrame, thr: pd.DataFrame,
                       new_scales: pd.DataFrame) -> bool:
    """Store a calibration unless its id is stored, and the reporting scales it derived unless one exists
    for the scale. Thresholds first, the calibration rows (the item bank's register) last: a crash in
    between leaves thresholds nobody lists, replaced by the next run's identical ones."""
    with scoring_lock(settings):
        con = tables.connect(settings)
        try:
            exists = con.execute("select count(*) from scoring.item_bank_calibrations where calibration_id = ?",
                                 [cal_id]).fetchone()[0] > 0
            if not exists:
                tables.write_frame(con, settings, "item_bank_thresholds", {"calibration_id": cal_id}, thr)
            have = set(con.execute("select instrument, component from scoring.reporting_scales").fetchall())
            for scale in new_scales.to_dict("records"):  # derived once: never replaced by a later calibration
                if (scale["instrument"], scale["component"]) not in have:
                    tables.write_frame(con, settings, "reporting_scales", scale, pd.DataFrame([scale]))
            if not exists:
                tables.write_frame(con, settings, "item_bank_calibrations", {"calibration_id": cal_id}, rows)
            return not exists
        finally:
            con.close()


def list_calibrations(settings: Settings) -> pd.DataFrame:
    """One row per calibration id: model, reference administration, scales, created_at (newest first)."""
    con = tables.connect(settings)
    try:
        return con.execute("""
            select calibration_id, any_value(model) as model, any_value(reference_school_year)
                   as reference_school_year, any_value(reference_term) as reference_term,
                   count(*) as n_scales, min(created_at) as created_at
            from scoring.item_bank_calibrations group by calibration_id
            order by created_at desc, calibration_id desc""").df()
    finally:
        con.close()


# ------------------------------------------------------------------------------------------ reporting scale


def reporting_scales(con) -> dict[tuple[str, str], dict]:
    """The fixed reporting scale of every instrument × component that has one, with the item locations
    of the calibration it was derived from (the anchors later calibrations are linked through), on a
    connection of :func:`scoring_jobs.tables.connect`."""
    out = {}
    for row in con.execute("select * from scoring.reporting_scales").df().to_dict("records"):
        locs = con.execute("""select item_id, any_value(location) as location from scoring.item_bank_thresholds
            where calibration_id = ? and instrument = ? and component = ? group by item_id""",
                           [row["reference_calibration_id"], row["instrument"], row["component"]]).df()
        out[(row["instrument"], row["component"])] = {**row, "locations": dict(zip(locs["item_id"], locs["location"],
                                                                               strict=True))}
    return out


def _link(scale: dict | None, cal, items: list[str], theta: np.ndarray, cal_id: str, instrument: str,
          component: str, created_new: list) -> dict:
    """The 200-300 transform of a calibration, on the one fixed reporting scale.

    The first calibration of a scale derives the scale (its reference WLE mean ± 2.5 SD → 200-300) once;
    it is stored in ``scoring.reporting_scales`` and never re-derived. Every later calibration is linked
    to it through the items both share (mean-mean linking, the Rasch model's only free constant):
    ``shift = mean_i(location_ref_i - location_new_i)``, so theta on the reference metric is
    ``theta_new + shift``, with the linking error ``sd_i(differences) / sqrt(k)`` (logits) over the k
    common items. The calibration's effective transform is ``intercept + slope * shift + slope * theta``.
    """
    from scoring_jobs.rasch import ScaleTransform

    if scale is None:
        version = f"{instrument}-{component}-v1"
        st = ScaleTransform.from_reference(theta, reference=f"{version} (from {cal_id})")
        created_new.append({"reporting_scale_version": version, "instrument": instrument, "component": component,
                            "reference_calibration_id": cal_id, "scale_intercept": st.intercept,
                            "scale_slope": st.slope, "created_at": datetime.now(UTC)})
        return {"transform": st, "reporting_scale_version": version, "link_shift": 0.0, "linking_error": 0.0,
                "n_link_items": len(items)}
    new_loc = dict(zip(cal.item_fit["item"], cal.item_fit["location"], strict=True))
    common = [i for i in items if i in scale["locations"] and np.isfinite(new_loc.get(i, np.nan))]
    if len(common) < 2:
        raise LeapError(f"{instrument} {component}: {len(common)} item(s) in common with the reporting scale's "
                        f"reference calibration {scale['reference_calibration_id']}; linking needs at least 2")
    diffs = np.array([scale["locations"][i] - new_loc[i] for i in common])
    shift = float(diffs.mean())
    st = ScaleTransform(float(scale["scale_intercept"]) + float(scale["scale_slope"]) * shift,
                        float(scale["scale_slope"]), f"{scale['reporting_scale_version']} (linked)")
    return {"transform": st, "reporting_scale_version": scale["reporting_scale_version"], "link_shift": shift,
            "linking_error": float(diffs.std(ddof=1) / np.sqrt(len(common))), "n_link_items": len(common)}
