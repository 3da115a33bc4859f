"""DIF of every calibration: each scale's items by respondent group, into ``scoring.item_dif`` and
``scoring.scale_dif``.

For a calibration id, every instrument × scaled component it calibrated is analysed on the calibration's
own data (its reference administration's counted respondents) by each grouping of :data:`GROUPINGS`,
with the engine's :func:`scoring_jobs.rasch.dif.dif_analysis` (Andersen LR across groups; per item and
focal group the anchored Wald test of the item location, Mantel's chi-square with the ETS class,
Benjamini-Hochberg q-values; the largest group is the reference). The demographic levels are the
warehouse's mapped ones (``int_respondents``); ``other_unknown`` and missing values are no group (a
mixture of the unmapped is not a group whose items could differ), so those respondents are left out of
that grouping's analysis. Groups under ``min_group_n`` (100) persons are reported as not testable.

Idempotent per calibration: a calibration already analysed is skipped; re-analysing replaces its rows.
The calibration's measurement-quality page (``<calibration folder>/index.html``,
:mod:`scoring_jobs.calibration_report`) is written with the DIF results.
"""

from __future__ import annotations

import time
from contextlib import closing

import numpy as np
import pandas as pd

from leap.config import Settings
from leap.errors import LeapError
from leap.instrument import load_catalog
from leap.locks import scoring_lock
from leap.parallel import ordered_map, worker_count
from scoring_jobs import tables
from scoring_jobs.inputs import connect_warehouse, release_arrow_memory, term_arrays

__all__ = ["GROUPINGS", "analyse_calibration"]

# Respondent groupings (int_respondents columns): three demographics (mapped to the instrument's
# vocabulary) and the two school-level design variables.
GROUPINGS = ("gender", "race_ethnicity", "parent_education", "grade_band", "sample")
WORKERS_MAX_PERSONS = 1_000_000  # larger scales are analysed in this process (memory: see _workers)
NO_GROUP = "other_unknown"  # leap/instrument_data/demographic_levels.csv: what is outside the vocabulary


def _read_term(con, instrument: str, school_year: str, term: str, items: list[str]):
    """Group labels (per grouping, :func:`_coded`) and responses (int8, -1 = missing) of a term's counted
    respondents, in submission order (:func:`scoring_jobs.inputs.term_arrays`: read as Arrow, never as
    a frame of 4 million rows of repeated strings)."""
    _, columns, resp = term_arrays(con, instrument, school_year, term, items, keys=GROUPINGS)
    return {g: _coded(columns[g]) for g in GROUPINGS}, resp


def _coded(column) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow text column as (levels, codes): ``levels[codes]`` is the labels, one shared string per
    level; ``other_unknown`` and missing are None. Small to hand to a worker process (a code per person)."""
    encoded = column.dictionary_encode()
    levels = np.array([None if v == NO_GROUP else v for v in encoded.dictionary.to_pylist()] + [None], dtype=object)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return levels, codes  # code -1 (missing) takes the appended None


def _scale_rows(meta: dict, grouping: str, labels: np.ndarray, resp: np.ndarray, items: list[str],
                model: str, start=None) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """Item and scale rows of one scale × grouping (one not-testable scale row when there are fewer
    than two groups at all), and the analysis's pooled fit (``start`` when there was none): the next
    grouping's pooled fit starts from it (``dif_analysis(start=)``)."""
    from scoring_jobs.rasch.dif import dif_analysis

    keep = (resp >= 0).any(axis=1)
    present = sorted({g for g in labels[keep] if g is not None})
    base = {**meta, "grouping": grouping}

    def untestable(reason: str) -> tuple[pd.DataFrame, pd.DataFrame, object]:
        return pd.DataFrame(), pd.DataFrame([{**base, "groups": "|".join(present), "n_groups": len(present),
                                              "n_persons": int(keep.sum()), "n_items": len(items),
                                              "testable": False, "reason": reason}]), start

    if len(present) < 2:
        return untestable(f"{len(present)} group(s) among the respondents: nothing to compare")
    try:
        result = dif_analysis(resp[keep], labels[keep], model=model, item_names=items, start=start)
    except (ValueError, np.linalg.LinAlgError) as exc:  # one scale x grouping never stops the others
        return untestable(f"analysis failed: {exc}")
    item_rows = result.items.rename(columns={"item": "item_id", "group": "focal_group"}).assign(**base)
    lr = result.lr.assign(**base, reference_group=result.reference_group)
    return item_rows, lr, result.pooled_fit or start


def analyse_calibration(settings: Settings, calibration_id: str, force: bool = False) -> dict:
    """DIF of every scale of ``calibration_id`` by every grouping; returns counts and seconds per scale."""
    con = tables.connect(settings)
    try:
        cals = con.execute("select * from scoring.item_bank_calibrations where calibration_id = ?",
                           [calibration_id]).df()
        done = con.execute("select count(*) from scoring.scale_dif where calibration_id = ?",
                           [calibration_id]).fetchone()[0] > 0
    finally:
        con.close()
    if cals.empty:
        raise LeapError(f"no calibration {calibration_id}", hint="list them with `leap scoring calibrations`")
    if done and not force:
        return {"calibration_id": calibration_id, "skipped": "already analysed"}
    release_arrow_memory()  # what a calibration before it in this process left: not beside the workers
    items_out, scales_out, timings = [], [], {}
    results = ordered_map(_scale_analyses, _pieces(settings, calibration_id, cals), _workers(cals))
    with closing(results):
        for it, sc, scale, seconds in results:
            items_out += it
            scales_out += sc
            timings[scale] = seconds
    timings = {k: round(v, 2) for k, v in timings.items()}
    item_rows = pd.concat([f for f in items_out if len(f)], ignore_index=True)
    scale_rows = pd.concat(scales_out, ignore_index=True)
    _store(settings, calibration_id, item_rows, scale_rows)
    report = _report(settings, calibration_id, scale_rows, item_rows)
    return {"calibration_id": calibration_id, "report": str(report) if report else None, "item_rows": len(item_rows), "scale_rows": len(scale_rows),
            "flagged": int(item_rows["flagged"].sum()) if len(item_rows) else 0, "seconds": timings}


def _workers(cals: pd.DataFrame) -> int:
    """Worker processes for the analyses: LEAP_WORKERS while the largest scale has at most
    WORKERS_MAX_PERSONS persons, else one (this process). A worker analysing a scale of 4.8 million
    students (ten million submissions) held ~1.4 GB: two of them beside the read of the next scale took
    the step to 4.1 GB; one process stays at 2.5 GB, under the chain's 3 GB per step."""
    largest = int(cals["n_persons"].max()) if len(cals) else 0
    return worker_count(len(cals)) if largest <= WORKERS_MAX_PERSONS else 1


def _pieces(settings: Settings, calibration_id: str, cals: pd.DataFrame):
    """One piece of work per scale (its groupings), read when its piece is asked for (while the workers
    analyse the scales before it). An administration's responses are read once for all its scales' items
    (three student scales read the same 400,000 students at a million submissions: 0.8-1.0 s a read)."""
    catalog = load_catalog()
    rows = cals.to_dict("records")
    scale_items = [[i.item_id for i in catalog.get(c["instrument"], c["instrument_version"]).scale_items(c["component"])]
                   for c in rows]
    read = None  # the administration read last: (its key, the item ids read, labels, responses)
    for cal, items in zip(rows, scale_items, strict=True):
        if read is None or read[0] != _administration(cal):
            wanted = list(dict.fromkeys(i for c, its in zip(rows, scale_items, strict=True)
                                        if _administration(c) == _administration(cal) for i in its))
            read = (_administration(cal), wanted, *_read_scale(settings, cal, wanted))
        _, wanted, labels, resp = read
        meta = {"calibration_id": calibration_id, "instrument": cal["instrument"], "component": cal["component"],
                "school_year": cal["reference_school_year"], "term": cal["reference_term"]}
        yield meta, labels, resp[:, [wanted.index(i) for i in items]], items, cal["model"]


def _administration(cal: dict) -> tuple[str, str, str]:
    return cal["instrument"], cal["reference_school_year"], cal["reference_term"]


def _scale_analyses(piece) -> tuple[list[pd.DataFrame], list[pd.DataFrame], str, float]:
    """A piece of :func:`_pieces` analysed (in a worker process), grouping after grouping: its item and
    scale rows, the scale's name and the seconds the analyses took. A scale's groupings pool nearly the
    same persons (all but those without a group), so each pooled fit starts from the one before: ~4 Newton
    steps instead of ~9 from zero, the same maximum to the stopping rule."""
    meta, labels, resp, items, model = piece
    t = time.perf_counter()
    item_rows, scale_rows, start = [], [], None
    for grouping in GROUPINGS:
        levels, codes = labels[grouping]
        it, sc, start = _scale_rows(meta, grouping, levels[codes], resp, items, model, start)
        item_rows.append(it)
        scale_rows.append(sc)
    return item_rows, scale_rows, f"{meta['instrument']}-{meta['component']}", time.perf_counter() - t


def _read_scale(settings: Settings, cal: dict, items: list[str]):
    """Labels and responses to ``items`` of a scale's administration, on a connection of its own, closed before the analysis: DuckDB keeps
    what a read took (1.1 GB for four million students) while the connection lives."""
    con = connect_warehouse(settings)
    try:
        return _read_term(con, cal["instrument"], cal["reference_school_year"], cal["reference_term"], items)
    finally:
        con.close()


def _report(settings: Settings, calibration_id: str, scale_rows: pd.DataFrame, item_rows: pd.DataFrame):
    """The calibration's measurement-quality page (``index.html`` beside its scale folders), or None when
    its folder is gone (the warehouse rows are what count)."""
    import json

    from scoring_jobs.calibration_report import write_calibration_report

    root = settings.layout.calibrations / calibration_id
    if not (root / "manifest.json").exists():
        return None
    return write_calibration_report(root, json.loads((root / "manifest.json").read_text()), scale_rows, item_rows)


def _store(settings: Settings, calibration_id: str, item_rows: pd.DataFrame, scale_rows: pd.DataFrame) -> None:
    """Replace the calibration's partitions (scale rows last: they are what "already analysed" looks for)."""
    with scoring_lock(settings):
        con = tables.connect(settings)
        try:
            for table, rows in (("item_dif", item_rows), ("scale_dif", scale_rows)):
                frame = rows.reindex(columns=tables.column_names(table))
                for c, kind in tables.columns(table):  # NaN cannot become an integer: nullable integers
                    if kind in ("integer", "bigint"):
                        frame[c] = pd.to_numeric(frame[c]).astype("Int64")
                tables.write_frame(con, settings, table, {"calibration_id": calibration_id}, frame)
        finally:
            con.close()
