"""The runner on a small lake: exactly once, atomic promotion, quarantine, results, re-validation,
release and the command line (exit codes and output)."""

from __future__ import annotations

import hashlib
import json
import shutil

import duckdb
import pytest
from support.expectations import CASES, fixture_table, write_raw

from expectations.runner import run_validation
from leap.cli import main

TEACHER = ("teacher", "2024-25", "fall")
STUDENT = ("student", "2024-25", "spring")


def _digest(paths) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture
def lake(leap_env):
    """Two good files and two bad ones (one per suite each)."""
    files = {
        "teacher_good": write_raw(leap_env, fixture_table("raw_teacher_submissions"), TEACHER, 0),
        "teacher_bad": write_raw(leap_env, fixture_table("raw_teacher_submissions", "bad"), TEACHER, 1),
        "student_good": write_raw(leap_env, fixture_table("raw_student_submissions"), STUDENT, 0),
        "student_bad": write_raw(leap_env, fixture_table("raw_student_submissions", "bad"), STUDENT, 2),
    }
    return leap_env, files


def test_good_files_promoted_bad_ones_quarantined_raw_untouched(lake):
    settings, files = lake
    zones = settings.layout
    before = _digest(files.values())
    report = run_validation(settings)
    assert len(report.validated) == 2 and len(report.quarantined) == 2
    for key, path in files.items():
        rel = path.relative_to(zones.raw)
        good = key.endswith("good")
        assert (zones.validated / rel).exists() is good
        assert (zones.quarantine / rel).exists() is not good
        assert (zones.quarantine / f"{rel}.validation.json").exists() is not good
        if good:
            assert (zones.validated / rel).read_bytes() == path.read_bytes()
    assert _digest(files.values()) == before  # raw files unchanged, none moved
    doc = json.loads((zones.quarantine / f"{files['teacher_bad'].relative_to(zones.raw)}.validation.json").read_text())
    assert [f["check"] for f in doc["failed"]] == ["window.submitted_at"]
    assert doc["failed"][0]["sample_unexpected"] and doc["great_expectations_result"]["success"] is False
    assert not list(zones.lake.rglob(".*.tmp"))


def test_each_file_is_validated_once_and_results_are_queryable(lake):
    settings, files = lake
    first = run_validation(settings)
    second = run_validation(settings)
    assert second.validated == [] and second.quarantined == [] and second.skipped == 4
    zones = settings.layout
    con = duckdb.connect()
    rows = con.execute(f"select file_path, count(*), count(distinct expectation_id), bool_and(success), "
                       f"any_value(suite_name), any_value(run_id) "
                       f"from read_parquet('{zones.validation_results}/*.parquet') group by file_path order by 1").fetchall()
    assert len(rows) == 4 and all(r[5] == first.run_id for r in rows)
    from expectations.suites import load_suites

    expected = {s.name: len(s.doc["expectations"]) for s in load_suites().values()}
    for path, n, distinct, ok, suite, _ in rows:
        assert n == distinct == expected[suite]
        assert ok is ("+001+" not in path and "+002+" not in path)
    failed = con.execute(f"select check_name, unexpected_count, sample_unexpected_values "
                         f"from read_parquet('{zones.validation_results}/*.parquet') where not success order by 1").fetchall()
    assert [r[0] for r in failed] == ["pseudonym.respondent_key", "window.submitted_at"]
    assert failed[0][1] == CASES["raw_student_submissions"]["rows"] and json.loads(failed[0][2])
    outcomes = con.execute(f"select outcome, count(*), sum(rows) from read_parquet('{zones.validation_files}/*.parquet') "
                           f"group by 1 order by 1").fetchall()
    assert outcomes[0][:2] == ("quarantined", 2) and outcomes[1][:2] == ("validated", 2)


def test_new_files_are_picked_up_and_only_they(lake):
    settings, files = lake
    run_validation(settings)
    write_raw(settings, fixture_table("raw_teacher_submissions"), TEACHER, 3)
    report = run_validation(settings)
    assert len(report.validated) == 1 and report.skipped == 4


def test_suite_change_found_by_hash_and_revalidated_on_request(lake, tmp_path, monkeypatch):
    settings, files = lake
    run_validation(settings)
    from expectations import suites

    # a stricter threshold: no school may send more than 5 submissions per file
    exp = tmp_path / "exp"
    shutil.copytree(suites.suites_dir().parent, exp, ignore=shutil.ignore_patterns("uncommitted"))
    th = exp / "thresholds.yml"
    th.write_text(th.read_text().replace("max_submissions_per_school: 250\n", "max_submissions_per_school: 5\n"))
    monkeypatch.setenv("LEAP_EXPECTATIONS_DIR", str(exp))
    with pytest.raises(Exception, match="do not match"):
        run_validation(settings)
    suites.write()
    plain = run_validation(settings)
    assert plain.validated == [] and plain.quarantined == [] and plain.stale == 2  # the teacher files
    again = run_validation(settings, revalidate=True)
    assert sorted(sorted(c) for _, _, c in again.quarantined) == [
        ["batch.school_flood"], ["batch.school_flood", "window.submitted_at"]]
    zones = settings.layout
    rel = files["teacher_good"].relative_to(zones.raw)
    assert not (zones.validated / rel).exists() and (zones.quarantine / rel).exists()  # withdrawn
    assert run_validation(settings, revalidate=True).quarantined == []


def test_cli_run_status_quarantine_release(lake, capsys):
    settings, files = lake
    assert main(["validate", "run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "validated 2 files" in out and "quarantined 2 files" in out and "window.submitted_at" in out
    assert main(["validate", "run", "--strict", "--quiet"]) == 0  # nothing new
    assert "already done 4" in capsys.readouterr().out
    assert main(["validate", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status == {"raw_files": 4, "pending": 0, "stale": 0, "validated": 2, "quarantined": 2, "released": 0}
    assert main(["validate", "quarantine", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pseudonym.respondent_key" in listing and "e.g." in listing and "2 quarantined file(s)" in listing
    name = files["teacher_bad"].name
    assert main(["validate", "release", "raw/instrument=teacher/school_year=2024-25/term=fall/" + name,
                 "--reason", "x"]) == 1  # still fails, no override
    assert "still fails" in capsys.readouterr().err
    assert main(["validate", "release", "nope.parquet", "--reason", "x"]) == 2


def test_release_with_override_records_who_and_why(lake):
    from expectations.quarantine import list_quarantined, release

    settings, files = lake
    run_validation(settings)
    zones = settings.layout
    rel = files["student_bad"].relative_to(zones.raw)
    res = release(settings, str(files["student_bad"]), reason="ids were re-pseudonymized upstream", by="ops-alice",
                  override=True)
    assert res.mode == "override" and res.failed_checks == ["pseudonym.respondent_key"]
    assert (zones.validated / rel).read_bytes() == files["student_bad"].read_bytes()
    assert not (zones.quarantine / rel).exists() and (zones.quarantine / "_released" / rel).exists()
    row = duckdb.connect().execute(f"select released_by, reason, mode, failed_checks "
                                   f"from read_parquet('{zones.validation_releases}/*.parquet')").fetchall()
    assert row == [("ops-alice", "ids were re-pseudonymized upstream", "override", ["pseudonym.respondent_key"])]
    assert [q.file for q in list_quarantined(settings)] == [str(files["teacher_bad"].relative_to(zones.raw))]
    assert run_validation(settings, force=True).quarantined[0][0] != str(rel)  # released files stay released


def test_release_of_a_fixed_file(lake, tmp_path):
    from expectations.quarantine import release
    from leap.errors import LeapError

    settings, files = lake
    run_validation(settings)
    fixed = tmp_path / "fixed.parquet"
    shutil.copyfile(files["teacher_bad"], fixed)
    with pytest.raises(LeapError, match="the fixed file still fails"):
        release(settings, files["teacher_bad"].name, reason="clock fixed", fixed=fixed)
    shutil.copyfile(files["teacher_good"], fixed)  # the partner re-exported it with the right clock
    res = release(settings, files["teacher_bad"].name, reason="clock fixed", fixed=fixed, by="ops")
    zones = settings.layout
    assert res.mode == "fixed" and (zones.validated / res.file).read_bytes() == fixed.read_bytes()
    assert files["teacher_bad"].exists()  # raw stays as landed


def test_data_docs_are_static_html(lake):
    from expectations.docs import build_docs

    settings, _ = lake
    run_validation(settings)
    index, n = build_docs(settings)
    assert n == 4 and index.is_file()
    html = index.read_text()
    assert "raw_teacher_submissions" in html and "raw_student_submissions" in html
    assert len(list(index.parent.rglob("validations/**/*.html"))) == 4


def _with_new_ids(table, tag: str):
    import pyarrow as pa

    ids = [f"{tag}-{i:05d}-0000-4000-8000-000000000000" for i in range(table.num_rows)]
    return table.set_column(table.schema.get_field_index("submission_id"), "submission_id", pa.array(ids))


def _batch_files(settings, path) -> list | None:
    rel = path.relative_to(settings.layout.raw)
    (doc,) = [json.loads(p.read_text()) for p in settings.layout.gx_results.rglob(f"{rel.name}.json")]
    return doc["meta"].get("leap_batch_files")


def test_small_files_of_a_partition_are_validated_as_one_batch(leap_env):
    """Service-mode ingestion lands a small file every few seconds: the pending files of a partition
    are validated together (one GE run), each promoted with its own status and rows."""
    settings = leap_env
    table = fixture_table("raw_teacher_submissions")
    paths = [write_raw(settings, _with_new_ids(table, f"{i:08x}"), TEACHER, 0, i * 1000) for i in range(3)]
    other = write_raw(settings, fixture_table("raw_student_submissions"), STUDENT, 0, 0)
    report = run_validation(settings)
    assert not report.quarantined
    assert sorted(report.validated) == sorted([(str(p.relative_to(settings.layout.raw)), table.num_rows)
                                               for p in paths] + [(str(other.relative_to(settings.layout.raw)),
                                                                   fixture_table("raw_student_submissions").num_rows)])
    together = [str(p.relative_to(settings.layout.raw)) for p in paths]
    assert all(_batch_files(settings, p) == together for p in paths)  # one batch: the partition's files
    assert _batch_files(settings, other) is None  # another partition: its own validation


def test_a_failing_batch_is_validated_file_by_file_and_only_the_bad_file_is_quarantined(leap_env):
    settings = leap_env
    good = [write_raw(settings, _with_new_ids(fixture_table("raw_teacher_submissions"), f"{i:08x}"), TEACHER, 0,
                      i * 1000) for i in range(2)]
    bad = write_raw(settings, fixture_table("raw_teacher_submissions", "bad"), TEACHER, 1, 0)
    report = run_validation(settings)
    assert {rel for rel, _ in report.validated} == {str(p.relative_to(settings.layout.raw)) for p in good}
    assert [(rel, checks) for rel, _, checks in report.quarantined] == [
        (str(bad.relative_to(settings.layout.raw)), ["window.submitted_at"])]
    assert all(_batch_files(settings, p) is None for p in good)  # validated alone after the batch failed


def test_batches_keep_partitions_apart_and_bound_their_rows(leap_env):
    from expectations.runner import batches, discover

    settings = leap_env
    table = fixture_table("raw_teacher_submissions")
    for i in range(5):
        write_raw(settings, table, TEACHER, 0, i * 1000)
    write_raw(settings, fixture_table("raw_student_submissions"), STUDENT, 0, 0)
    files = discover(settings.layout)
    sizes = [len(b) for b in batches(files, max_rows=2 * table.num_rows)]
    assert sizes == [1, 2, 2, 1]  # path order: the student partition, then five teacher files by twos
    assert all(len({(f.instrument, f.term) for f in b}) == 1 for b in batches(files))


def test_data_docs_name_each_file_and_render_failed_custom_checks(leap_env):
    """A file failing two custom checks (an answer outside its item's categories, an item skipped by 52%):
    its page names the raw file as the data asset, shows each check as its sentence, and renders
    (GE's renderer raised KeyError: 'unexpected_percent' on a failed custom check)."""
    import pyarrow as pa

    from expectations.docs import build_docs

    t = fixture_table("raw_student_submissions")
    rows = t.to_pylist()
    for i, r in enumerate(rows):
        r["s_ld02"] = None if i < 90 else r["s_ld02"]
    rows[0]["s_lf01"] = 9
    path = write_raw(leap_env, pa.Table.from_pylist(rows, schema=t.schema), ("student", "2024-25", "spring"), 4)
    report = run_validation(leap_env)
    assert [sorted(c) for _, _, c in report.quarantined] == [["categories", "skips"]]
    index, _ = build_docs(leap_env)
    (page,) = list(index.parent.rglob(f"validations/**/*{path.name}.html"))
    html = page.read_text()
    assert f"Data asset: {path.relative_to(leap_env.layout.raw)}" in html
    assert "no item is skipped by more than 25%" in html and "every answer is a category of its item" in html
    assert "KeyError" not in html and "unexpected_percent" not in html


def test_batches_validated_on_worker_processes_give_what_one_process_gives(leap_env, monkeypatch):
    """Two worker processes (``_workers``: one per full batch of rows, up to LEAP_WORKERS): a passing
    batch, and a failing one validated again file by file, are promoted and quarantined as in one
    process, with the same checks, rows and batch records."""
    import expectations.runner as runner

    settings = leap_env
    table = fixture_table("raw_teacher_submissions")
    good = [write_raw(settings, _with_new_ids(table, f"{i:08x}"), TEACHER, 0, i * 1000) for i in range(3)]
    write_raw(settings, fixture_table("raw_student_submissions", "bad"), STUDENT, 2, 0)
    alone = write_raw(settings, _with_new_ids(fixture_table("raw_student_submissions"), "0000abcd"), STUDENT, 2, 1000)

    def outcomes(report):
        return (sorted(report.validated), sorted((rel, rows, tuple(c)) for rel, rows, c in report.quarantined))

    monkeypatch.setattr(runner, "_workers", lambda todo: 2)
    parallel = run_validation(settings)
    batch = {str(p.relative_to(settings.layout.raw)) for p in good}
    assert all(set(_batch_files(settings, p)) == batch for p in good)
    assert _batch_files(settings, alone) is None  # its batch failed: validated alone
    monkeypatch.setattr(runner, "_workers", lambda todo: 1)
    serial = run_validation(settings, force=True)  # every file again (none released), in this process
    assert outcomes(parallel) == outcomes(serial)
    assert len(parallel.validated) == 4 and len(parallel.quarantined) == 1


@pytest.mark.parametrize(("name", "partition"), [("raw_teacher_submissions", TEACHER),
                                                 ("raw_student_submissions", STUDENT)])
def test_ge_validates_the_frame_without_fingerprinting_it(leap_env, suite_runner, monkeypatch, name, partition):
    """GE would hash every cell of each frame for a batch marker nothing reads (1.6 of validation's ~14
    CPU-seconds at a million submissions, BENCHMARKS.md "Validation"): engine.gx() turns that off. The list
    column reaches GE with its values, nulls kept, dtype object, and the suite still judges the file."""
    import pyarrow.parquet as pq
    from great_expectations.execution_engine import pandas_execution_engine

    from expectations.engine import read_frame

    def refuse(df):
        raise AssertionError("GE fingerprinted a frame")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", refuse)
    path = write_raw(leap_env, fixture_table(name), partition, 0)
    df = read_frame(path)
    assert df["classroom_ids"].dtype == object
    assert [None if v is None else list(v) for v in df["classroom_ids"]] == \
        pq.read_table(path).column("classroom_ids").to_pylist()
    outcome = suite_runner.run(df, *partition)
    assert outcome.success and outcome.rows == len(df)
    assert "pandas_data_fingerprint" not in outcome.result["meta"]["batch_markers"]
