"""Data Docs: static HTML of the suites and of validation results, built off the hot path.

The runner stores each file's GE result document under ``lake/_validation/gx_results/``; this
module loads the newest ``limit`` of them per suite into
an in-memory GE context with the committed suites and lets GE's site builder render them into
``$LEAP_DATA_DIR/docs/gx/`` (``index.html``). Nothing here runs during validation.

The pages work offline: GE's templates load their scripts, styles and fonts from CDNs, so the pinned
copies ``make setup`` fetched (``infra/gx-assets/fetch.py``, into ``.deps/gx-assets/``) are copied into
the site and every page is rewritten to load them (:mod:`expectations.docs_assets`).
"""

from __future__ import annotations

import json
from pathlib import Path

from leap.config import Settings
from leap.layout import Layout


def docs_dir(settings: Settings) -> Path:
    return settings.layout.gx_docs


def _result_files(zones: Layout, limit: int) -> list[Path]:
    """Newest ``limit`` result documents per suite (run ids sort by time)."""
    picked: list[Path] = []
    root = zones.gx_results
    for suite_dir in sorted(root.iterdir()) if root.exists() else []:
        runs = sorted((p for p in suite_dir.iterdir() if p.is_dir()), reverse=True)
        newest: list[Path] = []
        for run in runs:
            newest.extend(sorted(run.rglob("*.json")))
            if len(newest) >= limit:
                break
        picked.extend(newest[:limit])
    return picked


def _context(site: Path):
    from expectations.engine import gx

    g = gx()
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
        progress_bars={"globally": False},
        data_docs_sites={"leap": {
            "class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}})
    return g, g.get_context(project_config=config, mode="ephemeral")


def _renderable(doc: dict, raw_file: str) -> dict:
    """A stored result as GE's pages need it: the raw file as the page's data asset (every page said
    "Data asset: None": files are validated as in-memory frames), and, for results stored before the
    custom checks reported them, ``unexpected_percent`` and ``element_count`` beside an
    ``unexpected_count`` (GE's renderer raised KeyError on a failed custom check without them)."""
    doc["meta"] = {**(doc.get("meta") or {}), "batch_kwargs": {"data_asset_name": raw_file}}
    for r in doc.get("results", []):
        res = r.get("result") or {}
        if "unexpected_count" in res and "unexpected_percent" not in res:
            res.setdefault("element_count", res["unexpected_count"])
            res["unexpected_percent"] = 100.0 * res["unexpected_count"] / res["element_count"] \
                if res["element_count"] else 0.0
    return doc


def build_docs(settings: Settings, limit: int = 200) -> tuple[Path, int]:
    """Render Data Docs, offline; returns (index.html, number of validation results rendered).

    A LeapError before anything is written when the pinned scripts and styles are not fetched.
    """
    from expectations.docs_assets import load_assets, make_offline

    bundle = load_assets()
    g, context = _context(docs_dir(settings))
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from expectations.suites import load_suites

    site = docs_dir(settings)
    for loaded in load_suites(check_drift=False).values():
        context.suites.add(g.ExpectationSuite(**loaded.doc))
    store = context.validation_results_store
    zones = settings.layout
    files = _result_files(zones, limit)
    for path in files:
        run_dir = next(p for p in path.parents if p.parent.parent == zones.gx_results)
        raw_file = str(path.relative_to(run_dir)).removesuffix(".json")
        doc = _renderable(json.loads(path.read_bytes()), raw_file)
        result = ExpectationSuiteValidationResult(**{k: doc[k] for k in ("success", "results", "suite_name",
                                                                         "statistics", "meta") if k in doc})
        batch = raw_file.replace("/", "__")
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(doc["suite_name"]),
                                         RunIdentifier(run_name=run_dir.name), batch)
        store.set(key, result)
    context.build_data_docs(site_names=["leap"])
    make_offline(site, bundle)
    return site / "index.html", len(files)
