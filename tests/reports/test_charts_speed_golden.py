"""reports.charts remembers formatted numbers, attribute strings and repeated pieces (legends, axes, score bands)
to render ~7,000 reports quickly. These tests pin that the caches are invisible: the SVG is byte-for-byte what
the uncached code wrote, whatever was rendered before."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import pytest

from reports import charts
from reports.charts import (
    CompareRow,
    GrowthRow,
    HeatColumn,
    ItemBar,
    LevelRow,
    ScaleBar,
    bar_compare_chart,
    growth_chart,
    heatmap,
    item_distribution_chart,
    level_distribution_chart,
    ordinal_colours,
    scale_chart,
)

ROOT = Path(__file__).resolve().parents[2]
NASTY = 'Room <b> & "the" \'rest\' > \x00'
CUTS = [("Emerging", 200), ("Moderate low", 238), ("Moderate high", 252), ("High", 266)]
LEVELS = [("emerging", "Emerging"), ("moderate_low", "Moderate low"), ("moderate_high", "Moderate high"),
          ("high", "High")]
CATEGORIES = ["Not at all true", "A little true", "Mostly true", "Very true"]
LONG = ("My teachers let me choose how I show what I learned, even when the whole class is working on "
        "the same project and the same topic for several weeks in a row")


def _big_heatmap() -> str:
    columns = [HeatColumn(f"ind{i}", f"Indicator {i} about choice and voice", f"Component {i // 15 + 1}")
               for i in range(105)]
    rows = [f"Room {100 + r}" for r in range(30)]
    values = {(row, col.id): ((r * 105 + c) % 101) / 100 for r, row in enumerate(rows)
              for c, col in enumerate(columns)}
    suppressed = [(rows[0], "ind3"), (rows[7], "ind50"), (rows[29], "ind104")]
    for key in suppressed:
        values[key] = None
    return heatmap(rows, columns, values, {key: "Fewer than 5 students answered" for key in suppressed},
                   marks={key: "n<5" for key in suppressed[:2]})


CHARTS = {
    "scale": lambda: scale_chart([
        ScaleBar("Learner Focused", 250.0, 246.1, 254.5, 251.0, 248.2, CUTS),
        ScaleBar(NASTY, 299.999, 290.004, 310.0, 199.995, math.nan, [("High", 266.5), ("Low", 180)]),
        ScaleBar("Learner Led", None, None, None, 244.0, 246.5, CUTS, "Fewer than 10 respondents")]),
    "levels": lambda: level_distribution_chart([
        LevelRow("Learner Focused", {"emerging": 0.03, "moderate_low": 0.22, "moderate_high": 0.41, "high": 0.34},
                 142),
        LevelRow(NASTY, {"emerging": math.nan, "moderate_low": 0.05, "moderate_high": 0.06, "high": 0.89}, 12034),
        LevelRow("Learner Led", {}, None, "Fewer than 10 respondents")], LEVELS),
    "growth": lambda: growth_chart([
        GrowthRow("Learner Focused", 244.1, 250.3, 6.2, 2.1, 10.3, "Significant increase"),
        GrowthRow(NASTY, 255.0, 252.9, -2.1, -6.0, 1.8, "No significant change"),
        GrowthRow("Learner Led", None, None, None, None, None, "", "Fewer than 10 matched students")]),
    "items": lambda: item_distribution_chart([
        ItemBar(LONG, dict(zip(CATEGORIES, [0.04, 0.21, 0.40, 0.35], strict=True)), 0.35, 0.03, 0.30, 0.33, 140),
        ItemBar(NASTY, dict(zip(CATEGORIES, [0.10, 0.30, 0.35, 0.25], strict=True)), 0.25, 0.04, 0.28, None, 138),
        ItemBar("I can work at my own pace", None, None, None, 0.31, 0.29, None, "Fewer than 5 responses")],
        CATEGORIES),
    "heatmap": _big_heatmap,
    "compare_share": lambda: bar_compare_chart([
        CompareRow("All students", 0.62, 0.58, 0.66, 412), CompareRow(NASTY, 0.71, 0.64, 0.78, 140, "▲ <higher>*"),
        CompareRow("English learners", None, None, None, 7, None, "Fewer than 10 respondents")],
        axis_label="Top-box share"),
    "compare_score": lambda: bar_compare_chart([
        CompareRow("Girls", 275.0, 270.0, 280.0, 10), CompareRow("Boys", math.nan, None, None, 3),
        CompareRow(NASTY, 199.0, 150.0, 205.0, 12, "▼")], lo=200, hi=300, percent=False),
}

# SHA-256 of the output of the uncached implementation. A deliberate change of the drawing updates these; a
# change that was meant to be a pure speed-up must not.
GOLDEN = {
    "scale": "32c1b560cb3540642a46dbd031032fb4962c588202f01eea2f1f22434e13261c",
    "levels": "64925e11efcf95dda556aa2f8d14c490001baee1931d7e4855f8dc6003501a37",
    "growth": "5b58e616027426d8b0eb403426d8f32f046d8db1f0ba3d0db987e099b0ac1f1a",
    "items": "9285fe759e915438129ed4f85022017ebd6b20f61fa66bb303fed921e6b0b920",
    "heatmap": "a123c4aef015ee0b12928c5849562799ab2f3a28f67214ab83c6decc1ea4a042",
    "compare_share": "ceeb5385ad9b0aae0cabbed7e540c5b94b46bb9e2cf9fef5c4015a22a3ba806f",
    "compare_score": "7b4c5058029c720913145cce9e3f44b4ba9f13e421bf8c9f02d2225641ae4c17",
}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_output_is_the_uncached_output(name):
    charts._clear_caches()
    cold = CHARTS[name]()
    warm = CHARTS[name]()  # now from the caches
    assert cold == warm
    assert _sha(warm) == GOLDEN[name]


def test_one_chart_does_not_leak_into_another():
    """Every chart rendered after all the others equals the same chart rendered with empty caches."""
    charts._clear_caches()
    alone = {}
    for name, draw in CHARTS.items():
        charts._clear_caches()
        alone[name] = draw()
    charts._clear_caches()
    for name in [*CHARTS, *reversed(CHARTS)]:
        assert CHARTS[name]() == alone[name], name


_DRAW_NUMBER = """
import hashlib
from reports.charts import (CompareRow, HeatColumn, ItemBar, ScaleBar, bar_compare_chart, heatmap,
                            item_distribution_chart, scale_chart)


def draw(value):
    return "".join((heatmap(["R"], [HeatColumn("a", "A", "G")], {("R", "a"): value}, {}),
                    item_distribution_chart([ItemBar("a", {"x": value, "y": 1.0}, value, value, value, value, 3)],
                                            ["x", "y"]),
                    bar_compare_chart([CompareRow("a", value, value, 1.0, 1)], lo=value, hi=1.5, percent=False),
                    scale_chart([ScaleBar("a", value, value, 5, value, None, [("Z", value), ("P", 5)])],
                                lo=-5, hi=10)))


for value in VALUES:
    print(hashlib.sha256(draw(value).encode()).hexdigest())
"""
NUMBERS = ["0.0", "-0.0", "1.0", "1", "-1e-10"]


def _draw_in_fresh_python(values: list[str]) -> list[str]:
    """Draw in a new interpreter, so no cache of any kind can have seen another value first."""
    code = _DRAW_NUMBER.replace("VALUES", f"[{', '.join(values)}]")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_equal_numbers_of_another_type_or_sign_print_as_if_alone():
    """0.0 == -0.0 and 1 == 1.0 may share cache slots; what each prints must not depend on what came first."""
    alone = [_draw_in_fresh_python([v])[0] for v in NUMBERS]
    assert _draw_in_fresh_python(NUMBERS) == alone
    assert _draw_in_fresh_python(NUMBERS[::-1]) == alone[::-1]


def test_ordinal_colours_are_a_fresh_list_each_time():
    colours = ordinal_colours(4)
    colours[0] = "#000000"
    assert ordinal_colours(4)[0] != "#000000"


def test_caches_stay_bounded():
    charts._clear_caches()
    for i in range(charts._CACHE_MAX + 10):
        charts._f(i / 7)
    assert len(charts._VALUES) <= charts._CACHE_MAX
