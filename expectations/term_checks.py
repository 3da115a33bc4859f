"""The batch statistics of a term, over every validated file of it, after each validation run.

Two checks of the per-file suites are statistics of a batch: no item skipped by more than
``max_skip_share_per_item`` of the submissions, and at least ``answered_share_mostly`` of the
submissions answering their version's minimum share of items. A file smaller than
``min_rows_for_batch_statistics`` is not judged on them (one respondent of three who skips an item is
33%): a service-mode stream writes such files every 2 s. Here the same thresholds (thresholds.yml)
judge the term as a whole, the accumulated validated data. A finding is reported (the run's report,
`leap validate run`, and ``lake/_validation/term_checks/<instrument>/<year>/<term>.json``), never a
quarantine: which small file would one quarantine?
"""

from __future__ import annotations

import json
from pathlib import Path

from leap.config import Settings
from leap.fsutil import write_atomic
from leap.instrument import load_catalog


def check_terms(settings: Settings, partitions: set[tuple[str, str, str]]) -> list[dict]:
    """Findings of the given (instrument, school year, term) partitions; writes each one's document."""
    from expectations.config import load_thresholds

    _, thresholds = load_thresholds()
    findings = []
    for instrument, year, term in sorted(partitions):
        files = sorted((settings.layout.validated / f"instrument={instrument}" / f"school_year={year}"
                        / f"term={term}").glob("*.parquet"))
        if not files or instrument not in thresholds:
            continue
        doc = _check(files, instrument, thresholds[instrument])
        doc = {"instrument": instrument, "school_year": year, "term": term, **doc}
        out = settings.layout.validation_term_checks / instrument / year / f"{term}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, (json.dumps(doc, indent=2) + "\n").encode())
        findings += [{"instrument": instrument, "school_year": year, "term": term, **f} for f in doc["findings"]]
    return findings


def _check(files: list[Path], instrument: str, th) -> dict:
    import duckdb

    catalog = load_catalog()
    items = catalog.item_columns(instrument)
    versions = {v.version: v for v in catalog.versions(instrument)}
    con = duckdb.connect()
    try:
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)  # a view cannot take parameters
        con.execute(f"create view term as select * from read_parquet([{listed}], union_by_name = true)")
        n, *answered = con.execute(f"select count(*), {', '.join(f'count({i})' for i in items)} from term").fetchone()
        short = _short_submissions(con, versions)
    finally:
        con.close()
    if n < th.min_rows_for_batch_statistics:
        return {"rows": n, "evaluated": False, "findings": []}
    skips = {i: 1 - a / n for i, a in zip(items, answered, strict=True)}
    findings = [{"check": "skips", "item": i, "value": round(v, 4), "limit": th.max_skip_share_per_item}
                for i, v in skips.items() if v > th.max_skip_share_per_item]
    enough = 1 - short / n
    if enough < th.answered_share_mostly:
        findings.append({"check": "answered_share", "item": None, "value": round(enough, 4),
                         "limit": th.answered_share_mostly})
    return {"rows": n, "evaluated": True, "skip_shares": {i: round(v, 4) for i, v in skips.items()},
            "answered_enough_share": round(enough, 4), "findings": findings}


def _short_submissions(con, versions: dict) -> int:
    """Submissions answering fewer than their version's ``min_answered_share`` of its items."""
    total = 0
    for version, ins in versions.items():
        answered = " + ".join(f"({i} is not null)::int" for i in ins.item_ids)
        total += con.execute(f"select count(*) from term where instrument_version = ? and "
                             f"({answered}) < ? * {len(ins.item_ids)}", [version, ins.min_answered_share]).fetchone()[0]
    return total
