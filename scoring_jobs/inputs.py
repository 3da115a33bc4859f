"""What the scoring jobs read from the warehouse: the counted respondents of a term, as responses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leap.errors import LeapError


def term_frame(con, instrument: str, school_year: str, term: str, items: list[str]) -> pd.DataFrame:
    """Counted respondents of a term with their item columns, ordered by submission id."""
    cols = ", ".join(f"s.{i}" for i in items)
    sql = f"""
        select r.submission_id, r.respondent_key, r.school_id, r.grade_band, r.sample,
               s.instrument_version, {cols}
        from intermediate.int_respondents as r
        inner join staging.stg_lake__{instrument}_submissions as s using (submission_id)
        where r.instrument = ? and r.school_year = ? and r.term = ?
        order by r.submission_id"""
    try:
        return con.execute(sql, [instrument, school_year, term]).df()
    except Exception as exc:  # noqa: BLE001 - duckdb raises CatalogException etc.
        raise LeapError(f"cannot read {instrument} responses of {school_year} {term} from the warehouse: {exc}",
                        hint="build the warehouse first with `leap warehouse build`") from None


def responses(frame: pd.DataFrame, items: list[str]) -> np.ndarray:
    if frame.empty:
        return np.zeros((0, len(items)), dtype=np.int64)
    return frame[items].astype("float64").fillna(-1).to_numpy().astype(np.int64)


