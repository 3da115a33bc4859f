"""Self-contained SVG displays of a calibration: Wright map, category probability curves, item fit, and the
test information / CSEM curve.

Each function returns one ``<svg>`` string — no external font, stylesheet, script or image, no ``id``
attributes (any number can be inlined in one page) — with ``role="img"``, a ``<title>`` and a ``<desc>``
stating the content in words. Colours are the Okabe & Ito (2008) palette, distinct under the common
colour-vision deficiencies (the one ``reports/charts.py`` uses; the engine cannot import the reports), and
never the only carrier: curves also differ in dash pattern and carry their category number, fit marks
differ in shape and their values are printed. Text is at least 11 px in the reader's sans-serif font.
Numbers use the minus sign U+2212. The logit axis runs upwards: more able persons and harder items and
steps are higher.

Marks the tests (and anyone reading the SVG) can find by class: ``threshold`` (one per finite step
threshold, in the Wright map and the curves), ``cut`` (one line per cut score), ``person-bin``,
``category-curve``, ``infit``/``outfit``, ``information``/``csem``.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from .classification import LevelCuts
from .information import category_probabilities
from .params import log_eps_from_thresholds

__all__ = ["category_curves", "information_chart", "item_fit_chart", "wright_map"]

SVG_NS = "http://www.w3.org/2000/svg"
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
BLUE, ORANGE, VERMILLION = OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[3]
DASHES = ("", "7 3", "2 3", "9 3 2 3", "4 2", "1 2")
INK, MUTED, GRID, BAND = "#1a1a1a", "#595959", "#d0d0d0", "#ececec"
FONT, SMALL = 12, 11
CHAR_W = 0.6 * SMALL  # width of an average glyph at SMALL, a little generous
MINUS = "\u2212"


# --- tiny SVG helpers ------------------------------------------------------------------------------


def num(v: float, digits: int = 2) -> str:
    """``v`` with ``digits`` decimals and a true minus sign; an em dash for NaN."""
    if v is None or not np.isfinite(v):
        return "\u2014"
    s = f"{v:.{digits}f}"
    return s.replace("-", MINUS) if s.strip("-0.") else s.lstrip("-")


def _svg(width: float, height: float, title: str, desc: str, body: list[str], cls: str) -> str:
    return (f'<svg xmlns="{SVG_NS}" class="{cls}" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" font-family="sans-serif" font-size="{FONT}">'
            f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>")


def _text(x, y, s, anchor="start", size=FONT, fill=INK, weight=None, cls=None, halo=False) -> str:
    extra = (f' font-weight="{weight}"' if weight else "") + (f' class="{cls}"' if cls else "")
    if halo:  # a white outline under the glyphs keeps text legible where a line crosses it
        extra += ' stroke="white" stroke-width="3" paint-order="stroke"'
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}"{extra}>'
            f"{escape(str(s))}</text>")


def _line(x1, y1, x2, y2, stroke=INK, width=1.0, dash="", cls=None) -> str:
    extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' class="{cls}"' if cls else "")
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
            f'stroke-width="{width}"{extra}/>')


def _polyline(xs, ys, stroke, width=2.0, dash="", cls=None, data="") -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' class="{cls}"' if cls else "") + data
    return f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="{width}"{extra}/>'


def _width(s: str, size: float = SMALL) -> float:
    return len(s) * 0.6 * size


def _finite_steps(thresholds: np.ndarray, n_steps: np.ndarray):
    """``(item index, step k, threshold)`` for every finite step (not-estimable and null steps skipped)."""
    for i in range(thresholds.shape[0]):
        for k in range(1, int(n_steps[i]) + 1):
            v = thresholds[i, k - 1]
            if np.isfinite(v):
                yield i, k, float(v)


# --- Wright map ----------------------------------------------------------------------------------

ROW = 14  # px per bin row
PERSONS_W = 220
SCALE_W = 48
MARK_W = 16


def wright_map(theta, item_names, thresholds, n_steps, location, span: tuple[float, float],
               cuts: LevelCuts | None = None, bin_width: float = 0.25, title: str = "Wright map") -> str:
    """Persons (histogram, left) and items (locations and step thresholds, right) on one logit axis.

    ``span`` ``(lo, hi)`` logits (e.g. :func:`.quality.logit_range`); ``bin_width`` logits per row; the
    M, S, T marks are the mean and 1 and 2 SDs of the person measures (left) and item locations (right).
    Labels falling in the same row are set side by side, as in Winsteps' Table 1.
    """
    theta = np.asarray(theta, float)
    theta = theta[np.isfinite(theta)]
    lo, hi = span
    n_rows = int(round((hi - lo) / bin_width))
    top = 40
    y = lambda v: top + (hi - v) / bin_width * ROW  # noqa: E731 - the map's one coordinate
    row_of = lambda v: min(max(int((hi - v) // bin_width), 0), n_rows - 1)  # noqa: E731
    steps = list(_finite_steps(np.asarray(thresholds, float), n_steps))
    loc_labels = _rows([(row_of(v), str(item_names[i]), f"{item_names[i]}: location {num(v)} logits", "item")
                        for i, v in enumerate(np.asarray(location, float))])
    thr_labels = _rows([(row_of(v), f"{item_names[i]}.{k}", f"{item_names[i]} step {k} (category {k - 1} to {k}): "
                         f"{num(v)} logits", "threshold") for i, k, v in steps])
    # columns, left to right: scale | persons | M/S/T | axis | M/S/T | item locations | thresholds | cut labels
    axis_x = SCALE_W + PERSONS_W + MARK_W
    loc_x = axis_x + MARK_W + 8
    thr_x = loc_x + max([w for _, w in loc_labels.values()] + [90]) + 16
    cut_x = thr_x + max([w for _, w in thr_labels.values()] + [110]) + 8
    width = cut_x + 12 + (max(_width(_cut_label(n, c)) for n, c in zip(cuts.names[1:], cuts.cuts, strict=True))
                          if cuts else 0)
    body = _wright_grid(lo, hi, y, width, axis_x)
    body += _person_bars(theta, lo, hi, bin_width, n_rows, y, axis_x)
    body += _msd_marks(theta, y, axis_x - 3, "end", lo, hi) + _msd_marks(location, y, axis_x + 3, "start", lo, hi)
    body += _cut_lines(cuts, y, SCALE_W, cut_x)  # under the labels, whose halo keeps them legible
    body += _placed(loc_labels, loc_x, top) + _placed(thr_labels, thr_x, top)
    body += _wright_headings(top, loc_x, thr_x) + _wright_notes(top + n_rows * ROW + 18, bin_width, cuts)
    return _svg(width, top + n_rows * ROW + 70, title, _wright_desc(theta, item_names, steps, cuts), body,
                "wright-map")


def _wright_headings(top: float, loc_x: float, thr_x: float) -> list[str]:
    return [_text(SCALE_W + PERSONS_W, top - 22, "Persons", "end", weight="bold"),
            _text(loc_x, top - 22, "Item locations", weight="bold"),
            _text(thr_x, top - 22, "Step thresholds (item.step)", weight="bold"),
            _text(SCALE_W + PERSONS_W, top - 8, "more able \u2191", "end", SMALL, MUTED),
            _text(loc_x, top - 8, "harder \u2191", size=SMALL, fill=MUTED)]


def _wright_notes(foot: float, bin_width: float, cuts: LevelCuts | None) -> list[str]:
    return [_text(8, foot, f"Each row: {num(bin_width)} logits; bar = persons in the row (count printed). "
                           "M = mean, S = 1 SD, T = 2 SD.", size=SMALL, fill=MUTED),
            _text(8, foot + 16, "item.k = threshold of step k (category k\u22121 to k): the measure where both "
                                "categories are equally likely." + (" Dashed lines: cut scores." if cuts else ""),
                  size=SMALL, fill=MUTED)]


def _wright_desc(theta, item_names, steps, cuts: LevelCuts | None) -> str:
    values = [v for *_, v in steps]
    return (f"{theta.size} persons, mean {num(np.mean(theta) if theta.size else np.nan)} logits; "
            f"{len(item_names)} items, {len(steps)} step thresholds from {num(min(values, default=np.nan))} to "
            f"{num(max(values, default=np.nan))} logits"
            + (f"; cut scores at {', '.join(num(c) for c in cuts.cuts)} logits" if cuts else "") + ".")


def _rows(labels: list[tuple[int, str, str, str]]) -> dict[int, tuple[list[str], float]]:
    """Labels laid side by side within their row: ``{row: (svg pieces at x offsets, row width)}``."""
    out: dict[int, tuple[list[tuple[float, str, str, str]], float]] = {}
    for row, text, tip, cls in sorted(labels, key=lambda t: t[0]):
        items, w = out.get(row, ([], 0.0))
        items.append((w, text, tip, cls))
        out[row] = (items, w + _width(text) + 8)
    return out


def _placed(rows: dict, x0: float, top: float) -> list[str]:
    out = []
    for row, (items, _) in rows.items():
        yy = top + row * ROW + ROW - 3
        out += [f'<g class="{cls}"><title>{escape(tip)}</title>{_text(x0 + dx, yy, text, size=SMALL, halo=True)}</g>'
                for dx, text, tip, cls in items]
    return out


def _wright_grid(lo, hi, y, width, axis_x) -> list[str]:
    out = [_line(axis_x, y(hi), axis_x, y(lo), INK, 1.5)]
    for v in np.arange(np.ceil(lo), np.floor(hi) + 1):
        out += [_line(SCALE_W, y(v), width - 6, y(v), GRID, 0.8), _text(SCALE_W - 6, y(v) + 4, num(v, 0), "end")]
    out.append(f'<text transform="translate(12 {(y(lo) + y(hi)) / 2:.1f}) rotate(-90)" text-anchor="middle" '
               f'font-size="{FONT}" fill="{INK}">Measure (logits)</text>')
    return out


def _person_bars(theta, lo, hi, bin_width, n_rows, y, axis_x) -> list[str]:
    edges = hi - bin_width * np.arange(n_rows + 1)  # row r spans edges[r + 1] .. edges[r]
    counts = np.histogram(theta, bins=edges[::-1])[0][::-1]
    most = max(int(counts.max()) if counts.size else 0, 1)
    out = []
    for r, n in enumerate(counts):
        if n == 0:
            continue
        w = max(PERSONS_W * 0.8 * n / most, 1.0)
        yy = y(edges[r])
        out.append(f'<g class="person-bin"><title>{n} persons from {num(edges[r + 1])} to {num(edges[r])} '
                   f'logits</title><rect x="{axis_x - MARK_W - w:.1f}" y="{yy + 1:.1f}" width="{w:.1f}" '
                   f'height="{ROW - 2}" fill="{BLUE}"/>'
                   f'{_text(axis_x - MARK_W - w - 4, yy + ROW - 3, str(n), "end", SMALL, MUTED, halo=True)}</g>')
    return out


def _msd_marks(values, y, x, anchor, lo, hi) -> list[str]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return []
    m, s = float(v.mean()), float(v.std())
    marks = [("M", m)] + [(label, m + sign * k * s) for k, label in ((1, "S"), (2, "T")) for sign in (-1, 1)]
    return [_text(x, y(p) + 4, label, anchor, SMALL, INK, "bold", cls="msd") for label, p in marks if lo <= p <= hi]


def _cut_label(name: str, cut: float) -> str:
    return f"{name} \u2265 {num(cut)}"


def _cut_lines(cuts: LevelCuts | None, y, x0, x1) -> list[str]:
    """A dashed line per cut from ``x0`` to ``x1``, labelled after ``x1`` with the level it opens."""
    if cuts is None:
        return []
    out = []
    for c, name in zip(cuts.cuts, cuts.names[1:], strict=True):
        out += [_line(x0, y(c), x1, y(c), VERMILLION, 1.5, "6 4", cls="cut"),
                _text(x1 + 4, y(c) + 4, _cut_label(name, c), size=SMALL, fill=VERMILLION, weight="bold")]
    return out


# --- category probability curves -------------------------------------------------------------------

PANEL_W, PANEL_H = 240, 170


def category_curves(item_names, thresholds, n_steps, span: tuple[float, float], disordered=None, cols: int = 3,
                    title: str = "Category probability curves") -> str:
    """One small panel per item: ``P(X = x | theta)`` for each category ``x`` over ``span`` logits, the step
    thresholds (where adjacent curves cross) as vertical marks; ``disordered`` ``(n_items,)`` bool flags."""
    thr = np.asarray(thresholds, float)
    log_eps = log_eps_from_thresholds(thr, n_steps)
    grid = np.linspace(span[0], span[1], 121)
    prob = category_probabilities(grid, log_eps)  # (grid, items, categories)
    n = len(item_names)
    rows = -(-n // cols)
    body = []
    for i in range(n):
        flag = disordered is not None and bool(disordered[i])
        body += _panel(i, str(item_names[i]), thr[i], int(n_steps[i]), grid, prob[:, i, :], np.isfinite(log_eps[i]),
                       (i % cols) * PANEL_W, (i // cols) * PANEL_H + 4, flag)
    foot = rows * PANEL_H + 20
    body.append(_text(8, foot, "Numbers mark each category's curve at its peak; grey verticals are the step "
                               "thresholds. Disordered: a category is never the most likely one.", size=SMALL,
                      fill=MUTED))
    desc = f"Probability of each response category against the measure, for {n} items."
    return _svg(cols * PANEL_W, foot + 10, title, desc, body, "category-curves")


def _panel(i, name, thr_row, m, grid, prob, allowed, x0, y0, disordered) -> list[str]:
    left, right, top, bottom = x0 + 34, x0 + PANEL_W - 10, y0 + 22, y0 + PANEL_H - 34
    sx = lambda v: left + (v - grid[0]) / (grid[-1] - grid[0]) * (right - left)  # noqa: E731
    sy = lambda p: bottom - p * (bottom - top)  # noqa: E731
    label = name + (" \u2014 disordered" if disordered else "")
    out = [_text(x0 + 34, y0 + 14, label, weight="bold", fill=VERMILLION if disordered else INK),
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="{GRID}"/>']
    for p in (0.0, 0.5, 1.0):
        out.append(_text(left - 4, sy(p) + 4, num(p, 1), "end", SMALL, MUTED))
    for v in np.arange(np.ceil(grid[0] / 2) * 2, grid[-1] + 1e-9, 2):
        out.append(_text(sx(v), bottom + 14, num(v, 0), "middle", SMALL, MUTED))
    out.append(_text((left + right) / 2, bottom + 28, "measure (logits)", "middle", SMALL, MUTED))
    for k in range(1, m + 1):
        if np.isfinite(thr_row[k - 1]) and grid[0] <= thr_row[k - 1] <= grid[-1]:
            xv = sx(thr_row[k - 1])
            out.append(f'<g class="threshold"><title>{escape(name)} step {k}: {num(thr_row[k - 1])} logits</title>'
                       f'{_line(xv, top, xv, bottom, MUTED, 1, "2 2")}</g>')
    for x in np.flatnonzero(allowed):
        colour, dash = OKABE_ITO[x % len(OKABE_ITO)], DASHES[x % len(DASHES)]
        out.append(_polyline([sx(v) for v in grid], [sy(p) for p in prob[:, x]], colour, 2, dash,
                             "category-curve", f' data-category="{x}"'))
        peak = int(np.argmax(prob[:, x]))
        out.append(_text(sx(grid[peak]), sy(prob[peak, x]) - 4, str(x), "middle", SMALL, colour, "bold"))
    return out


# --- item fit ------------------------------------------------------------------------------------

FIT_ROW = 18
FIT_LO, FIT_HI = 0.25, 4.0  # log2 axis from 1/4 to 4


def item_fit_chart(items: pd.DataFrame, productive=(0.5, 1.5), title: str = "Item fit (mean squares)") -> str:
    """Infit (filled circle) and outfit (open diamond) MNSQ per item on a log axis, the ``productive`` range
    shaded; values printed at the right. ``items`` has ``item, infit_msq, outfit_msq``."""
    name_w = max(_width(str(n), FONT) for n in items["item"]) + 16
    left, plot_w, top = name_w, 320, 34
    right = left + plot_w
    sx = lambda v: left + (np.log2(np.clip(v, FIT_LO, FIT_HI)) - np.log2(FIT_LO)) / 4 * plot_w  # noqa: E731
    body = [f'<rect class="productive-band" x="{sx(productive[0]):.1f}" y="{top}" '
            f'width="{sx(productive[1]) - sx(productive[0]):.1f}" height="{len(items) * FIT_ROW}" fill="{BAND}"/>',
            _line(sx(1.0), top, sx(1.0), top + len(items) * FIT_ROW, MUTED, 1)]
    for v in (0.25, 0.5, 1.0, 1.5, 2.0, 4.0):
        body.append(_text(sx(v), top - 6, num(v, 2).rstrip("0").rstrip("."), "middle", SMALL, MUTED))
    for r, row in enumerate(items.itertuples(index=False)):
        yy = top + r * FIT_ROW + FIT_ROW / 2
        flagged = not (productive[0] <= row.infit_msq <= productive[1] and productive[0] <= row.outfit_msq
                       <= productive[1])
        body += [_text(left - 8, yy + 4, row.item, "end", weight="bold" if flagged else None),
                 f'<circle class="infit" cx="{sx(row.infit_msq):.1f}" cy="{yy:.1f}" r="4.5" fill="{BLUE}">'
                 f"<title>{escape(str(row.item))} infit {num(row.infit_msq)}</title></circle>",
                 _diamond(sx(row.outfit_msq), yy, f"{row.item} outfit {num(row.outfit_msq)}"),
                 _text(right + 10, yy + 4, f"{num(row.infit_msq)} / {num(row.outfit_msq)}"
                       + ("  misfit" if flagged else ""), size=SMALL, fill=INK if flagged else MUTED)]
    foot = top + len(items) * FIT_ROW + 20
    body += [_text(right + 10, top - 6, "infit / outfit", size=SMALL, fill=MUTED),
             _text(8, foot, f"\u25cf infit   \u25c7 outfit   shaded: {num(productive[0], 1)}\u2013"
                            f"{num(productive[1], 1)} (productive for measurement)", size=SMALL, fill=MUTED),
             _text(8, foot + 15, "log scale; values beyond 0.25\u20134 are drawn at the edge", size=SMALL,
                   fill=MUTED)]
    n_flag = int(((items["infit_msq"] < productive[0]) | (items["infit_msq"] > productive[1])
                  | (items["outfit_msq"] < productive[0]) | (items["outfit_msq"] > productive[1])).sum())
    desc = f"Infit and outfit mean squares of {len(items)} items; {n_flag} outside {productive[0]}-{productive[1]}."
    return _svg(right + 170, foot + 26, title, desc, body, "item-fit")


def _diamond(x, y, tip) -> str:
    d = 5.5
    return (f'<path class="outfit" d="M{x:.1f},{y - d:.1f} L{x + d:.1f},{y:.1f} L{x:.1f},{y + d:.1f} '
            f'L{x - d:.1f},{y:.1f} Z" fill="white" stroke="{VERMILLION}" stroke-width="2">'
            f"<title>{escape(tip)}</title></path>")


# --- test information and CSEM -------------------------------------------------------------------


def information_chart(curve: pd.DataFrame, cuts: LevelCuts | None = None,
                      title: str = "Test information and conditional SEM") -> str:
    """Information (solid, left axis) and CSEM = 1/sqrt(information) (dashed, right axis) over ``curve``
    (``theta, information, csem``), with the cut scores as vertical lines."""
    left, right, top, bottom, width = 56, 584, 30, 250, 640
    t, info, csem = (curve[c].to_numpy(float) for c in ("theta", "information", "csem"))
    info_max = _nice(info.max() * 1.1)
    sem_max = _nice(min(csem.max(), 3 * csem.min()) * 1.05)  # the tails shoot up: show three times the best SEM
    sx = lambda v: left + (v - t[0]) / (t[-1] - t[0]) * (right - left)  # noqa: E731
    sy = lambda v, m: bottom - min(v / m, 1.0) * (bottom - top)  # noqa: E731
    body = [f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="{GRID}"/>']
    for f in (0, 0.25, 0.5, 0.75, 1):
        yy = bottom - f * (bottom - top)
        body += [_line(left, yy, right, yy, GRID, 0.6), _text(left - 6, yy + 4, num(f * info_max, 1), "end", SMALL),
                 _text(right + 6, yy + 4, num(f * sem_max, 2), size=SMALL, fill=VERMILLION)]
    for v in np.arange(np.ceil(t[0]), t[-1] + 1e-9):
        body.append(_text(sx(v), bottom + 16, num(v, 0), "middle", SMALL))
    body += [_polyline([sx(v) for v in t], [sy(v, info_max) for v in info], BLUE, 2.5, "", "information"),
             _polyline([sx(v) for v in t], [sy(v, sem_max) for v in csem], VERMILLION, 2.5, "7 4", "csem"),
             _text((left + right) / 2, bottom + 34, "Measure (logits)", "middle"),
             f'<text transform="translate(16 {(top + bottom) / 2}) rotate(-90)" text-anchor="middle" fill="{BLUE}">'
             "Information</text>",
             f'<text transform="translate({width - 10} {(top + bottom) / 2}) rotate(90)" text-anchor="middle" '
             f'fill="{VERMILLION}">CSEM (logits)</text>',
             _text(left, top - 10, "\u2014 information (left axis)", size=SMALL, fill=BLUE),
             _text(left + 200, top - 10, "- - CSEM = 1/\u221ainformation (right axis)", size=SMALL, fill=VERMILLION)]
    if cuts is not None:
        for k, (c, name) in enumerate(zip(cuts.cuts, cuts.names[1:], strict=True)):
            body += [_line(sx(c), top, sx(c), bottom, INK, 1.2, "3 3", "cut"),
                     _text(sx(c) + 3, top + 14 + 13 * (k % 3), name, size=SMALL, halo=True)]
    best = int(np.argmax(info))
    desc = (f"Test information peaks at {num(info[best], 1)} at {num(t[best])} logits, where the CSEM is "
            f"{num(csem[best])} logits" + (f"; cut scores at {', '.join(num(c) for c in cuts.cuts)} logits"
                                           if cuts else "") + ".")
    return _svg(width, bottom + 46, title, desc, body, "information-chart")


def _nice(v: float) -> float:
    """Round ``v`` up to a round axis maximum: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten."""
    if not np.isfinite(v) or v <= 0:
        return 1.0
    p = 10 ** np.floor(np.log10(v))
    return float(next(m * p for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * p >= v * (1 - 1e-12)))
