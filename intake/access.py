"""Who may submit what, and when: survey links, access codes and administration windows.

A **survey** is one school, instrument, school year and term; its link is
``/s/<school>/<instrument>/<school_year>/<term>``. An **access code** opens one survey. The platform
keeps only each code's keyed hash (:meth:`intake.keys.Keyring.code_hash`) in a small SQLite file
(``settings.layout.intake_codes``); ``leap intake codes issue`` prints the codes once.

A code is either **shared** (every teacher of a school types the same code; each form gets a random
respondent id, so shared-code respondents are not matched across terms) or **single-use** (one per
respondent; it is spent by the first accepted submission, a resend of that same submission id is still
accepted). Each single-use code carries a random **respondent handle**, the ``respondent_id`` its
submission sends: pseudonymized at ingestion, stable for the respondent. ``--follow fall`` issues spring
codes for the respondents of the fall codes (same handles, same numbers), so a school that hands code
number 17 to the same student both times gets fall and spring matched without the platform ever knowing
who the student is.

The **window** of a survey is its term's administration window (``terms.csv``) as calendar dates,
open wherever those dates are local: from the first date's midnight at UTC+14 to the last date's end at
UTC-12, so no school, whatever its time zone, finds its survey closed on an open day.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingestion.contract import Rejected, check_year
from intake.keys import Keyring
from leap import instrument
from leap.errors import LeapError

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U to misread
CODE_LENGTH = 12  # 60 random bits: unguessable at any rate the limits allow
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
SCHOOL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the event schema's school_id pattern
SCHOOL_YEAR = re.compile(r"[0-9]{4}-[0-9]{2}")
EARLIEST_ZONE, LATEST_ZONE = timedelta(hours=14), timedelta(hours=12)  # UTC+14 starts a day first, UTC-12 ends it last

_SCHEMA = """
create table if not exists codes (
    code_id     integer primary key,
    code_hash   text not null unique,  -- HMAC-SHA256 of the normalized code under the intake key
    batch_id    text not null,         -- one `leap intake codes issue`
    seq         integer not null,      -- the number printed beside the code: one number, one respondent
    school_id   text not null,
    instrument  text not null,
    school_year text not null,
    term        text not null,
    grade_band  text not null,
    sample      text not null,
    single_use  integer not null,
    respondent  text,                  -- single-use: the respondent handle its submission sends
    issued_at   text not null,
    revoked_at  text,
    used_by     text,                  -- single-use: the submission id that spent it
    used_at     text
);
create index if not exists codes_survey on codes (school_id, instrument, school_year, term);
"""


@dataclass(frozen=True)
class Survey:
    """What a survey link names."""

    school_id: str
    instrument: str
    school_year: str
    term: str

    @property
    def path(self) -> str:
        return f"/s/{self.school_id}/{self.instrument}/{self.school_year}/{self.term}"


@dataclass(frozen=True)
class Access:
    """A valid (issued, not revoked) access code."""

    code_id: int
    survey: Survey
    grade_band: str
    sample: str
    single_use: bool
    respondent: str | None
    used_by: str | None


# --------------------------------------------------------------------------- codes and windows


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str | None) -> str | None:
    """The code as stored (upper case, no dashes or spaces, O read as 0 and I/L as 1); None if it
    cannot be a code."""
    code = (text or "").strip().upper().translate(_MISREAD)
    return code if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code) else None


def open_window(school_year: str, term: str) -> tuple[datetime, datetime]:
    """[opens, closes) in UTC of a term's administration window, open wherever its dates are local."""
    first, last = instrument.term_window(school_year, term)
    opens = datetime.fromisoformat(first).replace(tzinfo=UTC) - EARLIEST_ZONE
    closes = datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1) + LATEST_ZONE
    return opens, closes


def is_open(survey: Survey, now: datetime) -> bool:
    opens, closes = open_window(survey.school_year, survey.term)
    return opens <= now < closes


def current_school_year(now: datetime) -> str:
    """The school year a date falls in: it begins on the first term's window start (08-01)."""
    first_term = instrument.terms()[0]
    start_mmdd = instrument.term_windows()[first_term]["window_start_mmdd"]
    year = now.year if now.strftime("%m-%d") >= start_mmdd else now.year - 1
    return f"{year}-{(year + 1) % 100:02d}"


def survey_problem(survey: Survey) -> str | None:
    """Why a survey cannot exist (unknown instrument or term, malformed school or year), or None."""
    if not SCHOOL_ID.fullmatch(survey.school_id):
        return f"school id {survey.school_id!r} must be 1-64 of A-Z a-z 0-9 _ -"
    if survey.instrument not in instrument.load_catalog().names:
        return f"instrument {survey.instrument!r} is not one of {', '.join(instrument.load_catalog().names)}"
    if survey.term not in instrument.terms():
        return f"term {survey.term!r} is not one of {', '.join(instrument.terms())}"
    if not SCHOOL_YEAR.fullmatch(survey.school_year):
        return f"school year {survey.school_year!r} is not YYYY-YY"
    try:
        check_year(survey.school_year)
    except Rejected as exc:
        return exc.detail
    return None


# --------------------------------------------------------------------------- the store


class CodeStore:
    """The access codes, in SQLite (WAL: the server processes read while an admin command writes)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        if new:
            path.chmod(0o600)  # SQLite gives its -wal and -shm files the database file's mode
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")  # durable at checkpoints; a lost claim re-opens a code
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def issue(self, keyring: Keyring, survey: Survey, *, grade_band: str, sample: str, count: int,
              single_use: bool, follow: Survey | None = None) -> tuple[str, list[tuple[int, str]]]:
        """New codes for a survey; returns the batch id and (number, code) pairs, the only time codes exist
        in clear. ``follow``: one single-use code per respondent of that survey's single-use codes, under the
        same numbers."""
        batch, now, issued = uuid.uuid4().hex[:12], _now_text(), []
        with closing(self._db.cursor()) as cur:
            cur.execute("begin immediate")  # two admins issuing at once never draw the same numbers
            try:
                pairs = _followed(cur, follow) if follow else _numbered(cur, survey, count, single_use)
                for seq, respondent in pairs:
                    code = new_code()
                    cur.execute("insert into codes (code_hash, batch_id, seq, school_id, instrument, school_year, "
                                "term, grade_band, sample, single_use, respondent, issued_at) "
                                "values (?,?,?,?,?,?,?,?,?,?,?,?)",
                                (keyring.code_hash(normalize_code(code)), batch, seq, *_key(survey), grade_band,
                                 sample, int(respondent is not None), respondent, now))
                    issued.append((seq, code))
            except BaseException:
                cur.execute("rollback")
                raise
            cur.execute("commit")
        return batch, issued

    def find(self, keyring: Keyring, code: str | None) -> Access | None:
        normalized = normalize_code(code)
        if normalized is None:
            return None
        return self._one("code_hash = ?", keyring.code_hash(normalized))

    def get(self, code_id: int) -> Access | None:
        return self._one("code_id = ?", code_id)

    def _one(self, where: str, value) -> Access | None:
        row = self._db.execute("select code_id, school_id, instrument, school_year, term, grade_band, sample, "
                               f"single_use, respondent, used_by from codes where {where} and revoked_at is null",
                               (value,)).fetchone()
        if row is None:
            return None
        return Access(row[0], Survey(*row[1:5]), row[5], row[6], bool(row[7]), row[8], row[9])

    def claim(self, access: Access, submission_id: str) -> bool:
        """Spend a single-use code on a submission (again for the same submission: a resend). Shared: True."""
        if not access.single_use:
            return True
        cur = self._db.execute("update codes set used_by = ?, used_at = ? where code_id = ? and revoked_at is null "
                               "and (used_by is null or used_by = ?)",
                               (submission_id, _now_text(), access.code_id, submission_id))
        return cur.rowcount == 1

    def release(self, access: Access, submission_id: str) -> None:
        """Give a claimed code back when its submission was definitely not produced."""
        self._db.execute("update codes set used_by = null, used_at = null where code_id = ? and used_by = ?",
                         (access.code_id, submission_id))

    def batches(self) -> list[dict]:
        cur = self._db.execute(
            "select batch_id, min(issued_at), school_id, instrument, school_year, term, max(single_use), count(*), "
            "count(used_by), count(revoked_at), min(seq), max(seq) from codes group by batch_id, school_id, "
            "instrument, school_year, term order by min(code_id)")
        names = ("batch_id", "issued_at", "school_id", "instrument", "school_year", "term", "single_use", "codes",
                 "used", "revoked", "first", "last")
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def revoke_batch(self, batch_id: str) -> int:
        return self._db.execute("update codes set revoked_at = ? where batch_id = ? and revoked_at is null",
                                (_now_text(), batch_id)).rowcount

    def revoke_code(self, keyring: Keyring, code: str) -> int:
        normalized = normalize_code(code)
        if normalized is None:
            return 0
        return self._db.execute("update codes set revoked_at = ? where code_hash = ? and revoked_at is null",
                                (_now_text(), keyring.code_hash(normalized))).rowcount


def _numbered(cur, survey: Survey, count: int, single_use: bool) -> list[tuple[int, str | None]]:
    """Numbers after the survey's last one; a fresh random respondent handle per single-use code."""
    last = cur.execute("select coalesce(max(seq), 0) from codes where school_id=? and instrument=? and "
                       "school_year=? and term=?", _key(survey)).fetchone()[0]
    return [(last + i, uuid.uuid4().hex if single_use else None) for i in range(1, count + 1)]


def _followed(cur, follow: Survey) -> list[tuple[int, str]]:
    rows = cur.execute("select seq, respondent from codes where school_id=? and instrument=? and school_year=? "
                       "and term=? and single_use=1 and revoked_at is null order by seq", _key(follow)).fetchall()
    if not rows:
        raise LeapError(f"no single-use codes to follow for {follow.school_id} {follow.instrument} "
                        f"{follow.school_year} {follow.term}",
                        hint="issue single-use codes for that term first, or leave out --follow")
    first: dict[str, int] = {}
    for seq, respondent in rows:  # a respondent reissued a code keeps its first number
        first.setdefault(respondent, seq)
    return [(seq, respondent) for respondent, seq in first.items()]


def _key(survey: Survey) -> tuple[str, str, str, str]:
    return survey.school_id, survey.instrument, survey.school_year, survey.term


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
