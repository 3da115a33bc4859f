"""The exact sums every estimator takes (dbt_project/macros/exact_sum.sql), run in DuckDB.

``exact_sum`` is order-free (the same bits in any row order) and as accurate as a float sum or more (checked
against ``math.fsum``, the correctly rounded sum); ``exact_split`` + ``exact_sum_split`` (a term split where
it is made, summed elsewhere) give ``exact_sum``'s bits, for terms inside the integer range and outside it.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from tests.support.dbt_sql import _render


def _sql(template: str) -> str:
    return _render(template, {})


@pytest.fixture
def con():
    rng = np.random.default_rng(7)
    groups = []
    for g in range(40):
        n = int(rng.integers(1, 400))
        x = rng.lognormal(0, 3, n) * rng.choice([-1.0, 1.0], n)
        if g % 5 == 0:
            x[: max(1, n // 10)] *= 1e-200  # below 2^-68: summed as floats (the "rest")
        if g % 7 == 0:
            x[-1] = 3e19  # above 2^60
        if g % 11 == 0:
            x[0] = 0.0  # zero: outside the range too (a float term of the rest)
        groups += [(g, float(v)) for v in x]
    c = duckdb.connect()
    c.execute("create table t (g int, x double)")
    c.executemany("insert into t values (?, ?)", groups)
    c.execute("insert into t values (100, null), (100, null)")  # a group of nulls only
    c.execute("insert into t select g, null from range(0, 40, 3) r(g)")  # nulls among terms: skipped
    return c


def _sums(con, order: str) -> dict:
    sql = _sql(f"select g, {{{{ exact_sum('x') }}}} as s from (select * from t order by {order}) group by g")
    return dict(con.execute(sql).fetchall())


def test_the_same_bits_in_any_order_and_at_least_as_accurate_as_a_float_sum(con):
    forward, backward = _sums(con, "g, x"), _sums(con, "g desc, x desc")
    shuffled = _sums(con, "hash(g, x)")
    assert forward == backward == shuffled
    assert forward[100] is None
    for g, s in forward.items():
        if g == 100:
            continue
        xs = [r[0] for r in con.execute("select x from t where g = ? and x is not null", [g]).fetchall()]
        exact = math.fsum(xs)
        tiny = [x for x in xs if x != 0 and not 2.0 ** -68 <= abs(x) <= 2.0 ** 60]
        if tiny:  # the out-of-range terms are a float sum: its error bound, n ulps of the largest
            assert abs(s - exact) <= len(xs) * math.ulp(max(map(abs, xs)))
        else:  # two roundings at most: the integer sums converted once each
            assert abs(s - exact) <= 2 * math.ulp(exact), (g, s, exact)


def test_a_term_split_where_it_is_made_sums_to_the_same_bits(con):
    split = _sql("""
        with parts as (select g, {{ exact_split('x', 'x') }}, {{ exact_split('x * x', 'x2') }} from t)
        select g, {{ exact_sum_split('x') }} as s, {{ exact_sum_split('x2') }} as s2 from parts group by g""")
    whole = _sql("select g, {{ exact_sum('x') }} as s, {{ exact_sum('x * x') }} as s2 from t group by g")
    a = {g: (s, s2) for g, s, s2 in con.execute(split).fetchall()}
    b = {g: (s, s2) for g, s, s2 in con.execute(whole).fetchall()}
    assert a == b and len(a) == 41


def test_infinite_and_nan_terms_give_what_a_float_sum_gives():
    c = duckdb.connect()
    c.execute("create table t as select * from (values (1, 1.5), (1, 'inf'::double), (2, 2.0), (2, '-inf'::double), "
              "(3, 'nan'::double), (3, 4.0), (4, 'inf'::double), (4, '-inf'::double)) v(g, x)")
    exact = dict(c.execute(_sql("select g, {{ exact_sum('x') }} from t group by g")).fetchall())
    floats = dict(c.execute("select g, sum(x) from t group by g").fetchall())
    assert exact[1] == floats[1] == math.inf and exact[2] == floats[2] == -math.inf
    assert math.isnan(exact[3]) and math.isnan(exact[4]) and math.isnan(floats[4])
