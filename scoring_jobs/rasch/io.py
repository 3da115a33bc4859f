"""Reading and validating wide response files (CSV or Parquet) and writing result tables.

A wide file has one row per person, an id column, one column per item with integer categories from 0
(empty = missing) and optionally a weight column. Problems raise :class:`RaschDataError` (or
``leap.errors.LeapError`` in the CLI) naming the item and the 1-based data row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .anchored import RaschDataError

__all__ = ["as_responses", "read_table", "select_columns", "read_item_params", "write_csv"]


def _bad_cell(values: np.ndarray, col: int, name: str | None = None) -> RaschDataError:
    v = values[:, col]
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(v) & ((v != np.round(v)) | (v < 0) | (v > 32000))
    row = int(np.flatnonzero(bad)[0])
    label = name if name is not None else f"index {col}"
    return RaschDataError(
        f"item {label}, row {row + 1}: {v[row]:g} is not a category (integers from 0; empty = missing)",
        item=col, row=row,
    )


def as_responses(responses, item_names=None) -> np.ndarray:
    """``(n_persons, n_items)`` int16 with -1 for missing, from float (NaN = missing) or int (-1 = missing)."""
    arr = np.asarray(responses)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise RaschDataError(f"responses must be a non-empty 2-d array (persons x items), got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        bad = (arr < -1) | (arr > 32000)
        if bad.any():
            arr = np.where(arr == -1, np.nan, arr.astype(float))
        else:
            return arr.astype(np.int16, copy=False)
    try:
        values = arr.astype(float)
    except (TypeError, ValueError):
        values = pd.DataFrame(arr).apply(pd.to_numeric, errors="coerce").to_numpy(float)
        text = ~pd.isna(arr) & np.isnan(values)
        if text.any():
            row, col = (int(v[0]) for v in np.nonzero(text))
            label = item_names[col] if item_names is not None else f"index {col}"
            raise RaschDataError(f"item {label}, row {row + 1}: {arr[row, col]!r} is not a category",
                                 item=col, row=row) from None
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ((values != np.round(values)) | (values < 0) | (values > 32000))
    if bad.any():
        col = int(np.flatnonzero(bad.any(axis=0))[0])
        raise _bad_cell(values, col, None if item_names is None else item_names[col])
    return np.where(np.isnan(values), -1, values).astype(np.int16)


def read_table(path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by extension ``.parquet``/``.pq``; anything else is CSV)."""
    p = Path(path)
    if not p.is_file():
        raise RaschDataError(f"input file {p} does not exist")
    if p.stat().st_size == 0:
        raise RaschDataError(f"input file {p} is empty")
    if p.suffix.lower() in (".parquet", ".pq"):
        df = pd.read_parquet(p)
    else:
        try:
            df = pacsv.read_csv(p).to_pandas()
        except pa.ArrowInvalid:
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    if df.shape[0] == 0:
        raise RaschDataError(f"input file {p} has no data rows")
    return df


def _numeric_column(df: pd.DataFrame, name: str) -> np.ndarray:
    col = df[name]
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float, na_value=np.nan)
    text = col.astype("string").str.strip()
    num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(np.isnan(num) & text.notna().to_numpy() & (text != "").fillna(False).to_numpy())
    if bad.size:
        row = int(bad[0])
        raise RaschDataError(
            f"item {name}, row {row + 1}: {text.iloc[row]!r} is not a category (integers from 0; empty = missing)",
            row=row,
        )
    return num


def select_columns(df: pd.DataFrame, id_col: str, items: list[str] | None, weight_col: str | None):
    """Split a wide table into ``(ids, responses int16, item names, weights or None)``, validating it."""
    cols = [str(c) for c in df.columns]
    df.columns = cols
    for label, name in (("id", id_col), ("weight", weight_col)):
        if name is not None and name not in cols:
            raise RaschDataError(f"{label} column {name!r} is not in the file (columns: {', '.join(cols[:20])})")
    if items is None:
        items = [c for c in cols if c not in (id_col, weight_col)]
    missing = [c for c in items if c not in cols]
    if missing:
        raise RaschDataError(f"item column(s) not in the file: {', '.join(missing)}")
    if not items:
        raise RaschDataError("no item columns to analyse")
    ids = df[id_col]
    if ids.isna().any():
        raise RaschDataError(f"id column {id_col!r} is empty in row {int(np.flatnonzero(ids.isna())[0]) + 1}")
    dup = ids.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise RaschDataError(f"id {ids.iloc[row]!r} in row {row + 1} appears more than once")
    values = np.column_stack([_numeric_column(df, c) for c in items])
    resp = as_responses(values, items)
    weights = None
    if weight_col is not None:
        weights = _numeric_column(df, weight_col)
        bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
        if bad.size:
            raise RaschDataError(f"weight column {weight_col!r}, row {bad[0] + 1}: not a non-negative number")
    return ids.to_numpy(), resp, list(items), weights


def read_item_params(path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read an ``items.csv`` (item, step, threshold[, se]) into names, thresholds ``(I, M)``, n_steps ``(I,)``."""
    p = Path(path)
    if not p.is_file():
        raise RaschDataError(f"item parameter file {p} does not exist")
    df = pd.read_csv(p, keep_default_na=False, na_values=[""])
    need = {"item", "step", "threshold"}
    if not need <= set(df.columns):
        raise RaschDataError(f"{p} needs columns item, step, threshold (has: {', '.join(map(str, df.columns))})")
    if df.empty:
        raise RaschDataError(f"{p} has no item parameter rows")
    df["item"] = df["item"].astype(str)
    names = list(dict.fromkeys(df["item"]))
    n_steps = df.groupby("item", sort=False)["step"].max().reindex(names).to_numpy(int)
    thr = np.full((len(names), int(n_steps.max())), np.nan)
    pos = {n: i for i, n in enumerate(names)}
    for item, step, value in zip(df["item"], df["step"], pd.to_numeric(df["threshold"], errors="coerce"),
                                 strict=True):
        thr[pos[item], int(step) - 1] = value
    for i, name in enumerate(names):
        steps = sorted(df.loc[df["item"] == name, "step"].astype(int))
        if steps != list(range(1, n_steps[i] + 1)):
            raise RaschDataError(f"{p}: item {name} must list steps 1..{n_steps[i]} once each")
        if not np.isfinite(thr[i]).any():
            raise RaschDataError(f"{p}: item {name} has no finite threshold")
    return names, thr, n_steps


def write_csv(df: pd.DataFrame, path) -> None:
    """Write a table as CSV: NaN as empty, +inf as ``inf``, floats at full precision."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(table, str(path))
