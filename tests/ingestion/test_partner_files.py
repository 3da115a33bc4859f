"""Partner bulk files (JSONL and the wide CSV): round trips, and bad cells rejected rather than guessed."""

from __future__ import annotations

import orjson
import pytest
from support.sim import small_result, valid_events

from ingestion.contract import Rejected, check_submission
from ingestion.partner_files import csv_columns, csv_row_to_event, read_partner_file, write_partner_csv
from leap.instrument import load_catalog
from simulator import write_jsonl


@pytest.fixture(scope="module")
def result():
    return small_result()


@pytest.fixture(scope="module")
def events(result):
    return valid_events(result)


def test_partner_csv_round_trip(events, tmp_path):
    path = tmp_path / "partner.csv"
    sample = events[:300]
    assert write_partner_csv(sample, path) == len(sample)
    back = [orjson.loads(value) for _, value in read_partner_file(path)]
    assert back == sample
    keys = [key for key, _ in read_partner_file(path)]
    assert keys == [e["school_id"].encode() for e in sample]


def test_partner_csv_bad_cell_is_rejected_not_guessed():
    ins = load_catalog().latest("teacher")
    row = dict.fromkeys(csv_columns(), "") | {"submission_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12, "instrument": "teacher",
           "instrument_version": ins.version, "school_id": "SCH-0001", "respondent_id": "T-1",
           "school_year": "2024-25", "term": "fall", "submitted_at": "2024-10-01T12:00:00Z",
           "grade_band": "high", "sample": "nextgen", ins.item_ids[0]: "often", ins.item_ids[1]: "3"}
    event = csv_row_to_event(row)
    assert event["responses"][ins.item_ids[1]] == 3 and event["responses"][ins.item_ids[2]] is None
    with pytest.raises(Rejected) as exc:
        check_submission(orjson.dumps(event))
    assert exc.value.reason == "schema_violation"


def test_jsonl_partner_file_keeps_bytes(result, tmp_path):
    path = tmp_path / "sim.jsonl"
    assert write_jsonl(result.records, path) == result.produced
    back = list(read_partner_file(path))
    assert [v for _, v in back] == [r.value for r in result.records]
    assert all(k == r.key for (k, _), r in zip(back, result.records, strict=True) if r.valid)


