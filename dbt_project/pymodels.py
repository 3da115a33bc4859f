"""What the warehouse's Python models share (dbt runs them in its process, on the build's DuckDB
connection): the changed partitions of an incremental build, a relation's SQL, an instrument's rows
sorted into cells with their answers, and the stream a model returns. The models themselves live beside
the SQL ones (models/intermediate/*.py): int_weighting_cells rakes the weights, and the response sums
(int_school_item_sums, int_school_subgroup_sums, int_classroom_item_sums) count the wide rows with
weights.cell_sums.

Memory: a sums model reads each instrument's rows once, sorted (DuckDB's sort, under its memory limit,
spills), keeping one byte per answer and a cell number per row (ten million submissions: ~0.3 GB for the
students); nothing the size of the data goes into a temp table. Its sums, larger than the rows (~37 M at
ten million), are never held whole: the model returns a stream (:func:`stream`) that dbt writes into the
model's table as each block of cells is summed. dbt builds two models at a time; two sums models with
large reads take turns (:data:`TURN`), each from before its first read until dbt has committed its table:
side by side, at ten million, one's sorted read beside the other's read, or beside the commit of the
other's table, ran DuckDB out of its 2 GB. Small reads (a million submissions) run side by side.

Partitions (macros/partitions.sql, the SQL side of the same rule): an incremental model is given the
build's var ``partitions`` as its config ``changed_partitions`` (dbt_project.yml renders it natively: a
list, or None without the var); :func:`partition_condition` is the SQL macro ``in_changed_partitions()``
and the models' pre-hook ``delete_changed_partitions()`` deletes the same partitions first.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["TURN", "CellRows", "cell_rows", "finish_pending", "item_numbers", "largest_instrument", "partition_condition",
           "relation", "sql_literal", "stream", "sums_stream", "table_batches", "weighted_sum_batches"]

log = logging.getLogger(__name__)

SKIPPED = -1  # a skipped item's answer in the matrices: the kernel's (weights.cell_sums.SKIPPED; a part
# of the warehouse does not import another part, tests/orchestration/test_pymodels.py checks they agree)
BATCH_ROWS = 1 << 17  # rows fetched at a time while an instrument's sorted rows are read


def finish_pending(session) -> None:
    """Run the result dbt's last statement on ``session`` left (the model's pre-hook) to its end: DuckDB
    2.0 keeps one result per connection and refuses a query while one is unread. A model's first call."""
    session.complete()


def sql_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def relation(ref) -> str:
    """A ref's SQL (``dbt.ref("name")``: dbt finds a model's refs in its own file, as literal calls) as a
    parenthesized subquery, to write into a query of the model's own."""
    return f"({ref.sql_query()})"


def partition_condition(parts: list[str] | None, is_incremental: bool, school_year: str = "school_year",
                        term: str = "term") -> str:
    """The rows of the partitions this build rebuilds (as in_changed_partitions(): every row unless the
    model is incremental and the build was given ``partitions``; none for an empty list). ``parts``:
    ``dbt.config.get("changed_partitions")``, called in the model's file (dbt gives a Python model the
    config keys its own file asks for, literally), ``is_incremental``: ``dbt.is_incremental``."""
    if not is_incremental or parts is None:
        return "true"
    if not parts:
        return "false"
    return f"({school_year} || '/' || {term}) in ({', '.join(sql_literal(p) for p in parts)})"


def item_numbers(session, numbers, items, instrument: str) -> list[dict]:
    """The instrument's items in item id order: item_id, item_no (``numbers``: the ref of int_item_numbers),
    top_box_min and is_classroom_indicator (``items``: the ref of the items seed)."""
    rows = session.sql(f"""
        select distinct n.item_id, n.item_no, i.top_box_min, i.is_classroom_indicator
        from {relation(numbers)} as n inner join {relation(items)} as i using (instrument, item_id)
        where n.instrument = {sql_literal(instrument)} order by n.item_id""").fetchall()
    return [{"item_id": str(r[0]), "item_no": int(r[1]), "top_box_min": int(r[2]), "is_classroom_indicator": bool(r[3])}
            for r in rows]


@dataclass(frozen=True)
class CellRows:
    """An instrument's rows sorted by cell, then submission id (the order every sum adds them in, the same
    in every build whatever DuckDB's threads did). ``cells``: a row per cell in cell number order, its key
    columns and attributes (null for a cell without rows); ``cell``: each row's cell number (0, 1, ...);
    ``values``: the rows' value columns; ``responses``: their answers, an int8 matrix (a column per item,
    SKIPPED for a skip)."""

    cells: pa.Table
    cell: np.ndarray
    values: dict[str, np.ndarray]
    responses: np.ndarray


def cell_rows(session, rows: str, submissions, item_ids: list[str], keys: tuple[str, ...], *,
              values: tuple[str, ...] = (), attributes: tuple[str, ...] = (), cells: str | None = None) -> CellRows:
    """The rows of the query ``rows`` (submission_id, ``keys``, ``values``, ``attributes``: constant in a
    cell, e.g. its weight scale), each with its submission's answers to ``item_ids`` (``submissions``: the
    ref of the instrument's staging model), a cell per distinct ``keys``. ``cells``: a query of every
    cell's keys (a cheaper one than the rows' own, e.g. from int_respondents alone; default: the rows').

    The cells are numbered in key order (a small temp table) and the rows sorted by number and submission
    id: a sort on an integer and one text (at ten million, the five text keys of a cell ran DuckDB out of
    its memory), read a batch at a time into one byte per answer."""
    key_list = ", ".join(keys)
    session.execute(f"""create or replace temp table _cells as
        select *, row_number() over (order by {key_list}) - 1 as cell_id
        from (select distinct {key_list} from ({cells or rows}))""")
    same_cell = " and ".join(f"r.{k} is not distinct from c.{k}" for k in keys)
    reader = session.sql(f"""
        select {", ".join(["c.cell_id", *(f"r.{c}" for c in values + attributes), *(f"s.{i}" for i in item_ids)])}
        from ({rows}) as r inner join _cells as c on {same_cell}
        inner join {relation(submissions)} as s using (submission_id)
        order by c.cell_id, r.submission_id""").to_arrow_reader(BATCH_ROWS)
    parts = _read(reader, item_ids, values, attributes)
    table = session.sql(f"select {key_list} from _cells order by cell_id").to_arrow_table()
    session.execute("drop table _cells")
    numbers = pa.chunked_array(parts["first"]["cell_id"], pa.int64()).to_numpy()
    for name in attributes:  # a cell's attribute: its first row's
        table = table.append_column(name, pa.chunked_array(parts["first"][name], reader.schema.field(name).type)
                                    .combine_chunks().take(_positions(numbers, table.num_rows)))
    return CellRows(table, _stack(parts["cell"], np.int64, ()),
                    {v: _stack(parts[v], np.float64, ()) for v in values},
                    _stack(parts["responses"], np.int8, (len(item_ids),)))


def _read(reader, item_ids: list[str], values: tuple[str, ...], attributes: tuple[str, ...]) -> dict:
    """The batches of ``reader`` (cell_id, values, attributes, items) as lists of NumPy parts: "cell",
    each value, "responses" (int8), and "first": the cell number and attributes of each cell's first row."""
    parts = {"cell": [], "responses": [], **{v: [] for v in values},
             "first": {name: [] for name in ("cell_id", *attributes)}}
    last = -1  # the cell of the previous batch's last row
    for batch in reader:
        cell = batch.column("cell_id").to_numpy()
        starts = pa.array(np.r_[cell[0] != last, cell[1:] != cell[:-1]])
        last = cell[-1]
        parts["cell"].append(cell)
        for name, firsts in parts["first"].items():
            firsts.append(batch.column(name).filter(starts))
        for v in values:
            parts[v].append(batch.column(v).to_numpy())
        parts["responses"].append(np.column_stack([batch.column(i).fill_null(SKIPPED).to_numpy() for i in item_ids])
                                  .astype(np.int8, copy=False))
    return parts


def _positions(numbers: np.ndarray, n_cells: int) -> pa.Array:
    """For each of n_cells cell numbers, the position of its first row among ``numbers`` (null: none)."""
    at = np.zeros(n_cells, np.int64)
    at[numbers] = np.arange(len(numbers))
    has = np.zeros(n_cells, bool)
    has[numbers] = True
    return pa.array(at, mask=~has)


def _stack(parts: list[np.ndarray], dtype, shape: tuple) -> np.ndarray:
    """np.concatenate(parts), emptying ``parts``: each part is freed once copied, and the result's pages
    become resident as they are written, so the peak is about one copy, not two."""
    out = np.empty((sum(len(p) for p in parts), *shape), dtype)
    at = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        out[at:at + len(part)] = part
        at += len(part)
    return out


# -- large reads take turns ----------------------------------------------------------------------

# DuckDB's memory per row of a sorted read (cell number, submission id, weights, a byte per answer; its
# sort, the join before it): a read of ten million submissions' 8 M student rows peaked at 1.2 GB under a
# 1 GB limit (spilling) and took what it was given under 2 GB.
READ_BYTES_PER_ROW = 150
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "KB": 10**3, "MB": 10**6,
          "GB": 10**9, "TB": 10**12}
# How long a large read waits for its turn before it goes on without it (and risks DuckDB's memory): far
# longer than a model holds it (ten million submissions: ~95 s).
TURN_WAIT_SECONDS = 1800
# How long a turn waits for dbt's commit once the model's stream has ended: dbt gives it back after the
# commit (the post-hook `leap_turn_done`, dbt_project/functions.py); a model whose table failed to be
# written or committed runs no post-hook, and the next large read waits this long instead.
COMMIT_WAIT_SECONDS = 300


class _Turn:
    """The turn of the large reads: one sums model at a time holds it, from before its first read until
    dbt has committed its table (dbt builds a build's models in threads of one process). Side by side, at
    ten million, one model's sorted read beside another's read, or beside the commit of its table, ran
    DuckDB out of its 2 GB."""

    def __init__(self):
        self._lock = threading.Lock()  # held by the model whose turn it is
        self._state = threading.Lock()  # guards the two below
        self.holder: str | None = None
        self._timer: threading.Timer | None = None

    def take(self, model: str) -> bool:
        """Wait for the turn (at most TURN_WAIT_SECONDS); False when the model goes on without it."""
        if not self._lock.acquire(timeout=TURN_WAIT_SECONDS):
            log.warning("%s waited %d s for the turn of large reads and goes on without it", model, TURN_WAIT_SECONDS)
            return False
        with self._state:
            self.holder = model
        return True

    def stream_ended(self, model: str) -> None:
        """The model's last batch is taken: dbt writes and commits its table next. Its turn is given back
        by the post-hook after the commit, or after COMMIT_WAIT_SECONDS when none comes."""
        with self._state:
            if self.holder == model and self._timer is None:
                self._timer = threading.Timer(COMMIT_WAIT_SECONDS, self.give_back, [model])
                self._timer.daemon = True
                self._timer.start()

    def give_back(self, model: str) -> bool:
        """Give the turn back if ``model`` holds it (True); else nothing (False: a small read, or late)."""
        with self._state:
            if self.holder != model:
                return False
            self.holder = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._lock.release()
        return True


TURN = _Turn()


def memory_limit(session) -> int:
    """DuckDB's memory limit in bytes (the setting reads like '1.8 GiB')."""
    text = session.sql("select current_setting('memory_limit')").fetchall()[0][0]
    number, unit = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*", text).groups()
    return int(float(number) * _UNITS[unit])


def largest_instrument(session, respondents, condition: str = "true") -> int:
    """The counted respondents of the instrument with the most of them, in the rows of ``respondents`` (the
    ref of int_respondents) that meet ``condition`` (a model's changed partitions): the size of its
    largest read, in respondents."""
    counts = session.sql(f"select count(*) from {relation(respondents)} where {condition} group by instrument").fetchall()
    return max((n for (n,) in counts), default=0)


class _InTurn:
    """A model's batches while it holds the turn: their end tells the turn that dbt's commit comes next; a
    failure, or the batches dropped unread (a dbt error between the model's return and its table), gives
    the turn back at once."""

    def __init__(self, batches, model: str):
        self.batches, self.model, self.ended = iter(batches), model, False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.ended = True
            TURN.stream_ended(self.model)
            raise
        except BaseException:
            TURN.give_back(self.model)
            raise

    def __del__(self):
        if not self.ended:
            TURN.give_back(self.model)


def sums_stream(session, schema: pa.Schema, model: str, submissions: dict, batches_of, rows: int):
    """What the sums model ``model`` (its table's name) returns: for each instrument of ``submissions``
    ({instrument: the ref of its staging model}), ``batches_of(instrument, staged)`` (which reads the
    instrument's rows and returns its batches, summed as they are taken); every read is done before dbt
    writes the first batch.

    In turn (:data:`TURN`) when the reads are large: when two reads of ``rows`` rows (the model's largest)
    at READ_BYTES_PER_ROW would need more than half of DuckDB's memory limit (the other half for the models
    dbt builds beside them). Small ones (a million submissions: 0.8 M student rows, 0.2 GB) run side by
    side, as dbt schedules them."""
    in_turn = 2 * rows * READ_BYTES_PER_ROW > memory_limit(session) / 2 and TURN.take(model)
    try:
        parts = [batches_of(instrument, staged) for instrument, staged in submissions.items()]
    except BaseException:
        if in_turn:
            TURN.give_back(model)
        raise
    batches = (batch for part in parts for batch in part)
    return stream(session, schema, _InTurn(batches, model) if in_turn else batches)


def stream(session, schema: pa.Schema, batches):
    """What a model returns for dbt to write into its table (``create table as select``): the batches of
    ``schema`` as they come, so the model never holds its whole table. A relation of ``session``, so
    that dbt writes it in the model's transaction (any other object it writes on a new cursor, whose
    table the model's own transaction then does not see)."""
    return session.from_arrow(pa.RecordBatchReader.from_batches(schema, batches))


def table_batches(schema: pa.Schema, instrument: str, rows: CellRows, item_ids: list[str], blocks):
    """The record batches of a sums model's table, BATCH_ROWS at a time, from ``blocks``: per block of
    cells, equal-length arrays of the cells' numbers ("cell"), the items' positions in ``item_ids``
    ("item") and the table's other columns. Each row gets the instrument and its cell's keys and
    attributes; the columns are ordered and typed as ``schema``."""
    item_ids = pa.array(item_ids, pa.string())
    for block in blocks:
        for lo in range(0, len(block["cell"]), BATCH_ROWS):
            part = {name: values[lo:lo + BATCH_ROWS] for name, values in block.items()}
            cells = rows.cells.take(pa.array(part.pop("cell")))
            columns = {name: cells.column(name).combine_chunks() for name in cells.column_names}
            columns |= {"instrument": pa.repeat(pa.scalar(instrument, pa.string()), cells.num_rows),
                        "item_id": item_ids.take(pa.array(part.pop("item")))}
            columns |= {name: values if isinstance(values, pa.Array) else pa.array(values)
                        for name, values in part.items()}
            yield pa.RecordBatch.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)


def weighted_sum_batches(schema: pa.Schema, instrument: str, rows: CellRows, item_ids: list[str], blocks):
    """The record batches of a weighted sums model (int_school_item_sums, int_school_subgroup_sums) from
    ``blocks`` (weights.cell_sums.category_sum_blocks of the rows' answers and ``w``): a row per cell x
    item x category chosen: the category (null: skipped), n, w_sum, w2_sum, with the instrument, keys,
    item id."""
    return table_batches(schema, instrument, rows, item_ids, (
        {"cell": sums.cell, "item": sums.item, "category": pa.array(sums.category, mask=sums.category == SKIPPED),
         "n": sums.n, "w_sum": sums.w_sum, "w2_sum": sums.w2_sum} for sums in blocks))
