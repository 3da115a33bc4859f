"""End to end on the real broker: simulated submissions with a seeded share of bad batches flow
through ingestion and validation; every bad batch is quarantined, every good one promoted, and the
counts reconcile exactly (produced = validated + quarantined + dead-lettered)."""

from __future__ import annotations

import json
import random
import uuid

import duckdb
import pytest
from support.streams import MALFORMED, produce

from expectations.runner import run_validation
from ingestion.consumer import run_ingestion
from leap.config import load_settings
from leap.instrument import load_catalog

pytestmark = [pytest.mark.e2e, pytest.mark.broker]

ANSWERS = [0, 1, 2, 3, 4] * 5 + [None]  # ~5% skipped, as in the field


def _event(rng: random.Random, school: str, i: int, submitted_at: str) -> dict:
    ins = load_catalog().latest("teacher")
    return {"submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "instrument": "teacher",
            "instrument_version": ins.version, "school_id": school, "respondent_id": f"T-{school}-{i}",
            "school_year": "2024-25", "term": "fall", "submitted_at": submitted_at, "grade_band": "middle",
            "sample": "national", "responses": {k: rng.choice(ANSWERS) for k in ins.item_ids}}


class Good:
    """Good teacher submissions of 30 schools in fall 2024, every ``malformed_every``-th one malformed."""

    def __init__(self, n: int, seed: int, malformed_every: int):
        rng = random.Random(seed)
        self.records, self.valid_ids, self.malformed = [], set(), 0
        for i in range(n):
            school = f"SCH-{rng.randrange(30):04d}"
            day = 1 + rng.randrange(28)
            event = _event(rng, school, i, f"2024-{rng.choice(['08', '09', '10', '11'])}-{day:02d}T13:00:00Z")
            if i % malformed_every == malformed_every - 1:
                make, _reason = MALFORMED[(i // malformed_every) % len(MALFORMED)]
                self.records.append((school.encode(), make(event)))
                self.malformed += 1
                continue
            self.records.append((school.encode(), json.dumps(event).encode()))
            self.valid_ids.add(event["submission_id"])


def bad_batches(seed: int) -> tuple[list[list[tuple[bytes, bytes]]], set[str], dict[str, str]]:
    """Individually valid events that make a whole batch fail: a school whose clock is wrong
    (fall submissions dated in January) and a school flooding 300 submissions (limit 250).
    One list of records per bad batch (each landed by its own ingestion run)."""
    rng = random.Random(seed)
    events = {"SCH-0900": [_event(rng, "SCH-0900", i, "2025-01-15T10:00:00Z") for i in range(40)],
              "SCH-0901": [_event(rng, "SCH-0901", i, "2024-10-02T09:30:00Z") for i in range(300)]}
    batches = [[(s.encode(), json.dumps(e).encode()) for e in evs] for s, evs in events.items()]
    ids = {e["submission_id"] for evs in events.values() for e in evs}
    return batches, ids, {"SCH-0900": "window.submitted_at", "SCH-0901": "batch.school_flood"}


def _ids(zone_dir) -> list[str]:
    files = [str(p) for p in zone_dir.rglob("*.parquet") if "_released" not in p.parts]
    if not files:
        return []
    return [r[0] for r in duckdb.connect().execute(
        "select submission_id from read_parquet($f, union_by_name=true)", {"f": files}).fetchall()]


def test_bad_batches_quarantined_good_ones_promoted_counts_reconcile(platform, monkeypatch):
    monkeypatch.setenv("LEAP_FLUSH_SECONDS", "60")  # one file per Kafka partition and ingestion run
    settings = load_settings()
    good1 = Good(600, seed=21, malformed_every=25)
    bad, bad_ids, reasons = bad_batches(seed=22)
    good2 = Good(400, seed=23, malformed_every=20)
    dead = 0
    bad_records = [r for batch in bad for r in batch]
    for records in (good1.records, *bad, good2.records):  # separate landings: bad ones in files of their own
        produce(settings, records)
        dead += run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True).rejected
    produced_valid = good1.valid_ids | good2.valid_ids | bad_ids
    assert dead == good1.malformed + good2.malformed

    report = run_validation(settings)
    assert len(report.quarantined) == 2, report.quarantined
    zones = settings.layout
    validated, quarantined = _ids(zones.validated), _ids(zones.quarantine)
    # exact reconciliation: every produced record is validated, quarantined or dead-lettered, once
    assert len(validated) + len(quarantined) + dead == len(good1.records) + len(good2.records) + len(bad_records)
    assert len(validated) + len(quarantined) == len(produced_valid)
    assert set(validated) == good1.valid_ids | good2.valid_ids and set(quarantined) == bad_ids
    assert report.rows == len(produced_valid)

    # every bad batch quarantined for its reason; nothing quarantined reaches the validated zone
    assert len(report.quarantined) == 2
    for rel, _rows, checks in report.quarantined:
        school = duckdb.connect().execute("select distinct school_id from read_parquet($f)",
                                          {"f": str(zones.quarantine / rel)}).fetchall()
        assert len(school) == 1 and checks == [reasons[school[0][0]]]
        assert not (zones.validated / rel).exists()
        assert (zones.quarantine / f"{rel}.validation.json").exists()
    assert len(report.validated) == len(list(zones.raw.rglob("*.parquet"))) - 2

    # exactly once: a second run validates nothing; the raw zone is untouched
    again = run_validation(settings)
    assert again.validated == [] and again.quarantined == [] and again.skipped == len(report.validated) + 2
    assert sorted(_ids(zones.raw)) == sorted(produced_valid)
