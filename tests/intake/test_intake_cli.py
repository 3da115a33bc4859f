"""`leap intake codes issue|list|revoke|openapi`, and `leap intake serve` as a process: ready with Kafka
behind it, takes a submission, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import orjson
import pytest
from support.intake import RAW_RESPONDENT, WINTER, end_offsets, event, issue
from support.kafka import free_port

from intake.access import CodeStore, Survey
from intake.app import OPENAPI_FILE
from intake.keys import load_keyring
from leap.cli import main

TEACHERS = Survey("SCH-0100", "teacher", *WINTER)


def leap(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_issue_prints_the_link_and_the_codes_once(leap_env, capsys, monkeypatch):
    monkeypatch.setenv("LEAP_INTAKE_PUBLIC_URL", "https://survey.example.org/")
    code, out, _ = leap(capsys, "intake", "codes", "issue", "--school", "SCH-0100", "--instrument", "student",
                        "--term", "winter", "--school-year", "2026-27", "--grade-band", "high", "--count", "3",
                        "--single-use")
    assert code == 0
    assert "Survey link: https://survey.example.org/s/SCH-0100/student/2026-27/winter" in out
    assert "Open: December 1, 2026 to February 28, 2027" in out and "3 single-use access codes" in out
    codes = re.findall(r"^ +\d+  ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})$", out, flags=re.MULTILINE)
    assert len(codes) == 3
    store, keys = CodeStore(leap_env.layout.intake_codes), load_keyring(leap_env)
    found = [store.find(keys, c) for c in codes]
    assert all(a and a.single_use and a.grade_band == "high" and a.sample == "leap_network" for a in found)


def test_follow_csv_list_and_revoke(leap_env, capsys):
    base = ["intake", "codes", "issue", "--school", "SCH-0100", "--instrument", "student", "--school-year", "2026-27",
            "--grade-band", "middle"]
    assert leap(capsys, *base, "--term", "fall", "--count", "2", "--single-use")[0] == 0
    code, out, _ = leap(capsys, *base, "--term", "spring", "--follow", "fall", "--csv")
    rows = out.splitlines()
    assert code == 0 and rows[0] == "number,code,link" and [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    code, out, _ = leap(capsys, "intake", "codes", "list", "--json")
    batches = json.loads(out)
    assert [(b["term"], b["codes"], b["single_use"]) for b in batches] == [("fall", 2, 1), ("spring", 2, 1)]
    assert leap(capsys, "intake", "codes", "revoke", "--batch", batches[0]["batch_id"])[1] == "revoked 2 access codes\n"
    assert leap(capsys, "intake", "codes", "revoke", "--code", rows[1].split(",")[1])[0] == 0
    assert leap(capsys, "intake", "codes", "revoke", "--code", rows[1].split(",")[1])[0] == 1, "already revoked"
    listing = leap(capsys, "intake", "codes", "list")[1]
    assert "single-use" in listing and rows[1].split(",")[1] not in listing


@pytest.mark.parametrize(("args", "message"), [
    (["--school", "SCH 1"], "school id"), (["--instrument", "parent"], "instrument 'parent'"),
    (["--term", "summer"], "term 'summer'"), (["--school-year", "2026-28"], "second year"),
    (["--grade-band", "college"], "grade band"), (["--count", "0"], "between 1 and 10000"),
])
def test_bad_arguments_are_one_clear_error(leap_env, capsys, args, message):
    argv = {"--school": "SCH-1", "--instrument": "teacher", "--term": "fall", "--grade-band": "middle",
            "--count": "1", "--school-year": "2026-27"}
    argv.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, _, err = leap(capsys, "intake", "codes", "issue", *[x for kv in argv.items() for x in kv])
    assert code == 2 and message in err


def test_openapi_prints_the_committed_description(capsys):
    code, out, _ = leap(capsys, "intake", "openapi")
    assert code == 0 and out == OPENAPI_FILE.read_text()


def test_serve_takes_a_submission_and_stops_cleanly_on_sigterm(platform):
    code = issue(platform, TEACHERS)[0]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "leap.cli", "intake", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc)
        body = orjson.dumps(event(TEACHERS, at=_now_in_window()))
        request = urllib.request.Request(base + "/v1/submissions", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "X-Access-Code": code})
        accepted = _status(request)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert accepted in (202, 403), err  # 403 (outside_window) on the days no term is open (July)
    assert end_offsets(platform) == (1 if accepted == 202 else 0)
    assert "Application startup complete" in err and "Finished server process" in err
    assert RAW_RESPONDENT not in err and code not in err


def _now_in_window():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _wait_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while _status(urllib.request.Request(base + "/readyz")) != 200:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "leap intake serve never became ready"
        time.sleep(0.2)


def _status(request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
