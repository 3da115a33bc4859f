"""Expectation suites generated from the instrument definition and ``expectations/thresholds.yml``.

One suite per instrument, named for what it guards: ``raw_<instrument>_submissions``. A new item,
version or instrument in ``leap/instrument_data/`` needs no hand-written expectation: run
``leap validate suites --write`` and commit the regenerated ``expectations/suites/*.json``
(a test fails while the committed files and the definition disagree, and the runner refuses to
validate with stale suites).

Every expectation carries ``meta.guards`` (what it protects, in words) and ``meta.check`` (a stable
short name used in results, quarantine reasons and tests). Values that depend on the file (the
administration window of its term, its partition) are suite parameters filled in per file:
``term_window_start``, ``term_window_end``, ``partition_school_year``, ``partition_term``.

The files are deterministic (sorted keys, ids derived from the content) so regenerating them
without a change in the definition rewrites identical bytes, and a suite's sha256 identifies it
in the results (re-validation after a change is found by comparing hashes).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from expectations.config import Thresholds, expectations_dir, load_thresholds
from leap.errors import LeapError
from leap.fsutil import write_atomic
from leap.instrument import Catalog, Instrument, grade_bands, load_catalog, samples, terms

NOT_NULL = ("submission_id", "instrument", "instrument_version", "school_id", "respondent_key", "school_year",
            "term", "submitted_at", "grade_band", "sample")
PSEUDONYM_PATTERN = r"^[0-9a-f]{32}$"  # ingestion.pseudonym.Pseudonymizer: 128-bit HMAC prefix, hex
SCHOOL_YEAR_PATTERN = r"^[0-9]{4}-[0-9]{2}$"
_ID_NAMESPACE = uuid.UUID("6f1c3a52-1f0c-4c61-9d1e-3f7f6a0b9a11")


def suite_name(instrument: str) -> str:
    return f"raw_{instrument}_submissions"


def suites_dir() -> Path:
    return expectations_dir() / "suites"


def _pandas_dtype(field) -> str:
    """The dtype of a raw column in the DataFrame GE sees (see expectations.engine.read_frame)."""
    import pyarrow as pa

    t = field.type
    if pa.types.is_string(t):
        return "category"
    if pa.types.is_integer(t):
        return {8: "Int8", 16: "Int16", 32: "Int32", 64: "Int64"}[t.bit_width]
    if pa.types.is_timestamp(t):
        return f"datetime64[{t.unit}, {t.tz}]" if t.tz else f"datetime64[{t.unit}]"
    if pa.types.is_list(t):  # lists (classroom_ids) arrive as Python objects: pandas says dtype 'object'
        return "object"
    return str(t.to_pandas_dtype().__name__)


def _e(type_: str, check: str, guards: str, **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"check": check, "guards": guards}}


def _schema_expectations(catalog: Catalog, ins: Instrument, th: Thresholds) -> list[dict]:
    schema = catalog.raw_schema(ins.name)
    return [
        _e("expect_table_row_count_to_be_between", "batch.row_count",
           "a batch has rows: an empty file means a broken export or sink", min_value=th.min_rows, max_value=None),
        _e("expect_table_columns_to_match_set", "schema.columns",
           "exactly the columns of the raw schema (Catalog.raw_schema)", column_set=schema.names, exact_match=True),
        _e("expect_table_column_types_to_match", "schema.types",
           "every column has the type of the raw schema (as a pandas dtype)",
           column_types={f.name: _pandas_dtype(f) for f in schema}),
    ]


def _key_expectations() -> list[dict]:
    return [
        _e("expect_columns_null_share_to_be_at_most", "not_null",
           f"required columns have no nulls: {', '.join(NOT_NULL)}", columns=list(NOT_NULL), max_null_share=0.0),
        _e("expect_column_values_to_be_unique", "unique.submission_id",
           "submission_id is the idempotency key: stored once", column="submission_id"),
        _e("expect_column_values_to_match_regex", "pseudonym.respondent_key",
           "respondent_key is a pseudonym (hex HMAC), never a raw respondent id",
           column="respondent_key", regex=PSEUDONYM_PATTERN),
    ]


def _domain_expectations(ins: Instrument, catalog: Catalog) -> list[dict]:
    return [
        _e("expect_column_values_to_be_in_set", "domain.instrument", "the file holds one instrument",
           column="instrument", value_set=[ins.name]),
        _e("expect_column_values_to_be_in_set", "domain.instrument_version", "a version of the definition",
           column="instrument_version", value_set=[v.version for v in catalog.versions(ins.name)]),
        _e("expect_column_values_to_be_in_set", "domain.term", "a term of terms.csv", column="term",
           value_set=terms()),
        _e("expect_column_values_to_be_in_set", "partition.term", "rows belong to the file's term partition",
           column="term", value_set={"$PARAMETER": "partition_term"}),
        _e("expect_column_values_to_match_regex", "domain.school_year", "school year written YYYY-YY",
           column="school_year", regex=SCHOOL_YEAR_PATTERN),
        _e("expect_column_values_to_be_in_set", "partition.school_year",
           "rows belong to the file's school-year partition", column="school_year",
           value_set={"$PARAMETER": "partition_school_year"}),
        _e("expect_column_values_to_be_in_set", "domain.grade_band", "a grade band of the definition",
           column="grade_band", value_set=grade_bands()),
        _e("expect_column_values_to_be_in_set", "domain.sample", "a sample of samples.csv", column="sample",
           value_set=sorted(samples())),
        _e("expect_column_values_to_be_between", "window.submitted_at",
           "submitted inside the administration window of its term (terms.csv, UTC, inclusive)",
           column="submitted_at", min_value={"$PARAMETER": "term_window_start"},
           max_value={"$PARAMETER": "term_window_end"}),
        _e("expect_column_values_to_be_between", "domain.weight", "survey weights are positive (null: unweighted)",
           column="weight", min_value=0, strict_min=True, max_value=None),
    ]


def _item_categories(catalog: Catalog, name: str) -> dict[str, list[int]]:
    cats: dict[str, set[int]] = {}
    for ins in catalog.versions(name):
        for item in ins.items:
            cats.setdefault(item.item_id, set()).update(range(item.max_category + 1))
    return {i: sorted(cats[i]) for i in catalog.item_columns(name)}


def _item_expectations(catalog: Catalog, ins: Instrument, th: Thresholds) -> list[dict]:
    cats = _item_categories(catalog, ins.name)
    return [
        _e("expect_columns_values_to_be_in_sets", "categories",
           "every answer is a category of its item (items.csv × response_scales.csv); null = skipped",
           value_sets=cats),
        _e("expect_columns_null_share_to_be_at_most", "skips",
           f"no item is skipped by more than {th.max_skip_share_per_item:.0%} of a batch's submissions "
           f"(batches of {th.min_rows_for_batch_statistics}+ rows; smaller files: per term)",
           columns=list(cats), max_null_share=th.max_skip_share_per_item,
           min_rows=th.min_rows_for_batch_statistics),
    ]


def _submission_expectations(catalog: Catalog, ins: Instrument, th: Thresholds) -> list[dict]:
    versions = catalog.versions(ins.name)
    shares = {v.min_answered_share for v in versions}
    if len(shares) != 1:
        raise LeapError(f"versions of {ins.name} differ in min_answered_share {sorted(shares)}",
                        hint="one suite per instrument takes one minimum; align instruments.csv")
    return [
        _e("expect_multicolumn_answered_share_to_be_at_least", "answered_share",
           f"a submission answers at least {shares.pop():.0%} of its version's items "
           f"(in at least {th.answered_share_mostly:.0%} of a batch's submissions; batches of "
           f"{th.min_rows_for_batch_statistics}+ rows, smaller files: per term)",
           column_list=["instrument_version", *catalog.item_columns(ins.name)],
           min_share=min(v.min_answered_share for v in versions),
           items_by_version={v.version: v.item_ids for v in versions},
           ignore_row_if="never", mostly=th.answered_share_mostly, min_rows=th.min_rows_for_batch_statistics),
        _e("expect_column_values_to_occur_at_most", "batch.school_flood",
           f"no school sends more than {th.max_submissions_per_school} submissions in one batch",
           column="school_id", max_count=th.max_submissions_per_school),
    ]


def build_suite(catalog: Catalog, name: str, th: Thresholds, thresholds_version: int) -> dict:
    """The suite document of one instrument (the JSON written to ``suites/<suite>.json``). GE's version
    comes from its package metadata: importing GE (~4 s) only to read it held up every validation run's
    start, which checks the committed suites against this before any file is read."""
    from importlib.metadata import version

    ins = catalog.latest(name)
    exps = (_schema_expectations(catalog, ins, th) + _key_expectations() + _domain_expectations(ins, catalog)
            + _submission_expectations(catalog, ins, th) + _item_expectations(catalog, ins, th))
    sname = suite_name(name)
    for e in exps:
        e["id"] = str(uuid.uuid5(_ID_NAMESPACE, f"{sname}/{e['meta']['check']}"))
        e["severity"] = "critical"
    checks = [e["meta"]["check"] for e in exps]
    assert len(checks) == len(set(checks)), "check names must be unique within a suite"
    return {
        "name": sname,
        "id": str(uuid.uuid5(_ID_NAMESPACE, sname)),
        "expectations": exps,
        "meta": {"great_expectations_version": version("great_expectations"), "instrument": name,
                 "instrument_versions": [v.version for v in catalog.versions(name)],
                 "thresholds_version": thresholds_version,
                 "generated_by": "leap validate suites --write (expectations/suites.py)"},
        "notes": f"Guards the raw {name} submission files before they reach the warehouse. Generated from "
                 "leap/instrument_data/ and expectations/thresholds.yml; do not edit by hand.",
        "suite_parameters": {},
    }


def render(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def generate() -> dict[str, bytes]:
    """{file name: bytes} of every suite, from the current definition and thresholds."""
    catalog = load_catalog()
    version, thresholds = load_thresholds()
    missing = sorted(set(catalog.names) - set(thresholds))
    if missing:
        raise LeapError(f"no thresholds for instrument(s) {missing}",
                        hint="add them under `instruments:` in expectations/thresholds.yml")
    return {f"{suite_name(n)}.json": render(build_suite(catalog, n, thresholds[n], version)) for n in catalog.names}


def drift() -> dict[str, str]:
    """{file name: 'missing' | 'differs' | 'extra'} between generated and committed suites."""
    wanted = generate()
    out = {}
    for fname, data in wanted.items():
        path = suites_dir() / fname
        if not path.exists():
            out[fname] = "missing"
        elif path.read_bytes() != data:
            out[fname] = "differs"
    for path in suites_dir().glob("*.json") if suites_dir().exists() else []:
        if path.name not in wanted:
            out[path.name] = "extra"
    return out


def write() -> list[Path]:
    """Write every generated suite (atomically each); returns the files that changed."""
    suites_dir().mkdir(parents=True, exist_ok=True)
    changed = []
    for fname, data in generate().items():
        path = suites_dir() / fname
        if path.exists() and path.read_bytes() == data:
            continue
        write_atomic(path, data)
        changed.append(path)
    return changed


@dataclass(frozen=True)
class LoadedSuite:
    instrument: str
    name: str
    sha256: str
    doc: dict

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]


def load_suites(check_drift: bool = True) -> dict[str, LoadedSuite]:
    """{instrument: suite} from the committed files; LeapError when they are stale or missing."""
    if check_drift:
        stale = drift()
        if stale:
            detail = ", ".join(f"{k} ({v})" for k, v in sorted(stale.items()))
            raise LeapError(f"the expectation suites do not match the instrument definition: {detail}",
                            hint="run `leap validate suites --write` and commit expectations/suites/")
    out = {}
    for path in sorted(suites_dir().glob("*.json")):
        data = path.read_bytes()
        doc = json.loads(data)
        out[doc["meta"]["instrument"]] = LoadedSuite(doc["meta"]["instrument"], doc["name"],
                                                     hashlib.sha256(data).hexdigest(), doc)
    return out
