"""The SVG displays: well-formed XML, one mark per step threshold and per cut score, self-contained."""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from support.rasch import load_wide

from scoring_jobs.rasch import calibrate
from scoring_jobs.rasch.classification import LevelCuts
from scoring_jobs.rasch.displays import (
    OKABE_ITO,
    category_curves,
    information_chart,
    item_fit_chart,
    num,
    wright_map,
)
from scoring_jobs.rasch.quality import assess, logit_range
from scoring_jobs.rasch.report import displays

NS = {"s": "http://www.w3.org/2000/svg"}
CUTS = LevelCuts(("emerging", "moderate_low", "moderate_high", "high"), (-0.5, 0.4, 1.3))


@pytest.fixture(scope="module")
def lfs():
    """Liking for Science: 25 three-category items, a12's bottom category unused (49 finite steps)."""
    resp, names, _ = load_wide("lfs_wide.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate(resp, item_names=names)
    return cal, assess(cal, resp, cuts=CUTS, n_sim=0)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("role") == "img"
    assert root.find("s:title", NS).text and root.find("s:desc", NS).text
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    return root


def by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == cls]


def test_wright_map_marks_every_step_threshold_item_person_and_cut(lfs):
    cal, q = lfs
    root = parse(wright_map(q.theta, q.item_names, q.thresholds, q.n_steps, q.location,
                            logit_range(q.theta, q.thresholds, CUTS), CUTS))
    finite = int(np.isfinite(cal.thresholds).sum())
    assert finite == 49
    marks = by_class(root, "threshold")
    assert len(marks) == finite
    assert {m.find("s:text", NS).text for m in marks} >= {"a01.1", "a01.2", "a12.2"}
    assert "a12.1" not in {m.find("s:text", NS).text for m in marks}  # not estimable: no mark
    assert len(by_class(root, "item")) == 25
    assert len(by_class(root, "cut")) == 3
    persons = sum(int(g.find("s:title", NS).text.split()[0]) for g in by_class(root, "person-bin"))
    assert persons == q.theta.size == 75
    assert {t.text for t in by_class(root, "msd")} == {"M", "S", "T"}


def test_wright_map_rows_follow_the_logit_axis(lfs):
    """A threshold label sits in the row of its value: higher value, smaller y (the axis runs upwards)."""
    cal, q = lfs
    root = parse(wright_map(q.theta, q.item_names, q.thresholds, q.n_steps, q.location, (-4.0, 7.0)))
    ys = {m.find("s:text", NS).text: float(m.find("s:text", NS).get("y")) for m in by_class(root, "threshold")}
    values = {f"{cal.item_names[i]}.{k + 1}": cal.thresholds[i, k] for i, k in zip(*np.nonzero(
        np.isfinite(cal.thresholds)), strict=True)}
    order = sorted(values, key=values.get)
    assert all(ys[a] >= ys[b] for a, b in zip(order, order[1:], strict=False))
    assert not by_class(root, "cut")


def test_category_curves_one_curve_per_category_and_a_mark_per_threshold(lfs):
    cal, q = lfs
    disordered = q.categories.groupby("item", sort=False)["disordered_thresholds"].first().to_numpy()
    root = parse(category_curves(q.item_names, q.thresholds, q.n_steps, (-4.0, 7.0), disordered))
    assert len(by_class(root, "threshold")) == 49
    curves = by_class(root, "category-curve")
    assert len(curves) == 25 * 3 - 1  # a12's category 0 has no curve
    assert {c.get("data-category") for c in curves} == {"0", "1", "2"}
    # a curve's points are probabilities drawn inside its panel: every y within the plot area
    ys = [float(p.split(",")[1]) for c in curves for p in c.get("points").split()]
    assert min(ys) > 0 and max(ys) < float(root.get("height"))
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text and "disordered" in t.text]
    assert len(titles) == int(disordered.sum()) > 0


def test_item_fit_chart_marks_and_prints_every_item(lfs):
    _, q = lfs
    root = parse(item_fit_chart(q.items))
    assert len(by_class(root, "infit")) == len(by_class(root, "outfit")) == 25
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    a23 = q.items.set_index("item").loc["a23"]
    assert f"{num(a23.infit_msq)} / {num(a23.outfit_msq)}  misfit" in texts
    assert len(by_class(root, "productive-band")) == 1


def test_information_chart_curves_and_cut_lines(lfs):
    _, q = lfs
    root = parse(information_chart(q.information, CUTS))
    assert len(by_class(root, "information")) == len(by_class(root, "csem")) == 1
    assert len(by_class(root, "cut")) == 3
    assert len(by_class(parse(information_chart(q.information)), "cut")) == 0
    n_points = len(by_class(root, "information")[0].get("points").split())
    assert n_points == len(q.information)


def test_displays_are_self_contained_deterministic_and_use_the_palette(lfs):
    _, q = lfs
    svgs = displays(q)
    assert svgs == displays(q)  # same input, same bytes
    allowed = {c.lower() for c in OKABE_ITO} | {"#1a1a1a", "#595959", "#d0d0d0", "#ececec", "white", "none"}
    for name, svg in svgs.items():
        parse(svg)
        assert " id=" not in svg, name  # inlined many times in one page: no id clashes
        assert "<script" not in svg and "href" not in svg and "@import" not in svg and "url(" not in svg, name
        assert re.findall(r"https?://[^\"' ]+", svg) == ["http://www.w3.org/2000/svg"], name
        colours = set(re.findall(r'(?:fill|stroke)="([^"]+)"', svg))
        assert {c.lower() for c in colours} <= allowed, (name, colours - allowed)
        sizes = [int(s) for s in re.findall(r'font-size="(\d+)"', svg)]
        assert min(sizes) >= 11, name


def test_names_are_escaped():
    names = ['a<1>', 'b & "c"']
    thr = np.array([[-0.5, 0.5], [0.0, np.nan]])
    n_steps = np.array([2, 1])
    root = parse(wright_map(np.array([-1.0, 0.0, 1.0]), names, thr, n_steps, np.array([0.0, 0.0]), (-2.0, 2.0)))
    assert {m.find("s:text", NS).text for m in by_class(root, "threshold")} == {"a<1>.1", "a<1>.2", 'b & "c".1'}
    items = pd.DataFrame({"item": names, "infit_msq": [1.0, 5.0], "outfit_msq": [0.1, np.nan]})
    parse(item_fit_chart(items))  # values off the axis and missing ones still draw


def test_numbers_use_the_minus_sign():
    assert num(-1.234) == "\u22121.23" and num(-0.001) == "0.00" and num(2.5, 1) == "2.5" and num(np.nan) == "\u2014"
