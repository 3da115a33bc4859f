"""`leap rasch dif`: files in, files out, and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from support.rasch import FIXTURES

from leap.cli import main
from scoring_jobs.rasch.dif import ITEM_COLUMNS, LR_COLUMNS


def test_dif_writes_items_lr_and_summary(tmp_path, capsys):
    out = tmp_path / "dif"
    rc = main(["rasch", "dif", str(FIXTURES / "dif_sim_pcm.csv"), "--group-col", "group", "--id-col", "id",
               "--min-category-n", "1", "--out", str(out)])
    assert rc == 0
    items = pd.read_csv(out / "dif_items.csv")
    assert list(items.columns) == ITEM_COLUMNS and len(items) == 20  # 10 items x focal groups B, C
    flagged = items[items["flagged"]]
    assert list(zip(flagged["item"], flagged["group"], strict=True)) == [("i04", "B")]
    lr = pd.read_csv(out / "dif_lr.csv")
    assert list(lr.columns) == LR_COLUMNS and lr.loc[0, "df"] == 58
    assert lr.loc[0, "lr_chi2"] == pytest.approx(134.4236461075, abs=1e-5)  # eRm LRtest
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference_group"] == "A" and summary["converged"] is True
    assert [g["role"] for g in summary["groups"]] == ["reference", "focal", "focal"]
    line = json.loads(capsys.readouterr().out)
    assert line["n_flagged"] == 1 and line["reference_group"] == "A"


def test_dif_options(tmp_path):
    out = tmp_path / "dif"
    assert main(["rasch", "dif", str(FIXTURES / "dif_sim_pcm.csv"), "--group-col", "group", "--id-col", "id",
                 "--items", "i01,i02,i03,i04,i05", "--model", "rsm", "--reference-group", "B",
                 "--min-group-n", "400", "--anchor", "i01,i02", "--out", str(out)]) == 0
    items = pd.read_csv(out / "dif_items.csv")
    assert set(items["reference_group"]) == {"B"} and set(items["group"]) == {"A", "C"}
    c = items[items["group"] == "C"]
    assert not c["testable"].any() and c["reason"].str.contains("fewer than min_group_n = 400").all()
    a = items[items["group"] == "A"]
    assert a["testable"].all() and list(a.loc[a["is_anchor"], "item"]) == ["i01", "i02"]


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "in.csv"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group-col", "grp"], "group column 'grp' is not in the file"),
        (["--group-col", "g", "--items", "a,g"], "group column 'g' is also listed in --items"),
        (["--group-col", "g", "--reference-group", "z"], "reference group 'z' is not among the groups: x, y"),
        (["--group-col", "g", "--anchor", "c"], "anchor items must be analysed items"),
        (["--group-col", "one"], "DIF needs at least two groups; found 1 (x)"),
    ],
)
def test_dif_bad_input_gives_clear_message(tmp_path, capsys, args, message):
    text = "id,g,one,a,b\n" + "".join(f"{i},{'xy'[i % 2]},x,{i % 3 % 2},{i % 2}\n" for i in range(1, 9))
    argv = ["rasch", "dif", _write(tmp_path, text), "--id-col", "id", "--out", str(tmp_path / "o"), *args]
    if "--items" not in args:
        argv += ["--items", "a,b"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
