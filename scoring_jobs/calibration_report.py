"""The measurement-quality report of one calibration: ``<calibration folder>/index.html``.

One page per calibration id gathers what a psychometrician checks before the calibration is used: per
scale the persons and items, separation and reliability, targeting, misfitting items, the dimensionality
and local-dependence flags and the classification accuracy of the four levels (each scale's own
``quality.json``, with a link to its full ``report.html``: Wright map, fit, categories, information),
then the DIF of every scale by every grouping (Andersen's LR test and the flagged items with their
contrast and ETS class, from ``scoring_jobs.item_dif``). Self-contained like the scale reports (styles
inline, no script or network request); written by the ``item_dif`` task once DIF is stored.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pandas as pd

from scoring_jobs.rasch.displays import num
from scoring_jobs.rasch.report import CSS, flag, section, table

__all__ = ["write_calibration_report"]


def _quality(folder: Path) -> dict | None:
    path = folder / "quality.json"
    return json.loads(path.read_text()) if path.exists() else None


def _scale_row(name: str, q: dict | None) -> list[str]:
    link = f'<a href="{escape(name)}/report.html">{escape(name)}</a>' if q else escape(name)
    if q is None:
        return [link, *["—"] * 8]
    s, dim, loc, cls = q["summary"], q.get("dimensionality") or {}, q.get("local_dependence") or {}, \
        q.get("classification") or {}
    misfit = sum(1 for i in q["items"] if i.get("flagged"))
    return [link, str(s["n_persons_scored"]), str(s["n_items"]), num(s["persons"].get("reliability")),
            num(s["persons"].get("separation")), num(s.get("targeting")),
            f"{misfit}" if not misfit else f'<span class="flag">{misfit}</span>',
            f"{num(dim.get('first_contrast_eigenvalue'))} {flag(bool(dim.get('flagged')))}" if dim else "—",
            f"{num(loc.get('q3_star'))} {flag(bool(loc.get('flagged')))}" if loc else "—",
            f"{num(cls.get('accuracy'))} / {num(cls.get('consistency'))}" if cls.get("accuracy") is not None else "—"]


def _scales_html(root: Path, scales: list[str]) -> str:
    header = ["Scale", "Persons", "Items", "Reliability", "Separation", "Targeting", "Misfitting items",
              "1st contrast eigenvalue", "Q3*", "Level accuracy / consistency"]
    return (table(header, [_scale_row(s, _quality(root / s)) for s in scales]) +
            '<p class="muted">Reliability and separation of the persons with a non-extreme score; targeting = mean '
            "person measure − mean item location (logits); misfit: infit or outfit MNSQ outside 0.5–1.5 or a "
            "point-measure correlation ≤ 0; dimensionality and Q3* flagged above the larger of the rule of "
            "thumb and the simulated 95th percentile; accuracy and consistency of the four levels by "
            "Rudner's method. Each scale name opens its full report.</p>")


def _flagged_cell(items: pd.DataFrame) -> str:
    hits = items[items["flagged"].astype(bool)]
    if hits.empty:
        return '<span class="ok">none</span>'
    return "; ".join(f"{escape(str(r.item_id))} ({escape(str(r.focal_group))}: {num(r.dif_contrast_logits)}, "
                     f"ETS {escape(str(r.ets_class))})" for r in hits.itertuples())


def _dif_html(scales: pd.DataFrame, items: pd.DataFrame) -> str:
    rows = []
    for r in scales.itertuples():
        mine = items[(items["instrument"] == r.instrument) & (items["component"] == r.component)
                     & (items["grouping"] == r.grouping)] if len(items) else items
        if not bool(r.testable):
            rows.append([f"{escape(r.instrument)}&#8209;{escape(r.component)}", escape(r.grouping), escape(str(r.groups).replace("|", ", ")),
                         "—", "—", f'<span class="muted">not testable: {escape(str(r.reason))}</span>'])
            continue
        rows.append([f"{escape(r.instrument)}&#8209;{escape(r.component)}", escape(r.grouping), escape(str(r.groups).replace("|", ", ")),
                     f"{num(r.lr_chi2)} ({int(r.df)})", num(r.p_value), _flagged_cell(mine)])
    return (table(["Scale", "Grouping", "Groups analysed", "Andersen LR (df)", "p", "Items flagged (focal group: "
                   "contrast in logits, ETS class)"], rows, name_cols=3) +
            '<p class="muted">Each focal group against the grouping\'s largest group, on the calibration\'s own data; '
            "contrast = focal − reference item location after anchoring (positive: harder to endorse for the focal "
            "group); flagged: Benjamini-Hochberg q &lt; .05 over the items of the comparison. ETS class A negligible, "
            "B moderate, C large. Groups under 100 persons are not testable, never “no DIF”. All rows: "
            "marts.fct_item_dif and marts.fct_scale_dif.</p>")


def write_calibration_report(root: Path, manifest: dict, scales: pd.DataFrame, items: pd.DataFrame) -> Path:
    """Write ``root/index.html`` for the calibration of ``manifest`` (its ``manifest.json``) with the DIF
    rows of :func:`scoring_jobs.item_dif.analyse_calibration` (``scales``: one per scale × grouping)."""
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "items.csv").exists())
    cal = escape(manifest["calibration_id"])
    html = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Calibration {cal}: measurement quality</title><style>{CSS}</style></head><body>"
            f"<h1>Calibration {cal}: measurement quality</h1>"
            f"<p class=\"muted\">{escape(manifest['model'].upper())} by conditional maximum likelihood on the "
            f"{escape(manifest['reference_school_year'])} {escape(manifest['reference_term'])} administration; "
            "see docs/rasch.md (“Measurement quality”, “DIF”) and docs/scoring.md.</p>"
            + section("Scales", _scales_html(root, names))
            + section("Differential item functioning", _dif_html(scales, items))
            + "</body></html>")
    out = root / "index.html"
    out.write_text(html, encoding="utf-8")
    return out
