"""What the scoring jobs read from the warehouse (read-only): the counted respondents of a term, as responses."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leap.config import Settings
from leap.errors import LeapError

# What scoring keeps of each respondent besides the answers (its score rows carry them).
SCORING_KEYS = ("r.respondent_key", "r.school_id", "r.grade_band", "r.sample", "s.instrument_version")


def connect_warehouse(settings: Settings):
    """A read-only connection to the warehouse, where scoring reads what dbt built (it writes nothing
    there: its tables are lake files, scoring_jobs.tables). Hold :func:`leap.locks.warehouse_lock` while
    it is open when a dbt run may start meanwhile (DuckDB opens a file for one writer or many readers)."""
    path = settings.layout.warehouse
    if not path.exists():
        raise LeapError(f"no warehouse at {path}", hint="build it first with `leap warehouse build`")
    return settings.duckdb(path, read_only=True)


def _term_sql(instrument: str, items: list[str], keys: tuple[str, ...], ordered: bool = True) -> str:
    cols = ", ".join(["r.submission_id", *keys, *(f"s.{i}" for i in items)])
    return f"""
        select {cols}
        from intermediate.int_respondents as r
        inner join staging.stg_lake__{instrument}_submissions as s using (submission_id)
        where r.instrument = ? and r.school_year = ? and r.term = ?""" + (" order by r.submission_id" if ordered else "")


def _unreadable(instrument: str, school_year: str, term: str, exc: Exception) -> LeapError:
    return LeapError(f"cannot read {instrument} responses of {school_year} {term} from the warehouse: {exc}",
                     hint="build the warehouse first with `leap warehouse build`")


def _arrow_batches(con, instrument: str, school_year: str, term: str, items: list[str], rows: int,
                   keys: tuple[str, ...], ordered: bool) -> Iterator:
    """The term's rows as Arrow record batches on a cursor of its own (see :func:`term_batches`)."""
    cur = con.cursor()
    try:
        try:
            # a relation streams (a DB-API result's Arrow reader would hold every row first)
            reader = cur.sql(_term_sql(instrument, items, keys, ordered), params=[instrument, school_year, term]
                             ).to_arrow_reader(rows)
        except Exception as exc:  # noqa: BLE001 - duckdb raises CatalogException etc.
            raise _unreadable(instrument, school_year, term, exc) from None
        for batch in reader:
            if batch.num_rows:
                yield batch
    finally:
        cur.close()


def term_batches(con, instrument: str, school_year: str, term: str, items: list[str],
                 rows: int, keys: tuple[str, ...] = SCORING_KEYS) -> Iterator[pd.DataFrame]:
    """The counted respondents of a term with their submission id, ``keys`` (columns of ``r``,
    int_respondents, or ``s``, the staged submission) and item columns, ordered by submission id, in
    batches of at most ``rows`` respondents: a streaming result on a cursor of its own, so that ``con`` can
    write while the batches are read and memory is set by a batch, not by the term."""
    for batch in term_record_batches(con, instrument, school_year, term, items, rows, keys):
        yield batch.to_pandas()


def term_record_batches(con, instrument: str, school_year: str, term: str, items: list[str],
                        rows: int, keys: tuple[str, ...] = SCORING_KEYS) -> Iterator[pa.RecordBatch]:
    """:func:`term_batches` as Arrow record batches (compact to send to a worker process)."""
    yield from _arrow_batches(con, instrument, school_year, term, items, rows, keys, ordered=True)


def count_term(con, instrument: str, school_year: str, term: str) -> int:
    """How many counted respondents a term has (what :func:`term_batches` yields, in all)."""
    try:
        return con.execute("select count(*) from intermediate.int_respondents where instrument = ? and "
                           "school_year = ? and term = ?", [instrument, school_year, term]).fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - duckdb raises CatalogException etc.
        raise _unreadable(instrument, school_year, term, exc) from None


def term_arrays(con, instrument: str, school_year: str, term: str, items: list[str], keys: tuple[str, ...] = ()
                ) -> tuple[pd.api.extensions.ExtensionArray, dict[str, pa.Array], np.ndarray]:
    """The submission ids (text held by Arrow: 4 million as Python strings took 0.7 GB), the ``keys``
    columns (Arrow arrays) and the responses (``(n, len(items))`` int8, -1 = missing) of a term, ordered
    by submission id.

    Read unordered, batch by batch without a DataFrame, and put in order by Arrow's sort of the ids (Arrow
    and DuckDB both order text by its bytes: the order DuckDB's ``order by`` gave): the ids, keys and one
    byte per response are all that is held. DuckDB keeps what a read took (1.1 GB for the 4.1 million fall
    students of ten million submissions) until its connection closes: close it before heavy work."""
    ids, blocks, columns = [], [], {k: [] for k in keys}
    for batch in _arrow_batches(con, instrument, school_year, term, items, 500_000, tuple(f"r.{k}" for k in keys),
                                ordered=False):
        # copies (concat_arrays): a column of the batch would keep the whole batch, items and all, alive
        ids.append(pa.concat_arrays([batch.column("submission_id")]))
        for k in keys:
            columns[k].append(pa.concat_arrays([batch.column(k)]))
        blocks.append(arrow_responses(batch, items))
    if not ids:
        return pd.array([], dtype="string[pyarrow]"), {k: pa.array([], pa.string()) for k in keys}, np.zeros(
            (0, len(items)), dtype=np.int8)
    all_ids = pa.chunked_array(ids)
    order = pc.sort_indices(all_ids).to_numpy()
    out = (pd.array(all_ids.take(order).combine_chunks(), dtype="string[pyarrow]"),
           {k: pa.chunked_array(v).take(order).combine_chunks() for k, v in columns.items()},
           np.concatenate(blocks)[order])
    del ids, columns, all_ids
    release_arrow_memory()  # the batches and unsorted copies: as much again as what is returned
    return out


def release_arrow_memory() -> None:
    """Give back to the system what Arrow's memory pool keeps of freed buffers. Its allocator (mimalloc)
    keeps them for reuse: after a calibration at ten million submissions the process still held 1.0 GB,
    0.28 GB once released, and the DIF workers started beside that memory (the step's tree at 4.0 GB)."""
    pa.default_memory_pool().release_unused()


def term_matrix(con, instrument: str, school_year: str, term: str, items: list[str]
                ) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    """The submission ids and the responses (int8, -1 = missing) of a term, ordered by submission id:
    :func:`term_arrays` without keys (a calibration does not need them; a response takes one byte)."""
    ids, _, matrix = term_arrays(con, instrument, school_year, term, items)
    return ids, matrix


def arrow_responses(batch, items: list[str]) -> np.ndarray:
    """A batch's item columns as int8, -1 = missing (the categories are 0-4)."""
    out = np.empty((batch.num_rows, len(items)), dtype=np.int8)
    for j, item in enumerate(items):
        col = batch.column(item)
        out[:, j] = pc.fill_null(col, -1).to_numpy(zero_copy_only=False).astype(np.int8)
    return out
