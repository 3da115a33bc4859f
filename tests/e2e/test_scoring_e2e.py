"""Scoring jobs end to end: simulated submissions → broker → ingestion → validation → dbt → calibrate (fall)
→ score fall and spring → dbt scoring marts; growth recovered against the simulator's truth.

One warehouse is built per module (like tests/e2e/test_warehouse_e2e.py). Growth and SE formulas of the
dbt marts are checked against an independent pandas computation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from support.browser import in_own_thread

from expectations.runner import run_validation
from ingestion.consumer import run_ingestion
from ingestion.producer import produce
from leap.orchestration.tasks import run_dbt
from scoring_jobs import tables
from scoring_jobs.item_bank import calibrate_reference
from scoring_jobs.term_scores import score_term
from simulator import SimConfig, simulate

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

YEAR = "2024-25"
STUDENT = "and instrument = 'student'"  # ~90 students per school; teachers (~10) are mostly suppressed
SCORING_MODELS = ("path:models/staging/scoring", "path:models/marts/scores")


def _q(settings, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(settings.layout.warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _bank(settings, sql: str) -> pd.DataFrame:
    """A query on the scoring tables (lake files, scoring_jobs.tables)."""
    con = tables.connect(settings)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _scoring_tables(settings) -> dict[str, pd.DataFrame]:
    return {t: _bank(settings, f"select * from scoring.{t} order by all")
            for t in ("respondent_scores", "item_drift", "item_bank_calibrations", "item_bank_thresholds")}


@pytest.fixture(scope="module")
def scored(tmp_path_factory, kafka_server):
    from support.kafka import shared_platform

    with shared_platform(kafka_server, tmp_path_factory.mktemp("scoring") / "data", "44" * 32) as settings:
        config = SimConfig(seed=11, teachers_per_school=10, students_per_school=90, double_answer_share=0.01,
                           resubmission_share=0.0).with_total_schools(30)
        sim = simulate(config)
        produce(sim.records, settings, progress=False)
        run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
        run_validation(settings)
        run_dbt(settings)  # no scoring yet (the tables' schema files only): the build must pass
        cal = calibrate_reference(settings, YEAR, "fall")
        fall = score_term(settings, YEAR, "fall")
        spring = score_term(settings, YEAR, "spring")
        run_dbt(settings, *SCORING_MODELS)
        yield settings, sim, cal, fall, spring


def test_calibration_is_stored_versioned_and_stable(scored):
    settings, _, cal, *_ = scored
    assert cal["created"] and cal["calibration_id"].startswith(f"{YEAR}-fall-pcm-")
    cals = _bank(settings, "select * from scoring.item_bank_calibrations")
    assert set(cals["component"]) == {"LF", "LD", "LL"} and (cals["calibration_id"] == cal["calibration_id"]).all()
    assert cals["converged"].all() and (cals["reliability"] > 0.3).all()
    assert (cals["cut_scores_version"] == cals["instrument"] + "-1.0-" + cals["component"]).all()
    assert len(cals) == 6
    before = _scoring_tables(settings)
    again = calibrate_reference(settings, YEAR, "fall")
    assert again["calibration_id"] == cal["calibration_id"] and not again["created"]
    after = _scoring_tables(settings)
    for name in ("item_bank_calibrations", "item_bank_thresholds"):
        pd.testing.assert_frame_equal(before[name], after[name])
    files = settings.layout.calibrations / cal["calibration_id"] / "student-LF"
    for f in ("items.csv", "item_fit.csv", "persons.csv", "categories.csv", "summary.json", "scale.json",
              "cut_scores.json"):
        assert (files / f).exists(), f
    scale = json.loads((files / "scale.json").read_text())
    row = cals[(cals["component"] == "LF") & (cals["instrument"] == "student")].iloc[0]
    assert scale["slope"] == pytest.approx(row["scale_slope"]) and scale["intercept"] == pytest.approx(
        row["scale_intercept"])
    # the measurement-quality report of every scale, its cut scores mapped back to logits
    for scale_dir in (settings.layout.calibrations / cal["calibration_id"]).glob("*-L?"):
        for f in ("report.html", "quality.json", "wright_map.svg", "category_curves.svg", "item_fit.svg",
                  "information.svg"):
            assert (scale_dir / f).stat().st_size > 0, (scale_dir.name, f)
    quality = json.loads((files / "quality.json").read_text())
    cuts = [(c - row["scale_intercept"]) / row["scale_slope"]
            for c in (row["cut_moderate_low"], row["cut_moderate_high"], row["cut_high"])]
    assert quality["classification"]["cuts_logit"] == pytest.approx(cuts)
    assert 0.4 < quality["classification"]["accuracy"] < 1 and quality["summary"]["persons"]["n"] > 1000


def test_scoring_writes_lake_files_that_dbt_reads_and_nothing_into_the_warehouse(scored):
    """Scoring reads the warehouse and writes partition files (scoring_jobs.tables); dbt's staging reads
    exactly those rows: no dbt → Python → dbt round trip through warehouse tables."""
    settings, *_, fall, spring = scored
    in_warehouse = _q(settings, "select table_schema, table_name from information_schema.tables "
                                "where table_schema = 'scoring'")
    assert in_warehouse.empty
    root = settings.layout.scoring_tables
    for term, result in (("fall", fall), ("spring", spring)):
        part = root / f"respondent_scores/school_year={YEAR}/term={term}/part.parquet"
        assert part.exists() and (part.parent.parent.parent / "_schema.parquet").exists()
        assert _bank(settings, f"select count(*) as n from read_parquet('{part}')")["n"][0] == result["rows"]
    staged = _q(settings, "select term, count(*) as n from staging.stg_scoring__respondent_scores group by term")
    assert dict(zip(staged["term"], staged["n"], strict=True)) == {"fall": fall["rows"], "spring": spring["rows"]}


def test_dif_by_every_grouping_is_stored_once_and_in_the_marts(scored):
    """DIF of the calibration (scoring_jobs.item_dif): every scale x grouping has its LR row, every item its
    rows per focal group, testable or with the reason; teachers carry no demographics: not testable."""
    from scoring_jobs.item_dif import GROUPINGS, analyse_calibration

    settings, _, cal, *_ = scored
    out = analyse_calibration(settings, cal["calibration_id"])
    assert out["scale_rows"] == 6 * len(GROUPINGS) and out["item_rows"] > 0
    assert analyse_calibration(settings, cal["calibration_id"]) == {"calibration_id": cal["calibration_id"],
                                                                   "skipped": "already analysed"}
    run_dbt(settings, "fct_item_dif", "fct_scale_dif", "stg_scoring__item_dif", "stg_scoring__scale_dif")
    scales = _q(settings, "select * from marts.fct_scale_dif")
    assert len(scales) == 30 and set(scales["grouping"]) == set(GROUPINGS)
    student = scales[scales["instrument"] == "student"].set_index(["component", "grouping"])
    assert student.loc[("LF", "gender"), "is_testable"] and student.loc[("LF", "gender"), "n_groups"] == 2
    assert (student["p_value"].dropna().between(0, 1)).all()
    teacher_demo = scales[(scales["instrument"] == "teacher") & scales["grouping"].isin(["gender", "race_ethnicity"])]
    assert not teacher_demo["is_testable"].any() and teacher_demo["not_testable_reason"].notna().all()
    items = _q(settings, "select * from marts.fct_item_dif")
    assert (items["is_testable"] | items["not_testable_reason"].notna()).all()  # never a silent "no DIF"
    assert items.loc[~items["is_testable"], ["wald_z", "q_value"]].isna().all().all()
    assert (items["is_suppressed"] == (items["n_focal"].isna() | items["n_reference"].isna())).all()
    tested = items[items["is_testable"]]
    assert len(tested) > 50 and tested["ets_class"].isin(["A", "B", "C"]).all()
    # no DIF is simulated: flags are false discoveries, few at q < .05
    assert tested["is_flagged"].mean() < 0.05, tested["is_flagged"].mean()


def _look_at_calibration_report(index) -> tuple[list, list, list, int]:
    """The requests, links, headings and DIF table rows of the page in headless Chromium, offline."""
    import shutil

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())
            page.goto(index.resolve().as_uri(), wait_until="load")
            return (requests, page.eval_on_selector_all("a", "els => els.map(e => e.href)"),
                    page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)"),
                    page.eval_on_selector_all("section:nth-of-type(2) tbody tr", "els => els.length"))
        finally:
            browser.close()


def test_dif_on_worker_processes_equals_dif_in_one_process(scored, monkeypatch):
    """The scale x grouping analyses run on LEAP_WORKERS processes (two here) and come back in order: the
    stored rows are those of the analyses run one after the other in this process, value for value."""
    from scoring_jobs.item_dif import analyse_calibration

    settings, _, cal, *_ = scored
    rows = {}
    for workers in (2, 1):
        monkeypatch.setenv("LEAP_WORKERS", str(workers))
        analyse_calibration(settings, cal["calibration_id"], force=True)
        rows[workers] = {t: _bank(settings, f"select * from scoring.{t} order by all") for t in ("item_dif", "scale_dif")}
    for table, frame in rows[1].items():
        assert len(frame) > 0
        pd.testing.assert_frame_equal(rows[2][table], frame, check_exact=True)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def test_quality_reports_on_worker_processes_equal_those_made_in_one_process(scored, monkeypatch, tmp_path):
    """The scales are fitted on the workers, side by side, and each scale's quality report is made on a
    worker while the next ones are linked here: every file of the calibration's folders (the estimates, the
    persons, the reports) is the same, byte for byte, as when all is done in this process."""
    settings, _, cal, *_ = scored
    root = settings.layout.calibrations / cal["calibration_id"]
    shutil.copytree(root, tmp_path / "kept")
    trees = {}
    try:
        for workers in (2, 1):
            monkeypatch.setenv("LEAP_WORKERS", str(workers))
            for folder in root.glob("*-L?"):
                shutil.rmtree(folder)  # a folder that exists is kept as it is: remove them to have them made
            assert calibrate_reference(settings, YEAR, "fall")["calibration_id"] == cal["calibration_id"]
            trees[workers] = {k: v for k, v in _tree(root).items() if "/" in k}  # the scales' folders
    finally:
        shutil.rmtree(root)
        shutil.copytree(tmp_path / "kept", root)
    assert len(trees[1]) >= 6 * 12 and any(k.endswith("/report.html") for k in trees[1])
    assert trees[2] == trees[1]


def test_the_calibration_report_gathers_every_scale_and_the_dif_offline(scored):
    """<calibration>/index.html (written with the DIF) in headless Chromium: no request but its own file,
    a working link to every scale's report, the DIF table with a row per scale x grouping."""
    from scoring_jobs.item_dif import analyse_calibration

    settings, _, cal, *_ = scored
    analyse_calibration(settings, cal["calibration_id"])  # done by the DIF test when it ran first: then a no-op
    index = settings.layout.calibrations / cal["calibration_id"] / "index.html"
    assert index.exists()
    requests, links, headings, dif_rows = in_own_thread(_look_at_calibration_report, index)
    assert requests == [index.resolve().as_uri()], requests
    assert headings == ["Scales", "Differential item functioning"]
    assert len(links) == 6 and all(link.endswith("/report.html") for link in links)
    assert all((index.parent / link.rsplit("/", 2)[1] / "report.html").exists() for link in links)
    assert dif_rows == 30


def test_rescoring_a_term_leaves_the_tables_identical(scored):
    settings, _, cal, fall, _ = scored
    before = _scoring_tables(settings)
    again = score_term(settings, YEAR, "fall", calibration_id=cal["calibration_id"])
    assert again == fall
    after = _scoring_tables(settings)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name], check_exact=True)


def test_a_term_scored_in_small_batches_equals_the_term_at_once(scored, monkeypatch):
    """Batches of 97 respondents against one batch, with every item drifting (thresholds at 0): the
    first pass drops anchors down to MIN_ANCHORS and the second pass rescores; the rows are the same,
    scored in this process or on two worker processes (LEAP_WORKERS)."""
    import scoring_jobs.term_scores as ts

    settings, _, cal, fall, _ = scored
    read, frames = ts.term_record_batches, []

    def counted(*args, **kwargs):
        for batch in read(*args, **kwargs):
            frames[-1].append(batch.num_rows)
            yield batch

    monkeypatch.setattr(ts, "term_record_batches", counted)
    monkeypatch.setattr(ts, "DRIFT_THRESHOLD", 0.0)
    monkeypatch.setattr(ts, "DRIFT_Z", 0.0)
    try:
        tables = {}
        for rows, workers in ((10**9, 1), (97, 1), (97, 2)):
            monkeypatch.setattr(ts, "BATCH_ROWS", rows)
            monkeypatch.setenv("LEAP_WORKERS", str(workers))
            frames.append([])
            out = score_term(settings, YEAR, "fall", calibration_id=cal["calibration_id"])
            tables[rows, workers] = _scoring_tables(settings)
        assert max(frames[1]) <= 97 < max(frames[0]) and len(frames[1]) > 3 * len(frames[0])
        assert out["drifting_items"] and (tables[97, 2]["respondent_scores"]["n_scale_items"] == ts.MIN_ANCHORS).any()
        at_once = tables[10**9, 1]
        for batched in (tables[97, 1], tables[97, 2]):
            for name in ("respondent_scores", "item_drift"):
                pd.testing.assert_frame_equal(at_once[name], batched[name], check_exact=False, rtol=1e-12)
            pd.testing.assert_frame_equal(at_once["respondent_scores"], batched["respondent_scores"],
                                          check_exact=True)  # the person estimates bit for bit
        for name in ("respondent_scores", "item_drift"):  # workers or not: the same sums in the same order
            pd.testing.assert_frame_equal(tables[97, 1][name], tables[97, 2][name], check_exact=True)
    finally:
        monkeypatch.undo()
        assert score_term(settings, YEAR, "fall", calibration_id=cal["calibration_id"]) == fall


def test_every_respondent_scored_or_flagged(scored):
    settings, *_ = scored
    n_resp = _q(settings, f"""select count(*) as n from intermediate.int_respondents
        where school_year = '{YEAR}' and term in ('fall', 'spring')""")["n"][0]
    rs = _q(settings, "select * from restricted.fct_respondent_scores")
    assert len(rs) == 3 * n_resp
    assert rs.loc[rs["is_scored"], ["theta", "theta_se", "scaled_score", "scaled_se", "level"]].notna().all().all()
    flagged = rs[~rs["is_scored"]]
    assert flagged[["theta", "scaled_score", "level"]].isna().all().all()
    assert (flagged["n_answered"] < np.ceil(0.5 * flagged["n_scale_items"])).all()
    scored_rows = rs[rs["is_scored"]]
    assert (scored_rows["n_answered"] >= np.ceil(0.5 * scored_rows["n_scale_items"])).all()
    drift = _bank(settings, "select * from scoring.item_drift")
    assert len(drift) > 0 and drift["displacement"].notna().all()
    # fall is the calibration sample: no anchored item drifts there
    assert not drift.loc[drift["term"] == "fall", "is_drifting"].any()


def _independent_growth(rs: pd.DataFrame) -> pd.DataFrame:
    """Growth per school x component from the respondent scores, in plain pandas (not the dbt SQL); the
    matched design through weights.paired_difference, itself checked against R's t.test."""
    from weights import paired_difference

    rs = rs[rs["is_scored"]].assign(w=rs["analysis_weight"].fillna(1.0))
    rows = []
    for (school, comp), g in rs.groupby(["school_id", "component"]):
        out = {"school_id": school, "component": comp}
        z = {}
        for term, sign in (("fall", -1.0), ("spring", 1.0)):
            t = g[g["term"] == term]
            w, y = t["w"].to_numpy(), t["scaled_score"].to_numpy()
            mean = np.sum(w * y) / np.sum(w)
            n = len(y)
            out[f"mean_{term}"] = mean
            out[f"se_{term}"] = np.sqrt(n / (n - 1) * np.sum((w * (y - mean)) ** 2)) / np.sum(w)
            for key, zi in zip(t["respondent_key"], sign * w * (y - mean) / np.sum(w), strict=True):
                z[key] = z.get(key, 0.0) + zi
        m = len(z)
        zz = np.array(list(z.values()))
        out["growth_unmatched"] = out["mean_spring"] - out["mean_fall"]
        out["growth_unmatched_se"] = np.sqrt(m / (m - 1) * np.sum(zz * zz))
        out["growth_unmatched_df"] = m - 2
        f = g[g["term"] == "fall"].set_index("respondent_key")
        s = g[g["term"] == "spring"].set_index("respondent_key")
        both = f.index.intersection(s.index)
        paired = paired_difference(f.loc[both, "scaled_score"], s.loc[both, "scaled_score"],
                                   (f.loc[both, "w"].to_numpy() + s.loc[both, "w"].to_numpy()) / 2)
        out["n_matched"] = len(both)
        out["growth_matched"], out["growth_matched_se"] = paired["mean_diff"], paired["se"]
        out["growth_matched_p"] = paired["p_value"]
        moved = np.sign(s.loc[both, "level_order"].astype(int) - f.loc[both, "level_order"].astype(int))
        out["n_moved_up"], out["n_moved_down"] = int((moved > 0).sum()), int((moved < 0).sum())
        rows.append(out)
    return pd.DataFrame(rows)


def test_growth_formulas_match_an_independent_computation(scored):
    settings, *_ = scored
    rs = _q(settings, f"select * from restricted.fct_respondent_scores where school_year = '{YEAR}' {STUDENT}")
    mart = _q(settings, f"select * from marts.fct_school_growth where school_year = '{YEAR}' {STUDENT}")
    assert not mart["is_suppressed"].any() and not mart["is_suppressed_matched"].any()
    merged = mart.merge(_independent_growth(rs), on=["school_id", "component"], suffixes=("", "_py"))
    assert len(merged) == len(mart) == 3 * mart["school_id"].nunique()
    for col in ("mean_fall", "mean_spring", "growth_unmatched", "growth_unmatched_se", "growth_matched",
                "growth_matched_se", "growth_matched_p"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_py"], rtol=1e-9, err_msg=col)
    for col in ("n_matched", "n_moved_up", "n_moved_down", "growth_unmatched_df"):
        assert (merged[col] == merged[f"{col}_py"]).all(), col
    np.testing.assert_allclose(merged["growth_unmatched"], merged["mean_spring"] - merged["mean_fall"], atol=1e-9)
    assert (merged["is_significant_matched"] == (merged["growth_matched_p"] < 0.05)).all()
    # q-values: Benjamini-Hochberg over each school's tests of the year (leap.inference, the one rule)
    from leap.inference import bh_qvalues

    full = _q(settings, f"select * from marts.fct_school_growth where school_year = '{YEAR}'")
    for _, school in full.groupby("school_id"):
        np.testing.assert_allclose(school["growth_matched_q"], bh_qvalues(school["growth_matched_p"]), rtol=1e-12)


def _with_truth(settings, sim) -> pd.DataFrame:
    mart = _q(settings, f"select * from marts.fct_school_growth where school_year = '{YEAR}' {STUDENT}")
    slopes = _bank(settings, f"select component, scale_slope from scoring.item_bank_calibrations where true {STUDENT}")
    mart = mart.merge(slopes, on="component")
    truth = [sim.truth.school(s)["growth"][c] for s, c in zip(mart["school_id"], mart["component"], strict=True)]
    return mart.assign(true_growth=np.asarray(truth) * mart["scale_slope"],
                       true_growth_logits=np.asarray(truth))


def test_growth_recovers_the_simulated_truth(scored):
    settings, sim, *_ = scored
    g = _with_truth(settings, sim)
    assert len(g) >= 60
    cover = {}
    for design in ("matched", "unmatched"):
        lo, hi = g[f"growth_{design}_ci_low"], g[f"growth_{design}_ci_high"]
        cover[design] = ((lo <= g["true_growth"]) & (g["true_growth"] <= hi)).mean()
        z = (g[f"growth_{design}"] - g["true_growth"]) / g[f"growth_{design}_se"]
        assert abs(z.mean()) < 0.3, (design, z.mean())  # unbiased on the reporting scale
    # both SEs are now right-sized (the all-respondents one counts the fall-spring covariance of the
    # returning respondents): z sd ~ 1; with 90 cells the coverage is ~95% give or take binomial noise
    # (sd 2.3%). The replicate study in tests/weights/test_growth_recovery.py pins 93-97% down.
    for design in ("matched", "unmatched"):
        z = (g[f"growth_{design}"] - g["true_growth"]) / g[f"growth_{design}_se"]
        assert 0.8 < z.std() < 1.25 and cover[design] >= 0.88, (design, z.std(), cover)


def test_significance_is_right_in_obvious_cases(scored):
    settings, sim, *_ = scored
    g = _with_truth(settings, sim)
    large = g[g["true_growth_logits"] >= 0.7]
    zero = g[g["true_growth_logits"] == 0.0]
    assert len(large) > 0 and len(zero) > 0
    assert large["is_significant_matched"].all() and large["is_significant_unmatched"].all()
    assert zero["is_significant_matched"].mean() <= 0.2 and zero["is_significant_unmatched"].mean() <= 0.2


def test_school_and_level_marts(scored):
    settings, *_ = scored
    school = _q(settings, "select * from marts.fct_school_scale_scores")
    ok = school[~school["is_suppressed"]]
    assert len(ok) > 0 and ok["mean_scaled_score"].between(150, 350).all()
    pct = ok[["pct_emerging", "pct_moderate_low", "pct_moderate_high", "pct_high"]].sum(axis=1)
    np.testing.assert_allclose(pct, 100, atol=1e-9)
    dist = _q(settings, "select * from marts.fct_score_level_distribution where not is_suppressed")
    sums = dist.groupby(["instrument", "term", "component", "grade_band", "sample"])["weighted_pct"].sum()
    np.testing.assert_allclose(sums, 100, atol=1e-9)
    small = _q(settings, f"""select count(*) as n from marts.fct_score_level_distribution
        where n_respondents < {settings.min_cell_n} and weighted_pct is not null""")["n"][0]
    assert small == 0


def test_cli_lists_calibrations_and_rejects_bad_terms(scored, capsys):
    from leap.cli import main

    cal = scored[2]
    assert main(["scoring", "calibrations"]) == 0
    assert cal["calibration_id"] in capsys.readouterr().out
    assert main(["scoring", "score", "--school-year", YEAR, "--term", "summer"]) == 2
    assert "unknown term" in capsys.readouterr().err
    assert main(["scoring", "score", "--school-year", YEAR, "--term", "fall", "--calibration-id", "nope"]) == 2
    assert "unknown calibration id" in capsys.readouterr().err


def test_respondent_level_scores_stay_in_the_restricted_zone(scored):
    """The published BI snapshot (and so every partner export, made from it) holds aggregates only: the
    respondent scores (school id, respondent key, scaled score) stay in the warehouse's restricted
    schema. Before, the snapshot carried all 17,415 respondent rows of the demo, including the eight
    teachers whose school mean was suppressed."""
    import duckdb

    from dbt_project.publish import publish

    settings = scored[0]
    pub = publish(settings)
    assert "fct_respondent_scores" not in pub.tables and "fct_school_growth" in pub.tables
    con = duckdb.connect(str(pub.duckdb_file), read_only=True)
    try:
        cols = con.execute("select table_name, column_name from duckdb_columns() where schema_name = 'main'").fetchall()
    finally:
        con.close()
    assert not [(t, c) for t, c in cols if c in ("respondent_key", "submission_id", "respondent_id")]
    assert _q(settings, "select count(*) as n from restricted.fct_respondent_scores")["n"][0] > 0


def test_a_scale_that_cannot_be_calibrated_does_not_stop_the_others(scored, monkeypatch, capsys):
    """Fault injected into the engine for the LD scales only: the four others are calibrated, the two
    failures are named with their reason, and the CLI says so and exits 1."""
    import scoring_jobs.rasch as rasch
    from leap.cli import main
    from scoring_jobs.item_bank import calibrate_reference

    real = rasch.calibrate

    def fails_on_ld(resp, *args, item_names=None, **kwargs):
        if any("_ld" in name for name in item_names):
            raise rasch.RaschDataError("item x_ld01 has fewer than two observed categories")
        return real(resp, *args, item_names=item_names, **kwargs)

    monkeypatch.setattr(rasch, "calibrate", fails_on_ld)
    monkeypatch.setenv("LEAP_WORKERS", "1")  # the scales are fitted in this process, where the fault is injected
    settings = scored[0]
    result = calibrate_reference(settings, YEAR, "fall")
    assert sorted((f["instrument"], f["component"]) for f in result["failed"]) == [("student", "LD"), ("teacher", "LD")]
    assert len(result["scales"]) == 4 and "fewer than two observed categories" in result["failed"][0]["reason"]
    assert main(["scoring", "calibrate", "--school-year", YEAR, "--term", "fall"]) == 1
    err = capsys.readouterr().err
    assert "error: student LD could not be calibrated" in err and "hint:" in err


def test_a_recalibration_is_linked_to_the_one_reporting_scale(scored):
    """The 200-300 constants come from the first (fall) calibration once; a spring calibration is linked
    to them through the common items. The same spring respondents scored against both calibrations
    move by about the linking error, not by a re-norming (21.4 points before: the constants were
    re-derived from each reference's persons). Runs last: it adds a calibration."""
    import pyarrow as pa

    from scoring_jobs.inputs import connect_warehouse, term_record_batches
    from scoring_jobs.item_bank import calibrate_reference
    from scoring_jobs.term_scores import _load_bank, _ScaleScoring

    settings, _, cal, *_ = scored
    again = calibrate_reference(settings, YEAR, "spring")
    assert again["calibration_id"] != cal["calibration_id"] and not again["failed"]
    con, bank = connect_warehouse(settings), tables.connect(settings)
    try:
        scales = bank.execute("select * from scoring.reporting_scales").df()
        assert len(scales) == 6 and (scales["reference_calibration_id"] == cal["calibration_id"]).all()
        moves = []
        for comp in ("LF", "LD", "LL"):
            rows = {}
            for cid in (cal["calibration_id"], again["calibration_id"]):
                _, cals, thr = _load_bank(bank, cid)
                row = cals[(cals["instrument"] == "student") & (cals["component"] == comp)].iloc[0]
                t = thr[(thr["instrument"] == "student") & (thr["component"] == comp)]
                term = pa.Table.from_batches(term_record_batches(con, "student", YEAR, "spring",
                                                                 sorted(set(t["item_id"])), 10**9))
                rows[cid] = (row, _ScaleScoring(row, t, {"calibration_id": cid}).score(term).to_pandas())
            (_, a), (linked, b) = rows[cal["calibration_id"]], rows[again["calibration_id"]]
            assert linked["reporting_scale_version"] == f"student-{comp}-v1"
            assert abs(linked["link_shift"]) < 1e-9  # same items, both centred on their mean location
            le = linked["linking_error"] * linked["scale_slope"]  # in scaled points
            assert 0 < le < 3
            both = a["is_scored"] & b["is_scored"]
            diff = (b["scaled_score"] - a["scaled_score"])[both]
            moved = (a["level"] != b["level"])[both].mean()
            moves.append((comp, round(le, 2), round(diff.abs().mean(), 2), round(diff.abs().quantile(0.95), 2), moved))
            # A person's move is an information-weighted mean of the item displacements, the linking error
            # the SE of their plain mean: it can be a few linking errors. Measured (seed 11, the
            # machine-independent simulator draws): mean |move| LF 0.72, LD 0.15, LL 0.28 points for linking
            # errors 0.34, 0.24, 0.50; 1.5%, 0.04%, 0.08% change level (before the reporting scale was
            # fixed: up to 21.4 points, 5.5%).
            assert abs(diff.mean()) <= 2.5 * le and diff.abs().mean() <= 2.5 * le, moves[-1]
            assert diff.abs().quantile(0.95) <= 4 * le, moves[-1]
            assert moved < 0.03, moves[-1]
    finally:
        con.close()
        bank.close()
    print("recalibration moves (scale, linking error, mean |move|, 95th pct |move|, share changing level):", moves)
    # fct_item_linking: each item's drift from the reference on the linked metric; mean-mean linking makes
    # the drifts of a scale sum to 0 and their SD / sqrt(k) the linking error
    run_dbt(settings, "stg_scoring__item_bank_thresholds", "int_item_locations", "fct_item_linking")
    linking = _q(settings, f"select * from marts.fct_item_linking where calibration_id = '{again['calibration_id']}'")
    assert len(linking) > 0 and linking["drift_se"].notna().all()
    assert (linking["previous_calibration_id"] == cal["calibration_id"]).all()
    for _, scale in linking.groupby(["instrument", "component"]):
        assert abs(scale["drift_from_reference"].sum()) < 1e-9
        k = len(scale)
        assert scale["drift_from_reference"].std(ddof=1) / np.sqrt(k) == pytest.approx(scale["linking_error"].iloc[0])
        assert np.allclose(scale["change_from_previous"], scale["drift_from_reference"])
