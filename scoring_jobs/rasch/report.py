"""The measurement-quality files of a calibration: four SVG displays, ``quality.json`` and ``report.html``.

:func:`write_quality` is what ``leap rasch calibrate`` calls after ``Calibration.to_dir``, and what a
pipeline calls for its own calibrations: it takes the :class:`.api.Calibration` object and the responses
it was calibrated on (the residual statistics need the responses, which a calibration folder does not
keep). ``report.html`` is self-contained — styles and SVGs inline, no script, font or network request —
so it opens offline and prints as it looks. :func:`read_cuts` reads cut scores in either accepted form.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import numpy as np

from .classification import LevelCuts
from .displays import category_curves, information_chart, item_fit_chart, num, wright_map
from .quality import MNSQ_RANGE, Quality, assess, logit_range

__all__ = ["CSS", "QUALITY_FILES", "flag", "read_cuts", "render_report", "section", "table", "write_quality"]

SVG_FILES = ("wright_map.svg", "category_curves.svg", "item_fit.svg", "information.svg")
QUALITY_FILES = (*SVG_FILES, "quality.json", "report.html")


def read_cuts(path) -> LevelCuts:
    """Cut scores from ``path``: a JSON file mapping level names to **logit** cuts (see
    :meth:`.classification.LevelCuts.from_mapping`), or a calibration **folder** of the pipeline holding
    ``cut_scores.json`` (reporting-scale cuts) and ``scale.json`` (the 200-300 constants). Raises
    ``ValueError`` naming the file on anything else."""
    p = Path(path)
    try:
        if p.is_dir():
            return LevelCuts.from_scaled(_json(p / "cut_scores.json"), _json(p / "scale.json"))
        return LevelCuts.from_mapping(_json(p))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{p}: {exc}") from exc


def _json(p: Path) -> dict:
    if not p.is_file():
        raise ValueError(f"{p} does not exist")
    d = json.loads(p.read_text())
    if not isinstance(d, dict):
        raise ValueError("expected a JSON object")
    return d


def write_quality(out, cal, responses, cuts: LevelCuts | None = None, n_sim: int = 50, seed: int = 0,
                  title: str = "Rasch calibration") -> Quality:
    """Write the SVGs, ``quality.json`` and ``report.html`` into ``out`` for ``cal`` (a
    :class:`.api.Calibration`) and the ``responses`` it was calibrated on (same persons, same order);
    see :func:`.quality.assess` for ``cuts``, ``n_sim`` and ``seed``. Returns the statistics."""
    q = assess(cal, responses, cuts=cuts, n_sim=n_sim, seed=seed)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    svgs = displays(q)
    for name, svg in svgs.items():
        (folder / name).write_text(svg, encoding="utf-8")
    (folder / "quality.json").write_text(json.dumps(_jsonable(q.to_dict()), indent=2) + "\n")
    (folder / "report.html").write_text(render_report(q, svgs, title), encoding="utf-8")
    return q


def displays(q: Quality) -> dict[str, str]:
    """The four SVGs by file name."""
    span = logit_range(q.theta, q.thresholds, q.cuts)
    disordered = q.categories.groupby("item", sort=False)["disordered_thresholds"].first().to_numpy()
    return dict(zip(SVG_FILES, (
        wright_map(q.theta, q.item_names, q.thresholds, q.n_steps, q.location, span, q.cuts),
        category_curves(q.item_names, q.thresholds, q.n_steps, span, disordered),
        item_fit_chart(q.items, MNSQ_RANGE),
        information_chart(q.information, q.cuts),
    ), strict=True))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


# --- HTML ----------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; margin: 24px;
       max-width: 1100px; line-height: 1.4; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px;
       border-bottom: 2px solid #0072B2; padding-bottom: 2px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; } td.name, th.name, td:last-child, th:last-child { text-align: left; }
.flag { font-weight: bold; color: #a33c00; } .ok { color: #1d6b3a; } .muted { color: #595959; font-size: 13px; }
figure { margin: 8px 0; overflow-x: auto; } svg { max-width: none; }
section { break-inside: auto; } h2 { break-after: avoid; }
"""


def render_report(q: Quality, svgs: dict[str, str], title: str) -> str:
    """The whole ``report.html`` as one string."""
    s = q.summary
    sections = [
        section("Summary", _summary_html(q)),
        section("Wright map", f"<figure>{svgs['wright_map.svg']}</figure>"),
        section("Item fit", _items_html(q) + f"<figure>{svgs['item_fit.svg']}</figure>"),
        section("Category structure", _categories_html(q) + f"<figure>{svgs['category_curves.svg']}</figure>"),
        section("Test information and conditional SEM", _information_html(q)
                 + f"<figure>{svgs['information.svg']}</figure>"),
        section("Dimensionality and local independence", _local_html(q)),
        section("Classification accuracy and consistency", _classification_html(q)),
    ]
    notes = "".join(f"<li>{escape(n)}</li>" for n in [*s["warnings"], *q.notes])
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Measurement quality: {escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>Measurement quality: {escape(title)}</h1>"
            f"<p class=\"muted\">{escape(s['model'].upper())}, conditional maximum likelihood items, WLE persons; "
            f"{s['n_persons_scored']} persons scored, {s['n_items']} items. Logits, difficulty scale, origin = "
            f"mean item location. See docs/rasch.md, “Measurement quality”.</p>"
            + (f"<ul class=\"muted\">{notes}</ul>" if notes else "") + "".join(sections) + "</body></html>")


def section(heading: str, html: str) -> str:
    return f"<section><h2>{escape(heading)}</h2>{html}</section>"


def table(header: list[str], rows: list[list[str]], name_cols: int = 1) -> str:
    th = "".join(f'<th{" class=name" if i < name_cols else ""}>{escape(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td{" class=name" if i < name_cols else ""}>{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def flag(flagged: bool, yes: str = "flagged", no: str = "ok") -> str:
    return f'<span class="flag">{escape(yes)}</span>' if flagged else f'<span class="ok">{escape(no)}</span>'


def _summary_html(q: Quality) -> str:
    s = q.summary
    keys = [("n", "N"), ("mean", "Mean"), ("sd", "SD"), ("model_rmse", "Model RMSE"), ("true_sd", "True SD"),
            ("separation", "Separation"), ("reliability", "Reliability"), ("strata", "Strata")]
    rows = [[label] + [_cell(s[who].get(k), k) for k, _ in keys]
            for who, label in (("persons", "Persons (non-extreme)"), ("items", "Items"))]
    summary = table(["", *(h for _, h in keys)], rows)
    t = s["targeting"]
    where = "" if t is None else (" (the persons find the items easy)" if t > 0.5 else
                                  " (the persons find the items hard)" if t < -0.5 else " (well centred)")
    return (summary + f"<p>Targeting: mean person measure − mean item location = <b>{num(t)}</b> logits{where}; "
            f"{s['n_persons_extreme']} {'person' if s['n_persons_extreme'] == 1 else 'persons'} with an extreme "
            "(lowest or highest possible) score.</p>"
            '<p class="muted">Separation = true SD / RMSE; reliability = true variance / observed variance; strata '
            "= (4·separation + 1)/3 statistically distinct levels (Wright &amp; Masters 1982).</p>")


def _cell(v, key=None) -> str:
    if v is None:
        return "—"
    return str(v) if key == "n" else num(v)


def _items_html(q: Quality) -> str:
    rows = []
    for r in q.items.itertuples(index=False):
        why = ", ".join(f for f, on in (("underfit", r.underfit), ("overfit", r.overfit),
                                        ("negative PTMEA", r.negative_ptmeasure)) if on)
        rows.append([escape(str(r.item)), num(r.location), num(r.se), num(r.infit_msq), num(r.infit_z, 1),
                     num(r.outfit_msq), num(r.outfit_z, 1), num(r.ptmeasure), num(r.ptmeasure_expected),
                     str(int(r.n)), flag(bool(r.flagged), why)])
    lo, hi = MNSQ_RANGE
    return (table(["Item", "Measure", "SE", "Infit MNSQ", "Infit ZSTD", "Outfit MNSQ", "Outfit ZSTD", "PTMEA",
                    "PTMEA exp.", "N", "Flag"], rows)
            + f'<p class="muted">Flags: infit or outfit MNSQ above {hi} (underfit: noise) or below {lo} (overfit: '
              "redundancy) — Linacre's range productive for measurement; a point-measure correlation (PTMEA) at "
              "or below 0. ZSTD: Wilson–Hilferty standardized mean squares; with large samples |ZSTD| &gt; 2 is "
              "common for trivial misfit, so the flags use the mean squares. PTMEA exp.: the model's expected "
              "point-measure correlation (Linacre 2008).</p>")


def _categories_html(q: Quality) -> str:
    """One row per item, one column per category (count and share; average measure and its expectation;
    category outfit), then the Andrich thresholds and the order flag."""
    n_cats = int(q.categories["category"].max()) + 1
    rows = []
    for item, g in q.categories.groupby("item", sort=False):
        cells = [_category_cell(r) for r in g.itertuples(index=False)]
        thr = " · ".join(num(v) for v in g["andrich_threshold"].iloc[1:])
        problems = [what for what, bad in (("thresholds disordered", g["disordered_thresholds"].iloc[0]),
                                           ("averages disordered", not g["averages_ordered"].iloc[0])) if bad]
        rows.append([escape(str(item)), *cells, *[""] * (n_cats - len(cells)), thr,
                     flag(bool(problems), ", ".join(problems), "ordered")])
    return (table(["Item", *(f"Category {x}" for x in range(n_cats)), "Andrich thresholds", "Order"], rows)
            + '<p class="muted">Per category: count (share of the item\'s responses); mean WLE measure of the '
              "(non-extreme) persons choosing it, with the model's expectation of that mean in brackets; category "
              "outfit MNSQ. Andrich threshold k: the measure where categories k−1 and k are equally likely "
              "(logits; — = not estimable, unused category). Ordered: thresholds and average measures both "
              "increase (Linacre 2002; Winsteps Table 3.2).</p>")


def _category_cell(r) -> str:
    if r.unused:
        return '<span class="flag">unused</span>'
    share = f"{100 * r.share:.0f}%" if np.isfinite(r.share) else "—"
    return (f"{num(r.count, 0)} ({share})<br>{num(r.avg_measure)} ({num(r.expected_avg_measure)})<br>"
            f'<span class="muted">outfit {num(r.outfit_msq)}</span>')


def _information_html(q: Quality) -> str:
    info = q.information
    best = int(info["information"].to_numpy().argmax())
    text = (f"<p>Test information peaks at <b>{num(info['information'].iloc[best], 1)}</b> at "
            f"{num(info['theta'].iloc[best])} logits (CSEM {num(info['csem'].iloc[best])}). "
            "CSEM = 1/√information: the standard error of a measure at that point.</p>")
    at = q.information_at_cuts()
    if at:
        text += table(["Cut", "Logit", "Information", "CSEM"],
                       [[escape(a["level"]), num(a["cut_logit"]), num(a["information"], 1), num(a["csem"])] for a in at])
    return text


def _local_html(q: Quality) -> str:
    if q.local is None:
        return f"<p>{escape(' '.join(q.notes))}</p>"
    d = q.local.to_dict(q.item_names)
    c, l3 = d["dimensionality"], d["local_dependence"]
    sim = c["simulated_p95"]
    load = sorted(c["loadings"], key=lambda r: -r["loading"])
    pos = ", ".join(f"{escape(r['item'])} ({num(r['loading'])})" for r in load[:5])
    neg = ", ".join(f"{escape(r['item'])} ({num(r['loading'])})" for r in load[::-1][:5])
    pairs = table(["Item pair", "Q3", "Q3 − mean"], [[escape(" & ".join(p["items"])), num(p["q3"]),
                                                       num(p["above_mean"])] for p in l3["largest_pairs"][:5]])
    return (f"<p>First contrast of the standardized residuals: eigenvalue <b>{num(c['first_contrast_eigenvalue'])}</b> "
            f"(item units; {100 * c['first_contrast_share']:.1f}% of the residual variance); critical value "
            f"{num(c['critical_value'])} = max(2.0, simulated 95th percentile {num(sim) if sim else '—'} from "
            f"{c['n_simulations']} data sets drawn from the fitted model): {flag(c['flagged'])}.</p>"
            f"<p class=\"muted\">Items loading positively: {pos}. Negatively: {neg}. A flagged contrast means "
            "these two groups of items share something beyond the Rasch dimension.</p>"
            f"<p>Yen's Q3 (raw-residual correlations): mean {num(l3['q3_mean'])}, largest {num(l3['q3_max'])} "
            f"({escape(' & '.join(l3['q3_max_pair'] or []))}); Q3* = max − mean = <b>{num(l3['q3_star'])}</b>; "
            f"critical value {num(l3['critical_value'])} = max(0.2, simulated 95th percentile): "
            f"{flag(l3['flagged'])}.</p>" + pairs
            + '<p class="muted">Linacre (Winsteps manual, "Dimensionality: contrasts &amp; variances"); Raîche (2005), '
              "Rasch Meas. Trans. 19:1; Yen (1984); Christensen, Makransky &amp; Horton (2017), Appl. Psych. "
              "Meas. 41(3). Residuals at the WLE measures of non-extreme persons, pairwise deletion of missing "
              "responses.</p>")


def _classification_html(q: Quality) -> str:
    c = q.classification
    if c is None:
        return ('<p class="muted">No cut scores given (<code>leap rasch calibrate --cut-scores</code>): classification '
                "accuracy and consistency not computed.</p>")
    if not c.get("n_persons"):
        return "<p>No scored persons.</p>"
    per_cut = table(["Cut (lower bound of)", "Logit", "Accuracy", "False positive", "False negative", "Consistency"],
                     [[escape(k["level"]), num(k["cut_logit"]), _pct(k["accuracy"]), _pct(k["false_positive"]),
                       _pct(k["false_negative"]), _pct(k["consistency"])] for k in c["per_cut"]])
    names = c["levels"]
    conf = table(["Assigned \\ true", *names, "Assigned"],
                  [[escape(n), *(_pct(v) for v in row), _pct(c["assigned_shares"][k])]
                   for k, (n, row) in enumerate(zip(names, c["expected_confusion"], strict=True))])
    return (f"<p>Accuracy <b>{_pct(c['accuracy'])}</b> (probability that a person's reported level is the true one), "
            f"consistency <b>{_pct(c['consistency'])}</b> (that two independent administrations agree), "
            f"kappa {num(c['kappa'])}; {c['n_persons']} persons, cut scores version "
            f"{escape(c['version'] or '—')}.</p>" + per_cut
            + "<p class=\"muted\">Expected classification (shares of all persons):</p>" + conf
            + '<p class="muted">Rudner (2001, 2005): each person\'s true measure taken as normal around the WLE '
              "measure with its SE; a measure equal to a cut belongs to the higher level.</p>")


def _pct(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{100 * v:.1f}%"
