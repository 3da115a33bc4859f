"""The report charts (reports.charts): well-formed, self-contained, accessible SVG with every number printed."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from reports.charts import (
    SVG_NS,
    CompareRow,
    GrowthRow,
    HeatColumn,
    ItemBar,
    LevelRow,
    ScaleBar,
    bar_compare_chart,
    format_change,
    format_share,
    growth_chart,
    heat_colour,
    heatmap,
    item_distribution_chart,
    level_distribution_chart,
    scale_chart,
)

NS = "{" + SVG_NS + "}"
CUTS = [("Emerging", 200), ("Moderate low", 238), ("Moderate high", 252), ("High", 266)]
LEVELS = [("emerging", "Emerging"), ("moderate_low", "Moderate low"), ("moderate_high", "Moderate high"),
          ("high", "High")]
CATEGORIES = ["Not at all true", "A little true", "Mostly true", "Very true"]
LONG_ITEM = ("My teachers let me choose how I show what I learned, even when the whole class is working on "
             "the same project and the same topic for several weeks in a row")


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == NS + "svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(NS + "text")]


def all_text(root: ET.Element) -> str:
    return "\n".join(texts(root))


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(NS + tag) if cls in e.get("class", "").split()]


def group_titles(root: ET.Element) -> list[str]:
    return [t.text or "" for g in root.iter(NS + "g") for t in g.findall(NS + "title")]


def scales() -> list[ScaleBar]:
    return [ScaleBar("Learner Focused", 250.0, 246.1, 254.5, 251.0, 248.2, CUTS),
            ScaleBar("Learner Demonstrated", 271.3, 266.0, 277.9, 255.0, None, CUTS),
            ScaleBar("Learner Led", None, None, None, 244.0, 246.5, CUTS, "Fewer than 10 respondents")]


def level_rows() -> list[LevelRow]:
    return [LevelRow("Learner Focused", {"emerging": 0.03, "moderate_low": 0.22, "moderate_high": 0.41, "high": 0.34},
                     142),
            LevelRow("National", {"emerging": 0.12, "moderate_low": 0.30, "moderate_high": 0.33, "high": 0.25},
                     12034),
            LevelRow("Learner Led", {}, None, "Fewer than 10 respondents")]


def growth_rows() -> list[GrowthRow]:
    return [GrowthRow("Learner Focused", 244.1, 250.3, 6.2, 2.1, 10.3, "Significant increase"),
            GrowthRow("Learner Demonstrated", 255.0, 252.9, -2.1, -6.0, 1.8, "No significant change"),
            GrowthRow("Learner Led", None, None, None, None, None, "", "Fewer than 10 matched students")]


def items() -> list[ItemBar]:
    return [ItemBar(LONG_ITEM, dict(zip(CATEGORIES, [0.04, 0.21, 0.40, 0.35], strict=True)), 0.35, 0.03, 0.30, 0.33,
                    140),
            ItemBar("I set my own learning goals", dict(zip(CATEGORIES, [0.10, 0.30, 0.35, 0.25], strict=True)),
                    0.25, 0.04, 0.28, None, 138),
            ItemBar("I can work at my own pace", None, None, None, 0.31, 0.29, None, "Fewer than 5 responses")]


def compare_rows() -> list[CompareRow]:
    return [CompareRow("All students", 0.62, 0.58, 0.66, 412),
            CompareRow("Grade 6", 0.71, 0.64, 0.78, 140, "▲ higher*"),
            CompareRow("English learners", None, None, None, 7, None, "Fewer than 10 respondents")]


def big_heatmap_input():
    columns = [HeatColumn(f"ind{i}", f"Indicator {i} about choice and voice", f"Component {i // 15 + 1}")
               for i in range(105)]
    rows = [f"Room {100 + r}" for r in range(30)]
    values = {(row, col.id): ((r * 105 + c) % 101) / 100 for r, row in enumerate(rows)
              for c, col in enumerate(columns)}
    suppressed = [(rows[0], "ind3"), (rows[7], "ind50"), (rows[29], "ind104")]
    for key in suppressed:
        values[key] = None
    notes = {key: "Fewer than 5 students answered" for key in suppressed}
    marks = {key: "n<5" for key in suppressed}
    return rows, columns, values, notes, marks


CHARTS = {
    "scale": lambda: scale_chart(scales()),
    "levels": lambda: level_distribution_chart(level_rows(), LEVELS),
    "growth": lambda: growth_chart(growth_rows()),
    "items": lambda: item_distribution_chart(items(), CATEGORIES),
    "heatmap": lambda: heatmap(*big_heatmap_input()[:4], marks=big_heatmap_input()[4]),
    "compare": lambda: bar_compare_chart(compare_rows(), axis_label="Top-box share"),
}


# --- what every chart promises ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_chart_is_accessible_self_contained_svg(name):
    svg = CHARTS[name]()
    root = parse(svg)
    assert root.get("role") == "img"
    children = list(root)
    assert children[0].tag == NS + "title" and children[0].text.strip()
    assert children[1].tag == NS + "desc" and len(children[1].text) > 40
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}" and width > 0 and height > 0
    # Nothing to fetch: the only URL is the SVG namespace, and nothing links, scripts or styles.
    assert re.findall(r"https?://[^\"'\s<>]+", svg) == [SVG_NS]
    for forbidden in ("href", "<script", "<style", "<image", "url(", "@import", "<foreignObject"):
        assert forbidden not in svg
    sizes = [float(e.get("font-size")) for e in root.iter() if e.get("font-size")]
    assert sizes and min(sizes) >= 11


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_same_input_same_string(name):
    assert CHARTS[name]() == CHARTS[name]()


def test_text_is_escaped_everywhere():
    nasty = 'Room <b> & "the" \'rest\' >'
    svgs = [scale_chart([ScaleBar(nasty, 250, 245, 255, None, None, [(nasty, 200)], None)]),
            level_distribution_chart([LevelRow(nasty, {"a": 1.0}, 3)], [("a", nasty)]),
            growth_chart([GrowthRow(nasty, 240, 250, 10, 5, 15, nasty)]),
            item_distribution_chart([ItemBar(nasty, {nasty: 1.0}, 1.0)], [nasty]),
            heatmap([nasty], [HeatColumn("c", nasty, nasty)], {(nasty, "c"): None}, {(nasty, "c"): nasty},
                    marks={(nasty, "c"): "<&>"}),
            bar_compare_chart([CompareRow(nasty, 0.5, mark="<&>"), CompareRow("x", None, suppressed_reason=nasty)])]
    for svg in svgs:
        root = parse(svg)
        assert "<b>" not in svg
        words = all_text(root) + "\n".join(group_titles(root)) + root.find(NS + "desc").text
        assert nasty in words
    assert "\x00" not in scale_chart([ScaleBar("bad\x00char", None, None, None, None, None, CUTS, "why")])


# --- 1. scale scores ----------------------------------------------------------------------------------


def test_scale_chart_prints_every_number_and_the_reason():
    root = parse(scale_chart(scales()))
    words = all_text(root)
    for number in ("250.0", "246.1", "254.5", "251.0", "248.2", "271.3", "255.0", "244.0", "246.5"):
        assert number in words, number
    for label in ("Learner Focused", "Learner Demonstrated", "Learner Led", "Emerging", "High", "238", "252", "266",
                  "National", "Network", "Fewer than 10 respondents"):
        assert label in words, label
    desc = root.find(NS + "desc").text
    assert "Learner Led: not reported (Fewer than 10 respondents)" in desc
    assert "Moderate low band" in desc  # 250 is between the 238 and 252 cuts
    assert len(by_class(root, "circle", "mean")) == 2  # no dot for the suppressed scale


def test_scale_chart_geometry():
    root = parse(scale_chart([ScaleBar("A", 250, 240, 260, 225, 275, CUTS)]))
    track = by_class(root, "rect", "track")[0]
    x0, width = float(track.get("x")), float(track.get("width"))
    dot = by_class(root, "circle", "mean")[0]
    assert float(dot.get("cx")) == pytest.approx(x0 + width / 2)
    ci = by_class(root, "line", "ci")[0]
    assert float(ci.get("x1")) == pytest.approx(x0 + 0.4 * width)
    assert float(ci.get("x2")) == pytest.approx(x0 + 0.6 * width)
    assert float(by_class(root, "line", "national")[0].get("x1")) == pytest.approx(x0 + 0.25 * width)
    assert float(by_class(root, "line", "network")[0].get("x1")) == pytest.approx(x0 + 0.75 * width)
    bands = by_class(root, "rect", "band")
    assert [round((float(b.get("x")) - x0) / width * 100 + 200, 6) for b in bands] == [200, 238, 252, 266]
    # Values off the scale are pinned to its ends, never drawn outside the track.
    low = parse(scale_chart([ScaleBar("A", 150, None, None, None, None, CUTS)]))
    assert float(by_class(low, "circle", "mean")[0].get("cx")) == pytest.approx(x0)
    assert "150.0" in all_text(low)


# --- 2. level distribution ----------------------------------------------------------------------------


def test_level_distribution_prints_shares_and_lists_the_small_ones():
    root = parse(level_distribution_chart(level_rows(), LEVELS))
    words = all_text(root)
    for share in ("22%", "41%", "34%", "12%", "30%", "33%", "25%"):
        assert share in words, share
    # 3 % is too narrow to print inside: it is listed under the bar and in the description instead.
    inside = [t for t in texts(root) if re.fullmatch(r"\d+%", t)]
    assert "3%" not in inside
    assert any("Emerging 3%" in t for t in texts(root))
    desc = root.find(NS + "desc").text
    assert "Emerging 3%" in desc and "n = 142" in desc and "n = 12,034" in desc
    assert "Fewer than 10 respondents" in words and "Fewer than 10 respondents" in desc
    for _, name in LEVELS:
        assert name in words


def test_level_segments_fill_the_bar_in_proportion():
    root = parse(level_distribution_chart([LevelRow("A", {"emerging": 0.25, "high": 0.75})], LEVELS))
    segments = by_class(root, "rect", "segment")
    widths = [float(s.get("width")) for s in segments]
    assert widths[1] == pytest.approx(3 * widths[0], abs=0.02)
    assert float(segments[1].get("x")) == pytest.approx(float(segments[0].get("x")) + widths[0], abs=0.02)


def test_percent_instead_of_share_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        level_distribution_chart([LevelRow("A", {"emerging": 42.0})], LEVELS)
    with pytest.raises(ValueError, match="0-1"):
        bar_compare_chart([CompareRow("A", 0.4)], hi=100)


# --- 3. growth ----------------------------------------------------------------------------------------


def test_growth_chart_prints_change_interval_and_verdict():
    root = parse(growth_chart(growth_rows()))
    words = all_text(root)
    assert "+6.2 (95 % CI 2.1 to 10.3)" in words
    assert "\u22122.1 (95 % CI \u22126.0 to 1.8)" in words  # a real minus sign
    for text in ("244.1", "250.3", "255.0", "252.9", "Significant increase", "No significant change",
                 "Fewer than 10 matched students"):
        assert text in words, text
    desc = root.find(NS + "desc").text
    assert "change +6.2 (95 % CI 2.1 to 10.3), Significant increase" in desc
    assert "Learner Led: not reported (Fewer than 10 matched students)" in desc


def test_growth_zero_line_is_the_middle_of_the_change_panel():
    root = parse(growth_chart([GrowthRow("A", 240, 250, 10, 4, 16, "up")], change_span=20))
    zero = float(by_class(root, "line", "zero")[0].get("x1"))
    low, high = (float(by_class(root, "line", "ci")[0].get(a)) for a in ("x1", "x2"))
    # On a -20..+20 axis, +4 and +16 sit at 60 % and 90 % of the panel: the same distances from zero.
    assert (high - zero) == pytest.approx(4 * (low - zero), abs=0.02)
    fall, spring = by_class(root, "circle", "fall")[0], by_class(root, "circle", "spring")[0]
    assert float(spring.get("cx")) - float(fall.get("cx")) == pytest.approx(30, abs=0.02)  # 10 points of 100 on 300 px


# --- 4. items -----------------------------------------------------------------------------------------


def test_item_chart_prints_shares_and_top_box_numbers():
    root = parse(item_distribution_chart(items(), CATEGORIES))
    words = all_text(root)
    for share in ("21%", "40%", "35%", "30%", "33%", "25%", "28%", "31%", "29%"):
        assert share in words, share
    for category in CATEGORIES:
        assert category in words
    assert "Fewer than 5 responses" in words
    desc = root.find(NS + "desc").text
    assert "top box school 35% (95 % CI 29% to 41%), national 30%, network 33%" in desc
    assert "Not at all true 4%" in desc  # printed outside its too-narrow segment


def test_long_item_wording_is_cut_to_three_lines_with_the_full_text_in_the_title():
    root = parse(item_distribution_chart(items()[:1], CATEGORIES))
    row = by_class(root, "g", "item")[0]
    assert row.find(NS + "title").text == LONG_ITEM
    label_lines = ["".join(t.itertext()) for t in row.iter(NS + "text") if t.get("x") == "12"]  # the label column
    assert 1 < len(label_lines) <= 3 and label_lines[-1].endswith("…")
    assert LONG_ITEM not in texts(row)


# --- 5. heat map --------------------------------------------------------------------------------------


def test_big_heatmap_has_every_cell_and_readable_cells():
    rows, columns, values, notes, marks = big_heatmap_input()
    root = parse(heatmap(rows, columns, values, notes, marks=marks))
    cells = by_class(root, "rect", "cell")
    assert len(cells) == 3150
    assert min(float(c.get("width")) for c in cells) >= 14 and min(float(c.get("height")) for c in cells) >= 14
    assert len(by_class(root, "rect", "suppressed")) == 3
    # The SVG keeps its real size (the page scrolls it) and the viewBox matches it.
    assert float(root.get("width")) > 105 * 14
    cell_texts = [t for row in by_class(root, "g", "heat-row") for t in texts(row)]
    assert len(cell_texts) == 3150 and cell_texts.count("n<5") == 3
    assert set(cell_texts) - {"n<5"} == {str(v) for v in range(101)}
    titles = group_titles(root)
    assert "Room 100 · Indicator 3 about choice and voice: Fewer than 5 students answered" in titles
    assert "Room 100 · Indicator 0 about choice and voice: 0%" in titles
    assert [t for t in texts(root) if t.startswith("Component ")] == [f"Component {i}" for i in range(1, 8)]
    desc = root.find(NS + "desc").text
    assert "30 rows by 105 indicators in 7 groups" in desc and "3 cells are suppressed" in desc


def test_heatmap_text_colour_follows_the_fill_and_columns_are_rotated():
    cols = [HeatColumn("a", "Low", "G"), HeatColumn("b", "High", "G"), HeatColumn("c", "Other", "H")]
    root = parse(heatmap(["R"], cols, {("R", "a"): 0.05, ("R", "b"): 0.95, ("R", "c"): 0.5}, {}))
    fills = {"".join(t.itertext()): t.get("fill") for row in by_class(root, "g", "heat-row")
             for t in row.iter(NS + "text")}
    assert fills["95"] == "#ffffff" and fills["5"] != "#ffffff"
    assert heat_colour(0.05) != heat_colour(0.95)
    labels = [t for g in by_class(root, "g", "column") for t in g.iter(NS + "text")]
    assert all("rotate(-60" in t.get("transform") for t in labels)
    xs = [float(c.get("x")) for c in by_class(root, "rect", "cell")]
    assert xs[2] - xs[1] > xs[1] - xs[0]  # a gap separates the component groups
    with pytest.raises(ValueError, match="at least 14"):
        heatmap(["R"], cols, {}, {}, cell_w=12)


# --- 6. comparisons -----------------------------------------------------------------------------------


def test_compare_chart_prints_value_n_mark_and_reason():
    root = parse(bar_compare_chart(compare_rows()))
    words = all_text(root)
    for text in ("62% (95 % CI 58% to 66%)", "n = 412", "n = 140", "▲ higher*", "Fewer than 10 respondents",
                 "0%", "100%"):
        assert text in words, text
    assert len(by_class(root, "rect", "bar")) == 2


def test_compare_chart_geometry_on_both_axes():
    share = parse(bar_compare_chart([CompareRow("A", 0.5, 0.4, 0.6, 10)]))
    bar = by_class(share, "rect", "bar")[0]
    ticks = [t for t in texts(share) if t.endswith("%")]
    assert ticks == ["0%", "25%", "50%", "75%", "100%"]
    full = float(bar.get("width")) * 2
    ci = by_class(share, "line", "ci")[0]
    assert float(ci.get("x2")) - float(ci.get("x1")) == pytest.approx(0.2 * full)
    score = parse(bar_compare_chart([CompareRow("A", 275, 270, 280, 10)], percent=False))
    assert "275.0 (95 % CI 270.0 to 280.0)" in all_text(score)
    assert float(by_class(score, "rect", "bar")[0].get("width")) == pytest.approx(0.75 * full)


# --- formatting ---------------------------------------------------------------------------------------


def test_number_formats():
    assert format_change(6.2) == "+6.2" and format_change(-3.14) == "\u22123.1" and format_change(-0.04) == "0.0"
    assert format_share(0.624) == "62%" and format_share(1.0) == "100%"
    # NaN (pandas' missing value) is "no value", like None.
    root = parse(scale_chart([ScaleBar("A", math.nan, math.nan, math.nan, math.nan, None, CUTS)]))
    assert not by_class(root, "circle", "mean") and "No estimate" in all_text(root)


def test_empty_inputs_still_give_valid_svg():
    for svg in (scale_chart([]), level_distribution_chart([], LEVELS), growth_chart([]),
                item_distribution_chart([], CATEGORIES), heatmap([], [], {}, {}), bar_compare_chart([])):
        parse(svg)
