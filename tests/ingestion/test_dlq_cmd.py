"""`leap dlq`: the dead-letter topic read back (counts, masked records) and replayed after a fix.

The fix is real: the stream is ingested with an instrument definition that lacks one teacher item, so
every teacher submission is dead-lettered as unknown_item; with the full definition back, `replay`
sends exactly those (not the records that are still malformed), the lake then holds every valid
submission once, and a second replay sends nothing.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from support.streams import make_stream, produce

from ingestion.consumer import run_ingestion
from ingestion.contract import Rejected, check_submission
from ingestion.dlq import DLQ_RETENTION_DAYS, MASK
from ingestion.status import collect_status
from leap.cli import main
from leap.errors import EXIT_FAILED, EXIT_OK
from leap.instrument import DEFAULT_DIR, load_catalog

DROPPED = "t_lc03"


def _without_item(tmp_path):
    root = tmp_path / "instrument-before-the-fix"
    shutil.copytree(DEFAULT_DIR, root)
    items = root / "items.csv"
    lines = items.read_text().splitlines(keepends=True)
    items.write_text("".join(line for line in lines if f",{DROPPED}," not in line))
    return root


def _verdicts(records) -> Counter:
    """What the contract says of each record, under the catalog in force (independent of the consumer)."""
    out = Counter()
    for _, value in records:
        try:
            check_submission(value, load_catalog())
        except Rejected as exc:
            out[exc.reason] += 1
    return out


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def dead_letters(platform, tmp_path, monkeypatch):
    stream = make_stream(90, seed=7, malformed_every=10)  # with every item of the full definition
    monkeypatch.setenv("LEAP_INSTRUMENT_DIR", str(_without_item(tmp_path)))
    produce(platform, stream.records)
    run_ingestion(platform, "bounded", workers=0, progress=False)
    expected = _verdicts(stream.records)
    assert expected["unknown_item"] > 20  # the teacher submissions, and the malformed t_bogus ones
    return stream, expected


def test_list_counts_the_dead_letters_per_reason(dead_letters, capsys):
    _, expected = dead_letters
    assert main(["dlq", "list", "--json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert {r["reason"]: r["records"] for r in rows} == dict(expected)
    assert main(["dlq", "list"]) == EXIT_OK
    last = capsys.readouterr().out.splitlines()[-1].split()
    assert last == ["total", f"{sum(expected.values()):,}"]


def test_show_masks_respondent_ids_unless_asked(dead_letters, platform, capsys):
    assert main(["dlq", "show", "--json", "--reason", "unknown_item", "--limit", "5"]) == EXIT_OK
    shown = _json_lines(capsys.readouterr().out)
    assert len(shown) == 5 and all(r["reason"] == "unknown_item" for r in shown)
    assert all(json.loads(r["value"])["respondent_id"] == MASK for r in shown)
    assert all(r["source_topic"] == platform.topic and isinstance(r["source_offset"], int) for r in shown)
    assert len({(r["source_partition"], r["source_offset"]) for r in shown}) == 5
    assert main(["dlq", "show", "--json", "--reveal", "--at", f"{shown[0]['partition']}:{shown[0]['offset']}"]) == 0
    (one,) = _json_lines(capsys.readouterr().out)
    raw = json.loads(one["value"])["respondent_id"]
    assert raw != MASK and raw.startswith("T-SCH-")  # the raw id as sent: the topic is restricted
    assert main(["dlq", "show", "--values", "--reason", "invalid_json"]) == EXIT_OK
    values = capsys.readouterr().out.splitlines()
    assert values and all(v == '{"submission_id": ' for v in values)  # the original bytes, as sent


def test_replay_after_the_fix_is_idempotent(dead_letters, platform, monkeypatch, capsys):
    stream, expected = dead_letters
    assert collect_status(platform).total_rows < len(stream.valid_ids)
    monkeypatch.delenv("LEAP_INSTRUMENT_DIR")  # the fix: the full instrument definition again
    still = _verdicts(stream.records)  # the malformed records fail as before
    teachers = expected["unknown_item"] - still["unknown_item"]
    assert main(["dlq", "replay", "--reason", "unknown_item"]) == EXIT_FAILED  # the t_bogus ones still fail
    out = capsys.readouterr()
    assert f"replayed {teachers} records" in out.out and f"still unknown_item: {still['unknown_item']}" in out.err
    run_ingestion(platform, "bounded", workers=0, progress=False)
    assert collect_status(platform).total_rows == len(stream.valid_ids)  # every valid submission, once
    assert main(["dlq", "replay", "--reason", "unknown_item"]) == EXIT_FAILED
    assert f"replayed 0 records to the submissions topic; {teachers} replayed before" in capsys.readouterr().out


def test_the_dead_letter_topic_has_a_retention(platform):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=platform.bootstrap_servers)
    try:
        (resp,) = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, platform.dlq_topic)])
        entries = {e[0]: e[1] for e in resp.resources[0][4]}
    finally:
        admin.close()
    assert int(entries["retention.ms"]) == DLQ_RETENTION_DAYS * 24 * 3600 * 1000
