"""`leap rasch calibrate` writes the measurement-quality files; `--cut-scores` in both accepted forms."""

from __future__ import annotations

import json
import re
import warnings

import pytest
from support.rasch import FIXTURES, load_wide

from leap.cli import main
from scoring_jobs.rasch import calibrate
from scoring_jobs.rasch.report import QUALITY_FILES, read_cuts, write_quality


def run(tmp_path, *extra) -> tuple[int, object]:
    out = tmp_path / "cal"
    rc = main(["rasch", "calibrate", str(FIXTURES / "sim_pcm.csv"), "--id-col", "id", "--out", str(out), *extra])
    return rc, out


def test_calibrate_writes_the_quality_files_with_logit_cuts(tmp_path):
    cuts = tmp_path / "cuts.json"
    cuts.write_text(json.dumps({"version": "demo-1", "emerging": None, "moderate_low": -0.5, "moderate_high": 0.4,
                                "high": 1.3}))
    rc, out = run(tmp_path, "--cut-scores", str(cuts), "--simulations", "10")
    assert rc == 0
    for name in QUALITY_FILES:
        assert (out / name).stat().st_size > 0, name
    q = json.loads((out / "quality.json").read_text())
    assert set(q) >= {"summary", "items", "categories", "dimensionality", "local_dependence", "classification",
                      "information", "notes"}
    assert q["classification"]["levels"] == ["emerging", "moderate_low", "moderate_high", "high"]
    assert q["classification"]["version"] == "demo-1" and 0.5 < q["classification"]["accuracy"] < 1
    assert q["dimensionality"]["n_simulations"] == 10 and not q["dimensionality"]["flagged"]
    assert [c["level"] for c in q["information"]["at_cuts"]] == ["moderate_low", "moderate_high", "high"]
    assert len(q["items"]) == 10 and {"ptmeasure", "ptmeasure_expected", "flagged"} <= set(q["items"][0])
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 4 and "<script" not in html and "<link" not in html
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"] * 4
    for heading in ("Summary", "Wright map", "Item fit", "Category structure", "Test information",
                    "Dimensionality and local independence", "Classification accuracy and consistency"):
        assert f"<h2>{heading}" in html


def test_cut_scores_from_a_pipeline_calibration_folder(tmp_path):
    """The folder item_bank writes: cut_scores.json on the 200-300 scale and scale.json with the constants."""
    folder = tmp_path / "LFS-LF"
    folder.mkdir()
    (folder / "cut_scores.json").write_text(json.dumps({"version": "LFS-1-LF", "moderate_low": 240.0,
                                                        "moderate_high": 255.0, "high": 270.0}))
    (folder / "scale.json").write_text(json.dumps({"intercept": 250.0, "slope": 10.0, "reference": "2024-fall",
                                                   "reporting_scale_version": "v1", "link_shift": 0.0,
                                                   "linking_error": 0.0, "n_link_items": 0}))
    cuts = read_cuts(folder)
    assert cuts.cuts == pytest.approx((-1.0, 0.5, 2.0)) and cuts.names[0] == "emerging"
    rc, out = run(tmp_path, "--cut-scores", str(folder), "--simulations", "0")
    assert rc == 0
    c = json.loads((out / "quality.json").read_text())["classification"]
    assert c["version"] == "LFS-1-LF" and c["cuts_logit"] == pytest.approx([-1.0, 0.5, 2.0])


@pytest.mark.parametrize(("content", "message"), [
    ({"moderate_low": 240, "moderate_high": 255, "high": 270}, "not logits"),
    ({"high": "one"}, "must map level names to numbers"),
    ({"low": 1.0, "high": 0.5, "mid": 0.5}, "increasing"),
    ("[1, 2]", "expected a JSON object"),
    ("{not json", "Expecting property name"),
])
def test_bad_cut_scores_stop_before_anything_is_written(tmp_path, capsys, content, message):
    cuts = tmp_path / "cuts.json"
    cuts.write_text(content if isinstance(content, str) else json.dumps(content))
    rc, out = run(tmp_path, "--cut-scores", str(cuts))
    err = capsys.readouterr().err
    assert rc == 2 and message in err and str(cuts) in err and "Traceback" not in err
    assert not out.exists()


def test_missing_cut_file_and_incomplete_folder(tmp_path, capsys):
    rc, _ = run(tmp_path, "--cut-scores", str(tmp_path / "nope.json"))
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "cut_scores.json").write_text('{"version": "x", "moderate_low": 1, "moderate_high": 2, '
                                                         '"high": 3}')
    rc, _ = run(tmp_path, "--cut-scores", str(tmp_path / "folder"))
    assert rc == 2 and "scale.json does not exist" in capsys.readouterr().err


def test_without_cut_scores_the_report_says_so_and_reruns_are_identical(tmp_path):
    rc, out = run(tmp_path, "--simulations", "5")
    assert rc == 0
    q = json.loads((out / "quality.json").read_text())
    assert q["classification"] is None and q["information"]["at_cuts"] == []
    assert "No cut scores given" in (out / "report.html").read_text()
    first = {name: (out / name).read_bytes() for name in QUALITY_FILES}
    assert run(tmp_path, "--simulations", "5")[0] == 0
    assert {name: (out / name).read_bytes() for name in QUALITY_FILES} == first  # seeded: same files


def test_write_quality_for_a_calibration_object(tmp_path):
    """What a pipeline calls after Calibration.to_dir: the Calibration, its responses and the cut scores."""
    resp, names, ids = load_wide("lfs_wide.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate(resp, item_names=names)
    cal.to_dir(tmp_path, ids=ids)
    q = write_quality(tmp_path, cal, resp, n_sim=0, title="Liking for Science")
    assert q.local.eigenvalue > 2.0  # Liking for Science is known to have a second dimension
    assert "Measurement quality: Liking for Science" in (tmp_path / "report.html").read_text()
    with pytest.raises(ValueError, match="do not match the calibration"):
        write_quality(tmp_path / "x", cal, resp[:10], n_sim=0)
