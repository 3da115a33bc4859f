"""One school's report as a view model: every section's numbers, words and charts, from ReportData.

Pure functions, no I/O. Each section is a dict the template lays out; charts are inline SVG strings
(reports/charts.py). A number the page prints carries a ``key`` (``data-k`` in the HTML) so that the
browser tests can read it back and compare it with the marts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from leap import instrument
from reports import charts, wording
from reports.data import ReportData


@dataclass(frozen=True)
class Rules:
    """The thresholds a report states in its data notes."""

    min_n: int
    min_classroom_n: int
    min_response_rate: float


def build_school(data: ReportData, school_id: str, rules: Rules) -> dict:
    """The view model of one school's report for ``data.school_year`` / ``data.term``."""
    catalog = instrument.load_catalog()
    school = data.schools.get(school_id, {"school_id": school_id})
    sections = []
    for name in catalog.names:
        ins = catalog.latest(name)
        scales = [r for r in data.rows(school_id, "fct_school_scale_scores") if r["instrument"] == name]
        if not scales:
            continue
        sections.append(_instrument_section(data, school_id, ins, scales, rules))
    return {"school_id": school_id, "school": school, "school_year": data.school_year, "term": data.term,
            "network": instrument.sample_names().get(school.get("sample"), school.get("sample")),
            "sections": sections, "notes": _notes(data, school_id, rules),
            "response": _response(data, school_id, rules)}


def _instrument_section(data: ReportData, school_id: str, ins, scales: list[dict], rules: Rules) -> dict:
    name = ins.name
    return {
        "instrument": name, "title": ins.title, "respondent_type": ins.respondent_type,
        "n_respondents": max(r["n_respondents"] + r["n_not_scored"] for r in scales),
        "scales": _scales(scales, rules),
        "levels": _levels(data, scales, rules),
        "growth": _growth(data, school_id, name, rules),
        "item_groups": _items(data, school_id, ins, rules),
        "classrooms": _classrooms(data, school_id, ins, rules),
        "subgroups": _subgroups(data, school_id, name, rules),
    }


# --------------------------------------------------------------------------- scales and levels


def _cuts(name: str, component: str) -> list[tuple[str, float]]:
    rows = [r for r in instrument.cut_scores() if r["instrument"] == name and r["component"] == component]
    rows.sort(key=lambda r: int(r["level_order"]))
    return [(wording.label(r["level"]), float(r["min_scaled_score"])) for r in rows]


def _ordered(rows: list[dict], key: str = "component") -> list[dict]:
    order = instrument.scaled_components()
    return sorted(rows, key=lambda r: order.index(r[key]) if r[key] in order else 99)


def _scales(scales: list[dict], rules: Rules) -> dict:
    names = instrument.component_names()
    rows, bars = [], []
    for r in _ordered(scales):
        reason = wording.suppression_text(r["suppression_reason"], rules.min_n)
        key = f"scale:{r['instrument']}:{r['component']}"
        rows.append({"key": key, "label": names.get(r["component"], r["component"]), "n": r["n_respondents"],
                     "mean": wording.num(r["mean_scaled_score"]),
                     "ci": _ci(r["mean_scaled_score_ci_low"], r["mean_scaled_score_ci_high"]),
                     "level": wording.label(r["school_level"]) if r["school_level"] else "–",
                     "national": wording.num(r["national_mean_scaled_score"]),
                     "network": wording.num(r["network_mean_scaled_score"]),
                     "reliability": wording.num(r["reliability"], 2), "reason": reason})
        bars.append(charts.ScaleBar(names.get(r["component"], r["component"]), r["mean_scaled_score"],
                                    r["mean_scaled_score_ci_low"], r["mean_scaled_score_ci_high"],
                                    r["national_mean_scaled_score"], r["network_mean_scaled_score"],
                                    _cuts(r["instrument"], r["component"]), reason))
    return {"rows": rows, "chart": charts.scale_chart(bars)}


def _ci(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"{low:.1f} to {high:.1f}"


def _levels(data: ReportData, scales: list[dict], rules: Rules) -> dict:
    names = instrument.component_names()
    levels = instrument.levels()
    national = _national_levels(data, scales)
    rows = []
    for r in _ordered(scales):
        label = names.get(r["component"], r["component"])
        shares = {lv: (None if r[f"pct_{lv}"] is None else r[f"pct_{lv}"] / 100) for lv in levels}
        rows.append(charts.LevelRow(f"{label}: this school", shares, r["n_respondents"],
                                    wording.suppression_text(r["suppression_reason"], rules.min_n)))
        nat = national.get(r["component"])
        if nat:
            rows.append(charts.LevelRow(f"{label}: national", nat["shares"], nat["n"], nat["reason"]))
    return {"chart": charts.level_distribution_chart(rows, [(lv, wording.label(lv)) for lv in levels])}


def _national_levels(data: ReportData, scales: list[dict]) -> dict:
    """The national sample's weighted level distribution in the school's grade band, this term."""
    band = scales[0]["grade_band"]
    name = scales[0]["instrument"]
    out: dict[str, dict] = {}
    for g in data.groups.get("fct_score_level_distribution", []):
        if g["instrument"] != name or g["sample"] != "national" or g["grade_band"] != band:
            continue
        cell = out.setdefault(g["component"], {"shares": {}, "n": g["n_respondents"], "reason": None})
        cell["shares"][g["level"]] = None if g["weighted_pct"] is None else g["weighted_pct"] / 100
        if g["is_suppressed"]:
            cell["reason"] = "national cell under the minimum n"
    return out


# --------------------------------------------------------------------------- growth


def _growth(data: ReportData, school_id: str, name: str, rules: Rules) -> dict | None:
    rows = [r for r in data.rows(school_id, "fct_school_growth") if r["instrument"] == name]
    if not rows or data.term != _last_term():
        return None
    names = instrument.component_names()
    table, bars = [], []
    for r in _ordered(rows):
        reason = None if not r["is_suppressed"] else f"needs at least {rules.min_n} scored respondents in " \
                                                     "both terms, and both terms' results shown"
        verdict = wording.growth_verdict(r["growth_unmatched"], r["growth_unmatched_p"],
                                         r["is_significant_unmatched"])
        label = names.get(r["component"], r["component"])
        table.append({"key": f"growth:{name}:{r['component']}", "label": label,
                      "fall": wording.num(r["mean_fall"]), "spring": wording.num(r["mean_spring"]),
                      "change": wording.signed(r["growth_unmatched"]),
                      "ci": _ci(r["growth_unmatched_ci_low"], r["growth_unmatched_ci_high"]),
                      "verdict": verdict, "effect": wording.effect_size_word(r["effect_size"]),
                      "n": f"{r['n_fall']} / {r['n_spring']}", "reason": reason})
        bars.append(charts.GrowthRow(label, r["mean_fall"], r["mean_spring"], r["growth_unmatched"],
                                     r["growth_unmatched_ci_low"], r["growth_unmatched_ci_high"], verdict, reason))
    return {"rows": table, "chart": charts.growth_chart(bars)}


def _last_term() -> str:
    return instrument.terms()[-1]


# --------------------------------------------------------------------------- items


def _items(data: ReportData, school_id: str, ins, rules: Rules) -> list[dict]:
    """Item drill-down, one group per component: distribution + top box against national."""
    top = {r["item_id"]: r for r in data.rows(school_id, "fct_school_item_top_box") if r["instrument"] == ins.name}
    dist: dict[str, dict[int, dict]] = defaultdict(dict)
    for r in data.rows(school_id, "fct_school_item_distribution"):
        if r["instrument"] == ins.name:
            dist[r["item_id"]][r["category"]] = r
    names = instrument.component_names()
    groups = []
    for component in instrument.components():
        items = [i for i in ins.items if i.component == component and i.item_id in top]
        if items:
            groups.append(_item_group(names.get(component, component), items, top, dist, rules))
    return groups


def _item_group(title: str, items: list, top: dict, dist: dict, rules: Rules) -> dict:
    bars, rows = [], []
    by_scale: dict[tuple, list] = defaultdict(list)
    for item in items:
        t = top[item.item_id]
        reason = wording.suppression_text(t["suppression_reason"], rules.min_n)
        shares = None if t["is_suppressed"] else {
            item.categories[c]: (None if d["weighted_pct"] is None else d["weighted_pct"] / 100)
            for c, d in sorted(dist[item.item_id].items())}
        bar = charts.ItemBar(item.wording, shares, _share(t["top_box_pct"]), _share(t["top_box_pct_se"]),
                             _share(t["national_top_box_pct"]), _share(t["network_top_box_pct"]),
                             t["n_respondents"], reason)
        by_scale[item.categories].append(bar)
        rows.append({"key": f"item:{item.item_id}", "item_id": item.item_id, "wording": item.wording,
                     "n": t["n_respondents"], "top_box": wording.num(t["top_box_pct"]),
                     "ci": _ci(t["top_box_ci_low"], t["top_box_ci_high"]),
                     "national": wording.num(t["national_top_box_pct"]),
                     "network": wording.num(t["network_top_box_pct"]),
                     "mark": wording.difference_mark(t["difference_from_national"],
                                                     t["is_different_from_national_95"]),
                     "reason": reason})
        bars.append(bar)
    svgs = [charts.item_distribution_chart(b, list(cats)) for cats, b in by_scale.items()]
    return {"title": title, "rows": rows, "charts": svgs}


def _share(pct: float | None) -> float | None:
    return None if pct is None else pct / 100


# --------------------------------------------------------------------------- classrooms


def _classrooms(data: ReportData, school_id: str, ins, rules: Rules) -> dict | None:
    """Heat map classrooms x items (teacher: the classroom indicators; student: every item)."""
    rows = [r for r in data.rows(school_id, "rpt_classroom_items") if r["instrument"] == ins.name]
    if not rows:
        return None
    names = instrument.component_names()
    shown = {r["item_id"] for r in rows}
    columns = [charts.HeatColumn(i.item_id, i.item_id, names.get(i.component, i.component))
               for i in ins.items if i.item_id in shown]
    classrooms = sorted({r["classroom_id"] for r in rows}, key=lambda c: (c == "(none)", c))
    values, notes = {}, {}
    for r in rows:
        key = (r["classroom_id"], r["item_id"])
        values[key] = _share(r["top_box_pct"])
        if r["is_suppressed"]:
            notes[key] = wording.suppression_text(r["suppression_reason"], rules.min_classroom_n) or ""
    n_hidden = sum(1 for r in rows if r["is_suppressed"])
    return {"chart": charts.heatmap(classrooms, columns, values, notes), "n_classrooms": len(classrooms),
            "n_cells": len(rows), "n_hidden": n_hidden,
            "legend": [(i.item_id, i.wording) for i in ins.items if i.item_id in shown]}


# --------------------------------------------------------------------------- subgroups


def _subgroups(data: ReportData, school_id: str, name: str, rules: Rules) -> list[dict]:
    rows = [r for r in data.rows(school_id, "fct_school_subgroup_scores") if r["instrument"] == name]
    names = instrument.component_names()
    out = []
    for variable in wording.SUBGROUP_NAMES:
        for component in instrument.scaled_components():
            cells = [r for r in rows if r["subgroup_variable"] == variable and r["component"] == component]
            if cells:
                out.append(_subgroup_block(variable, names.get(component, component), cells, rules))
    return out


def _subgroup_block(variable: str, scale: str, cells: list[dict], rules: Rules) -> dict:
    cells = sorted(cells, key=lambda r: (r["reported_group"] in ("other_groups", "not_reported"),
                                         r["reported_group"]))
    bars = [charts.CompareRow(wording.label(r["reported_group"]), r["mean_scaled_score"],
                              r["mean_scaled_score_ci_low"], r["mean_scaled_score_ci_high"], r["n_respondents"],
                              None, wording.suppression_text(r["suppression_reason"], rules.min_n))
            for r in cells]
    rows = [{"key": f"subgroup:{r['component']}:{variable}:{r['reported_group']}",
             "group": wording.label(r["reported_group"]), "n": r["n_respondents"],
             "mean": wording.num(r["mean_scaled_score"]),
             "ci": _ci(r["mean_scaled_score_ci_low"], r["mean_scaled_score_ci_high"]),
             "diff": wording.signed(r["difference_from_school"]),
             "reason": wording.suppression_text(r["suppression_reason"], rules.min_n)} for r in cells]
    return {"variable": wording.SUBGROUP_NAMES[variable], "scale": scale, "rows": rows,
            "chart": charts.bar_compare_chart(bars, lo=200, hi=300, percent=False,
                                                title=f"{scale} by {wording.SUBGROUP_NAMES[variable].lower()}")}


# --------------------------------------------------------------------------- notes


def _response(data: ReportData, school_id: str, rules: Rules) -> list[dict]:
    out = []
    for r in data.rows(school_id, "fct_school_response_rates"):
        low = r["has_enrolment"] and not r["meets_min_response_rate"]
        out.append({"instrument": r["instrument"], "n": r["n_respondents"], "expected": r["expected_respondents"],
                    "rate": wording.pct(r["response_rate_pct"]), "below": low, "key": f"rate:{r['instrument']}"})
    return out


def _notes(data: ReportData, school_id: str, rules: Rules) -> dict:
    hidden: dict[str, int] = defaultdict(int)
    for table in ("fct_school_scale_scores", "fct_school_item_top_box", "fct_school_subgroup_scores",
                  "rpt_classroom_items"):
        for r in data.rows(school_id, table):
            if r["is_suppressed"]:
                hidden[r["suppression_reason"]] += 1
    scales = data.rows(school_id, "fct_school_scale_scores")
    calibrations = sorted({r["calibration_id"] for r in scales if r["calibration_id"]})
    return {"hidden": [(wording.suppression_text(k, rules.min_n), v) for k, v in sorted(hidden.items())],
            "calibrations": calibrations,
            "benchmark": sorted({r["benchmark_version"] for r in scales if r["benchmark_version"]}),
            "rules": rules}
