"""What the scoring jobs read from the warehouse: the counted respondents of a term, as responses."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from leap.errors import LeapError

# What scoring keeps of each respondent besides the answers (its score rows carry them).
SCORING_KEYS = ("r.respondent_key", "r.school_id", "r.grade_band", "r.sample", "s.instrument_version")


def _term_sql(instrument: str, items: list[str], keys: tuple[str, ...]) -> str:
    cols = ", ".join(["r.submission_id", *keys, *(f"s.{i}" for i in items)])
    return f"""
        select {cols}
        from intermediate.int_respondents as r
        inner join staging.stg_lake__{instrument}_submissions as s using (submission_id)
        where r.instrument = ? and r.school_year = ? and r.term = ?
        order by r.submission_id"""


def _unreadable(instrument: str, school_year: str, term: str, exc: Exception) -> LeapError:
    return LeapError(f"cannot read {instrument} responses of {school_year} {term} from the warehouse: {exc}",
                     hint="build the warehouse first with `leap warehouse build`")


def term_batches(con, instrument: str, school_year: str, term: str, items: list[str],
                 rows: int, keys: tuple[str, ...] = SCORING_KEYS) -> Iterator[pd.DataFrame]:
    """The counted respondents of a term with their submission id, ``keys`` (columns of ``r``,
    int_respondents, or ``s``, the staged submission) and item columns, ordered by submission id, in
    batches of at most ``rows`` respondents: a streaming result on a cursor of its own, so that ``con`` can
    write while the batches are read and memory is set by a batch, not by the term."""
    cur = con.cursor()
    try:
        try:
            # a relation streams (a DB-API result's Arrow reader would hold every row first)
            reader = cur.sql(_term_sql(instrument, items, keys), params=[instrument, school_year, term]
                             ).to_arrow_reader(rows)
        except Exception as exc:  # noqa: BLE001 - duckdb raises CatalogException etc.
            raise _unreadable(instrument, school_year, term, exc) from None
        for batch in reader:
            if batch.num_rows:
                yield batch.to_pandas()
    finally:
        cur.close()


def term_matrix(con, instrument: str, school_year: str, term: str, items: list[str]
                ) -> tuple[np.ndarray, np.ndarray]:
    """The submission ids and the responses (``(n, len(items))`` int8, -1 = missing) of a term, read
    batch by batch without a DataFrame: the text columns a calibration does not need are never read and
    a response takes one byte (at ten million submissions the term's frame held several GB)."""
    ids, blocks = [], []
    for frame in term_batches(con, instrument, school_year, term, items, 500_000, keys=()):
        ids.append(frame["submission_id"].to_numpy())
        blocks.append(responses(frame, items).astype(np.int8))
    if not ids:
        return np.array([], dtype=object), np.zeros((0, len(items)), dtype=np.int8)
    return np.concatenate(ids), np.concatenate(blocks)


def responses(frame: pd.DataFrame, items: list[str]) -> np.ndarray:
    if frame.empty:
        return np.zeros((0, len(items)), dtype=np.int64)
    return frame[items].astype("float64").fillna(-1).to_numpy().astype(np.int64)


