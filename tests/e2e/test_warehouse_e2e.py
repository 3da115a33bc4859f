"""Warehouse end to end: simulated submissions → broker → ingestion → validation → dbt build → publish.

No hand-made warehouse tables: everything comes through the real broker, the real lake and GE.
The SQL estimates are checked against the weights package (itself checked against R's survey package).
"""

from __future__ import annotations

import duckdb
import numpy as np
import orjson
import pandas as pd
import pytest

from dbt_project.publish import publish
from expectations.runner import run_validation
from ingestion.consumer import run_ingestion
from ingestion.producer import produce
from leap.orchestration.tasks import run_dbt
from simulator import SimConfig, simulate
from weights import weighted_proportions

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(tmp_path_factory, kafka_server):
    """One small school year through every stage, shared by the tests of this module."""
    from support.kafka import shared_platform

    with shared_platform(kafka_server, tmp_path_factory.mktemp("warehouse") / "data", "33" * 32) as settings:
        sim = simulate(SimConfig(seed=5, malformed_share=0.01).with_total_schools(16))
        produce(_without_national_student_weights(sim.records), settings, progress=False)
        ingest = run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
        validation = run_validation(settings)
        run_dbt(settings)
        published = publish(settings)
        yield settings, sim, ingest, validation, published


def _without_national_student_weights(records):
    """The national student submissions arrive without their weights: the warehouse must rake them."""
    out = []
    for rec in records:
        if rec.valid and b'"sample":"national"' in rec.value and b'"instrument":"student"' in rec.value:
            event = orjson.loads(rec.value)
            event.pop("weight", None)
            rec = rec._replace(value=orjson.dumps(event))
        out.append(rec)
    return out


def q(settings, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(settings.layout.warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_counts_reconcile_from_stream_to_warehouse(built):
    settings, sim, ingest, validation, _ = built
    assert ingest.landed == sim.valid_unique
    submissions = q(settings, "select count(*) as n from intermediate.int_submissions_unioned")["n"][0]
    quarantined_rows = q(settings, f"""
        select coalesce(sum(n), 0) as n from (
            select count(*) as n from read_parquet('{settings.layout.lake}/quarantine/**/*.parquet')
        )""")["n"][0] if list((settings.layout.lake / "quarantine").rglob("*.parquet")) else 0
    assert submissions + quarantined_rows == sim.valid_unique
    # the latest submission counts once per respondent and term
    dupes = q(settings, """select count(*) as n from (select instrument, school_year, term, respondent_key
        from intermediate.int_respondents group by all having count(*) > 1)""")["n"][0]
    assert dupes == 0
    doubles = q(settings, "select count(*) as n from intermediate.int_respondents where n_submissions_in_term > 1")
    assert doubles["n"][0] > 0, "the simulator's double answers should reach the warehouse"


def test_each_respondents_item_counts_are_its_rows_in_the_long_form(built):
    """int_respondents counts the answered items on the wide rows (so that it need not wait for the long
    form); the long form is what every estimate sums, so the two must agree, submission by submission."""
    settings = built[0]
    diff = q(settings, """
        select r.submission_id, r.n_items_answered, r.n_items, u.answered, u.rows
        from intermediate.int_respondents as r
        full join (select submission_id, count(category) as answered, count(*) as rows
                   from intermediate.int_responses_unpivoted group by submission_id) as u using (submission_id)
        where r.n_items_answered is distinct from u.answered or r.n_items is distinct from u.rows""")
    assert diff.empty, diff.head()
    skipped = q(settings, "select count(*) as n from intermediate.int_respondents where n_items_answered < n_items")
    assert skipped["n"][0] > 0, "the simulator's skipped items should reach the warehouse"


ITEMS = """
    with items as (  -- per item number: its id, top box and whether it is a classroom indicator
        select distinct n.item_no, n.item_id, s.top_box_min, s.is_classroom_indicator
        from intermediate.int_item_numbers as n inner join reference.items as s using (instrument, item_id)
    )"""


def _same(*columns) -> str:
    """A join of expected (e) and sums (s) on ``columns``, null (a skip's category) matching null."""
    return " and ".join(f"e.{c} is not distinct from s.{c}" for c in columns)


def test_the_response_sums_equal_sums_of_the_long_form(built):
    """The response sums count the wide rows with NumPy (weights.cell_sums, three Python models); a SQL
    group-by of the long form (int_responses_unpivoted, a view) is an independent count of the same
    responses: every cell x item x category, its n exactly and its weights' sums to 1e-12 (float sums in
    two orders). Every counted response is in them (skips as their own category)."""
    settings = built[0]
    school = q(settings, f"""
        with rows as (
            select r.instrument, r.school_year, r.term, i.item_id, r.school_id, r.grade_band, r.sample, u.category,
                w.analysis_weight / k.w_scale as w
            from intermediate.int_responses_unpivoted as u
            inner join (select item_no, item_id from intermediate.int_item_numbers) as i using (item_no)
            inner join intermediate.int_respondents as r using (submission_id)
            inner join intermediate.int_respondent_weights as w using (instrument, school_year, term, respondent_key)
            inner join intermediate.int_school_weight_scales as k using (instrument, school_year, term, school_id)
        ),
        expected as (
            select instrument, school_year, term, item_id, school_id, grade_band, sample, category,
                count(*) as n, sum(w) as w_sum, sum(w * w) as w2_sum
            from rows group by all
        )
        select e.n as e_n, s.n, e.w_sum as e_w, s.w_sum, e.w2_sum as e_w2, s.w2_sum
        from expected as e
        full join intermediate.int_school_item_sums as s on {_same(
            "instrument", "school_year", "term", "item_id", "school_id", "grade_band", "sample", "category")}""")
    subgroup = q(settings, ITEMS + f""",
        rows as (
            select r.instrument, r.school_year, r.term, i.item_id, r.school_id,
                unnest(['race_ethnicity', 'parent_education']) as subgroup_variable,
                unnest([r.race_ethnicity, r.parent_education]) as subgroup_level,
                (u.category >= i.top_box_min)::int as category, w.analysis_weight / k.w_scale as w
            from intermediate.int_responses_unpivoted as u
            inner join items as i using (item_no)
            inner join intermediate.int_respondents as r using (submission_id)
            inner join intermediate.int_respondent_weights as w using (instrument, school_year, term, respondent_key)
            inner join intermediate.int_school_weight_scales as k using (instrument, school_year, term, school_id)
            where r.sample = 'national'
        ),
        expected as (
            select instrument, school_year, term, item_id, school_id, subgroup_variable, subgroup_level, category,
                count(*) as n, sum(w) as w_sum, sum(w * w) as w2_sum
            from rows where subgroup_level is not null group by all
        )
        select e.n as e_n, s.n, e.w_sum as e_w, s.w_sum, e.w2_sum as e_w2, s.w2_sum
        from expected as e
        full join intermediate.int_school_subgroup_sums as s on {_same(
            "instrument", "school_year", "term", "item_id", "school_id", "subgroup_variable", "subgroup_level",
            "category")}""")
    for sums in (school, subgroup):
        assert len(sums) > 1000 and sums["n"].notna().all() and sums["e_n"].notna().all()
        assert (sums["n"] == sums["e_n"]).all()
        for a, b in (("w_sum", "e_w"), ("w2_sum", "e_w2")):
            np.testing.assert_allclose(sums[a], sums[b], rtol=1e-12)
    assert school["n"].sum() == q(settings, "select count(*) as n from intermediate.int_responses_unpivoted")["n"][0]


def test_the_classroom_sums_equal_counts_of_the_long_form(built):
    settings = built[0]
    diff = q(settings, ITEMS + """,
        rows as (
            select r.school_id, unnest(coalesce(r.classroom_ids, ['(none)'])) as classroom_id, r.instrument,
                r.school_year, r.term, i.item_id, u.category, u.category >= i.top_box_min as top
            from intermediate.int_responses_unpivoted as u
            inner join items as i using (item_no)
            inner join intermediate.int_respondents as r using (submission_id)
            where r.instrument = 'student' or i.is_classroom_indicator
        ),
        expected as (
            select school_id, classroom_id, instrument, school_year, term, item_id, count(category) as n_respondents,
                count(*) filter (where top) as n_top_box, sum(category) as category_sum
            from rows group by all having count(category) > 0
        )
        select * from expected
        full join intermediate.int_classroom_item_sums as s
            using (school_id, classroom_id, instrument, school_year, term, item_id)
        where expected.n_respondents is distinct from s.n_respondents
            or expected.n_top_box is distinct from s.n_top_box or expected.category_sum is distinct from s.category_sum""")
    assert diff.empty, diff.head()
    assert q(settings, "select count(*) as n from intermediate.int_classroom_item_sums")["n"][0] > 500


def test_sql_shares_and_se_equal_the_library(built):
    settings = built[0]
    rows = q(settings, """select instrument, school_year, term, item_id, grade_band, sample, school_id,
        category, analysis_weight from intermediate.int_responses_weighted
        where instrument = 'teacher' and item_id in ('t_lf01', 't_ld03')""")
    cells = ["instrument", "school_year", "term", "item_id", "grade_band", "sample"]
    expected = pd.concat([
        weighted_proportions(g.assign(category=g["category"].astype("float")), "category", "analysis_weight",
                             by=cells, cluster="school_id", categories=[0, 1, 2, 3, 4])
        for _, g in rows.groupby("item_id")
    ])
    mart = q(settings, """select * from marts.fct_item_response_distribution
        where instrument = 'teacher' and item_id in ('t_lf01', 't_ld03') and not is_suppressed""")
    merged = mart.merge(expected, on=[*cells, "category"], how="left")
    assert len(merged) > 20 and merged["proportion"].notna().all()
    np.testing.assert_allclose(merged["weighted_pct"], 100 * merged["proportion"], rtol=1e-9, atol=1e-9)
    both = merged["weighted_pct_se"].notna()
    # atol: a cell whose schools all have the same share has SE exactly 0; both sums leave ~1e-15 of noise
    np.testing.assert_allclose(merged.loc[both, "weighted_pct_se"], 100 * merged.loc[both, "se"], rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(merged["kish_effective_n"], merged["n_effective"], rtol=1e-9)


def test_small_cells_are_suppressed_everywhere(built):
    settings = built[0]
    small = q(settings, f"""select count(*) as n from marts.fct_item_top_box_shares
        where n_respondents < {settings.min_cell_n} and (top_box_pct is not null or not is_suppressed)""")
    assert small["n"][0] == 0
    assert q(settings, "select count(*) as n from marts.fct_item_top_box_shares where is_suppressed")["n"][0] > 0


def test_weighting_follows_each_samples_decision_and_raking_is_checked(built):
    """samples.csv: the national sample keeps its weights (raked when they are missing, as its students'
    are here), the non-probability cohorts are unweighted. Raked weights meet every margin within
    1e-3 (else the base weights, with the reason); nothing is called raked that misses."""
    settings = built[0]
    diag = q(settings, "select * from marts.fct_weighting_diagnostics")
    method = {(r.instrument, r.sample, r.term): r.weight_method for r in diag.itertuples()}
    assert {m for (_, sample, _), m in method.items() if sample != "national"} == {"unweighted"}
    assert {m for (ins, sample, _), m in method.items() if sample == "national" and ins == "teacher"} == {"external"}
    student = diag[(diag["sample"] == "national") & (diag["instrument"] == "student")]
    assert len(student) == 2 and set(student["weight_method"]) <= {"raked", "base_weights_fallback"}
    totals = {"teacher": 3_200_000, "student": 49_400_000}
    for _, row in diag.iterrows():
        assert row["design_effect"] >= 1.0 - 1e-12
        if row["weight_method"] == "raked":
            assert row["weight_total"] == pytest.approx(totals[row["instrument"]], rel=1e-6)
            assert row["meets_margins"] and max(row[f"margin_error_{v}"] for v in
                                                ("region", "grade_band", "urbanicity") if row[f"margin_error_{v}"]
                                                == row[f"margin_error_{v}"]) <= 1e-3
        elif row["weight_method"] == "base_weights_fallback":
            assert not row["meets_margins"] and "misses its margins" in row["weighting_note"]
        elif row["weight_method"] == "unweighted":
            assert row["weight_min"] == row["weight_max"] == 1.0


def test_published_snapshot_is_readable_by_bi(built):
    settings, *_, published = built
    con = duckdb.connect(str(published.duckdb_file), read_only=True)
    try:
        n = con.execute("select count(*) from fct_item_top_box_shares").fetchone()[0]
    finally:
        con.close()
    assert n == published.tables["fct_item_top_box_shares"] > 0
    parquet = published.parquet_dir / "fct_group_comparisons.parquet"
    assert duckdb.sql(f"select count(*) from '{parquet}'").fetchall()[0][0] == published.tables["fct_group_comparisons"]


def test_a_duplicate_in_the_lake_never_fails_the_build(built):
    """Ingestion stores a submission id once; should a copy reach the validated lake anyway (a file copied
    in by hand), the build goes on (the source's unique test only warns) and staging keeps one row per id,
    the copy landed first: here the copy landed a day later, with another answer to every first item."""
    import duckdb

    settings, *_ = built
    original = sorted((settings.layout.validated / "instrument=teacher").rglob("*.parquet"))[0]
    copy = original.with_name("copied-in-by-hand+" + original.name)
    with duckdb.connect() as con:
        item = con.execute(f"select * from read_parquet('{original}') limit 0").description
        first_item = next(name for name, *_ in item if name.startswith("t_"))
        con.execute(f"""copy (select * replace (ingested_at + interval 1 day as ingested_at,
                                                coalesce({first_item}, 0) + 1 as {first_item})
                              from read_parquet('{original}')) to '{copy}' (format parquet)""")
    try:
        run_dbt(settings, "stg_lake__teacher_submissions", "source:lake")  # raises if the build fails
        rows, ids = q(settings, "select count(*), count(distinct submission_id) "
                                "from staging.stg_lake__teacher_submissions").iloc[0]
        files = q(settings, f"select count(*), count(distinct submission_id) from read_parquet("
                            f"'{settings.layout.validated}/instrument=teacher/**/*.parquet', union_by_name=true)").iloc[0]
        assert files.iloc[0] > files.iloc[1], "the copy is in the lake"
        assert rows == ids == files.iloc[1]
        kept = q(settings, f"""select count(*) filter (where s.{first_item} is not distinct from o.{first_item}) as first,
                count(*) as copied
            from staging.stg_lake__teacher_submissions as s
            inner join read_parquet('{original}') as o using (submission_id)""").iloc[0]
        assert kept["copied"] > 0 and kept["first"] == kept["copied"], kept
    finally:
        copy.unlink()


def test_a_forced_rebuild_under_other_threads_and_memory_gives_the_same_bits(built, tmp_path, monkeypatch):
    """Every sum of doubles is exact (macros/exact_sum.sql): rebuilding the same data from scratch with
    four DuckDB threads and a 200 MB memory limit (other hash-table partitions, other row orders, spills)
    gives every table bit for bit. With float sums, 16 tables of a demo warehouse differed by ~1e-13."""
    import dataclasses
    import shutil

    settings = built[0]
    copy = tmp_path / "data"
    shutil.copytree(settings.data_dir, copy, ignore=shutil.ignore_patterns("kafka", "published", "*.lock"))
    other = dataclasses.replace(settings, data_dir=copy, duckdb_memory="200MB")
    monkeypatch.setenv("LEAP_DUCKDB_THREADS", "4")
    run_dbt(other, full_refresh=True)
    con = duckdb.connect()
    con.execute(f"attach '{settings.layout.warehouse}' as a (read_only)")
    con.execute(f"attach '{other.layout.warehouse}' as b (read_only)")
    tables = con.execute("select schema_name, table_name from duckdb_tables() where database_name = 'a' "
                         "and schema_name in ('intermediate', 'marts', 'restricted', 'reporting')").fetchall()
    assert len(tables) > 20
    differing = [f"{s}.{t}" for s, t in tables if con.execute(
        f"select count(*) from (select * from a.{s}.{t} except all select * from b.{s}.{t})").fetchone()[0]]
    assert differing == []
    # the models built alone (macros/threads.sql) never go under the threads asked for
    assert {n for _, n in _thread_settings(other, run=-1)} == {"4"}


def _thread_settings(settings, run: int = 0) -> list[tuple[str, str]]:
    """The DuckDB thread counts that a dbt run in the data directory set (``run``: 0 the first, -1 the
    last), in order: (model, N) of each hook's `set threads = N`."""
    import re

    runs = (settings.layout.dbt_logs / "dbt.log").read_text().split("Running with dbt=")[1:]
    return re.findall(r"On model\.leap\.(\w+): /\*[^\n]*\*/\s*set threads = (\d+)\s*$", runs[run], flags=re.M)


def test_models_built_alone_take_both_threads_and_give_them_back(built, tmp_path):
    """The head of the warehouse build (int_response_quality, int_respondents), the school shares on its
    longest chain (int_school_item_shares) and its last
    model (rpt_classroom_items) run while dbt's other thread has little or nothing ready (for part of the
    shares' run): DuckDB takes dbt's two threads for each, and is set back to one after it
    (macros/threads.sql). The head of the scores build (fct_respondent_scores) does so in that build only
    (``--select``): in a build of everything it runs beside other models. int_school_scale_means, after it,
    runs beside the subgroup sums (int_school_subgroup_score_sums) on one thread each."""
    import dataclasses
    import shutil

    from leap.orchestration.tasks import SCORES_SELECTION

    def pairs(*models):
        return [(m, n) for m in models for n in ("2", "1")]

    settings = built[0]
    assert _thread_settings(settings) == pairs("int_response_quality", "int_respondents", "int_school_item_shares",
                                               "rpt_classroom_items")
    copy = tmp_path / "data"
    shutil.copytree(settings.data_dir, copy, ignore=shutil.ignore_patterns("kafka", "published", "*.lock"))
    other = dataclasses.replace(settings, data_dir=copy)
    run_dbt(other, *SCORES_SELECTION)
    assert _thread_settings(other, run=-1) == pairs("fct_respondent_scores")


def _started(settings, run: int = 0) -> list[str]:
    """The nodes a dbt run in the data directory started (``run``: 0 the first, -1 the last), in order."""
    import re

    runs = (settings.layout.dbt_logs / "dbt.log").read_text().split("Running with dbt=")[1:]
    return re.findall(r"\d+ of \d+ START (?:test|sql [\w ]*?model|[\w ]*?model) (?:\w+\.)?(\w+) ", runs[run])


def test_each_response_sums_model_gives_back_its_turn_after_dbts_commit(built):
    """A sums model with large reads holds the turn of large reads until dbt has committed its table (at
    ten million a read beside another model's commit ran DuckDB out of its memory): its post-hook, run
    outside the transaction, gives it back (dbt_project.pymodels.TURN; the protocol is tested in
    tests/orchestration/test_pymodels.py). Here the reads are small: the post-hook runs, holding nothing."""
    log = (built[0].layout.dbt_logs / "dbt.log").read_text().split("Running with dbt=")[1]
    for model in ("int_school_item_sums", "int_school_subgroup_sums", "int_classroom_item_sums"):
        commit = log.index(f"On model.leap.{model}: COMMIT")
        done = log.index(f"select leap_turn_done('{model}')")
        assert commit < done, model
        assert f"OK created python incremental model intermediate.{model} " in log


def test_reconciliation_tests_run_beside_the_build_not_ahead_of_the_models_after_them(built):
    """A whole-table check waits for a later leaf (the unique test's ``after``), so dbt does not hold the
    children of what it checks for it: the child starts before the check does (without that, after it
    passed). The check still ran and passed in the build. (The same key on stg_scoring__respondent_scores
    is not tested again: fct_respondent_scores is those rows, each left-joined to at most one weight.)"""
    settings = built[0]
    order = _started(settings)
    checks = {"fct_respondent_scores_one_row_per_respondent_and_scale": "int_school_scale_means"}
    for check, child in checks.items():
        assert order.index(child) < order.index(check), (check, child)
    log = (settings.layout.dbt_logs / "dbt.log").read_text().split("Running with dbt=")[1]
    for check in checks:
        assert f"PASS {check} " in log, check


def test_unit_tests_pass_here_and_stay_out_of_the_pipelines_builds(built):
    """dbt's unit tests check a model's SQL on hand-written rows: the pipeline's builds leave them out
    (they would answer the same on every build, each ahead of its model), so the suite runs every one."""
    import json

    import yaml

    from dbt_project.runner import PROJECT_DIR, dbt

    settings = built[0]
    defined = {t["name"] for f in (PROJECT_DIR / "models").rglob("*.yml")
               for t in (yaml.safe_load(f.read_text()) or {}).get("unit_tests", [])}
    assert len(defined) >= 14
    first_build = (settings.layout.dbt_logs / "dbt.log").read_text().split("Running with dbt=")[1]
    assert " START unit_test " not in first_build and " START test " in first_build
    dbt(settings, "test", "--select", "test_type:unit", quiet=True)  # raises when one fails
    results = json.loads((settings.layout.dbt_target / "run_results.json").read_text())["results"]
    ran = {r["unique_id"].split(".")[-1]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert set(ran) == defined
    assert set(ran.values()) == {"pass"}
