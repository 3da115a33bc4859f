"""School reports end to end: simulated year → broker → lake → dbt → scores → reports, read back in a
real browser (offline Chromium): the numbers on the page are the marts', hidden cells say why, the PDF
has its pages, no page makes a request; and no published or exported output lets a hidden value be
recomputed.

One pipeline per module (like tests/e2e/test_scoring_e2e.py)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from support.browser import in_own_thread

from expectations.runner import run_validation
from ingestion.consumer import run_ingestion
from ingestion.producer import produce
from leap.orchestration.tasks import run_dbt
from reports import wording
from reports.browser import pdf_page_count
from scoring_jobs.item_bank import calibrate_reference
from scoring_jobs.term_scores import score_term
from simulator import SimConfig, simulate, write_enrolment

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

YEAR = "2024-25"


def _q(path, sql: str, params=None) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def reported(tmp_path_factory, kafka_server):
    from support.kafka import shared_platform

    from dbt_project.inputs import install_enrolment
    from reports.build import build_reports

    with shared_platform(kafka_server, tmp_path_factory.mktemp("reports") / "data", "44" * 32) as settings:
        config = SimConfig(seed=5, teachers_per_school=12, students_per_school=60, resubmission_share=0.0,
                           double_answer_share=0.01).with_total_schools(16)
        sim = simulate(config)
        produce(sim.records, settings, progress=False)
        run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
        run_validation(settings)
        enrolment = settings.data_dir / "enrolment.csv"
        write_enrolment(sim.enrolment(), enrolment)
        install_enrolment(settings, enrolment)
        run_dbt(settings)
        calibrate_reference(settings, YEAR, "fall")
        for term in ("fall", "spring"):
            score_term(settings, YEAR, term)
        run_dbt(settings)
        built = in_own_thread(build_reports, settings, school_year=YEAR)
        yield settings, {b.term: b for b in built}


def _marts(settings, table: str, where: str = "") -> pd.DataFrame:
    schema = "reporting" if table.startswith("rpt_") else "marts"
    return _q(settings.layout.warehouse, f"select * from {schema}.{table} where school_year = '{YEAR}' {where}")


def _text(page, key: str) -> str | None:
    loc = page.locator(f"[data-k='{key}']")
    return loc.first.inner_text().strip() if loc.count() else None


def test_the_numbers_on_the_page_are_the_marts(reported, browser):
    settings, built = reported
    spring = built["spring"]
    scales = _marts(settings, "fct_school_scale_scores", "and term = 'spring'")
    items = _marts(settings, "fct_school_item_top_box", "and term = 'spring'")
    checked = 0
    for school in spring.schools[:6]:
        page = browser.open(spring.directory / "schools" / f"{school}.html")
        try:
            for r in scales[scales.school_id == school].itertuples():
                key = f"scale:{r.instrument}:{r.component}"
                assert _text(page, f"{key}:n") == str(r.n_respondents)
                if r.is_suppressed:
                    assert "Hidden:" in _text(page, f"{key}:why")
                else:
                    assert _text(page, f"{key}:mean") == wording.num(r.mean_scaled_score)
                    assert _text(page, f"{key}:national") == wording.num(r.national_mean_scaled_score)
                    checked += 1
            for r in items[(items.school_id == school) & ~items.is_suppressed].itertuples():
                assert _text(page, f"item:{r.item_id}:top_box") == wording.num(r.top_box_pct)
                checked += 1
            assert browser.blocked_requests == []
        finally:
            page.close()
    assert checked > 100


def test_hidden_cells_say_why(reported, browser):
    settings, built = reported
    scales = _marts(settings, "fct_school_scale_scores", "and term = 'spring' and is_suppressed")
    assert set(scales.suppression_reason) >= {"fewer_than_min_n"}
    for reason in sorted(set(scales.suppression_reason)):
        r = scales[scales.suppression_reason == reason].iloc[0]
        page = browser.open(built["spring"].directory / "schools" / f"{r.school_id}.html")
        try:
            why = _text(page, f"scale:{r.instrument}:{r.component}:why")
            assert why == "Hidden: " + wording.suppression_text(reason, settings.min_cell_n)
            assert _text(page, f"scale:{r.instrument}:{r.component}:mean") is None  # no number shown
        finally:
            page.close()


def test_growth_significance_is_worded_from_the_marts(reported, browser):
    settings, built = reported
    growth = _marts(settings, "fct_school_growth", "and not is_suppressed")
    r = growth.sort_values("growth_unmatched_p").iloc[0]
    page = browser.open(built["spring"].directory / "schools" / f"{r.school_id}.html")
    try:
        key = f"growth:{r.instrument}:{r.component}"
        assert _text(page, f"{key}:change") == wording.signed(r.growth_unmatched)
        verdict = _text(page, f"{key}:verdict")
        assert verdict.startswith("Statistically significant" if r.is_significant_unmatched else "No statistically")
    finally:
        page.close()


def test_every_page_is_offline_and_the_pdf_has_its_pages(reported, browser):
    _, built = reported
    out = built["spring"].directory
    pages = [out / "index.html", out / "national.html", *sorted((out / "networks").glob("*.html")),
             *sorted((out / "schools").glob("*.html"))[:3]]
    for path in pages:
        html = path.read_text(encoding="utf-8")
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
        page = browser.open(path)
        page.close()
        assert browser.blocked_requests == [], path
    school = built["spring"].schools[0]
    # a cover section, then the teacher and the student survey each start a page, and the data notes
    assert pdf_page_count(out / "schools" / f"{school}.pdf") >= 3
    assert built["spring"].n_pdfs == len(built["spring"].schools)


def test_manifest_lists_every_file_with_its_checksum(reported):
    from leap.fsutil import sha256_file

    _, built = reported
    out = built["spring"].directory
    manifest = json.loads((out / "manifest.json").read_text())
    files = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert set(files) == on_disk
    assert all(sha256_file(out / p) == f["sha256"] for p, f in files.items())
    assert manifest["schools"] == built["spring"].schools


def test_a_school_below_the_response_rate_is_marked(reported, browser):
    settings, built = reported
    rates = _marts(settings, "fct_school_response_rates", "and term = 'spring'")
    assert rates.has_enrolment.all()
    low = rates[~rates.meets_min_response_rate]
    ok = rates[rates.meets_min_response_rate]
    assert len(low) and len(ok)
    r = low.iloc[0]
    page = browser.open(built["spring"].directory / "schools" / f"{r.school_id}.html")
    try:
        assert "below 50%" in _text(page, f"rate:{r.instrument}:below")
    finally:
        page.close()


def test_no_published_or_exported_output_reveals_a_hidden_value(reported):
    """Aggregates only (no respondent-level row or key), the classroom view not published, and no lone
    hidden cell under a shown total: recomputed from the published snapshot itself."""
    from dbt_project.publish import publish
    from leap.orchestration.exports import partner_export

    settings, _ = reported
    snap = publish(settings).duckdb_file
    cols = _q(snap, "select table_name, column_name from duckdb_columns() where schema_name = 'main'")
    assert not set(cols.column_name) & {"respondent_key", "submission_id", "respondent_id", "classroom_id"}
    assert not {"fct_respondent_scores", "rpt_classroom_items"} & set(cols.table_name)
    assert settings.layout.restricted_scores.exists()  # the respondent scores' own file
    min_n = settings.min_cell_n
    lone = _q(snap, f"""
        select instrument, term, component, sample, grade_band, sum(n_respondents) filter (where is_suppressed) h
        from fct_school_scale_scores group by all having sum(n_respondents) >= {min_n}
           and h > 0 and h < {min_n}""")
    assert lone.empty, lone
    lone = _q(snap, f"""
        select instrument, term, item_id, sample, grade_band, sum(n_respondents) filter (where is_suppressed) h
        from fct_school_item_top_box group by all having sum(n_respondents) >= {min_n} and h > 0 and h < {min_n}""")
    assert lone.empty, lone
    # growth never gives a hidden term's mean back: spring - fall with one term hidden
    leak = _q(snap, """
        select g.school_id from fct_school_growth g
        join fct_school_scale_scores s using (school_id, school_year, instrument, component)
        where s.is_suppressed and not g.is_suppressed""")
    assert leak.empty
    # partners get their own schools' reports only, and a codebook
    m = partner_export(settings, YEAR, "leap_network")
    mine = set(_q(snap, "select school_id from dim_schools where sample = 'leap_network'").school_id)
    assert m["reports"] and set(m["reports"]) <= mine
    assert any(f["file"] == "codebook.csv" for f in m["files"])


def test_school_item_shares_equal_the_reference_estimator(reported):
    """The SQL school-level estimator against weights.estimates (itself checked against R survey)."""
    from weights.estimates import weighted_proportions

    settings, _ = reported
    wh = settings.layout.warehouse
    resp = _q(wh, f"""select r.school_id, r.respondent_key, r.item_id, r.category, r.analysis_weight
        from intermediate.int_responses_weighted r where r.school_year = '{YEAR}' and r.term = 'fall'
        and r.instrument = 'student' and r.item_id in ('s_lf01', 's_ld03')""")
    ref = weighted_proportions(resp, "category", "analysis_weight", by=["school_id", "item_id"],
                               categories=[0, 1, 2, 3, 4])
    got = _marts(settings, "fct_school_item_distribution", "and term = 'fall' and not is_suppressed "
                 "and item_id in ('s_lf01', 's_ld03')")
    merged = got.merge(ref, on=["school_id", "item_id", "category"])
    assert len(merged) == len(got) > 50
    assert (merged.weighted_pct - 100 * merged.proportion).abs().max() < 1e-9
    assert (merged.weighted_pct_se - 100 * merged.se).abs().max() < 1e-9


def test_subgroup_scores_equal_the_reference_estimator_with_small_groups_pooled(reported):
    """fct_school_subgroup_scores against weights.estimates.weighted_mean (checked against R svymean),
    group by group, after the pooling rule done here in pandas: a group under min_cell_n is reported in
    'other_groups', respondents without the field in 'not_reported'."""
    from weights.estimates import weighted_mean

    settings, _ = reported
    variables = ["grade", "gender", "race_ethnicity", "parent_education"]
    scores = _q(settings.layout.warehouse, f"""select s.school_id, s.term, s.component, s.scaled_score,
            coalesce(s.analysis_weight, 1.0) as w, {", ".join(f"r.{v}::varchar as {v}" for v in variables)}
        from restricted.fct_respondent_scores s join intermediate.int_respondents r using (submission_id)
        where s.is_scored and s.instrument = 'student' and s.school_year = '{YEAR}'""")
    key = ["school_id", "term", "component"]
    rows = []
    for v in variables:
        df = scores.assign(subgroup=scores[v].fillna("not_reported"))
        size = df.groupby([*key, "subgroup"])["w"].transform("size")
        df["reported_group"] = df["subgroup"].where((size >= settings.min_cell_n) | (df["subgroup"] == "not_reported"),
                                                    "other_groups")
        for (school, term, comp, group), g in df.groupby([*key, "reported_group"]):
            est = weighted_mean(g["scaled_score"], g["w"])
            rows.append({"school_id": school, "term": term, "component": comp, "subgroup_variable": v,
                         "reported_group": group, "n_ref": len(g), "pooled_ref": g["subgroup"].nunique(),
                         "mean_ref": est["mean"], "se_ref": est["se"]})
    ref = pd.DataFrame(rows)
    got = _marts(settings, "fct_school_subgroup_scores")
    merged = got.merge(ref, on=["school_id", "term", "component", "subgroup_variable", "reported_group"],
                       how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()  # the same groups, none missing or extra
    assert (merged.n_respondents == merged.n_ref).all() and (merged.n_groups_pooled == merged.pooled_ref).all()
    shown = merged[~merged.is_suppressed]
    assert len(shown) > 20 and (merged.reported_group == "other_groups").any()
    assert (shown.mean_scaled_score - shown.mean_ref).abs().max() < 1e-9
    assert ((shown.mean_scaled_score_se - shown.se_ref).abs() <= 1e-9 * shown.se_ref).all()
    assert merged[merged.is_suppressed].mean_scaled_score.isna().all()


def _quickstart_sql() -> dict[str, str]:
    """The SQL blocks of docs/analyst-quickstart.md, by their first line (-- Q1, -- Q2, -- Q3)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "analyst-quickstart.md").read_text()
    blocks = re.findall(r"```sql\n(-- (Q\d)\n.*?)```", text, flags=re.S)
    return {name: sql for sql, name in blocks}


def test_the_analyst_quickstart_answers_its_questions(reported):
    """The documented queries run on the published snapshot, and their answers are what an independent
    computation gives: Q2's schools by Benjamini-Hochberg (leap.inference) over each school's tests,
    Q3's means and differences from the respondents by weights.estimates (checked against R svymean)."""
    import numpy as np

    from dbt_project.publish import publish
    from leap.inference import bh_qvalues
    from weights.estimates import compare_means, weighted_mean

    settings, _ = reported
    publish(settings)
    sql = _quickstart_sql()
    assert sorted(sql) == ["Q1", "Q2", "Q3"]
    snapshot = settings.layout.published_duckdb
    q1 = _q(snapshot, sql["Q1"])
    assert list(q1.term) == ["fall", "spring"] and q1.wording.str.contains("move ahead").all()
    few = q1.n_schools < 5
    assert (q1.caution.notna() == (few | q1.top_box_pct.isna())).all()
    assert q1.caution[few & q1.top_box_pct.notna()].str.contains("indicative").all()

    growth = _q(snapshot, f"select * from fct_school_growth where school_year = '{YEAR}'")
    growth["q_ref"] = growth.groupby("school_id")["growth_unmatched_p"].transform(lambda p: bh_qvalues(p.to_numpy()))
    expected = growth[(growth.component == "LL") & ~growth.is_suppressed & (growth.q_ref < 0.05)
                      & (growth.growth_unmatched > 0)]
    q2 = _q(snapshot, sql["Q2"])
    assert sorted(zip(q2.school_id, q2.instrument, strict=True)) == \
        sorted(zip(expected.school_id, expected.instrument, strict=True))
    assert np.allclose(q2.sort_values(["school_id", "instrument"]).q_value,
                       expected.sort_values(["school_id", "instrument"]).q_ref, rtol=1e-12)

    scores = _q(settings.layout.warehouse, f"""select instrument, term, grade_band, sample, school_id, scaled_score,
            coalesce(analysis_weight, 1.0) as w from restricted.fct_respondent_scores
        where is_scored and component = 'LD' and school_year = '{YEAR}'""")
    q3 = _q(snapshot, sql["Q3"])
    both = set(scores.grade_band[scores["sample"] == "nextgen"]) & set(scores.grade_band[scores["sample"] == "national"])
    assert set(q3.grade_band) == both | {"all"}  # a row where both samples have scores, and all grades
    checked = 0
    for row in q3.itertuples():
        cell = scores[(scores.instrument == row.instrument) & (scores.term == row.term)]
        if row.grade_band != "all":
            cell = cell[cell.grade_band == row.grade_band]
        est = {s: weighted_mean(g.scaled_score, g.w, cluster=g.school_id) for s, g in cell.groupby("sample")}
        if pd.notna(row.nextgen):
            assert abs(row.nextgen - est["nextgen"]["mean"]) < 1e-9 and abs(row.national - est["national"]["mean"]) < 1e-9
        if row.comparison_status == "compared":
            ref = compare_means(est["national"], est["nextgen"])
            assert abs(row.difference - ref["difference"]) < 1e-9 and abs(row.p_value - ref["p_value"]) < 1e-9
            assert row.ci_low < row.difference < row.ci_high
            checked += 1
        elif row.comparison_status == "too_few_schools":
            assert min(row.n_schools, row.n_schools_reference) < 5 and pd.isna(row.difference)
    assert checked > 0 or (q3.comparison_status != "compared").all()
