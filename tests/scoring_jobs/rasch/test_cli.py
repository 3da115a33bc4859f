"""`leap rasch calibrate` / `leap rasch score`: file contract and error messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.rasch import FIXTURES

from leap.cli import main


def test_calibrate_writes_the_contract_files(tmp_path):
    out = tmp_path / "cal"
    rc = main(["rasch", "calibrate", str(FIXTURES / "sim_pcm.csv"), "--model", "pcm", "--id-col", "id",
               "--out", str(out)])
    assert rc == 0
    items = pd.read_csv(out / "items.csv")
    assert list(items.columns) == ["item", "step", "threshold", "se"]
    assert len(items) == 30 and items["step"].max() == 3
    fit = pd.read_csv(out / "item_fit.csv")
    assert list(fit.columns) == ["item", "location", "se", "infit_msq", "outfit_msq", "infit_z", "outfit_z", "n"]
    assert abs(fit["location"].mean()) < 1e-9
    persons = pd.read_csv(out / "persons.csv")
    assert list(persons.columns) == ["id", "raw_score", "n_answered", "theta", "se", "infit_msq", "outfit_msq"]
    assert len(persons) == 800 and persons["theta"].notna().all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "pcm" and summary["converged"] is True
    assert summary["conditional_loglik"] == pytest.approx(-5898.217, abs=1e-3)
    assert "mean of the item locations is 0" in summary["origin"]
    assert 0 < summary["person_separation_reliability"] < 1


def test_score_reproduces_calibration_persons(tmp_path):
    cal = tmp_path / "cal"
    assert main(["rasch", "calibrate", str(FIXTURES / "sim_rsm.csv"), "--model", "rsm", "--id-col", "id",
                 "--items", "i01,i02,i03,i04,i05,i06,i07,i08,i09,i10", "--out", str(cal)]) == 0
    scored = tmp_path / "scored.csv"
    report = tmp_path / "report.csv"
    assert main(["rasch", "score", str(FIXTURES / "sim_rsm.csv"), "--item-params", str(cal / "items.csv"),
                 "--id-col", "id", "--out", str(scored), "--item-report", str(report)]) == 0
    a, b = pd.read_csv(cal / "persons.csv"), pd.read_csv(scored)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    assert "displacement" in pd.read_csv(report).columns


def test_weights_and_parquet_and_null_category(tmp_path):
    d = pd.read_csv(FIXTURES / "lfs_wide.csv")
    d["w"] = np.linspace(0.5, 1.5, len(d))
    path = tmp_path / "lfs.parquet"
    d.to_parquet(path)
    out = tmp_path / "out"
    assert main(["rasch", "calibrate", str(path), "--id-col", "id", "--weight-col", "w", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["weighted"] is True and summary["n_items"] == 25
    assert any("a12" in w for w in summary["warnings"])
    items = pd.read_csv(out / "items.csv")
    a12 = items[items["item"] == "a12"]
    assert np.isnan(a12["threshold"].iloc[0]) and np.isfinite(a12["threshold"].iloc[1])
    cats = pd.read_csv(out / "categories.csv")
    assert cats.loc[(cats["item"] == "a12") & (cats["category"] == 0), "unused"].item()
    # scoring against parameters with a not-estimable step works and rejects the null category
    scored = tmp_path / "s.csv"
    assert main(["rasch", "score", str(path), "--item-params", str(out / "items.csv"), "--id-col", "id",
                 "--out", str(scored)]) == 0


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "in.csv"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("id,a,b\n1,0,1\n2,x,1\n", [], "item a, row 2: 'x' is not a category"),
        ("id,a,b\n1,0,1\n2,0,1.5\n", [], "item b, row 2: 1.5 is not a category"),
        ("id,a,b\n1,0,1\n2,0,-1\n", [], "item b, row 2: -1 is not a category"),
        ("id,a,b\n1,0,1\n2,0,0\n3,0,1\n", [], "item a has fewer than two observed categories"),
        ("id,a,b\n1,0,1\n2,1,0\n", ["--id-col", "pid"], "id column 'pid' is not in the file"),
        ("", [], "is empty"),
        ("id,a,b\n", [], "has no data rows"),
        ("id,a,b\n1,0,1\n2,1,0\n", ["--items", "a,c"], "item column(s) not in the file: c"),
        ("id,a,b\n1,0,1\n1,1,0\n", [], "appears more than once"),
    ],
)
def test_bad_input_gives_clear_message(tmp_path, capsys, text, args, message):
    argv = ["rasch", "calibrate", _write(tmp_path, text), "--out", str(tmp_path / "o")]
    argv += args if "--id-col" in args else ["--id-col", "id", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_score_rejects_category_outside_parameters(tmp_path, capsys):
    cal = tmp_path / "cal"
    assert main(["rasch", "calibrate", _write(tmp_path, "id,a,b\n1,0,1\n2,1,0\n3,1,1\n4,0,0\n"), "--id-col", "id",
                 "--out", str(cal)]) == 0
    bad = tmp_path / "new.csv"
    bad.write_text("id,a,b\n1,0,1\n2,2,0\n")
    assert main(["rasch", "score", str(bad), "--item-params", str(cal / "items.csv"), "--id-col", "id",
                 "--out", str(tmp_path / "s.csv")]) == 2
    assert "item a, row 2: category 2 is not in the item parameters" in capsys.readouterr().err


def test_installed_entry_point(tmp_path):
    leap = shutil.which("leap", path=str(Path(sys.executable).parent))
    assert leap, "the leap console script is not installed in this environment"
    out = tmp_path / "cal"
    proc = subprocess.run([leap, "rasch", "calibrate", str(FIXTURES / "pcmdat2.csv"), "--model", "rsm",
                           "--id-col", "id", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["conditional_loglik"] == pytest.approx(-490.8671, abs=1e-4)
    assert (out / "items.csv").exists()
