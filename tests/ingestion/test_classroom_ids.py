"""The optional ``classroom_ids`` field of event v1: schema, both fast paths, decode, partner CSV, old lake files.

The fast paths are differential-tested against the compiled schema and the reference validator (they may
only say yes to what it accepts), events stored before the field existed replay as valid
(``tests/fixtures/events_v1_before_classrooms.jsonl``, written by the simulator before the change), and
raw files without the column stay readable next to files with it, by the lake source's own read.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from pathlib import Path

import duckdb
import fastjsonschema
import jinja2
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import ingestion.decode as decode
from ingestion.contract import Rejected, _compiled_validator, check_submission_ex
from ingestion.decode import decode_run
from ingestion.fastpath import conforms, fast_check, fast_path_enabled
from ingestion.partner_files import csv_columns, read_partner_file, write_partner_csv
from ingestion.pseudonym import Pseudonymizer
from leap.instrument import load_catalog, raw_schema

CATALOG = load_catalog()
PSEUDO = Pseudonymizer(b"k" * 32)
ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "events_v1_before_classrooms.jsonl"

VALID = [["SCH-0001-C01"], ["SCH-0001-C01", "SCH-0001-C02", "SCH-0001-C04"], [f"c{i}" for i in range(12)],
         ["a"], ["A.b_c-9"], ["x" * 64]]
INVALID = [[], ["C01", "C01"], [f"c{i}" for i in range(13)], ["has space"], ["C01;C02"], ["é"], ["x" * 65],
           [""], [1], [None], ["C01", 2], [["C01"]], "SCH-0001-C01", {"C01": 1}, True, 0]


def _event(rng: random.Random, name: str | None = None, **over) -> dict:
    name = name or rng.choice(["teacher", "student"])
    ins = CATALOG.latest(name)
    e = {"submission_id": str(uuid.UUID(int=rng.getrandbits(128))), "instrument": name,
         "instrument_version": ins.version, "school_id": "SCH-0001", "respondent_id": f"R-{rng.randrange(10**6)}",
         "school_year": "2024-25", "term": "fall", "submitted_at": "2024-09-10T10:00:00Z", "grade_band": "middle",
         "sample": "national", "region": "west", "urbanicity": "city",
         "responses": {i.item_id: rng.choice([None, *range(i.max_category + 1)]) for i in ins.items}}
    e.update(over)
    return e


def _reference_accepts(e: dict) -> bool:
    try:
        check_submission_ex(orjson.dumps(e), CATALOG)
    except Rejected as rej:
        assert rej.reason == "schema_violation", rej  # a bad classroom list is a schema matter
        return False
    return True


def _fast_answers(e: dict) -> tuple[bool, bool]:
    """(conforms, fast_check) for one event; each True only where the reference also accepts."""
    ins = CATALOG.get(e["instrument"], e["instrument_version"])
    by_dict = conforms(copy.deepcopy(e), ins)
    by_bytes = fast_check(orjson.dumps(e), CATALOG) is not None
    if by_dict or by_bytes:
        _compiled_validator()(copy.deepcopy(e))  # raises if a fast path accepted what the schema rejects
        event, plain = check_submission_ex(orjson.dumps(e), CATALOG)
        assert plain
    return by_dict, by_bytes


def test_fast_path_is_on_for_the_reviewed_schema():
    assert fast_path_enabled(), "the schema file changed: review ingestion/fastpath.py and update its hash"


@pytest.mark.parametrize("ids", [*VALID, None], ids=repr)
def test_valid_classroom_lists_take_both_fast_paths(ids):
    e = _event(random.Random(1), classroom_ids=ids)
    assert _reference_accepts(e)
    assert _fast_answers(e) == (True, True)


def test_absent_classroom_ids_is_valid_and_fast():
    e = _event(random.Random(2))
    assert "classroom_ids" not in e and _reference_accepts(e) and _fast_answers(e) == (True, True)


@pytest.mark.parametrize("ids", INVALID, ids=repr)
def test_invalid_classroom_lists_are_rejected_by_the_reference_and_deferred_by_the_fast_paths(ids):
    e = _event(random.Random(3), classroom_ids=ids)
    assert not _reference_accepts(e)
    assert _fast_answers(e) == (False, False)


@pytest.mark.parametrize("ids", [["C01\n"], ["C01", "C01\n"]], ids=repr)
def test_doubtful_ids_are_left_to_the_reference(ids):
    """A trailing newline: the schema's ``$`` is the reference's to interpret; the fast paths defer."""
    e = _event(random.Random(4), classroom_ids=ids)
    assert _fast_answers(e) == (False, False)
    _reference_accepts(e)  # whatever it decides, it decides with a reason


def _random_classrooms(rng: random.Random):
    pool = ["C01", "C02", "SCH-1-C03", "a.b", "x" * 64, "x" * 65, "", " ", "C 1", "é", "C01\n", 1, None, True,
            1.5, [], {}]
    if rng.random() < 0.15:
        return rng.choice([None, "C01", 5, {}, []])
    n = rng.choice([0, 1, 1, 2, 3, 4, 11, 12, 13])
    if rng.random() < 0.6:
        return [f"SCH-0001-C{j:02d}" for j in rng.sample(range(1, 30), min(n, 29))]
    return [rng.choice(pool) for _ in range(n)]


def test_random_classroom_lists_fast_paths_agree_with_the_reference():
    rng = random.Random(12)
    accepted = declined = 0
    for _ in range(3000):
        e = _event(rng, classroom_ids=_random_classrooms(rng))
        ok = _reference_accepts(e)
        by_dict, by_bytes = _fast_answers(e)
        assert by_dict == by_bytes  # the two fast paths implement one rule
        if by_dict:
            accepted += 1
        else:
            declined += 1
            if ok:  # the fast paths decline only what is doubtful: ids ending in a newline
                assert any(isinstance(c, str) and c.endswith("\n") for c in e["classroom_ids"]), e
    assert accepted > 800 and declined > 800, (accepted, declined)


def test_raw_bytes_with_escapes_and_duplicate_keys_agree():
    base = orjson.dumps(_event(random.Random(5)))[:-1]
    cases = [b',"classroom_ids":["C\\u0030"]}', b',"classroom_ids":["C01"],"classroom_ids":null}',
             b',"classroom_ids":null,"classroom_ids":["C01","C01"]}', b',"classroom_ids":["\\ud800"]}',
             b',"classroom_ids":["C01",]}', b',"classroom_ids":["C01"] }']
    for tail in cases:
        raw = base + tail
        if fast_check(raw, CATALOG) is not None:
            assert check_submission_ex(raw, CATALOG)[1], raw


def _stream(n: int, seed: int) -> list[tuple[int, bytes | None, bytes]]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        e = _event(rng, term=rng.choice(["fall", "spring"]))
        if rng.random() < 0.8:
            e["classroom_ids"] = _random_classrooms(rng)
        records.append((i, None, orjson.dumps(e)))
    records.append((n, None, orjson.dumps(_event(rng))[:-1] + b',"classroom_ids":["C\\u0030","\\u0041"]}'))
    return records


def test_decode_with_fast_path_equals_reference_and_keeps_the_lists(monkeypatch):
    records = _stream(1500, seed=8)
    fast = decode_run(records, 0, CATALOG, PSEUDO)
    monkeypatch.setattr(decode, "fast_check", lambda raw, catalog: None)
    ref = decode_run(records, 0, CATALOG, PSEUDO)
    assert sorted(fast.tables) == sorted(ref.tables)
    for pkey, table in ref.tables.items():
        assert fast.tables[pkey].drop_columns(["ingested_at"]).equals(table.drop_columns(["ingested_at"]))
        assert table.schema.field("classroom_ids").type == pa.list_(pa.string())
    assert [r.offset for r in fast.rejects] == [r.offset for r in ref.rejects] and ref.rejects
    stored = {sid: ids for t in ref.tables.values()
              for sid, ids in zip(t.column("submission_id").to_pylist(), t.column("classroom_ids").to_pylist(),
                                  strict=True)}
    for _, _, value in records:
        e = orjson.loads(value)
        if e["submission_id"] in stored:
            assert stored[e["submission_id"]] == e.get("classroom_ids"), e.get("classroom_ids")
    assert ["C0", "A"] in stored.values()  # JSON escapes decoded, in the bulk reader too


# --------------------------------------------------------------------------- stored before the field


def _fixture_lines() -> list[bytes]:
    return FIXTURE.read_bytes().splitlines()


def test_events_stored_before_classrooms_replay_as_valid():
    lines = _fixture_lines()
    assert len(lines) > 300 and all(b"classroom_ids" not in line for line in lines)
    for line in lines:
        e = orjson.loads(line)
        _compiled_validator()(copy.deepcopy(e))
        assert conforms(copy.deepcopy(e), CATALOG.get(e["instrument"], e["instrument_version"]))
        assert fast_check(line, CATALOG) is not None
        assert check_submission_ex(line, CATALOG)[1]


def test_events_stored_before_classrooms_decode_with_a_null_column():
    lines = _fixture_lines()
    run = decode_run([(i, None, v) for i, v in enumerate(lines)], 0, CATALOG, PSEUDO)
    assert not run.rejects and run.n_valid == len(lines)
    for t in run.tables.values():
        assert t.schema.equals(CATALOG.raw_schema(t.column("instrument")[0].as_py()))
        assert t.column("classroom_ids").null_count == t.num_rows


def test_schema_states_the_compatibility_rule():
    schema = json.loads((ROOT / "ingestion" / "schemas" / "submission.v1.schema.json").read_text())
    assert "optional fields may be added" in schema["description"]
    assert "classroom_ids" not in schema["required"]
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        _compiled_validator()(_event(random.Random(6), classroom_ids=[]))


# --------------------------------------------------------------------------- partner CSV


def test_partner_csv_round_trips_classroom_ids(tmp_path):
    rng = random.Random(9)
    events = [_event(rng, classroom_ids=ids) for ids in [*VALID, None]] + [_event(rng)]
    path = tmp_path / "partner.csv"
    write_partner_csv(events, path)
    header = path.read_text().splitlines()[0].split(",")
    assert header.index("classroom_ids") == header.index("parent_education") + 1
    back = [orjson.loads(v) for _, v in read_partner_file(path)]
    expected = [{k: v for k, v in e.items() if v is not None} for e in events]  # empty cell: absent
    assert back == expected
    assert all(check_submission_ex(orjson.dumps(e), CATALOG) for e in back)


def test_partner_csv_without_the_column_still_imports(tmp_path):
    events = [_event(random.Random(10), classroom_ids=["C01", "C02"])]
    full = tmp_path / "full.csv"
    write_partner_csv(events, full)
    rows = full.read_text().splitlines()
    col = csv_columns().index("classroom_ids")
    old = tmp_path / "old.csv"
    old.write_text("\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != col) for r in rows) + "\n")
    assert "classroom_ids" not in old.read_text()
    (back,) = [orjson.loads(v) for _, v in read_partner_file(old)]
    assert "classroom_ids" not in back
    assert back == {k: v for k, v in events[0].items() if k != "classroom_ids"}
    check_submission_ex(orjson.dumps(back), CATALOG)


def test_partner_csv_bad_classroom_cell_is_rejected_not_guessed(tmp_path):
    events = [_event(random.Random(11), classroom_ids=["C01", "C02"])]
    path = tmp_path / "p.csv"
    write_partner_csv(events, path)
    path.write_text(path.read_text().replace("C01;C02", "C01;;C02"))
    (value,) = [v for _, v in read_partner_file(path)]
    assert orjson.loads(value)["classroom_ids"] == ["C01", "", "C02"]
    with pytest.raises(Rejected) as exc:
        check_submission_ex(value, CATALOG)
    assert exc.value.reason == "schema_violation"


# --------------------------------------------------------------------------- old and new lake files


def _raw_table(with_classrooms: bool, term: str) -> pa.Table:
    rng = random.Random(13 if with_classrooms else 14)
    events = [_event(rng, "teacher", term=term, classroom_ids=["SCH-0001-C01"] if with_classrooms else None)
              for _ in range(5)]
    table = decode_run([(i, None, orjson.dumps(e)) for i, e in enumerate(events)], 0, CATALOG, PSEUDO).tables
    (t,) = table.values()
    if not with_classrooms:  # a file written before the field existed: the old schema, no column
        t = t.drop_columns(["classroom_ids"])
        assert "classroom_ids" not in t.schema.names
    return t


def _write_lake(root: Path, files: dict[str, pa.Table]) -> None:
    for name, table in files.items():
        term = table.column("term")[0].as_py()
        target = root / "instrument=teacher" / "school_year=2024-25" / f"term={term}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target)


def _source_sql(root: Path) -> str:
    """The lake source's own read (``_lake__sources.yml``), pointed at ``root``."""
    doc = yaml.safe_load((ROOT / "dbt_project" / "models" / "staging" / "lake" / "_lake__sources.yml").read_text())
    table = next(t for t in doc["sources"][0]["tables"] if t["name"] == "teacher_submissions")
    location = table["config"]["external_location"]
    return location.replace('{{ env_var("LEAP_VALIDATED_DIR") }}', str(root))


def _staging_sql(root: Path) -> str:
    """The staging macro rendered with ``source`` as the lake source's read and the catalog's items."""
    source = (ROOT / "dbt_project" / "macros" / "stg_submissions.sql").read_text()
    template = jinja2.Environment().from_string(source + "\n{{ stg_submissions('teacher') }}")
    return template.render(source=lambda _src, _name: _source_sql(root),
                           item_ids=lambda name: CATALOG.item_columns(name))


def test_old_and_new_lake_files_read_together(tmp_path):
    old, new = _raw_table(False, "fall"), _raw_table(True, "spring")
    _write_lake(tmp_path, {"old.parquet": old, "new.parquet": new})
    con = duckdb.connect()
    rows = con.execute(f"select term, classroom_ids from {_source_sql(tmp_path)}").fetchall()
    assert sorted({(t, tuple(c) if c else None) for t, c in rows}) == [("fall", None), ("spring", ("SCH-0001-C01",))]
    staged = con.execute(f"select term, classroom_ids from ({_staging_sql(tmp_path)}) order by term").fetchall()
    assert {t: c for t, c in staged} == {"fall": None, "spring": ["SCH-0001-C01"]}
    assert len(staged) == old.num_rows + new.num_rows
    types = {r[0]: r[1] for r in con.execute(f"describe select * from ({_staging_sql(tmp_path)})").fetchall()}
    assert types["classroom_ids"] == "VARCHAR[]"
    assert set(raw_schema(CATALOG.item_columns("teacher")).names) - set(types) == {"weight"}  # staged: external_weight


def test_a_lake_of_only_old_files_still_stages(tmp_path):
    """Before the first new file lands the column exists in no file: staging supplies it, NULL."""
    _write_lake(tmp_path, {"old.parquet": _raw_table(False, "fall")})
    con = duckdb.connect()
    staged = con.execute(f"select classroom_ids, typeof(classroom_ids) from ({_staging_sql(tmp_path)})").fetchall()
    assert staged and all(c is None and t == "VARCHAR[]" for c, t in staged)
