"""Fingerprint of what `leap demo` produced: every published mart and every partner export.

Used to show that a change of structure changes no result: run the demo before and after, compare
the fingerprints. A mart's fingerprint is the sha256 of its rows sorted, with doubles rounded to 10
significant digits and then to 6 decimals (DuckDB's parallel sums differ in the last bits between
two builds of the same data: sums of weights reach 5e7, so an absolute rounding alone is not enough,
and zero variances come out as ±1e-15, so a relative one alone is not either) and
the columns that differ between any two runs left out: timestamps and dates (when it ran), absolute
paths (where it ran) and the cluster tag in lake file names (the embedded broker's cluster id is new
at every start). An export's fingerprint is its manifest's version (a checksum of its files).

    python scripts/demo_fingerprint.py --run DIR --out fp.json      # run `leap demo` in DIR, fingerprint it
    python scripts/demo_fingerprint.py --data-dir DIR --compare fp.json   # fingerprint DIR, compare

Runs use a fixed pseudonymization key, so respondent keys are the same in both runs. Exit 1 when
``--compare`` finds a difference (each one is printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

FIXED_KEY = "5a" * 32
TAG = re.compile(r"\+[0-9a-f]{8}\+")
DIGITS = 10
DECIMALS = 6


def run_demo(data_dir: Path) -> None:
    env = {**os.environ, "LEAP_DATA_DIR": str(data_dir), "LEAP_PSEUDONYM_KEY": FIXED_KEY}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    leap = Path(sys.executable).with_name("leap")
    subprocess.run([str(leap), "demo"], env=env, check=True)


def _normal(value, data_dir: str):
    if isinstance(value, float):
        return None if value != value else round(float(f"{value:.{DIGITS}g}"), DECIMALS)
    if isinstance(value, str):
        return TAG.sub("+TAG+", value.replace(data_dir, "$LEAP_DATA_DIR"))
    if isinstance(value, (list, tuple)):
        return [_normal(v, data_dir) for v in value]
    return value


def mart_fingerprints(data_dir: Path) -> dict[str, dict]:
    import duckdb

    con = duckdb.connect(str(data_dir / "published" / "marts.duckdb"), read_only=True)
    out = {}
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main' order by 1").fetchall()]
        for table in tables:
            cols = [(c, t) for c, t in con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = 'main' and table_name = ? "
                "order by column_index", [table]).fetchall()
                if not re.search(r"TIMESTAMP|DATE|TIME", t) and not c.endswith("_at")]
            names = [c for c, _ in cols]
            rows = con.execute(f"select {', '.join(names)} from main.{table}").fetchall()
            normal = sorted(json.dumps([_normal(v, str(data_dir)) for v in r], default=str) for r in rows)
            digest = hashlib.sha256("\n".join(normal).encode()).hexdigest()
            out[table] = {"rows": len(rows), "columns": names, "sha256": digest}
    finally:
        con.close()
    return out


def export_fingerprints(data_dir: Path) -> dict[str, str]:
    out = {}
    for latest in sorted((data_dir / "exports").glob("*/*/LATEST")):
        version = latest.read_text().strip()
        manifest = json.loads((latest.parent / version / "manifest.json").read_text())
        out[f"{manifest['partner']}/{manifest['school_year']}"] = version
    return out


def fingerprint(data_dir: Path) -> dict:
    return {"marts": mart_fingerprints(data_dir), "exports": export_fingerprints(data_dir)}


def differences(a: dict, b: dict) -> list[str]:
    out = []
    for kind in ("marts", "exports"):
        for name in sorted(set(a[kind]) | set(b[kind])):
            if a[kind].get(name) != b[kind].get(name):
                out.append(f"{kind}/{name}: {a[kind].get(name)} != {b[kind].get(name)}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--run", type=Path, help="run `leap demo` with this LEAP_DATA_DIR (must not exist)")
    where.add_argument("--data-dir", type=Path, help="fingerprint an existing LEAP_DATA_DIR")
    p.add_argument("--out", type=Path, help="write the fingerprint as JSON")
    p.add_argument("--compare", type=Path, help="compare with this fingerprint JSON; exit 1 on a difference")
    args = p.parse_args(argv)
    data_dir = (args.run or args.data_dir).resolve()
    if args.run:
        run_demo(data_dir)
    fp = fingerprint(data_dir)
    if args.out:
        args.out.write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
    if args.compare:
        diff = differences(json.loads(args.compare.read_text()), fp)
        for line in diff:
            print(line)
        print(f"{len(diff)} difference(s) from {args.compare}" if diff else f"same results as {args.compare}")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
