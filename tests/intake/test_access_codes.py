"""Access to a survey: codes (only keyed hashes stored), single use, following respondents across terms,
revocation, windows, signed tokens and the rate limiter. No broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support.intake import issue

from intake.access import (
    CODE_ALPHABET,
    CodeStore,
    Survey,
    current_school_year,
    is_open,
    new_code,
    normalize_code,
)
from intake.keys import Keyring, load_keyring
from intake.ratelimit import RateLimiter
from leap.errors import LeapError

SURVEY = Survey("SCH-0001", "student", "2026-27", "fall")
KEYS = Keyring(b"k" * 32)


def test_codes_are_60_random_bits_and_typos_of_look_alikes_still_open():
    code = new_code()
    assert len(code) == 14 and code.count("-") == 2
    assert all(c in CODE_ALPHABET for c in code.replace("-", ""))
    assert normalize_code(code.lower().replace("-", " ")) == code.replace("-", "")
    assert normalize_code("0OIL-1111-2222") == "0011" + "11112222"  # O read as 0, I and L as 1
    for bad in ("", None, "ABCD", "ABCD-EFGH-JKMU", "ABCD-EFGH-JKMN-P"):
        assert normalize_code(bad) is None


def test_only_keyed_hashes_are_stored(leap_env):
    codes = issue(leap_env, SURVEY, count=5, single_use=True)
    blob = leap_env.layout.intake_codes.read_bytes()
    for code in codes:
        assert code.encode() not in blob and code.replace("-", "").encode() not in blob
    keyring = load_keyring(leap_env)
    assert keyring.code_hash(codes[0].replace("-", "")).encode() in blob
    assert Keyring(b"x" * 32).code_hash("A" * 12) != keyring.code_hash("A" * 12), "the hash is keyed"
    assert oct(leap_env.layout.intake_codes.stat().st_mode & 0o777) == "0o600"


def test_a_single_use_code_is_spent_once_but_a_resend_passes(leap_env):
    store = CodeStore(leap_env.layout.intake_codes)
    code = issue(leap_env, SURVEY, single_use=True)[0]
    keys = load_keyring(leap_env)
    access = store.find(keys, code)
    assert access.single_use and len(access.respondent) == 32
    assert store.claim(access, "sub-1")
    assert store.claim(access, "sub-1"), "the same submission again"
    assert not store.claim(access, "sub-2")
    store.release(access, "sub-1")
    assert store.claim(access, "sub-2"), "a released code opens again"
    assert store.find(keys, code).used_by == "sub-2"


def test_shared_codes_have_no_respondent_and_are_never_spent(leap_env):
    store = CodeStore(leap_env.layout.intake_codes)
    access = store.find(load_keyring(leap_env), issue(leap_env, SURVEY)[0])
    assert not access.single_use and access.respondent is None
    assert store.claim(access, "a") and store.claim(access, "b")


def test_follow_gives_the_same_respondents_the_same_numbers_next_term(leap_env):
    store, keys = CodeStore(leap_env.layout.intake_codes), load_keyring(leap_env)
    _, fall = store.issue(keys, SURVEY, grade_band="middle", sample="nextgen", count=3, single_use=True)
    spring = Survey("SCH-0001", "student", "2026-27", "spring")
    _, matched = store.issue(keys, spring, grade_band="middle", sample="nextgen", count=0, single_use=False,
                             follow=SURVEY)
    assert [n for n, _ in matched] == [n for n, _ in fall] == [1, 2, 3]
    for (_, a), (_, b) in zip(fall, matched, strict=True):
        first, second = store.find(keys, a), store.find(keys, b)
        assert first.respondent == second.respondent and second.single_use
        assert second.survey == spring and second.sample == "nextgen"
    with pytest.raises(LeapError, match="no single-use codes to follow"):
        store.issue(keys, SURVEY, grade_band="middle", sample="nextgen", count=0, single_use=False,
                    follow=Survey("SCH-0002", "student", "2026-27", "fall"))


def test_numbers_continue_across_batches_and_revoked_codes_stop_working(leap_env):
    store, keys = CodeStore(leap_env.layout.intake_codes), load_keyring(leap_env)
    first, one = store.issue(keys, SURVEY, grade_band="middle", sample="nextgen", count=2, single_use=True)
    _, two = store.issue(keys, SURVEY, grade_band="middle", sample="nextgen", count=2, single_use=True)
    assert [n for n, _ in two] == [3, 4]
    assert store.revoke_batch(first) == 2 and store.find(keys, one[0][1]) is None
    assert store.revoke_code(keys, two[0][1]) == 1 and store.find(keys, two[0][1]) is None
    assert store.find(keys, two[1][1]) is not None
    rows = {r["batch_id"]: r for r in store.batches()}
    assert rows[first]["revoked"] == 2 and rows[first]["codes"] == 2


@pytest.mark.parametrize(("when", "term", "open_"), [
    ("2026-08-01T00:00:00+14:00", "fall", True),  # the first minute of the first day anywhere
    ("2026-07-31T09:59:00+00:00", "fall", False),
    ("2026-11-30T23:59:00-12:00", "fall", True),  # the last minute of the last day anywhere
    ("2026-12-01T12:00:00+00:00", "fall", False),
    ("2027-01-20T12:00:00+00:00", "winter", True),
    ("2027-03-01T12:00:00+00:00", "winter", False),
])
def test_the_window_is_open_wherever_its_dates_are_local(when, term, open_):
    assert is_open(Survey("S", "teacher", "2026-27", term), datetime.fromisoformat(when)) is open_


def test_the_school_year_begins_with_the_fall_window():
    assert current_school_year(datetime(2026, 12, 5, tzinfo=UTC)) == "2026-27"
    assert current_school_year(datetime(2027, 7, 31, tzinfo=UTC)) == "2026-27"
    assert current_school_year(datetime(2027, 8, 1, tzinfo=UTC)) == "2027-28"
    assert current_school_year(datetime(2099, 8, 1, tzinfo=UTC)) == "2099-00"


def test_signed_tokens_verify_for_their_purpose_only():
    token = KEYS.sign("form", {"code": 7})
    assert KEYS.unsign("form", token) == {"code": 7}
    assert KEYS.unsign("csrf", token) is None
    assert Keyring(b"j" * 32).unsign("form", token) is None
    body, mac = token.split(".")
    assert KEYS.unsign("form", body[:-2] + "xx." + mac) is None
    for junk in (None, "", ".", "a.b.c", "!!.??"):
        assert KEYS.unsign("form", junk) is None


def test_the_csrf_field_must_carry_the_cookies_nonce_and_its_mac():
    cookie, field = KEYS.csrf_pair()
    assert KEYS.csrf_ok(cookie, field)
    other_cookie, other_field = KEYS.csrf_pair()
    assert not KEYS.csrf_ok(other_cookie, field) and not KEYS.csrf_ok(cookie, other_field)
    assert not KEYS.csrf_ok(cookie, f"{cookie}.forged") and not KEYS.csrf_ok(None, field)
    assert not KEYS.csrf_ok(cookie, None) and not KEYS.csrf_ok(cookie, cookie)


def test_a_short_key_is_refused():
    with pytest.raises(LeapError, match="fewer than 16"):
        Keyring(b"short")


def test_the_token_bucket_allows_the_burst_then_the_rate():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, max_keys=2, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take("a") == 0 and limiter.take("a") > 0
    assert limiter.take("b") == 0, "keys have their own buckets"
    limiter.take("c")
    assert "a" not in limiter._buckets, "the least recently used key goes first"
