"""The optional ``duration_seconds`` field of event v1 (added after ``classroom_ids``): valid absent, null or
a number >= 0; both fast paths agree with the reference; decoded into a nullable double column of the raw
lake; carried by partner CSVs."""

from __future__ import annotations

import random

import orjson
import pyarrow as pa
import pytest
from test_classroom_ids import CATALOG, PSEUDO, _event, _fast_answers, _reference_accepts

from ingestion.decode import decode_run
from ingestion.partner_files import read_partner_file, write_partner_csv


@pytest.mark.parametrize("value", [0, 0.5, 12, 1834.25, None])
def test_a_duration_is_valid_and_fast(value):
    e = _event(random.Random(1), duration_seconds=value)
    assert _reference_accepts(e) and _fast_answers(e) == (True, True)


@pytest.mark.parametrize("value", [-0.001, -5, "60", True, [60], {"s": 60}])
def test_a_bad_duration_is_a_schema_violation(value):
    e = _event(random.Random(2), duration_seconds=value)
    assert not _reference_accepts(e) and _fast_answers(e) == (False, False)


def test_durations_land_in_a_double_column_null_when_absent():
    rng = random.Random(3)
    events = [_event(rng, "teacher", duration_seconds=d) for d in (61.5, None, 0)] + [_event(rng, "teacher")]
    run = decode_run([(i, None, orjson.dumps(e)) for i, e in enumerate(events)], 0, CATALOG, PSEUDO)
    assert not run.rejects
    (table,) = run.tables.values()
    assert table.schema.field("duration_seconds").type == pa.float64()
    stored = dict(zip(table.column("submission_id").to_pylist(), table.column("duration_seconds").to_pylist(),
                      strict=True))
    assert [stored[e["submission_id"]] for e in events] == [61.5, None, 0.0, None]


def test_partner_csv_carries_the_duration(tmp_path):
    rng = random.Random(4)
    events = [_event(rng, "student", duration_seconds=240.5), _event(rng, "student")]
    path = tmp_path / "p.csv"
    write_partner_csv(events, path, CATALOG)
    back = [orjson.loads(v) for _, v in read_partner_file(path, catalog=CATALOG)]
    assert back[0]["duration_seconds"] == 240.5 and "duration_seconds" not in back[1]
