"""Running a suite on one raw file: Parquet → pandas DataFrame → GE batch → suite result.

One in-memory (ephemeral) GE context per process with one pandas data source, one dataframe
asset and one whole-dataframe batch definition; every file is one batch of it. The ephemeral
context keeps the hot path free of writes into ``expectations/`` (a file context would rewrite
``great_expectations.yml`` when a data source is added) and of GE's stores; the runner records
results itself, and Data Docs are built from those records later (:mod:`expectations.docs`).

The DataFrame GE sees: strings as pandas categoricals (GE filters the whole frame once per
expectation; categoricals make that ~5× cheaper than Arrow-backed strings), integers as nullable
masked dtypes (``Int8`` keeps the item columns' type visible; plain ``to_pandas`` would turn
them into float64), timestamps as ``datetime64[us, UTC]``, lists (``classroom_ids``) as arrays (dtype object).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 10}


def gx():
    """The great_expectations module, imported with usage statistics switched off."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    gx_log = logging.getLogger("great_expectations")
    if gx_log.level == logging.NOTSET:  # GE logs every registered function at INFO
        gx_log.setLevel(logging.WARNING)
    import great_expectations
    from great_expectations.execution_engine import pandas_execution_engine

    import expectations.custom  # noqa: F401 - registers the custom expectations

    # GE fingerprints every pandas batch it is given (a hash of every cell, stored among the result's batch
    # markers) when the frame is under this many bytes: 1.6 of validation's ~14 CPU-seconds at a million
    # submissions, for a marker nothing here reads (the runner records what it validated itself).
    pandas_execution_engine.HASH_THRESHOLD = 0
    return great_expectations


@lru_cache(maxsize=1)
def _batch_definition():
    g = gx()
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
                               progress_bars={"globally": False, "metric_calculations": False})
    context = g.get_context(project_config=config, mode="ephemeral")
    source = context.data_sources.add_pandas("leap_lake")
    return source.add_dataframe_asset("raw_file").add_batch_definition_whole_dataframe("one_file")


def read_frame(*paths: Path):
    """Raw Parquet files (of one partition) as the one DataFrame the suites expect (types in the module
    docstring)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    mapping = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
               pa.int64(): pd.Int64Dtype()}
    table = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
    return table.to_pandas(strings_to_categorical=True, types_mapper=mapping.get)


def file_parameters(school_year: str, term: str) -> dict:
    """Suite parameters of a file in partition (school_year, term): its term's window and partition."""
    from leap.instrument import term_window

    try:
        start, end = term_window(school_year, term)
        lo = datetime.fromisoformat(start).replace(tzinfo=UTC)
        hi = datetime.fromisoformat(end).replace(tzinfo=UTC) + timedelta(days=1) - timedelta(microseconds=1)
    except (KeyError, ValueError):  # a partition no term window exists for: nothing is inside it
        lo = hi = datetime(1970, 1, 1, tzinfo=UTC)
    return {"term_window_start": lo, "term_window_end": hi,
            "partition_school_year": [school_year], "partition_term": [term]}


@dataclass
class Outcome:
    """The result of validating one file."""

    success: bool
    rows: int
    result: dict  # GE ExpectationSuiteValidationResult as JSON
    failed: list[dict] = field(default_factory=list)  # failed checks: check, type, column, sample
    error: str | None = None  # the file could not be read at all


def _failure(r: dict) -> dict:
    cfg = r["expectation_config"]
    res = r.get("result") or {}
    exc = r.get("exception_info") or {}
    return {"check": cfg["meta"].get("check", cfg["type"]), "type": cfg["type"],
            "column": cfg["kwargs"].get("column"), "guards": cfg["meta"].get("guards"),
            "unexpected_count": res.get("unexpected_count"), "unexpected_percent": res.get("unexpected_percent"),
            "observed_value": res.get("observed_value"),
            "sample_unexpected": res.get("partial_unexpected_list"),
            "exception": exc.get("exception_message") if exc.get("raised_exception") else None}


class SuiteRunner:
    """Validates DataFrames against the committed suites (one GE ExpectationSuite per instrument)."""

    def __init__(self, suites: dict):
        g = gx()
        self.suites = suites
        self._gx_suites = {}
        for ins, loaded in suites.items():
            suite = g.ExpectationSuite(**loaded.doc)
            if len(suite.expectations) != len(loaded.doc["expectations"]):
                from leap.errors import LeapError

                raise LeapError(f"suite {loaded.name}: GE could not load every expectation",
                                hint="see the log above; regenerate with `leap validate suites --write`")
            self._gx_suites[ins] = suite
        self.batch_definition = _batch_definition()

    def run(self, df, instrument: str, school_year: str, term: str) -> Outcome:
        suite = self._gx_suites[instrument]
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": df})
        result = batch.validate(suite, result_format=RESULT_FORMAT,
                                expectation_parameters=file_parameters(school_year, term))
        doc = result.to_json_dict()
        failed = [_failure(r) for r in doc["results"] if not r["success"]]
        return Outcome(success=bool(result.success), rows=len(df), result=doc, failed=failed)

    def run_files(self, paths: list[Path], instrument: str, school_year: str, term: str) -> Outcome:
        """The files of one partition as one batch (raises on an unreadable file: validate each then)."""
        return self.run(read_frame(*paths), instrument, school_year, term)

    def run_file(self, path: Path, instrument: str, school_year: str, term: str) -> Outcome:
        try:
            df = read_frame(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is bad data, quarantined with why
            reason = f"{type(exc).__name__}: {exc}"
            failed = [{"check": "file.readable", "type": "parquet_read", "column": None,
                       "guards": "the file is a readable Parquet file", "unexpected_count": None,
                       "unexpected_percent": None, "observed_value": reason, "sample_unexpected": None,
                       "exception": reason}]
            return Outcome(False, 0, {"success": False, "results": [], "error": reason}, failed, reason)
        return self.run(df, instrument, school_year, term)
