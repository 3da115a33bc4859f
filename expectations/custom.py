"""Expectations the Great Expectations catalog lacks, each vectorized over the whole batch.

GE spends ~8-15 ms of fixed work per expectation and file (building its metric graph), whatever
the row count. One expectation per column (60 columns, 35 items × 2 checks) would make that
overhead dominate every file the ingestion sink writes, so the column-wise checks are expressed
once per *set* of columns, and their results name the offending columns:

- ``expect_table_column_types_to_match`` (batch): every column has its expected pandas dtype.
- ``expect_columns_null_share_to_be_at_most`` (batch): the share of nulls of each listed column is
  at most ``max_null_share`` (0: required columns; the skip limit: item columns).
- ``expect_columns_values_to_be_in_sets`` (batch): every non-null value of each listed column is in
  that column's set (answers are categories of their item; null = skipped).
- ``expect_multicolumn_answered_share_to_be_at_least`` (per row): the share of answered (non-null)
  items of a submission, counted over the items of *its* instrument version, reaches ``min_share``.
- ``expect_column_values_to_occur_at_most`` (per row): no value occurs more than ``max_count`` times
  in the batch (e.g. submissions per school); the unexpected values name the offending value.

Importing this module registers them (GE registers expectation and metric classes on definition),
so a suite file that uses them can be loaded and validated. Pandas execution engine only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from great_expectations.compatibility import pydantic
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    BatchExpectation,
    ColumnMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    MulticolumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

VERSION_COLUMN = "instrument_version"


class ColumnValuesOccurAtMost(ColumnMapMetricProvider):
    condition_metric_name = "column_values.occur_at_most"
    condition_value_keys = ("max_count",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, max_count: int, **kwargs) -> pd.Series:
        counts = column.value_counts(sort=False)
        return pd.Series(column.map(counts).to_numpy(dtype=np.int64) <= max_count, index=column.index)


class MulticolumnAnsweredShareAtLeast(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.answered_share_at_least"
    condition_domain_keys = ("batch_id", "table", "column_list", "row_condition", "condition_parser",
                             "ignore_row_if")
    condition_value_keys = ("min_share", "items_by_version")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, min_share: float, items_by_version: dict, **kwargs) -> pd.Series:
        version = column_list[VERSION_COLUMN]
        share = np.zeros(len(column_list))  # rows of an unknown version: nothing answered
        for ver, items in items_by_version.items():
            rows = (version == ver).to_numpy(dtype=bool)
            if rows.any():
                answered = column_list.loc[rows, items].notna().to_numpy().sum(axis=1)
                share[rows] = answered / len(items)
        return pd.Series(share >= min_share, index=column_list.index)


class _Sentence:
    """Data Docs show a custom check as the sentence the suite gives it (``meta.guards``, e.g. "no item
    is skipped by more than 25% of a batch's submissions") with its check name, not as a dump of its
    arguments (hundreds of item columns and value sets)."""

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None):
        config = configuration or (result.expectation_config if result is not None else None)
        meta = (config.meta if config is not None else None) or {}
        sentence = meta.get("guards") or cls.__doc__.strip().splitlines()[0]
        return [RenderedStringTemplateContent(content_block_type="string_template", string_template={
            "template": "$check: $sentence", "params": {"check": meta.get("check", ""), "sentence": sentence},
            "styling": (runtime_configuration or {}).get("styling", {})})]


class ExpectColumnValuesToOccurAtMost(_Sentence, ColumnMapExpectation):
    """Expect no value of the column to occur more than ``max_count`` times in the batch."""

    max_count: int = pydantic.Field(description="most rows one value may have")
    map_metric = "column_values.occur_at_most"
    args_keys = ("column", "max_count")
    success_keys = ("max_count", "mostly")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "experimental", "tags": ["leap"],
                                                  "contributors": ["leap"]}


class ExpectMulticolumnAnsweredShareToBeAtLeast(_Sentence, MulticolumnMapExpectation):
    """Expect each row to answer at least ``min_share`` of the items of its instrument version.

    ``column_list`` is ``instrument_version`` followed by every item column; ``items_by_version``
    maps each version to its items.
    """

    min_share: float = pydantic.Field(description="smallest share of answered items per submission")
    items_by_version: dict[str, list[str]] = pydantic.Field(description="the items of each version")
    min_rows: int = pydantic.Field(default=0, description="judge ``mostly`` only from this many rows")
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.answered_share_at_least"
    args_keys = ("column_list", "min_share", "items_by_version")
    success_keys = ("min_share", "items_by_version", "mostly", "min_rows")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "experimental", "tags": ["leap"],
                                                  "contributors": ["leap"]}

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        result = super()._validate(metrics, runtime_configuration, execution_engine)
        return _small_batch(result, metrics.get("table.row_count"), self.min_rows)


class ExpectTableColumnTypesToMatch(_Sentence, BatchExpectation):
    """Expect every listed column to have the given dtype (``str(dtype)`` of the pandas column).

    Columns that are absent are left to ``expect_table_columns_to_match_set``.
    """

    column_types: dict[str, str] = pydantic.Field(description="column name -> expected dtype name")
    metric_dependencies = ("table.column_types",)
    success_keys = ("column_types",)
    args_keys = ("column_types",)
    domain_keys = ("batch_id", "table", "row_condition", "condition_parser")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "experimental", "tags": ["leap"],
                                                  "contributors": ["leap"]}

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        expected = self._get_success_kwargs()["column_types"]
        actual = {d["name"]: str(d["type"]) for d in metrics["table.column_types"]}
        wrong = {c: {"expected": t, "observed": actual[c]} for c, t in sorted(expected.items())
                 if c in actual and actual[c] != t}
        return {"success": not wrong,
                "result": {"observed_value": wrong or "all types match", "details": {"mismatched": wrong}}}


SAMPLE = 10
_META: dict[str, Any] = {"maturity": "experimental", "tags": ["leap"], "contributors": ["leap"]}


def _table(execution_engine, metric_domain_kwargs):
    df, _, _ = execution_engine.get_compute_domain(metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
    return df


class ColumnsNullShares(TableMetricProvider):
    """{column: share of nulls} of the listed columns present in the batch."""

    metric_name = "table.leap_columns_null_shares"
    value_keys = ("columns",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, runtime_configuration):
        df = _table(execution_engine, metric_domain_kwargs)
        n = len(df)
        return {c: (float(df[c].isna().sum()) / n if n else 0.0)
                for c in metric_value_kwargs["columns"] if c in df.columns}


class ColumnsUnexpectedValues(TableMetricProvider):
    """{column: (unexpected count, sample of unexpected values)} for listed columns with any."""

    metric_name = "table.leap_columns_unexpected_values"
    value_keys = ("value_sets",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, runtime_configuration):
        df = _table(execution_engine, metric_domain_kwargs)
        out = {}
        for col, allowed in metric_value_kwargs["value_sets"].items():
            if col not in df.columns:
                continue
            s = df[col]
            bad = (s.notna() & ~s.isin(allowed)).to_numpy(dtype=bool)
            if bad.any():
                out[col] = (int(bad.sum()), [v.item() if hasattr(v, "item") else v for v in s[bad][:SAMPLE]])
        return out


class ExpectColumnsNullShareToBeAtMost(_Sentence, BatchExpectation):
    """Expect each listed column to have at most ``max_null_share`` nulls (0: no null at all)."""

    columns: list[str] = pydantic.Field(description="the columns checked")
    max_null_share: float = pydantic.Field(description="largest share of nulls allowed per column")
    min_rows: int = pydantic.Field(default=0, description="judge the shares only from this many rows")
    metric_dependencies = ("table.leap_columns_null_shares", "table.row_count")
    success_keys = ("columns", "max_null_share", "min_rows")
    args_keys = ("columns", "max_null_share")
    domain_keys = ("batch_id", "table", "row_condition", "condition_parser")
    library_metadata: ClassVar[dict[str, Any]] = _META

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        limit = self._get_success_kwargs()["max_null_share"]
        shares = metrics["table.leap_columns_null_shares"]
        over = {c: round(v, 6) for c, v in shares.items() if v > limit}
        result = {"success": not over,
                  "result": {"observed_value": over or f"every column at most {limit:.0%} null",
                             # columns over the limit, of the columns checked (Data Docs need all three)
                             "element_count": len(shares), "unexpected_count": len(over),
                             "unexpected_percent": 100.0 * len(over) / len(shares) if shares else 0.0,
                             "partial_unexpected_list": sorted(over)[:SAMPLE],
                             "details": {"null_shares": {c: round(v, 6) for c, v in shares.items()}}}}
        return _small_batch(result, metrics.get("table.row_count"),
                            self._get_success_kwargs().get("min_rows") or 0)


def _small_batch(result, rows: int | None, min_rows: int):
    """A share judged on fewer than ``min_rows`` rows says nothing about the batch (one respondent in
    three is 33%): such a result passes, marked "not evaluated", and the term is checked as a whole
    (expectations.term_checks)."""
    if rows is None or rows >= min_rows:
        return result
    doc = result.to_json_dict() if hasattr(result, "to_json_dict") else dict(result)
    details = {**(doc.get("result") or {}), "observed_value": f"not evaluated: {rows} rows, fewer than {min_rows} "
                                                             "(a batch statistic; checked per term)"}
    return {"success": True, "result": details}


class ExpectColumnsValuesToBeInSets(_Sentence, BatchExpectation):
    """Expect every non-null value of each column in ``value_sets`` to be in that column's set."""

    value_sets: dict[str, list] = pydantic.Field(description="column -> allowed values")
    metric_dependencies = ("table.leap_columns_unexpected_values", "table.row_count")
    success_keys = ("value_sets",)
    args_keys = ("value_sets",)
    domain_keys = ("batch_id", "table", "row_condition", "condition_parser")
    library_metadata: ClassVar[dict[str, Any]] = _META

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        bad = metrics["table.leap_columns_unexpected_values"]
        observed = {c: {"unexpected_count": n, "sample": sample} for c, (n, sample) in sorted(bad.items())}
        sample = [f"{c}={v}" for c, (_, vals) in sorted(bad.items()) for v in vals][:SAMPLE]
        cells = (metrics.get("table.row_count") or 0) * len(self._get_success_kwargs()["value_sets"])
        n_bad = sum(n for n, _ in bad.values())
        return {"success": not bad,
                "result": {"observed_value": observed or "every value in its set", "element_count": cells,
                           "unexpected_count": n_bad, "unexpected_percent": 100.0 * n_bad / cells if cells else 0.0,
                           "partial_unexpected_list": sample}}
