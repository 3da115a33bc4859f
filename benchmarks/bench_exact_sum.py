"""Exact sums (dbt_project/macros/exact_sum.sql) against DuckDB's float sum: cost, order-independence and
accuracy, on synthetic data shaped like the response sums.

    .venv/bin/python benchmarks/bench_exact_sum.py [--respondents 400000] [--items 24]

1. Cost: a respondent table (a weight per respondent, a school cell) joined to respondents x items rows
   and summed per cell x item x category, as int_school_item_sums does, with DuckDB's float `sum` and
   with `exact_sum`. One DuckDB thread, 2 GB, each query timed after a warm-up.
2. Order: 2 million lognormal terms of both signs in 2,000 groups, summed at one thread / 2 GB and at four
   threads / 300 MB from two shuffles: groups whose sums differ, float and exact.
3. Accuracy: the exact sums against Python's correctly rounded math.fsum.
4. Where an exact sum's time goes (``--parts``): ten aggregates per group (of ten terms) over rows shaped
   like the score marts' (2.9 M score rows in 82,000 school x term x scale groups at a million submissions), one DuckDB
   thread, the best of three: DuckDB's float sum and count, the whole exact_sum, and the ways a term could
   be cut into integers (one HUGEINT part; one BIGINT part; three BIGINT parts, enough for the same range
   and resolution as the two HUGEINT ones; a DECIMAL(38,18), which rounds each term at 1e-18).
Writes benchmarks/out/exact_sum.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MACROS = (ROOT / "dbt_project" / "macros" / "exact_sum.sql").read_text()


def render(call: str) -> str:
    return jinja2.Environment().from_string(MACROS + "{{ " + call + " }}").render()


def cost(respondents: int, items: int) -> dict:
    con = duckdb.connect(config={"threads": 1, "memory_limit": "2GB"})
    con.execute("select setseed(0.5)")
    con.execute(f"create table resp as select i as submission_id, i % {max(respondents // 7, 1)} as cell_id, "
                f"exp(random() - 0.5) as w from range({respondents}) t(i)")
    con.execute(f"create table u as select s.submission_id, k % {items} as item_id, case when random() < 0.05 "
                f"then null else (random() * 5)::int end as category from resp as s, range({items}) r(k)")
    ways = {
        "float sum": ("resp", "sum(r.w)", "sum(r.w * r.w)"),
        "exact sum": ("resp", render("exact_sum('r.w')"), render("exact_sum('r.w * r.w')")),
    }
    out = {}
    for name, (table, w, w2) in ways.items():
        sql = (f"create or replace table s as select r.cell_id, u.item_id, u.category, count(*) as n, {w} as w_sum, "
               f"{w2} as w2_sum from u inner join {table} as r using (submission_id) group by all")
        con.execute(sql)  # warm-up
        t = time.perf_counter()
        con.execute(sql)
        out[name] = round(time.perf_counter() - t, 2)
    out["rows"] = con.execute("select count(*) from u").fetchone()[0]
    return out


def order_and_accuracy() -> dict:
    rng = np.random.default_rng(1)
    n = 2_000_000
    df = pd.DataFrame({"g": rng.integers(0, 2000, n), "x": rng.lognormal(0, 2, n) * rng.choice([-1, 1], n)})
    exact = render("exact_sum('x')")
    runs = []
    for seed, threads, memory in [(1, 1, "2GB"), (2, 4, "300MB"), (3, 4, "300MB")]:
        con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
        con.register("d", df.sample(frac=1, random_state=seed))
        runs.append(con.execute(f"select g, {exact} as e, sum(x) as f from d group by g order by g").df())
    truth = df.groupby("g")["x"].apply(math.fsum).to_numpy()
    first = runs[0]
    return {
        "groups": len(first),
        "groups_differing_float": [int((r["f"] != first["f"]).sum()) for r in runs[1:]],
        "groups_differing_exact": [int((r["e"] != first["e"]).sum()) for r in runs[1:]],
        "exact_equal_to_fsum_share": float((first["e"].to_numpy() == truth).mean()),
        "float_max_rel_error": float(np.max(np.abs(first["f"].to_numpy() - truth) / np.abs(truth))),
        "exact_max_rel_error": float(np.max(np.abs(first["e"].to_numpy() - truth) / np.abs(truth))),
    }


def parts(rows: int = 2_900_000, groups: int = 82_000) -> dict:
    """Seconds for ten aggregates per group of each way (the module's point 4), the best of three."""
    con = duckdb.connect(config={"threads": 1, "memory_limit": "2GB"})
    con.execute("select setseed(0.25)")
    con.execute(f"create table t as select i % {groups} as g, exp(random() - 0.5) as w, 200 + 100 * random() as y "
                f"from range({rows}) r(i)")
    def ways_of(x: str) -> dict:
        frac = f"(({x}) - trunc({x})) * pow(2.0, 60)"
        return {
            "float sum": f"sum({x})",
            "count": f"count({x})",
            "exact_sum": render(f"exact_sum('{x}')"),
            "one HUGEINT part": f"sum(cast(round(({x}) * pow(2.0, 30)) as hugeint))",
            "one BIGINT part": f"sum(cast(trunc({x}) as bigint))",
            "three BIGINT parts": (f"sum(cast(trunc({x}) as bigint)), sum(cast(trunc({frac}) as bigint)), "
                                   f"sum(cast(({frac} - trunc({frac})) * pow(2.0, 60) as bigint))"),
            "DECIMAL(38,18)": f"sum(cast({x} as decimal(38, 18)))",
        }
    # ten sums of different terms in one query, as a mart takes them: the scan and the grouping are shared,
    # so what each way adds per sum shows (one sum alone is mostly the grouping's cost)
    terms = [f"w * (y - {k})" for k in range(0, 100, 10)]
    ways = {name: ", ".join(ways_of(x)[name] for x in terms) for name in ways_of("w")}
    out = {}
    for name, aggregate in ways.items():
        sql = f"select g, {aggregate} from t group by g"
        times = []
        for _ in range(3):
            t = time.perf_counter()
            con.execute(sql).fetchall()
            times.append(time.perf_counter() - t)
        out[name] = round(min(times), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--respondents", type=int, default=400_000)
    ap.add_argument("--items", type=int, default=24)
    ap.add_argument("--parts", action="store_true", help="only point 4: where an exact sum's time goes")
    args = ap.parse_args()
    if args.parts:
        print(json.dumps({"parts_seconds": parts()}, indent=2))
        return
    result = {"cost_seconds": cost(args.respondents, args.items), "order_and_accuracy": order_and_accuracy()}
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "exact_sum.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
