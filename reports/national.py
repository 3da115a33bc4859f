"""The national / network report: the structure of the 2018 national scan regenerated from the marts,
for one school year and term. Every figure gives the weighted share, its SE and the n behind it.

- the level distribution per scale and grade band, national sample (the scan's Figure 3);
- item top-box shares by grade band, national sample (Figures 4–14);
- each partner network against national, with significance marks (Figures 15–17);
- student subgroup differences within the national sample (Figures 13–14).
"""

from __future__ import annotations

from collections import defaultdict

from leap import instrument
from reports import charts, wording
from reports.data import ReportData


def build_national(data: ReportData, min_n: int) -> dict:
    catalog = instrument.load_catalog()
    parts = []
    for name in catalog.names:
        ins = catalog.latest(name)
        parts.append({"instrument": name, "title": ins.title, "levels": _levels(data, name, min_n),
                      "item_bands": _items(data, ins), "networks": _networks(data, ins),
                      "subgroups": _subgroups(data, ins)})
    return {"school_year": data.school_year, "term": data.term, "parts": parts, "min_n": min_n,
            "weighting": [r for r in data.groups.get("fct_weighting_diagnostics", [])]}


def _levels(data: ReportData, name: str, min_n: int) -> dict:
    names = instrument.component_names()
    cells: dict[tuple, dict] = defaultdict(lambda: {"shares": {}, "se": {}, "n": None, "hidden": False})
    for g in data.groups.get("fct_score_level_distribution", []):
        if g["instrument"] == name and g["sample"] == "national":
            c = cells[(g["component"], g["grade_band"])]
            c["shares"][g["level"]] = None if g["weighted_pct"] is None else g["weighted_pct"] / 100
            c["se"][g["level"]] = g["weighted_pct_se"]
            c["n"], c["hidden"] = g["n_respondents"], c["hidden"] or g["is_suppressed"]
    rows, table = [], []
    for component in instrument.scaled_components():
        for band in instrument.grade_bands():
            c = cells.get((component, band))
            if not c:
                continue
            label = f"{names.get(component, component)}, {band}"
            reason = f"fewer than {min_n} respondents" if c["hidden"] else None
            rows.append(charts.LevelRow(label, c["shares"], c["n"], reason))
            table.append({"label": label, "n": c["n"], "cells": [
                (wording.label(lv), wording.num(_pct(c["shares"].get(lv))), wording.num(c["se"].get(lv)))
                for lv in instrument.levels()]})
    levels = [(lv, wording.label(lv)) for lv in instrument.levels()]
    return {"chart": charts.level_distribution_chart(rows, levels) if rows else "", "rows": table}


def _pct(share: float | None) -> float | None:
    return None if share is None else 100 * share


def _items(data: ReportData, ins) -> list[dict]:
    """Top-box share of each item by grade band, national sample."""
    cells = {(g["item_id"], g["grade_band"]): g for g in data.groups.get("fct_item_top_box_shares", [])
             if g["instrument"] == ins.name and g["sample"] == "national"}
    out = []
    for band in instrument.grade_bands():
        rows = [_item_row(i.wording, cells[(i.item_id, band)]) for i in ins.items if (i.item_id, band) in cells]
        if rows:
            out.append({"band": band, "chart": charts.bar_compare_chart(rows, title=f"Top-box share, {band}")})
    return out


def _item_row(text: str, g: dict) -> charts.CompareRow:
    reason = "fewer than the minimum n respondents" if g["is_suppressed"] else None
    return charts.CompareRow(text, _share(g["top_box_pct"]), *_ci_share(g), g["n_respondents"], None, reason)


def _share(pct: float | None) -> float | None:
    return None if pct is None else pct / 100


def _ci_share(g: dict) -> tuple[float | None, float | None]:
    """Normal 95 % interval on the share, clamped to [0, 1] (the marts give the SE, schools as PSUs)."""
    if g["top_box_pct"] is None or g["top_box_pct_se"] is None:
        return None, None
    p, se = g["top_box_pct"] / 100, g["top_box_pct_se"] / 100
    return max(0.0, p - 1.96 * se), min(1.0, p + 1.96 * se)


def _comparisons(data: ReportData, ins, variable: str) -> list[dict]:
    return [g for g in data.groups.get("fct_group_comparisons", [])
            if g["instrument"] == ins.name and g["comparison_variable"] == variable]


def _networks(data: ReportData, ins) -> list[dict]:
    """Each partner network against national, per grade band and item, with significance marks."""
    wordings = {i.item_id: i.wording for i in ins.items}
    rows = []
    for g in sorted(_comparisons(data, ins, "sample"), key=lambda g: (g["group_a"], g["grade_band"], g["item_id"])):
        rows.append({"network": instrument.sample_names().get(g["group_a"], g["group_a"]), "band": g["grade_band"],
                     "item": wordings.get(g["item_id"], g["item_id"]), "item_id": g["item_id"],
                     "a": wording.num(g["pct_a"]), "b": wording.num(g["pct_b"]),
                     "diff": wording.signed(g["difference_pct"]), "se": wording.num(g["difference_se"]),
                     "mark": _mark(g), "status": g["comparison_status"],
                     "n": f"{g['n_a']} / {g['n_b']}"})
    return rows


def _mark(g: dict) -> str:
    if g["comparison_status"] != "compared":
        return wording.label(g["comparison_status"])
    if g["is_significant_95"]:
        star = "**" if g["is_significant_fdr"] else "*"
        return ("▲" if g["difference_pct"] > 0 else "▼") + star
    return "n.s."


def _subgroups(data: ReportData, ins) -> list[dict]:
    wordings = {i.item_id: i.wording for i in ins.items}
    out = []
    for variable in ("race_ethnicity", "parent_education"):
        for g in _comparisons(data, ins, variable):
            out.append({"variable": wording.SUBGROUP_NAMES[variable], "pair": f"{g['group_a']} vs {g['group_b']}",
                        "item": wordings.get(g["item_id"], g["item_id"]), "a": wording.num(g["pct_a"]),
                        "b": wording.num(g["pct_b"]), "diff": wording.signed(g["difference_pct"]),
                        "se": wording.num(g["difference_se"]), "mark": _mark(g)})
    return out
