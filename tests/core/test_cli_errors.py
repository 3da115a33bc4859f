"""Bad input from the command line ends with a clear message and a non-zero exit, never a bare traceback."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys

import pytest
from support.kafka import free_port

from ingestion.partner_files import write_partner_csv
from leap.cli import build_parser, main
from leap.errors import EXIT_FAILED, EXIT_FILESYSTEM, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE


def run_leap(*args, env=None, timeout=60):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "leap.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def assert_clear_failure(proc, *phrases, code=None):
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "error:" in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


@pytest.fixture
def env(tmp_path):
    return {"LEAP_DATA_DIR": str(tmp_path / "data"), "LEAP_EMBEDDED_BROKER_PORT": str(free_port()),
            "LEAP_PSEUDONYM_KEY": "22" * 32, "KAFKA_BOOTSTRAP_SERVERS": ""}


@pytest.mark.slow  # waits out the broker timeout (5 s)
def test_ingest_with_broker_down(env):
    proc = run_leap("ingest", "--bounded", env=env)
    assert_clear_failure(proc, "no embedded broker answers", "leap broker start", code=3)


@pytest.mark.slow  # waits out the broker timeout (5 s)
def test_ingest_with_external_kafka_down(env):
    proc = run_leap("ingest", "--bounded", env={**env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"})
    assert_clear_failure(proc, "no Kafka answers", "KAFKA_BOOTSTRAP_SERVERS", code=3)


@pytest.mark.parametrize("bootstrap", ["localhost:notaport", "kafka1", "host:0", "a:1,,b:2"])
def test_malformed_bootstrap_string_is_named(env, bootstrap):
    proc = run_leap("ingest", "--bounded", env={**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    assert_clear_failure(proc, "is not host:port", "host:port pairs separated by commas")


@pytest.mark.slow  # waits out the broker timeout (5 s)
def test_simulate_to_kafka_with_broker_down(env):
    proc = run_leap("simulate", "--schools", "2", "--to-kafka", env=env)
    assert_clear_failure(proc, "answers", code=3)


def test_unwritable_lake_path(platform, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    env = {"LEAP_DATA_DIR": str(blocker / "data"), "KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap_servers,
           "LEAP_PSEUDONYM_KEY": "22" * 32}
    proc = run_leap("ingest", "--bounded", env=env)
    assert_clear_failure(proc, "not writable", "LEAP_DATA_DIR")


def test_unwritable_key_location_without_key(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secrets").write_text("a file where the key's directory should be")
    proc = run_leap("ingest", "--bounded", env={**env, "LEAP_DATA_DIR": str(data), "LEAP_PSEUDONYM_KEY": ""})
    assert_clear_failure(proc, "pseudonymization key")


@pytest.mark.parametrize(("var", "value", "phrase"), [
    ("LEAP_FLUSH_RECORDS", "many", "LEAP_FLUSH_RECORDS"),
    ("LEAP_PSEUDONYM_KEY", "not-hex", "LEAP_PSEUDONYM_KEY"),
    ("LEAP_INSTRUMENT_DIR", "/nonexistent/instrument", "instrument definition file missing"),
])
def test_bad_configuration(env, var, value, phrase):
    proc = run_leap("ingest", "--bounded", env={**env, var: value})
    assert_clear_failure(proc, phrase)


def test_broker_start_refuses_external_kafka(env):
    proc = run_leap("broker", "start", env={**env, "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"})
    assert_clear_failure(proc, "KAFKA_BOOTSTRAP_SERVERS is set")


@pytest.mark.parametrize("remote", [False, True])
def test_status_without_broker_reports_the_lake_and_exits_3(env, remote):
    extra = {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"} if remote else {}
    proc = run_leap("status", env={**env, **extra})
    assert proc.returncode == EXIT_UNAVAILABLE and "DOWN" in proc.stdout and "lake " in proc.stdout
    proc = run_leap("status", "--json", env={**env, **extra})
    assert proc.returncode == EXIT_UNAVAILABLE and json.loads(proc.stdout)["broker_up"] is False


def _leaf_commands() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """Every leaf command of `leap` (e.g. ["validate", "run"]) with its parser."""
    out = []

    def walk(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append((path, parser))
        for name, child in (subs[0].choices.items() if subs else ()):
            if child not in [p for _, p in out]:
                walk(child, [*path, name])

    walk(build_parser(), [])
    return out


def _required_args(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the arguments a command requires (a number where it parses one)."""
    def value(action):
        return [] if action.nargs == 0 else ["1" if action.type in (int, float) else "x"]

    args = []
    for action in parser._actions:
        if action.required and action.option_strings:
            args += [action.option_strings[0], *value(action)]
        elif not action.option_strings and not isinstance(action, argparse._SubParsersAction) \
                and action.nargs not in ("?", "*"):
            args += value(action)
    for group in parser._mutually_exclusive_groups:
        if group.required:
            first = group._group_actions[0]
            args += [first.option_strings[0], *value(first)]
    return args


LEAVES = _leaf_commands()


@pytest.mark.parametrize(("command", "parser"), LEAVES, ids=[" ".join(c) for c, _ in LEAVES])
def test_every_command_names_an_unwritable_data_dir(command, parser, tmp_path, monkeypatch, capsys):
    """LEAP_DATA_DIR a file: every command that keeps state says so, exit 4, before doing anything."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LEAP_DATA_DIR", str(blocker))
    monkeypatch.setenv("LEAP_PSEUDONYM_KEY", "22" * 32)
    argv = [*command, *_required_args(parser)]
    args = build_parser().parse_args(argv)  # the filled arguments parse: the command really runs
    if not getattr(args, "uses_data_dir", True):
        pytest.skip("works on files given on the command line, not in the data directory")
    assert main(argv) == EXIT_FILESYSTEM, argv
    err = capsys.readouterr().err
    assert f"the data directory {blocker} is not writable" in err and "LEAP_DATA_DIR" in err
    assert blocker.read_text() == "not a directory"


def test_an_error_on_a_path_inside_the_data_dir_is_the_data_dir_error(tmp_path, monkeypatch):
    from leap.cli import _data_dir_error

    monkeypatch.setenv("LEAP_DATA_DIR", str(tmp_path))
    inside = _data_dir_error(NotADirectoryError(20, "Not a directory", str(tmp_path / "lake" / "x")))
    assert inside is not None and inside.exit_code == EXIT_FILESYSTEM
    assert _data_dir_error(NotADirectoryError(20, "Not a directory", "/elsewhere/x")) is None
    assert _data_dir_error(ValueError("x")) is None


def _partner_csv(tmp_path, events, delimiter=",", rename=None):
    path = tmp_path / "partner.csv"
    write_partner_csv(events, path)
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    rows[0] = [(rename or {}).get(c, c) for c in rows[0]]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


@pytest.fixture(scope="module")
def partner_events():
    from support.sim import small_result, valid_events

    return valid_events(small_result())[:40]


@pytest.mark.parametrize(("variant", "phrases"), [
    ({"delimiter": ";"}, ["delimited by ';'"]),
    ({"delimiter": "\t"}, ["delimited by tab"]),
    ({"rename": {"submission_id": "id"}}, ["missing required column(s): submission_id", "unknown column(s): id"]),
    ({"rename": {"school_year": "year", "term": "season"}},
     ["missing required column(s): school_year, term", "unknown column(s): year, season"]),
    ({"rename": {"t_lf01": "T_LF01"}}, ["unknown column(s): T_LF01"]),
])
def test_partner_csv_with_a_wrong_header_is_refused_before_the_broker(partner_events, tmp_path, env, monkeypatch,
                                                                      capsys, variant, phrases):
    """Exit 2 with the columns named, not 3: the file is checked before the broker is asked for."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    path = _partner_csv(tmp_path, partner_events, **variant)
    assert main(["produce", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert all(p in err for p in phrases), err
    assert "hint:" in err and "Traceback" not in err


def _invalid_copy(event: dict) -> dict:
    bad = json.loads(json.dumps(event))
    item = next(iter(bad["responses"]))
    bad["responses"][item] = 9  # no item has a category 9
    return bad


def _topic_records(settings) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        parts = [TopicPartition(settings.topic, p) for p in consumer.partitions_for_topic(settings.topic)]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def test_a_partner_file_with_invalid_records_is_refused_unless_allowed(platform, partner_events, tmp_path, capsys):
    events = [*partner_events[:10], _invalid_copy(partner_events[10])]
    path = _partner_csv(tmp_path, events)
    assert main(["produce", str(path), "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "1 of 11 records" in err and "first: record 11" in err and "nothing was produced" in err
    assert _topic_records(platform) == 0
    assert main(["produce", str(path), "--quiet", "--skip-invalid"]) == EXIT_FAILED
    assert _topic_records(platform) == 10
    assert main(["produce", str(path), "--quiet", "--allow-invalid"]) == EXIT_FAILED
    assert _topic_records(platform) == 21  # the invalid one sent on, to be dead-lettered
    clean = _partner_csv(tmp_path, partner_events[:10])
    assert main(["produce", str(clean), "--quiet"]) == EXIT_OK
    assert _topic_records(platform) == 31


def test_a_dbt_failure_reads_without_colour_codes(leap_env):
    """dbt's output captured for an error message (or piped) has no terminal escape codes."""
    from dbt_project.runner import dbt
    from leap.errors import LeapError

    with pytest.raises(LeapError) as failed:
        dbt(leap_env, "run-operation", "no_such_macro", quiet=True)
    assert "no_such_macro" in failed.value.message and "\x1b[" not in failed.value.message


def test_a_build_that_fills_the_disk_with_duckdbs_spill_says_where_and_what_to_do(leap_env, tmp_path):
    """DuckDB's real error when its spill hits the temporary-directory cap (what a full disk gives at
    ten million submissions) turns into a hint naming the spill directory, the memory setting and the
    next step; any other failure points at dbt's log."""
    import duckdb

    from dbt_project.runner import failure_hint

    con = duckdb.connect(str(tmp_path / "spill.duckdb"))
    con.execute("set memory_limit = '30MB'; set max_temp_directory_size = '2MB'; set threads = 1")
    with pytest.raises(duckdb.OutOfMemoryException) as spilled:
        con.execute("create table t as select i % 3000000 as g, sum(i::hugeint) as s from range(20000000) r(i) "
                    "group by all")
    hint = failure_hint(leap_env, f"Runtime Error in model int_school_item_sums\n  {spilled.value}")
    assert f"{leap_env.layout.warehouse}.tmp" in hint and "LEAP_DUCKDB_MEMORY" in hint
    assert "Free disk space" in hint and hint.endswith("dbt.log")
    assert failure_hint(leap_env, "Compilation Error in model x") == f"see {leap_env.layout.dbt_logs / 'dbt.log'}"
