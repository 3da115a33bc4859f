"""Helpers of the validation tests: the fixture files, one shared suite runner, tiny lakes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.sink import data_file_name, partition_dir

FIXTURES = Path(__file__).resolve().parents[1] / "expectations" / "fixtures"
CASES = json.loads((FIXTURES / "cases.json").read_text())
TOPIC = "leap.survey-submissions.v1"


def fixture_table(suite: str, kind: str = "good") -> pa.Table:
    return pq.read_table(FIXTURES / CASES[suite][kind])


def write_raw(settings, table: pa.Table, partition: tuple[str, str, str], kafka_partition: int = 0,
              start: int = 0) -> Path:
    """Land ``table`` as ingestion would (same layout and file name) and return its path."""
    path = partition_dir(settings.layout.raw, partition) / data_file_name(TOPIC, kafka_partition, start,
                                                                       start + table.num_rows - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
