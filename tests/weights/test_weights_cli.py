"""`leap weights rake` end to end through leap.cli.main, and its error messages."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from support.weights import MARGINS, SAMPLE, max_rel, reference, sample

import leap
from leap.cli import main

POPULATION = f"{leap.__path__[0]}/instrument_data/population_margins.csv"


def _run(tmp_path, *extra, sample_path=SAMPLE, margins=MARGINS):
    out = tmp_path / "weights.csv"
    argv = ["weights", "rake", str(sample_path), "--margins", str(margins), "--id-col", "respondent_id",
            "--out", str(out), *extra]
    return main(argv), out


def test_cli_writes_id_weight_equal_to_r(tmp_path, capsys):
    code, out = _run(tmp_path, "--base-weight-col", "base_weight", "--diagnostics", str(tmp_path / "d.json"))
    assert code == 0
    weights = pd.read_csv(out)
    assert list(weights.columns) == ["id", "weight"]
    assert weights["id"].tolist() == sample()["respondent_id"].tolist()
    assert max_rel(weights["weight"], reference("rake")["weight_tight"]) < 1e-8
    diag = json.loads((tmp_path / "d.json").read_text())
    assert diag["converged"] and diag["n"] == 360 and len(diag["margins"]) == 11
    text = capsys.readouterr().out
    assert "design effect from weighting" in text and "Kish effective n" in text


def test_cli_instrument_filter_and_trimming(tmp_path):
    code, out = _run(tmp_path, "--base-weight-col", "base_weight", "--instrument", "teacher",
                     "--trim-upper", "3", margins=POPULATION)
    assert code == 0
    assert max_rel(pd.read_csv(out)["weight"], reference("trim")["weight_upper_3"]) < 1e-8


def _write(tmp_path, df: pd.DataFrame):
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("change", "extra", "message"), [
    (lambda s: s.drop(columns="region"), [], "lacks raking variable(s) region"),
    (lambda s: s, ["--base-weight-col", "weight_col"], "base weight column weight_col not in the sample"),
    (lambda s: s.assign(grade_band=s["grade_band"].replace("high", "secondary")), [],
     "sample level grade_band=secondary has no margin"),
    (lambda s: s.assign(base_weight=s["base_weight"].where(s.index != 0, -1)),
     ["--base-weight-col", "base_weight"],
     "base weight base_weight is missing or not positive for 1 respondent"),
    (lambda s: pd.concat([s, s.iloc[:1]]), [], "appears more than once"),
    (lambda s: s, ["--trim-lower", "1.5"], "trim_lower must be in [0, 1)"),
])
def test_cli_bad_input_exits_2_with_message(tmp_path, capsys, change, extra, message):
    code, _ = _run(tmp_path, *extra, sample_path=_write(tmp_path, change(sample())))
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_empty_and_missing_files(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert _run(tmp_path, sample_path=empty)[0] == 2
    assert "sample file is empty" in capsys.readouterr().err
    header_only = tmp_path / "header.csv"
    header_only.write_text("respondent_id,region\n")
    assert _run(tmp_path, sample_path=header_only)[0] == 2
    assert "sample file has no rows" in capsys.readouterr().err
    assert _run(tmp_path, margins=tmp_path / "nope.csv")[0] == 2
    assert "margins file not found" in capsys.readouterr().err
    assert _run(tmp_path, "--id-col", "nope")[0] == 2
    assert "id column nope not in the sample" in capsys.readouterr().err


def test_raking_that_misses_its_margins_fails_and_names_the_level(tmp_path, capsys):
    """The NextGen teachers of `leap simulate --seed 7 --schools 40` (fall; 9 schools) raked to the national
    margins: the cross-table stops changing (R's rake() reports convergence) 34.8% short of the midwest
    total. That is a failure with the level named, and the diagnostics say so; no weights are written."""
    from support.weights import FIXTURES

    out = tmp_path / "w.csv"
    code = main(["weights", "rake", str(FIXTURES / "cohort_teachers.csv"), "--margins",
                 str(FIXTURES / "cohort_margins.csv"), "--id-col", "respondent_id", "--tolerance", "1e-6",
                 "--max-iter", "2000", "--diagnostics", str(tmp_path / "d.json"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "misses its margins: region=midwest" in err and "34.8% off" in err and "hint:" in err
    diag = json.loads((tmp_path / "d.json").read_text())
    assert diag["meets_margins"] is False and diag["variable_errors"]["region"] > 0.3
    assert diag["weight_min"] < 1e-8  # schools driven to near-zero weight while "converging"
