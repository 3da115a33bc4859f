"""Accessible, dependency-free SVG charts for the school reports.

Every chart is a pure function that returns one self-contained ``<svg>`` string: no external font,
stylesheet, script or image, so the HTML report prints to PDF offline and a screen reader gets the
same facts as a sighted reader. The rules every chart follows:

* ``role="img"`` with a ``<title>`` (given by the caller) and a ``<desc>`` that states the numbers in words;
* every coloured mark has its number printed on or beside it, so colour is never the only carrier;
* colours come from one place: the Okabe-Ito palette for categories, a one-hue blue ramp for ordered
  levels and the heat map, greys for the score bands;
* text is at least 11 px, in the reader's own sans-serif font;
* all text is XML-escaped; the same input always gives the same string (no ids, no randomness, so any
  number of charts can be inlined in one page without id clashes).

Numbers: shares are fractions 0-1 everywhere (a value above 1 raises ``ValueError``, it is almost
surely a 0-100 percent) and are printed as whole percents ("62%"); scale scores and changes are
printed with one decimal; negative numbers use the minus sign U+2212. ``None`` or NaN means "no
value". The ``format_*`` helpers are public so that the report's prose prints numbers the same way.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

__all__ = [
    "BAND_GREYS", "BLUES", "HEAT_BINS", "OKABE_ITO", "CompareRow", "GrowthRow", "HeatColumn", "ItemBar", "LevelRow",
    "ScaleBar", "bar_compare_chart", "format_change", "format_ci", "format_score", "format_share",
    "growth_chart", "heat_colour", "heatmap", "item_distribution_chart", "level_distribution_chart",
    "ordinal_colours", "scale_chart",
]

SVG_NS = "http://www.w3.org/2000/svg"

# --- palette: defined once, used by every chart ------------------------------------------------------

# Okabe & Ito (2008): eight hues that stay distinct under the common colour-vision deficiencies.
OKABE_ITO = {"orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "black": "#000000",
             "grey": "#999999"}
# ColorBrewer "Blues": one hue varying in lightness only, so order survives any colour vision and greyscale print.
BLUES = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
# Score bands are background, not data: light greys keep the school's blue dot the strongest mark.
BAND_GREYS = ("#f5f5f5", "#e8e8e8", "#dadada", "#cccccc")
SCHOOL = OKABE_ITO["blue"]
NATIONAL = OKABE_ITO["black"]
NETWORK = OKABE_ITO["vermillion"]
FALL = OKABE_ITO["orange"]
INK = "#1a1a1a"
MUTED = "#595959"  # 7:1 on white: small notes stay readable
GRID = "#bdbdbd"
EMPTY = "#eeeeee"  # suppressed or empty areas
HATCH = "#b0b0b0"

FONT = 12
SMALL = 11  # the smallest text any chart prints
PAD = 12
CHAR_EM = 0.58  # average glyph width of common sans-serif fonts, a little generous so text never overflows
MIN_INSIDE = 0.06  # a segment narrower than 6 % of its bar gets its number outside the bar
MINUS = "\u2212"

# --- input dataclasses --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleBar:
    """One reporting scale. ``cuts`` are (band label, lower bound) pairs, e.g. ("Emerging", 200), ("Moderate low", 238)."""

    label: str
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    national: float | None
    network: float | None
    cuts: Sequence[tuple[str, float]]
    suppressed_reason: str | None = None


@dataclass(frozen=True)
class LevelRow:
    """One stacked bar: the share (0-1) of respondents at each level, keyed by level key."""

    label: str
    shares: Mapping[str, float | None]
    n: int | None = None
    suppressed_reason: str | None = None


@dataclass(frozen=True)
class GrowthRow:
    """Fall and spring means of one scale, the change with its 95 % interval and a verdict word."""

    label: str
    fall: float | None
    spring: float | None
    change: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str = ""
    suppressed_reason: str | None = None


@dataclass(frozen=True)
class ItemBar:
    """One survey item: response shares (0-1) by category and top-box shares (0-1) for school and benchmarks."""

    label: str
    shares: Mapping[str, float | None] | None
    top_box: float | None = None
    top_box_se: float | None = None
    national_top_box: float | None = None
    network_top_box: float | None = None
    n: int | None = None
    suppressed_reason: str | None = None


@dataclass(frozen=True)
class HeatColumn:
    """One heat-map column (an indicator); consecutive columns with the same ``group`` share a header."""

    id: str
    label: str
    group: str


@dataclass(frozen=True)
class CompareRow:
    """One bar of a comparison: value with its 95 % interval, n and a significance mark such as "▲ higher*"."""

    label: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    mark: str | None = None
    suppressed_reason: str | None = None


# --- number formatting --------------------------------------------------------------------------------


def _clean(value: float | None) -> float | None:
    """None and NaN (what pandas hands over for a missing value) both mean 'no value'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _share(value: float | None) -> float | None:
    value = _clean(value)
    if value is not None and not -1e-9 <= value <= 1 + 1e-9:
        raise ValueError(f"shares are fractions between 0 and 1, got {value!r} (a percent?)")
    return value


def format_score(value: float, digits: int = 1) -> str:
    """250.34 -> "250.3"; negative numbers get a real minus sign, and -0.0 prints as 0.0."""
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def format_change(value: float, digits: int = 1) -> str:
    """A change always shows its sign: "+6.2", "−3.1", "0.0"."""
    text = format_score(value, digits)
    return text if text.startswith(MINUS) or float(text) == 0 else "+" + text


def format_share(value: float) -> str:
    """0.624 -> "62%"."""
    return f"{_share(value) * 100:.0f}%"


def format_ci(low: float | None, high: float | None, fmt: Callable[[float], str] = format_score) -> str:
    """ "95 % CI 2.1 to 10.3", or "" when the interval is unknown."""
    low, high = _clean(low), _clean(high)
    return "" if low is None or high is None else f"95 % CI {fmt(low)} to {fmt(high)}"


def _with_ci(value: float, low: float | None, high: float | None, fmt: Callable[[float], str]) -> str:
    ci = format_ci(low, high, fmt)
    return f"{fmt(value)} ({ci})" if ci else fmt(value)


def _tick(value: float) -> str:
    return format_score(value, 0 if float(value).is_integer() else 1)


# --- colours ------------------------------------------------------------------------------------------


def _mix(a: str, b: str, t: float) -> str:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def _ramp(t: float, low: int = 1) -> str:
    """A colour at position t (0-1) along BLUES, skipping the near-white steps below ``low``."""
    pos = low + max(0.0, min(1.0, t)) * (len(BLUES) - 1 - low)
    i = min(int(pos), len(BLUES) - 2)
    return _mix(BLUES[i], BLUES[i + 1], pos - i)


def ordinal_colours(n: int) -> list[str]:
    """n ordered categories (levels, response options), light to dark along the blue ramp."""
    return list(_ordinal_colours(n))  # a fresh list: the caller may change it, the cached tuple stays intact


@lru_cache(maxsize=64)
def _ordinal_colours(n: int) -> tuple[str, ...]:
    # Every stacked bar asks for the same few ramps; the colour mixing is worth computing once.
    return tuple(_ramp(i / (n - 1)) if n > 1 else BLUES[5] for i in range(n))


@lru_cache(maxsize=256)
def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@lru_cache(maxsize=256)
def _text_on(colour: str) -> str:
    """White text on dark fills, ink on light ones: whichever has the higher WCAG contrast."""
    lum = _luminance(colour)
    return "#ffffff" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / (_luminance(INK) + 0.05)) else INK


# Heat-map classes: five bins of 20 points. Binning makes the legend exact; the printed number is the detail.
HEAT_BINS = tuple(_ramp(i / 4, low=1) for i in range(5))


def heat_colour(share: float) -> str:
    """Fill of a heat-map cell for a share 0-1 (binned by its printed whole percent, so cell and legend agree)."""
    return HEAT_BINS[min(round(_share(share) * 100) // 20, 4)]


# --- SVG primitives -----------------------------------------------------------------------------------
# These run ~5,000 times per report (the heat map alone has 3,150 cells), so they avoid per-call overhead:
# cached number formatting, an escape fast path and no keyword dicts for the fixed attributes.

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Every character _esc changes: the five html.escape replaces and the ones XML forbids.
_NEEDS_ESCAPE = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _esc(text: object) -> str:
    """Escape for both text and attributes; drop control characters XML 1.0 forbids outright."""
    text = str(text)
    if _NEEDS_ESCAPE.search(text) is None:
        return text  # the usual case (colours, class names, most labels): one scan instead of six
    return escape(_INVALID_XML.sub("", text), quote=True)


# Charts repeat the same numbers and attribute strings thousands of times (cell edges, track ends, font sizes,
# colours), so the formatting below remembers its results. Sharing a slot between equal keys is safe: Python
# compares int and float exactly and equal numbers print the same (1, 1.0 and True give "1"; 0.0 and -0.0 give
# "0"), while "1" and 1 are different keys.
_CACHE_MAX = 50_000  # entries per cache; one report needs a few thousand


def _remember(cache: dict, key: object, text: str) -> str:
    if len(cache) >= _CACHE_MAX:
        cache.clear()  # bounded: free-form values (means, shares) must not pile up over 7,000 reports
    cache[key] = text
    return text


def _clear_caches() -> None:
    """Forget everything remembered (for tests and benchmarks: the output never depends on it)."""
    for cache in (_VALUES, _ATTRS):
        cache.clear()
    for memo in (_ordinal_colours, _luminance, _text_on, _wrap, _flow_markup, _axis_markup, _bands_markup,
                 _top_box_markup):
        memo.cache_clear()


# One cache for numbers and attribute strings: a number never equals a string, so they cannot collide.
_VALUES: dict[object, str] = {}
_NUMBER = (float, int)  # a tuple, not ``float | int``: the union would be rebuilt on every call


def _format_number(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _f(x: float) -> str:
    """Coordinates with at most two decimals, so the output is short and stable."""
    text = _VALUES.get(x)
    return _remember(_VALUES, x, _format_number(x)) if text is None else text


def _value(value: object) -> str:
    """An attribute value as printed: numbers as _f prints them, anything else escaped."""
    text = _VALUES.get(value)
    if text is None:
        text = _remember(_VALUES, value, _format_number(value) if isinstance(value, _NUMBER) else _esc(value))
    return text


_ATTRS: dict[tuple[tuple[str, object], ...], str] = {}


def _attrs(attrs: Mapping[str, object]) -> str:
    """Keyword attributes as markup: class_ -> class, stroke_width -> stroke-width; None leaves one out."""
    if not attrs:
        return ""  # most elements have no extra attributes
    # The extras are mostly constants (text_anchor="middle", fill=MUTED, class_="band"): look the whole set up.
    key = tuple(attrs.items())
    text = _ATTRS.get(key)
    if text is None:
        text = _remember(_ATTRS, key, "".join(f' {name.rstrip("_").replace("_", "-")}="{_value(value)}"'
                                              for name, value in key if value is not None))
    return text


def _el(tag: str, content: str | None = None, **attrs: object) -> str:
    a = _attrs(attrs)
    return f"<{tag}{a}/>" if content is None else f"<{tag}{a}>{content}</{tag}>"


# _text, _rect and _line make most elements. They write their fixed attributes straight into the string, in
# the order _el would (the fixed ones first, then the keyword ones in call order), and go through _attrs only
# for the keyword extras.

def _text(x: float, y: float, text: str, *, size: int | None = FONT, **attrs: object) -> str:
    """``size=None`` inherits the font size from the parent group."""
    font = "" if size is None else f' font-size="{_value(size)}"'
    return f'<text x="{_value(x)}" y="{_value(y)}"{font}{_attrs(attrs)}>{_esc(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, **attrs: object) -> str:
    return (f'<rect x="{_value(x)}" y="{_value(y)}" width="{_value(max(w, 0.0))}" height="{_value(h)}" '
            f'fill="{_value(fill)}"{_attrs(attrs)}/>')


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1.0, **attrs: object) -> str:
    return (f'<line x1="{_value(x1)}" y1="{_value(y1)}" x2="{_value(x2)}" y2="{_value(y2)}" '
            f'stroke="{_value(stroke)}" stroke-width="{_value(width)}"{_attrs(attrs)}/>')


def _group(parts: Sequence[str], tooltip: str | None = None, **attrs: object) -> str:
    """A <g>; its <title> child (first, as SVG requires) is the tooltip and the accessible name of the group."""
    title = f"<title>{_esc(tooltip)}</title>" if tooltip else ""
    return f"<g{_attrs(attrs)}>{title}{''.join(parts)}</g>"


def _svg(width: float, height: float, title: str, desc: str, parts: Sequence[str]) -> str:
    w, h = _f(math.ceil(width)), _f(math.ceil(height))
    head = (f'<svg xmlns="{SVG_NS}" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'font-family="sans-serif" font-size="{FONT}" fill="{INK}">')
    # An opaque background keeps the contrast the colours were chosen for, whatever the page behind.
    background = _rect(0, 0, width, height, "#ffffff")
    return f"{head}<title>{_esc(title)}</title><desc>{_esc(desc)}</desc>{background}{''.join(parts)}</svg>"


# --- text layout (estimated: an SVG string cannot measure its own glyphs) -------------------------------


def _tw(text: str, size: float) -> float:
    return len(text) * size * CHAR_EM


def _ellipsize(text: str, max_px: float, size: float, force: bool = False) -> str:
    if not force and _tw(text, size) <= max_px:
        return text
    keep = max(1, int(max_px / (size * CHAR_EM)) - 1)
    return text[:keep].rstrip() + "…"


@lru_cache(maxsize=4096)  # labels, band names and notes recur in every report
def _wrap(text: str, max_px: float, size: float, max_lines: int) -> tuple[str, ...]:
    """Greedy word wrap; what does not fit in ``max_lines`` ends in an ellipsis."""
    lines: list[str] = []
    for word in text.split():
        if lines and _tw(f"{lines[-1]} {word}", size) <= max_px:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [_ellipsize(" ".join(lines[max_lines - 1:]), max_px, size, force=True)]
    return tuple(_ellipsize(line, max_px, size) for line in lines) or ("",)


def _label_block(text: str, x: float, cy: float, max_px: float, max_lines: int = 2,
                 size: int = FONT, weight: str | None = "bold") -> list[str]:
    """A row label wrapped and centred vertically on ``cy``."""
    lines = _wrap(text, max_px, size, max_lines)
    step = size + 3
    first = cy + size * 0.35 - step * (len(lines) - 1) / 2
    return [_text(x, first + i * step, line, size=size, font_weight=weight) for i, line in enumerate(lines)]


def _pill(x: float, cy: float, text: str, *, anchor: str = "start", size: int = FONT,
          weight: str | None = None, italic: bool = False, max_px: float = 10_000) -> list[str]:
    """Text on a white pill, so a number stays legible over bands, ticks and hatching."""
    text = _ellipsize(text, max_px, size)
    w = _tw(text, size)
    left = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
    return [_rect(left - 3, cy - size * 0.6 - 1, w + 6, size * 1.2 + 2, "#ffffff", fill_opacity=0.9, rx=3),
            _text(x, cy + size * 0.35, text, size=size, text_anchor=anchor, font_weight=weight,
                  font_style="italic" if italic else None)]


def _reason(cx: float, cy: float, reason: str, max_px: float) -> str:
    """Why a value is not shown, centred on a track; the full text is the tooltip when the visible one is cut."""
    return _group(_pill(cx, cy, reason, anchor="middle", italic=True, max_px=max_px), reason, class_="reason")


def _note(x: float, y: float, text: str, max_px: float, max_lines: int = 2) -> tuple[list[str], float]:
    """Small muted lines starting at baseline ``y``; returns the parts and the height used."""
    if not text:
        return [], 0.0
    lines = _wrap(text, max_px, SMALL, max_lines)
    parts = [_text(x, y + i * (SMALL + 3), line, size=SMALL, fill=MUTED) for i, line in enumerate(lines)]
    return parts, len(lines) * (SMALL + 3)


# --- legend glyphs ------------------------------------------------------------------------------------

GLYPH_W = 14


def _hatch(x: float, y: float, w: float, h: float, step: float = 6.0) -> list[str]:
    """Diagonal hatching computed inside the rectangle (no <pattern>: patterns need ids, ids clash across charts)."""
    lines, c = [], step
    while c < w + h:
        x1, y1 = max(0.0, c - h), min(c, h)
        x2, y2 = min(w, c), c - min(w, c)
        lines.append(_line(x + x1, y + y1, x + x2, y + y2, HATCH, 1))
        c += step
    return lines


def _diamond(x: float, cy: float, r: float, fill: str, **attrs: object) -> str:
    points = f"{_f(x)},{_f(cy - r)} {_f(x + r)},{_f(cy)} {_f(x)},{_f(cy + r)} {_f(x - r)},{_f(cy)}"
    return _el("polygon", points=points, fill=fill, stroke="#ffffff", stroke_width=1, **attrs)


_GLYPHS: dict[str, Callable[[float, float, str], list[str]]] = {
    "swatch": lambda x, cy, c: [_rect(x, cy - 5, GLYPH_W, 10, c, stroke=GRID, stroke_width=0.5)],
    "hatch": lambda x, cy, c: [_rect(x, cy - 5, GLYPH_W, 10, EMPTY, stroke=GRID, stroke_width=0.5),
                               *_hatch(x, cy - 5, GLYPH_W, 10, 4)],
    "dot": lambda x, cy, c: [_el("circle", cx=x + 7, cy=cy, r=5, fill=c, stroke="#ffffff")],
    "ring": lambda x, cy, c: [_el("circle", cx=x + 7, cy=cy, r=4.5, fill="#ffffff", stroke=c, stroke_width=2)],
    "tick": lambda x, cy, c: [_line(x + 7, cy - 7, x + 7, cy + 7, c, 2.5)],
    "dash": lambda x, cy, c: [_line(x + 7, cy - 7, x + 7, cy + 7, c, 2.5, stroke_dasharray="3 2")],
    "diamond": lambda x, cy, c: [_line(x, cy, x + 14, cy, c, 1.5), _diamond(x + 7, cy, 5, c)],
    "whisker": lambda x, cy, c: [_line(x, cy, x + 14, cy, c, 3),
                                 _el("circle", cx=x + 7, cy=cy, r=4.5, fill=c, stroke="#ffffff")],
    "bar": lambda x, cy, c: [_rect(x, cy - 4, GLYPH_W, 8, c)],
}


def _flow(x: float, y: float, items: Sequence[tuple[str, str, str]], max_x: float,
          size: int = SMALL) -> tuple[list[str], float]:
    """(glyph, colour, text) items laid out left to right from baseline ``y``, wrapping at ``max_x``."""
    # Legends are the same in every report: lay each out once (a fresh list, so callers may extend it).
    parts, height = _flow_markup(x, y, tuple(items), max_x, size)
    return list(parts), height


@lru_cache(maxsize=1024)
def _flow_markup(x: float, y: float, items: tuple[tuple[str, str, str], ...], max_x: float,
                 size: int) -> tuple[tuple[str, ...], float]:
    parts: list[str] = []
    cx, cy, line_h = x, y, size + 8
    for glyph, colour, text in items:
        w = (GLYPH_W + 4 if glyph else 0) + _tw(text, size) + 14
        if cx > x and cx + w > max_x:
            cx, cy = x, cy + line_h
        if glyph:
            parts += _GLYPHS[glyph](cx, cy - size * 0.35, colour)
        parts.append(_text(cx + (GLYPH_W + 4 if glyph else 0), cy, text, size=size))
        cx += w
    return tuple(parts), cy - y + line_h


@dataclass(frozen=True)
class _Axis:
    """Maps data values onto a horizontal pixel range; values outside are pinned to the ends."""

    lo: float
    hi: float
    x0: float
    width: float

    def __post_init__(self) -> None:
        if not self.hi > self.lo:
            raise ValueError(f"axis needs lo < hi, got {self.lo} and {self.hi}")

    def x(self, value: float) -> float:
        t = (value - self.lo) / (self.hi - self.lo)
        return self.x0 + self.width * min(1.0, max(0.0, t))

    @property
    def end(self) -> float:
        return self.x0 + self.width


def _axis_ticks(axis: _Axis, y: float, values: Sequence[float], fmt: Callable[[float], str]) -> list[str]:
    # The same axes recur in every report (``fmt`` is a module-level function, so it is a stable cache key).
    return list(_axis_markup(axis, y, tuple(values), fmt))


@lru_cache(maxsize=1024)
def _axis_markup(axis: _Axis, y: float, values: tuple[float, ...], fmt: Callable[[float], str]) -> tuple[str, ...]:
    parts = [_line(axis.x0, y, axis.end, y, GRID)]
    for v in values:
        parts += [_line(axis.x(v), y, axis.x(v), y + 4, MUTED),
                  _text(axis.x(v), y + 16, fmt(v), size=SMALL, text_anchor="middle", fill=MUTED)]
    return tuple(parts)


def _even_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


# --- shared stacked bar -------------------------------------------------------------------------------


def _stacked_bar(x: float, y: float, width: float, height: float, shares: Mapping[str, float | None],
                 categories: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """A 100 % bar in ``categories`` order; returns the parts and "Label 3%" for numbers that did not fit inside."""
    values = {key: _share(shares.get(key)) for key, _ in categories}
    total = sum(v for v in values.values() if v is not None)
    colours = ordinal_colours(len(categories))
    parts: list[str] = [_rect(x, y, width, height, EMPTY)]
    outside: list[str] = []
    cursor = x
    for (key, name), colour in zip(categories, colours, strict=True):
        value = values[key]
        if value is None:
            continue
        text = format_share(value)
        w = width * value / total if total else 0.0
        fits = value >= MIN_INSIDE and _tw(text, SMALL) + 4 <= w
        seg = [_rect(cursor, y, w, height, colour, stroke="#ffffff", stroke_width=1, class_="segment")]
        if fits:
            seg.append(_text(cursor + w / 2, y + height / 2 + SMALL * 0.35, text, size=SMALL,
                             text_anchor="middle", fill=_text_on(colour)))
        else:
            outside.append(f"{name} {text}")
        parts.append(_group(seg, f"{name}: {text}"))
        cursor += w
    return parts, outside


def _shares_words(shares: Mapping[str, float | None] | None, categories: Sequence[tuple[str, str]]) -> str:
    shares = shares or {}
    words = []
    for key, name in categories:
        value = _share(shares.get(key))
        words.append(f"{name} {format_share(value) if value is not None else 'not reported'}")
    return ", ".join(words)


def _n_text(n: int | None) -> str:
    return f"n = {n:,}" if n is not None else ""


def _bar_note(n: int | None, outside: Sequence[str]) -> str:
    pieces = [_n_text(n)] if n is not None else []
    if outside:
        pieces.append("not printed in the bar: " + ", ".join(outside))
    return " · ".join(pieces)


def _has_shares(shares: Mapping[str, float | None] | None) -> bool:
    return bool(shares) and any(_clean(v) for v in shares.values())


def _empty_bar(x: float, y: float, width: float, height: float, reason: str) -> list[str]:
    return [_rect(x, y, width, height, EMPTY, stroke=GRID, stroke_width=0.5, class_="suppressed"),
            _reason(x + width / 2, y + height / 2, reason, width - 10)]


# --- 1. scale scores ----------------------------------------------------------------------------------

SCALE_LABEL_W = 160
TRACK_H = 24


def _band_of(value: float, cuts: Sequence[tuple[str, float]]) -> str:
    name = ""
    for label, bound in sorted(cuts, key=lambda c: c[1]):
        if value >= bound:
            name = label
    return name


def _bands(cuts: Sequence[tuple[str, float]], axis: _Axis, track_y: float) -> list[str]:
    """Shaded level bands with their names above the track and the cut points below it."""
    # Every report draws the same cut points on the same axis at the same heights: build each set once.
    return list(_bands_markup(tuple(tuple(c) for c in cuts), axis, track_y))


@lru_cache(maxsize=1024)
def _bands_markup(cuts: tuple[tuple[str, float], ...], axis: _Axis, track_y: float) -> tuple[str, ...]:
    cuts = sorted(cuts, key=lambda c: c[1])
    parts: list[str] = []
    bounds = [max(axis.lo, b) for _, b in cuts] + [axis.hi]
    for i, (name, _) in enumerate(cuts):
        x1, x2 = axis.x(bounds[i]), axis.x(bounds[i + 1])
        parts.append(_rect(x1, track_y, x2 - x1, TRACK_H, BAND_GREYS[min(i, len(BAND_GREYS) - 1)], class_="band"))
        lines = _wrap(name, x2 - x1 - 4, SMALL, 2)
        for j, line in enumerate(lines):
            parts.append(_text((x1 + x2) / 2, track_y - 4 - (len(lines) - 1 - j) * (SMALL + 2), line,
                               size=SMALL, text_anchor="middle", fill=MUTED))
    parts.append(_rect(axis.x0, track_y, axis.width, TRACK_H, "none", stroke=GRID, class_="track"))
    for bound in dict.fromkeys([axis.lo, *bounds]):  # dict: each cut printed once, in order
        parts.append(_text(axis.x(bound), track_y + TRACK_H + 13, _tick(bound), size=SMALL,
                           text_anchor="middle", fill=MUTED))
    return tuple(parts)


def _benchmark_ticks(s: ScaleBar, axis: _Axis, track_y: float) -> list[str]:
    parts = []
    for value, colour, name, dash in ((s.national, NATIONAL, "National", None),
                                      (s.network, NETWORK, "Network", "4 2")):
        value = _clean(value)
        if value is not None:
            x = axis.x(value)
            tick = _line(x, track_y - 5, x, track_y + TRACK_H + 5, colour, 2.5, stroke_dasharray=dash,
                         class_=name.lower())
            parts.append(_group([tick], f"{name} {format_score(value)}"))
    return parts


def _mean_mark(s: ScaleBar, axis: _Axis, cy: float) -> list[str]:
    mean, low, high = _clean(s.mean), _clean(s.ci_low), _clean(s.ci_high)
    parts = []
    if low is not None and high is not None:
        parts.append(_line(axis.x(low), cy, axis.x(high), cy, SCHOOL, 3, stroke_linecap="round", class_="ci"))
    x = axis.x(mean)
    parts.append(_el("circle", cx=x, cy=cy, r=6, fill=SCHOOL, stroke="#ffffff", stroke_width=1.5, class_="mean"))
    text = format_score(mean)
    right = axis.x(high if high is not None else mean) + 9
    if right + _tw(text, FONT) <= axis.end + 30:
        return parts + _pill(right, cy, text, weight="bold")
    left = axis.x(low if low is not None else mean) - 9
    return parts + _pill(left, cy, text, anchor="end", weight="bold")


def _scale_values(s: ScaleBar) -> list[tuple[str, str, str]]:
    """The numbers of one track in words, each beside its legend glyph."""
    mean = _clean(s.mean)
    if s.suppressed_reason or mean is None:
        items = [("", "", "School: not reported")]
    else:
        items = [("whisker", SCHOOL, "School " + _with_ci(mean, s.ci_low, s.ci_high, format_score))]
    for value, glyph, colour, name in ((s.national, "tick", NATIONAL, "National"),
                                       (s.network, "dash", NETWORK, "Network")):
        if _clean(value) is not None:
            items.append((glyph, colour, f"{name} {format_score(_clean(value))}"))
    return items


def _scale_row(s: ScaleBar, axis: _Axis, top: float, width: float) -> tuple[str, float]:
    track_y = top + 2 * (SMALL + 2) + 4  # room for two lines of band names
    cy = track_y + TRACK_H / 2
    parts = _label_block(s.label, PAD, cy, SCALE_LABEL_W) + _bands(s.cuts, axis, track_y)
    parts += _benchmark_ticks(s, axis, track_y)
    if s.suppressed_reason or _clean(s.mean) is None:
        reason = s.suppressed_reason or "No estimate"
        parts.append(_reason(axis.x0 + axis.width / 2, cy, reason, axis.width - 10))
    else:
        parts += _mean_mark(s, axis, cy)
    values, h = _flow(axis.x0, track_y + TRACK_H + 32, _scale_values(s), width - PAD)
    return _group(parts + values, s.label, class_="scale"), track_y + TRACK_H + 20 + h + 10 - top


def _scale_desc(s: ScaleBar) -> str:
    mean = _clean(s.mean)
    if s.suppressed_reason or mean is None:
        text = f"{s.label}: not reported ({s.suppressed_reason or 'no estimate'})"
    else:
        text = f"{s.label}: school mean {_with_ci(mean, s.ci_low, s.ci_high, format_score)}"
        band = _band_of(mean, s.cuts)
        text += f", in the {band} band" if band else ""
    for value, name in ((s.national, "national"), (s.network, "network")):
        if _clean(value) is not None:
            text += f"; {name} {format_score(_clean(value))}"
    return text + "."


def scale_chart(scales: Sequence[ScaleBar], lo: float = 200, hi: float = 300, *,
                title: str = "Scale scores with benchmarks") -> str:
    """Each scale as a track from ``lo`` to ``hi`` with level bands, the school mean, its 95 % interval and benchmarks."""
    width = 760
    axis = _Axis(lo, hi, PAD + SCALE_LABEL_W + 24, 500)
    legend, y = _flow(PAD, PAD + SMALL, [("whisker", SCHOOL, "School mean with 95 % interval"),
                                         ("tick", NATIONAL, "National"), ("dash", NETWORK, "Network"),
                                         ("swatch", BAND_GREYS[2], "Level bands (cut points under each track)")],
                      width - PAD)
    parts, y = list(legend), PAD + y
    for s in scales:
        row, h = _scale_row(s, axis, y, width)
        parts.append(row)
        y += h
    desc = (f"Scale scores from {_tick(lo)} to {_tick(hi)} for {len(scales)} scales. "
            + " ".join(_scale_desc(s) for s in scales))
    return _svg(width, y + PAD, title, desc, parts)


# --- 2. level distribution ----------------------------------------------------------------------------

LEVEL_LABEL_W = 160
BAR_H = 26


def _level_row(row: LevelRow, levels: Sequence[tuple[str, str]], x0: float, bar_w: float,
               top: float) -> tuple[str, float]:
    parts = _label_block(row.label, PAD, top + BAR_H / 2, LEVEL_LABEL_W)
    outside: list[str] = []
    if row.suppressed_reason or not _has_shares(row.shares):
        parts += _empty_bar(x0, top, bar_w, BAR_H, row.suppressed_reason or "No responses")
    else:
        bar, outside = _stacked_bar(x0, top, bar_w, BAR_H, row.shares, levels)
        parts += bar
    note, h = _note(x0, top + BAR_H + 13, _bar_note(row.n, outside), bar_w)
    return _group(parts + note, row.label, class_="row"), BAR_H + h + 14


def _level_desc(row: LevelRow, levels: Sequence[tuple[str, str]]) -> str:
    n = f" ({_n_text(row.n)})" if row.n is not None else ""
    if row.suppressed_reason or not _has_shares(row.shares):
        return f"{row.label}{n}: not reported ({row.suppressed_reason or 'no responses'})."
    return f"{row.label}{n}: {_shares_words(row.shares, levels)}."


def level_distribution_chart(rows: Sequence[LevelRow], levels: Sequence[tuple[str, str]], *,
                             title: str = "Share of respondents at each level") -> str:
    """Stacked 100 % bars, one per row; ``levels`` are (key, label) pairs in order, lowest first."""
    width, x0 = 760, PAD + LEVEL_LABEL_W + 16
    bar_w = width - x0 - PAD
    colours = ordinal_colours(len(levels))
    legend, y = _flow(x0, PAD + SMALL, [("swatch", c, name) for (_, name), c in zip(levels, colours, strict=True)],
                      width - PAD)
    parts, y = list(legend), PAD + y + 4
    for row in rows:
        svg, h = _level_row(row, levels, x0, bar_w, y)
        parts.append(svg)
        y += h
    desc = (f"Share of respondents at each level ({', '.join(name for _, name in levels)}), "
            f"lowest level first. " + " ".join(_level_desc(r, levels) for r in rows))
    return _svg(width, y + PAD, title, desc, parts)


# --- 3. growth ----------------------------------------------------------------------------------------

GROWTH_LABEL_W = 150


def _nice_span(rows: Sequence[GrowthRow]) -> float:
    """Half-width of the change axis: the largest |change| or interval end, rounded up to a readable number."""
    ends = [abs(v) for r in rows if not r.suppressed_reason
            for v in map(_clean, (r.change, r.ci_low, r.ci_high)) if v is not None]
    largest = max(ends, default=0.0) * 1.05
    for span in (5, 10, 15, 20, 25, 30, 40, 50, 75, 100):
        if largest <= span:
            return float(span)
    return math.ceil(largest / 50) * 50.0


def _arrow(x1: float, x2: float, cy: float) -> list[str]:
    """Fall-to-spring arrow between the two dots; no <marker>, which would need an id."""
    sign = 1 if x2 >= x1 else -1
    if abs(x2 - x1) < 16:
        return []
    tip = x2 - sign * 7
    head = f"{_f(tip)},{_f(cy)} {_f(tip - sign * 7)},{_f(cy - 4.5)} {_f(tip - sign * 7)},{_f(cy + 4.5)}"
    return [_line(x1 + sign * 6, cy, tip - sign * 6, cy, MUTED, 2), _el("polygon", points=head, fill=MUTED)]


def _fall_spring(r: GrowthRow, axis: _Axis, cy: float) -> list[str]:
    fall, spring = _clean(r.fall), _clean(r.spring)
    parts = [_line(axis.x0, cy, axis.end, cy, EMPTY, 6, stroke_linecap="round")]
    both = fall is not None and spring is not None
    if both:
        parts += _arrow(axis.x(fall), axis.x(spring), cy)
    if fall is not None:
        x = axis.x(fall)
        parts.append(_el("circle", cx=x, cy=cy, r=5.5, fill="#ffffff", stroke=FALL, stroke_width=2.5, class_="fall"))
        parts += _dot_number(x, cy, fall, left=both and fall <= spring)
    if spring is not None:
        x = axis.x(spring)
        parts.append(_el("circle", cx=x, cy=cy, r=6, fill=SCHOOL, stroke="#ffffff", class_="spring"))
        parts += _dot_number(x, cy, spring, left=both and spring < fall)
    return parts


def _dot_number(x: float, cy: float, value: float, left: bool) -> list[str]:
    """The lower of two numbers goes left of its dot and the higher one right, so the two never collide."""
    return _pill(x - 10 if left else x + 10, cy, format_score(value), anchor="end" if left else "start", size=SMALL)


def _change_words(r: GrowthRow) -> str:
    """ "+6.2 (95 % CI 2.1 to 10.3)": the change is signed, the interval ends are plain numbers."""
    change = _clean(r.change)
    if change is None:
        return ""
    ci = format_ci(r.ci_low, r.ci_high)
    return f"{format_change(change)} ({ci})" if ci else format_change(change)


def _change_mark(r: GrowthRow, axis: _Axis, cy: float) -> list[str]:
    change, low, high = _clean(r.change), _clean(r.ci_low), _clean(r.ci_high)
    zero = axis.x(0)
    parts = [_line(zero, cy - 11, zero, cy + 11, MUTED, 1.5, class_="zero")]
    if change is None:
        return parts + [_text(axis.x0, cy + 22, "No change estimate", size=SMALL, font_style="italic")]
    if low is not None and high is not None:
        parts += [_line(axis.x(low), cy, axis.x(high), cy, INK, 2, class_="ci"),
                  _line(axis.x(low), cy - 5, axis.x(low), cy + 5, INK, 2),
                  _line(axis.x(high), cy - 5, axis.x(high), cy + 5, INK, 2)]
    parts.append(_diamond(axis.x(change), cy, 6, INK, class_="change"))
    # The numbers go under the whisker, not beside it, so a wide interval never pushes them out of the panel.
    parts.append(_text(axis.x0, cy + 22, _change_words(r), size=SMALL, class_="change-label"))
    if r.verdict:
        parts.append(_text(axis.x0, cy + 36, _ellipsize(r.verdict, axis.width + 20, SMALL), size=SMALL,
                           font_weight="bold"))
    return parts


def _growth_row(r: GrowthRow, left: _Axis, right: _Axis, top: float) -> tuple[str, float]:
    cy = top + 12
    parts = _label_block(r.label, PAD, cy, GROWTH_LABEL_W)
    if r.suppressed_reason:
        parts.append(_reason((left.x0 + right.end) / 2, cy, r.suppressed_reason, right.end - left.x0))
        return _group(parts, r.label, class_="row"), 40
    parts += _fall_spring(r, left, cy) + _change_mark(r, right, cy)
    return _group(parts, r.label, class_="row"), 62


def _change_tick(value: float) -> str:
    return format_change(value, 0 if value.is_integer() else 1)


def _growth_desc(r: GrowthRow) -> str:
    if r.suppressed_reason:
        return f"{r.label}: not reported ({r.suppressed_reason})."
    fall, spring = _clean(r.fall), _clean(r.spring)
    text = (f"{r.label}: fall {format_score(fall) if fall is not None else 'not reported'}, "
            f"spring {format_score(spring) if spring is not None else 'not reported'}")
    if _change_words(r):
        text += f", change {_change_words(r)}"
    return text + (f", {r.verdict}." if r.verdict else ".")


def growth_chart(rows: Sequence[GrowthRow], *, lo: float = 200, hi: float = 300, change_span: float | None = None,
                 title: str = "Growth from fall to spring") -> str:
    """Fall → spring means on the score scale, and the change with its 95 % interval against zero."""
    width = 800
    left = _Axis(lo, hi, PAD + GROWTH_LABEL_W + 20, 300)
    span = change_span or _nice_span(rows)
    right = _Axis(-span, span, left.end + 50, width - left.end - 50 - PAD - 20)
    legend, y = _flow(PAD, PAD + SMALL, [("ring", FALL, "Fall mean"), ("dot", SCHOOL, "Spring mean"),
                                         ("diamond", INK, "Change with 95 % interval; the vertical line is no change")],
                      width - PAD)
    y += PAD + 6
    parts = [*legend, _text(left.x0, y, "Fall → spring mean", font_weight="bold"),
             _text(right.x0, y, "Change, spring minus fall", font_weight="bold")]
    y += 14
    for r in rows:
        svg, h = _growth_row(r, left, right, y)
        parts.append(svg)
        y += h
    parts += _axis_ticks(left, y, _even_ticks(lo, hi), _tick)
    parts += _axis_ticks(right, y, _even_ticks(-span, span), _change_tick)
    desc = (f"Mean scale scores in fall and spring and their change, with 95 % confidence intervals, "
            f"for {len(rows)} scales. " + " ".join(_growth_desc(r) for r in rows))
    return _svg(width, y + 22 + PAD, title, desc, parts)


# --- 4. item distributions ----------------------------------------------------------------------------

ITEM_LABEL_W = 280
TOPBOX_W = 120
TOPBOX_PITCH = 12


def _top_box_entries(item: ItemBar) -> list[tuple[str, str, float, float | None]]:
    """(name, colour, share, se) for school and benchmarks; a suppressed school keeps only its benchmarks."""
    school = None if item.suppressed_reason else _share(item.top_box)
    entries = [("School", SCHOOL, school, _clean(item.top_box_se)),
               ("National", NATIONAL, _share(item.national_top_box), None),
               ("Network", NETWORK, _share(item.network_top_box), None)]
    return [(name, colour, v, se) for name, colour, v, se in entries if v is not None]


def _top_box_ci(value: float, se: float | None) -> tuple[float, float] | None:
    return None if se is None else (max(0.0, value - 1.96 * se), min(1.0, value + 1.96 * se))


def _top_box_bars(item: ItemBar, axis: _Axis, top: float) -> tuple[list[str], float]:
    parts = [_top_box_bar(name, colour, value, se, axis, top + i * TOPBOX_PITCH)
             for i, (name, colour, value, se) in enumerate(_top_box_entries(item))]
    return parts, len(parts) * TOPBOX_PITCH


def _top_box_bar(name: str, colour: str, value: float, se: float | None, axis: _Axis, y: float) -> str:
    # The national and network bars of an item are the same in every school's report: draw each once. A zero
    # is drawn afresh: 0.0 and -0.0 are one cache key, yet format_share prints them "0%" and "-0%".
    draw = _top_box_markup.__wrapped__ if value == 0 else _top_box_markup
    return draw(name, colour, value, se, axis, y)


@lru_cache(maxsize=4096)
def _top_box_markup(name: str, colour: str, value: float, se: float | None, axis: _Axis, y: float) -> str:
    bar = [_rect(axis.x0, y, axis.width, 8, EMPTY),  # the 0-100 % track, so a short bar reads as short
           _rect(axis.x0, y, axis.x(value) - axis.x0, 8, colour, class_=f"topbox {name.lower()}")]
    end, ci = axis.x(value), _top_box_ci(value, se)
    if ci:
        bar += [_line(axis.x(ci[0]), y + 4, axis.x(ci[1]), y + 4, INK, 1.5),
                _line(axis.x(ci[0]), y, axis.x(ci[0]), y + 8, INK, 1.5),
                _line(axis.x(ci[1]), y, axis.x(ci[1]), y + 8, INK, 1.5)]
        end = max(end, axis.x(ci[1]))
    bar.append(_text(end + 4, y + 8, format_share(value), size=SMALL))
    return _group(bar, f"{name} top box {_with_ci(value, *(ci or (None, None)), format_share)}")


def _item_row(item: ItemBar, categories: Sequence[tuple[str, str]], bar_x: float, bar_w: float,
              axis: _Axis, top: float) -> tuple[str, float]:
    lines = _wrap(item.label, ITEM_LABEL_W, FONT, 3)
    parts = [_text(PAD, top + 12 + i * 15, line) for i, line in enumerate(lines)]
    outside: list[str] = []
    if item.suppressed_reason or not _has_shares(item.shares):
        parts += _empty_bar(bar_x, top, bar_w, BAR_H, item.suppressed_reason or "Distribution not available")
    else:
        bar, outside = _stacked_bar(bar_x, top, bar_w, BAR_H, item.shares, categories)
        parts += bar
    note, note_h = _note(bar_x, top + BAR_H + 13, _bar_note(item.n, outside), bar_w)
    bars, bars_h = _top_box_bars(item, axis, top + 1)
    h = max(len(lines) * 15 + 2, BAR_H + note_h + 2, bars_h) + 14
    rule = _line(PAD, top + h - 7, axis.end + 40, top + h - 7, EMPTY)
    # The full wording is the row's <title>: the visible label may be cut to three lines.
    return _group(parts + note + bars + [rule], item.label, class_="item"), h


def _item_desc(item: ItemBar, categories: Sequence[tuple[str, str]]) -> str:
    n = f" ({_n_text(item.n)})" if item.n is not None else ""
    if item.suppressed_reason:
        text = f"{item.label}{n}: not reported ({item.suppressed_reason})"
    elif _has_shares(item.shares):
        text = f"{item.label}{n}: {_shares_words(item.shares, categories)}"
    else:
        text = f"{item.label}{n}: distribution not available"
    tops = [f"{name.lower()} {_with_ci(v, *(_top_box_ci(v, se) or (None, None)), format_share)}"
            for name, _, v, se in _top_box_entries(item)]
    return text + (f"; top box {', '.join(tops)}." if tops else ".")


def item_distribution_chart(items: Sequence[ItemBar], categories: Sequence[str], *,
                            title: str = "Responses to each item", top_box_label: str = "Top-box share") -> str:
    """Per item the response distribution (a 100 % bar) and the top-box share of school, national and network."""
    width = 900
    bar_x = PAD + ITEM_LABEL_W + 12
    axis = _Axis(0.0, 1.0, width - PAD - 40 - TOPBOX_W, TOPBOX_W)
    bar_w = axis.x0 - 24 - bar_x
    cats = [(c, c) for c in categories]
    colours = ordinal_colours(len(cats))
    legend, y = _flow(PAD, PAD + SMALL, [("swatch", c, name) for (_, name), c in zip(cats, colours, strict=True)],
                      width - PAD)
    top_box_legend, h = _flow(PAD, PAD + SMALL + y, [("", "", f"{top_box_label}:"),
                                                     ("bar", SCHOOL, "School (whisker: 95 % interval)"),
                                                     ("bar", NATIONAL, "National"), ("bar", NETWORK, "Network")],
                              width - PAD)
    legend += top_box_legend
    y += h + PAD + 6
    parts = [*legend, _text(bar_x, y, "Response distribution", font_weight="bold"),
             _text(axis.x0, y, _ellipsize(top_box_label, TOPBOX_W + 40, FONT), font_weight="bold")]
    parts += [_text(axis.x(v), y + 14, t, size=SMALL, text_anchor=a, fill=MUTED)
              for v, t, a in ((0, "0", "start"), (0.5, "50", "middle"), (1, "100%", "end"))]
    y += 24
    for item in items:
        svg, h = _item_row(item, cats, bar_x, bar_w, axis, y)
        parts.append(svg)
        y += h
    desc = (f"Response distribution ({', '.join(categories)}) and {top_box_label.lower()} for {len(items)} items. "
            + " ".join(_item_desc(i, cats) for i in items))
    return _svg(width, y + PAD, title, desc, parts)


# --- 5. heat map --------------------------------------------------------------------------------------

MIN_CELL = 14
GROUP_GAP = 6
COLUMN_LABEL_PX = 160
ROW_LABEL_PX = 200
SIN60, COS60 = math.sin(math.radians(60)), 0.5


def _column_xs(columns: Sequence[HeatColumn], x0: float, cell_w: float) -> list[float]:
    """Left edges; a gap between component groups separates them without a colour."""
    xs, x = [], x0
    for i, col in enumerate(columns):
        if i and col.group != columns[i - 1].group:
            x += GROUP_GAP
        xs.append(x)
        x += cell_w
    return xs


def _group_headers(columns: Sequence[HeatColumn], xs: Sequence[float], cell_w: float, y: float) -> list[str]:
    parts, start = [], 0
    for i in range(1, len(columns) + 1):
        if i < len(columns) and columns[i].group == columns[start].group:
            continue
        x1, x2 = xs[start], xs[i - 1] + cell_w
        text = _ellipsize(columns[start].group, x2 - x1, FONT)
        parts.append(_group([_text((x1 + x2) / 2, y, text, text_anchor="middle", font_weight="bold"),
                             _line(x1, y + 5, x2, y + 5, MUTED, 1.5)], columns[start].group, class_="group"))
        start = i
    return parts


def _column_labels(columns: Sequence[HeatColumn], xs: Sequence[float], cell_w: float, y: float) -> list[str]:
    parts = []
    for col, x in zip(columns, xs, strict=True):
        cx = x + cell_w / 2 + SMALL * 0.35  # centre the rotated glyphs, not their baseline, on the column
        text = _text(cx, y, _ellipsize(col.label, COLUMN_LABEL_PX, SMALL), size=SMALL,
                     transform=f"rotate(-60 {_f(cx)} {_f(y)})")
        parts.append(_group([text], f"{col.group}: {col.label}", class_="column"))
    return parts


def _heat_cell(x: float, y: float, w: float, h: float, value: float | None, note: str | None,
               mark: str, where: str) -> str:
    cy = y + h / 2 + SMALL * 0.35
    if value is None:
        # Hatching plus a printed mark: a suppressed cell must not look like a light (low) value.
        parts = [_rect(x, y, w, h, EMPTY, stroke="#ffffff", class_="cell suppressed"), *_hatch(x, y, w, h),
                 _text(x + w / 2, cy, _ellipsize(mark, w - 2, SMALL), size=None)]
        return _group(parts, f"{where}: {note or 'no data'}")
    colour, percent = heat_colour(value), f"{value * 100:.0f}"  # value is already a checked share
    tooltip = f"{where}: {percent}%" + (f" ({note})" if note else "")  # "{percent}%" is format_share(value)
    # The hot path of the largest chart (3,150 cells): the markup _group, _rect and _text would write, spelled out
    # to save three calls and two keyword dicts per cell.
    return (f'<g><title>{_esc(tooltip)}</title>'
            f'<rect x="{_value(x)}" y="{_value(y)}" width="{_value(max(w, 0.0))}" height="{_value(h)}" '
            f'fill="{colour}" stroke="#ffffff" class="cell"/>'
            f'<text x="{_value(x + w / 2)}" y="{_value(cy)}" fill="{_text_on(colour)}">{percent}</text></g>')


def _heat_desc(rows: Sequence[str], columns: Sequence[HeatColumn], shown: Sequence[float], label: str) -> str:
    groups = list(dict.fromkeys(c.group for c in columns))
    text = (f"{label} heat map: {len(rows)} rows by {len(columns)} indicators in {len(groups)} groups "
            f"({', '.join(groups)}). ")
    if shown:
        text += (f"{len(shown)} cells have a value, from {format_share(min(shown))} to {format_share(max(shown))}, "
                 f"median {format_share(statistics.median(shown))}; ")
    text += f"{len(rows) * len(columns) - len(shown)} cells are suppressed or have no data (hatched, reason on hover). "
    return text + "Each cell prints its percent; its tooltip names the row, the indicator and any note."


def heatmap(rows: Sequence[str], columns: Sequence[HeatColumn], values: Mapping[tuple[str, str], float | None],
            notes: Mapping[tuple[str, str], str] | None = None, *, marks: Mapping[tuple[str, str], str] | None = None,
            default_mark: str = "–", title: str = "Top-box share by classroom and indicator",
            value_label: str = "Top-box share", cell_w: float = 24, cell_h: float = 18) -> str:
    """Rows (classrooms) × indicator columns, cells coloured by a 0-1 share with the percent printed in each.

    Cells without a value are hatched and print ``marks[key]`` (e.g. "n<5") or ``default_mark``; ``notes[key]``
    is the cell's tooltip note (the suppression reason). The SVG has its real pixel width: let the page scroll it.
    """
    if min(cell_w, cell_h) < MIN_CELL:
        raise ValueError(f"heat-map cells must be at least {MIN_CELL} px to hold an {SMALL} px number")
    notes, marks = notes or {}, marks or {}
    label_w = min(ROW_LABEL_PX, max((_tw(r, FONT) for r in rows), default=40.0)) + 8
    xs = _column_xs(columns, PAD + label_w + 8, cell_w)
    grid_right = (xs[-1] if xs else PAD + label_w) + cell_w
    col_px = min(COLUMN_LABEL_PX, max((_tw(c.label, SMALL) for c in columns), default=0.0))
    grid_top = PAD + FONT + 14 + col_px * SIN60 + 10
    parts = _group_headers(columns, xs, cell_w, PAD + FONT) + _column_labels(columns, xs, cell_w, grid_top - 6)
    shown: list[float] = []
    for r, row in enumerate(rows):
        y = grid_top + r * cell_h
        cells = []
        for col, x in zip(columns, xs, strict=True):
            key = (row, col.id)
            value = _share(values.get(key))
            shown += [value] if value is not None else []
            cells.append(_heat_cell(x, y, cell_w, cell_h, value, notes.get(key), marks.get(key, default_mark),
                                    f"{row} · {col.label}"))
        # Text attributes once per row rather than per cell: 3,150 cells make every byte count.
        parts.append(_group(cells, None, font_size=SMALL, text_anchor="middle", class_="heat-row"))
        # Row names on both sides: a wide map is scrolled, and one side is always in view.
        for x in (PAD, grid_right + 8):
            parts.append(_group([_text(x, y + cell_h / 2 + FONT * 0.35, _ellipsize(row, ROW_LABEL_PX, FONT))],
                                row, class_="row-label"))
    legend_items = [("", "", f"{value_label}, percent printed in each cell:")]
    legend_items += [("swatch", c, f"{i * 20}–{i * 20 + 19 if i < 4 else 100}") for i, c in enumerate(HEAT_BINS)]
    legend_items.append(("hatch", "", "suppressed or no data (mark in the cell, reason on hover)"))
    grid_bottom = grid_top + len(rows) * cell_h
    width = max(grid_right + 8 + label_w, grid_right + col_px * COS60 + 8, 720) + PAD
    legend, h = _flow(PAD, grid_bottom + 22, legend_items, width - PAD)
    return _svg(width, grid_bottom + 12 + h + PAD, title, _heat_desc(rows, columns, shown, value_label),
                parts + legend)


# --- 6. comparisons -----------------------------------------------------------------------------------

COMPARE_LABEL_W = 180
COMPARE_ROW_H = 32


def _compare_texts(row: CompareRow, fmt: Callable[[float], str]) -> tuple[str, str, str]:
    value = _clean(row.value)
    if row.suppressed_reason or value is None:
        shown = "not reported"
    else:
        shown = _with_ci(value, row.ci_low, row.ci_high, fmt)
    return shown, _n_text(row.n), row.mark or ""


def _compare_row(row: CompareRow, axis: _Axis, texts: Sequence[str], cols: Sequence[float], top: float) -> str:
    """One bar; ``texts`` are its value, n and mark columns (_compare_texts, computed once per chart)."""
    cy = top + COMPARE_ROW_H / 2
    parts = _label_block(row.label, PAD, cy, COMPARE_LABEL_W)
    value, low, high = _clean(row.value), _clean(row.ci_low), _clean(row.ci_high)
    if row.suppressed_reason or value is None:
        parts.append(_reason(axis.x0 + axis.width / 2, cy, row.suppressed_reason or "No estimate", axis.width - 10))
    else:
        parts.append(_rect(axis.x0, cy - 8, axis.x(value) - axis.x0, 16, SCHOOL, class_="bar"))
        if low is not None and high is not None:
            parts += [_line(axis.x(low), cy, axis.x(high), cy, INK, 1.5, class_="ci"),
                      _line(axis.x(low), cy - 5, axis.x(low), cy + 5, INK, 1.5),
                      _line(axis.x(high), cy - 5, axis.x(high), cy + 5, INK, 1.5)]
    for x, text, weight in zip(cols, texts, (None, None, "bold"), strict=True):
        parts.append(_text(x, cy + FONT * 0.35, text, font_weight=weight))
    return _group(parts, row.label, class_="row")


def _compare_desc(row: CompareRow, texts: Sequence[str]) -> str:
    shown = texts[0] + (f" ({row.suppressed_reason})" if row.suppressed_reason else "")
    return f"{row.label}: " + ", ".join(t for t in (shown, *texts[1:]) if t) + "."


def bar_compare_chart(rows: Sequence[CompareRow], *, lo: float | None = None, hi: float | None = None,
                      percent: bool = True, title: str = "Comparison", axis_label: str = "") -> str:
    """Horizontal bars with 95 % whiskers, n and a significance mark.

    ``percent=True``: values are shares 0-1 on a 0-100 % axis; ``percent=False``: scale scores, axis 200-300
    by default. ``lo``/``hi`` override either axis.
    """
    lo = (0.0 if percent else 200.0) if lo is None else lo
    hi = (1.0 if percent else 300.0) if hi is None else hi
    if percent and hi > 1:
        raise ValueError("a percent axis takes shares 0-1 (use hi=1), not 0-100")
    fmt = format_share if percent else format_score
    axis = _Axis(lo, hi, PAD + COMPARE_LABEL_W + 16, 300)
    texts = [_compare_texts(r, fmt) for r in rows]
    # Text columns as wide as their longest entry, so values, n and marks line up down the chart.
    headers = ("Value (95 % CI)", "n", "")
    cols, x = [], axis.end + 24
    for i, header in enumerate(headers):
        cols.append(x)
        x += max([_tw(header, FONT)] + [_tw(t[i], FONT) for t in texts]) + 18
    width = max(x, 640) + PAD
    top = PAD + FONT + 8
    parts = [_text(c, PAD + FONT, h, font_weight="bold") for c, h in zip(cols, headers, strict=True) if h]
    bottom = top + len(rows) * COMPARE_ROW_H
    parts += [_line(axis.x(v), top, axis.x(v), bottom, EMPTY) for v in _even_ticks(lo, hi)]
    parts += [_compare_row(r, axis, t, cols, top + i * COMPARE_ROW_H)
              for i, (r, t) in enumerate(zip(rows, texts, strict=True))]
    parts += _axis_ticks(axis, bottom + 2, _even_ticks(lo, hi), fmt if percent else _tick)
    if axis_label:
        parts.append(_text(axis.x0 + axis.width / 2, bottom + 34, axis_label, size=SMALL, text_anchor="middle"))
    desc = f"{title}: {len(rows)} rows. " + " ".join(_compare_desc(r, t) for r, t in zip(rows, texts, strict=True))
    return _svg(width, bottom + (40 if axis_label else 24) + PAD, title, desc, parts)
