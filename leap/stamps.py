"""What each warehouse step last built from: the stamps that let an unchanged chain do nothing.

A step of the chain (the dbt build, the scoring of a term, publishing) is a function of its inputs:
the validated lake, the code that transforms it, and what earlier steps wrote. Its *fingerprint* hashes
those inputs; after the step succeeds, the fingerprint is recorded as its *stamp*. When the chain runs
again and a step's fingerprint equals its stamp, the step's outputs are already what it would produce,
so it is skipped: a re-run with no new data changes nothing and takes seconds.

Stamps live in the warehouse itself (schema ``leap_state``), so deleting or replacing the warehouse
forgets them with it. What the steps read outside dbt (the validated lake, the scoring jobs' tables) is
files, fingerprinted by :func:`files_fingerprint`: a manual ``leap scoring score`` rewrites a file and so
invalidates what reads it, as a scheduled one does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SCHEMA = "leap_state"
REPO = Path(__file__).resolve().parents[1]
# The code a warehouse result depends on: dbt's models and macros, the scoring jobs, the platform core
# (instrument definitions, weights, inference). A change to any of these files invalidates every stamp.
CODE_DIRS = ("dbt_project", "scoring_jobs", "leap")
CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv", ".json"}


def fingerprint(*parts: object) -> str:
    """A 128-bit hash of JSON-serializable parts (order matters)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def files_fingerprint(root: Path, pattern: str) -> str:
    """A hash of the files under ``root`` matching ``pattern``: relative path, size and mtime of each
    (the lake's files are written once, atomically; a rewrite changes the size or mtime)."""
    if not root.exists():
        return fingerprint([])
    listing = []
    for path in sorted(root.glob(pattern)):
        st = path.stat()
        listing.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    return fingerprint(listing)


_code: str | None = None


def code_fingerprint() -> str:
    """A hash of the content of the code the warehouse results depend on (computed once per process)."""
    global _code
    if _code is None:
        h = hashlib.blake2b(digest_size=16)
        for top in CODE_DIRS:
            for path in sorted((REPO / top).rglob("*")):
                if path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts and "target" not in path.parts:
                    h.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
        _code = h.hexdigest()
    return _code


def _ensure(con) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {SCHEMA}.stamps (step varchar primary key, fingerprint varchar, "
                "result varchar, recorded_at timestamptz default current_timestamp)")


def _has_schema(con) -> bool:
    return bool(con.execute("select count(*) from duckdb_tables() where schema_name = ? and database_name = "
                            "current_database()", [SCHEMA]).fetchone()[0])


def stamp(con, step: str) -> str | None:
    """The fingerprint ``step`` last succeeded with, or None."""
    if not _has_schema(con):
        return None
    row = con.execute(f"select fingerprint from {SCHEMA}.stamps where step = ?", [step]).fetchone()
    return row[0] if row else None


def stamps_under(con, prefix: str) -> dict[str, str]:
    """{step without ``prefix``: fingerprint} of the steps whose name starts with ``prefix``."""
    if not _has_schema(con):
        return {}
    rows = con.execute(f"select step, fingerprint from {SCHEMA}.stamps where starts_with(step, ?)", [prefix])
    return {step[len(prefix):]: fp for step, fp in rows.fetchall()}


def last_result(con, step: str) -> dict:
    """What ``step`` returned when its stamp was recorded ({} if never)."""
    if not _has_schema(con):
        return {}
    row = con.execute(f"select result from {SCHEMA}.stamps where step = ?", [step]).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def record(con, step: str, fp: str, result: dict | None = None) -> None:
    """Record that ``step`` succeeded with inputs ``fp`` (and returned ``result``, JSON-safe)."""
    _ensure(con)
    con.execute(f"insert or replace into {SCHEMA}.stamps (step, fingerprint, result, recorded_at) "
                "values (?, ?, ?, current_timestamp)", [step, fp, json.dumps(result or {}, default=str)])


def forget(con, prefix: str = "") -> None:
    """Drop the stamps of the steps whose name starts with ``prefix`` (all by default)."""
    if _has_schema(con):
        con.execute(f"delete from {SCHEMA}.stamps where starts_with(step, ?)", [prefix])
