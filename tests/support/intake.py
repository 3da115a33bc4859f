"""The intake service for tests: a fixed clock, issued codes, valid events, the topic's end offsets."""

from __future__ import annotations

import random
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from intake.access import CodeStore, Survey
from intake.app import create_app
from intake.config import IntakeConfig
from intake.keys import load_keyring
from leap.instrument import load_catalog

# A day inside the winter 2026-27 window (December 1 to February 28): tests do not depend on today.
NOW = datetime(2027, 1, 20, 15, 30, tzinfo=UTC)
WINTER = ("2026-27", "winter")
RAW_RESPONDENT = "student-name-Zq81xRw"  # a respondent id no log line or lake file may contain


def clock(at: datetime = NOW):
    return lambda: at


def issue(settings, survey: Survey, count: int = 1, single_use: bool = False, grade_band: str = "middle",
          sample: str = "leap_network") -> list[str]:
    """Codes for a survey, issued as `leap intake codes issue` does."""
    store = CodeStore(settings.layout.intake_codes)
    try:
        _, codes = store.issue(load_keyring(settings), survey, grade_band=grade_band, sample=sample, count=count,
                               single_use=single_use)
    finally:
        store.close()
    return [code for _, code in codes]


def event(survey: Survey, respondent: str = RAW_RESPONDENT, seed: int = 0, at: datetime = NOW, **extra) -> dict:
    """A valid v1 event for the survey (every item answered at random)."""
    rng = random.Random(seed)
    ins = load_catalog().latest(survey.instrument)
    return {"submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "instrument": survey.instrument,
            "instrument_version": ins.version, "school_id": survey.school_id, "respondent_id": respondent,
            "school_year": survey.school_year, "term": survey.term,
            "submitted_at": at.isoformat(timespec="seconds"), "grade_band": "middle", "sample": "leap_network",
            "responses": {i.item_id: rng.randint(0, i.max_category) for i in ins.items}, **extra}


@contextmanager
def intake_client(settings, config: IntakeConfig | None = None, at: datetime = NOW, ready: bool = True,
                  clock_fn=None):
    """A TestClient of the service (lifespan run: producer started, flushed at exit), ready when asked; its
    clock stands at ``at`` unless ``clock_fn`` moves it."""
    app = create_app(settings, config or IntakeConfig(), clock_fn or clock(at))
    with TestClient(app, base_url="http://testserver") as client:
        if ready:
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the intake service never became ready"
                time.sleep(0.1)
        yield client


def end_offsets(settings) -> int:
    """Sum of the submissions topic's end offsets: what was ever produced to it."""
    from kafka import TopicPartition

    from ingestion.broker import metadata_consumer, partitions_for

    consumer = metadata_consumer(settings)
    try:
        parts = [TopicPartition(settings.topic, p) for p in partitions_for(settings, settings.topic)]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


class PageStructure(HTMLParser):
    """What a survey page is made of, read with the standard library's parser: the ``html`` element's
    attributes, every control (input, select, button) with its attributes, label texts by ``for``, and
    the fieldsets with their legend text and the names of their controls."""

    def __init__(self, html: str):
        super().__init__()
        self.html_attrs: dict = {}
        self.controls: list[dict] = []
        self.labels: dict[str, str] = {}
        self.fieldsets: list[dict] = []
        self._label_for: str | None = None
        self._in_legend = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.html_attrs = a
        elif tag in ("input", "select", "button", "textarea"):
            self.controls.append({"tag": tag, **a})
            if self.fieldsets and tag != "button":
                self.fieldsets[-1]["names"].add(a.get("name"))
        elif tag == "label":
            self._label_for = a.get("for", "")
            self.labels[self._label_for] = ""
        elif tag == "fieldset":
            self.fieldsets.append({"legend": "", "names": set()})
        elif tag == "legend":
            self._in_legend = True

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_for = None
        elif tag == "legend":
            self._in_legend = False

    def handle_data(self, data):
        if self._label_for is not None:
            self.labels[self._label_for] += data
        if self._in_legend:
            self.fieldsets[-1]["legend"] += data

    def hidden(self, name: str) -> str:
        return next(c["value"] for c in self.controls if c.get("name") == name and c.get("type") == "hidden")


def open_survey(client, survey: Survey, code: str):
    """The start page, then the access code posted with its CSRF token: the survey form's response."""
    start = client.get(survey.path)
    csrf = PageStructure(start.text).hidden("csrf")
    return client.post(survey.path + "/start", data={"csrf": csrf, "access_code": code})


def topic_records(settings, expected: int, timeout: float = 20.0) -> list[tuple[bytes, bytes]]:
    """(key, value) of every record of the submissions topic, once ``expected`` are there."""
    from kafka import TopicPartition

    from ingestion.broker import metadata_consumer, partitions_for

    consumer = metadata_consumer(settings, auto_offset_reset="earliest")
    try:
        consumer.assign([TopicPartition(settings.topic, p) for p in partitions_for(settings, settings.topic)])
        consumer.seek_to_beginning()
        out: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, r.value) for r in batch)
        return out
    finally:
        consumer.close()


def submit_form(client, survey: Survey, form_page, answers: dict | None = None, **override):
    """Post the survey form of ``form_page`` with ``answers`` ({item id: category}); ``override`` replaces
    (or, with None, removes) the hidden fields."""
    page = PageStructure(form_page.text)
    data = {"csrf": page.hidden("csrf"), "form": page.hidden("form"),
            **{f"q_{k}": str(v) for k, v in (answers or {}).items()}}
    data.update(override)
    return client.post(survey.path + "/submit", data={k: v for k, v in data.items() if v is not None})


@contextmanager
def served(app):
    """The application served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    import threading

    import uvicorn

    from support.kafka import free_port

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="intake-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
