"""Raking (iterative proportional fitting) of survey weights to population margins, as R survey's ``rake()``.

Notation: respondents ``i = 1..n`` with base weights ``d_i > 0`` (1 when the sample has none); raking
variables ``v`` (columns of the sample) with levels ``l`` and population totals ``T_vl``; every variable's
totals sum to the same population size ``N``. The raked weight is ``w_i = d_i * prod_v f_v[l_v(i)]``.

Algorithm (identical to ``survey::rake()``): one *cycle* post-stratifies on each variable in turn,
``w_i <- w_i * T_vl / sum_{j in l} w_j``. After each cycle the full cross-table of the weights over all
raking variables (``svytable(~v1 + v2 + ...)``) is compared with the one before; the weights have converged
when no cell changed by ``tolerance * sum_i d_i`` or more. (R: ``control = list(epsilon = tolerance,
maxit = max_iter)`` with ``epsilon < 1``; R's default ``epsilon = 1`` is ``tolerance = 1 / sum(d)`` here.)

Trimming (optional): bounds relative to the mean final weight ``N / n``, i.e. every final weight satisfies
``trim_lower * N / n <= w_i <= trim_upper * N / n`` *and* the margins are still met. This is bounded raking
(Deville & Särndal 1992): ``w_i = d_i * clip(exp(x_i' lambda), lo / d_i, hi / d_i)``,
``lo = trim_lower * N / n``, ``hi = trim_upper * N / n``, ``x_i`` the level indicators of respondent i.
``lambda`` minimises the convex dual (see :class:`_Dual`) by damped Newton steps from the unbounded
raking solution, until every margin is met within ``tolerance * N``. The solution is unique when the
bounds are feasible, and it is what R's
``calibrate(design, margins, population, calfun = "raking", bounds = c(lo, hi), bounds.const = TRUE)``
returns when R converges. Not ``trimWeights()``, which caps and spreads the excess evenly without
re-raking (the margins are then no longer met).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leap.errors import LeapError

MARGIN_COLUMNS = ("variable", "level", "total")
# Raked weights must meet every margin level within this relative error, or raking has failed (a miss
# of 31-159% was once reported as "converged": the cross-table had stopped changing).
MARGIN_TOLERANCE = 1e-3


@dataclass(frozen=True)
class RakeDiagnostics:
    """How the raking went.

    ``iterations`` counts raking cycles, plus Newton steps when trimming. ``max_margin_error`` is the largest
    ``|achieved - target|`` over all margin levels (relative: divided by the target). ``design_effect`` and
    ``effective_n`` are Kish's (see :func:`kish_design_effect`). ``trim_bounds`` are the absolute weight
    bounds used (None without trimming) and ``n_at_bounds`` the weights on them. ``margins`` has one row per
    variable × level: ``sample_n``, ``base_total`` (sum of base weights), ``target``, ``achieved``, ``error``.
    """

    converged: bool
    iterations: int
    n: int
    weight_total: float
    max_margin_error: float
    max_margin_relative_error: float
    design_effect: float
    effective_n: float
    weight_min: float
    weight_max: float
    weight_mean: float
    trim_bounds: tuple[float, float] | None
    n_at_bounds: int
    margins: pd.DataFrame = field(repr=False)
    margin_tolerance: float = MARGIN_TOLERANCE

    @property
    def variable_errors(self) -> dict[str, float]:
        """Largest relative margin error per raking variable (|achieved - target| / target)."""
        rel = (self.margins["error"].abs() / self.margins["target"]).groupby(self.margins["variable"], sort=False)
        return {v: float(e) for v, e in rel.max().items()}

    @property
    def meets_margins(self) -> bool:
        """Every margin level met within ``margin_tolerance`` (relative). Raking can stop "converged"
        (the cross-table no longer changes, R's rule) while missing margins no weights can meet."""
        return self.max_margin_relative_error <= self.margin_tolerance

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "margins"}
        out["meets_margins"], out["variable_errors"] = self.meets_margins, self.variable_errors
        out["trim_bounds"] = list(self.trim_bounds) if self.trim_bounds else None
        out["margins"] = self.margins.to_dict(orient="records")
        return out

    def summary(self) -> str:
        trim = ""
        if self.trim_bounds:
            lo, hi = self.trim_bounds
            trim = f"; trimmed to [{lo:.4g}, {hi:.4g}], {self.n_at_bounds} at a bound"
        return (f"raked {self.n} respondents to {self.margins['variable'].nunique()} margins "
                f"in {self.iterations} iterations; max margin error {self.max_margin_error:.3g} "
                f"(relative {self.max_margin_relative_error:.2g}); weights sum to {self.weight_total:,.6g}, "
                f"range {self.weight_min:.4g}..{self.weight_max:.4g}{trim}\n"
                f"design effect from weighting {self.design_effect:.4f}, "
                f"Kish effective n {self.effective_n:.1f}")


@dataclass(frozen=True)
class RakeResult:
    """Raked weights (a Series aligned with the sample's index) and their diagnostics."""

    weights: pd.Series
    diagnostics: RakeDiagnostics


class MarginsMissed(LeapError):
    """Raking stopped without meeting its margins; ``result`` holds the weights and diagnostics."""

    def __init__(self, result: RakeResult):
        d = result.diagnostics
        worst = d.margins.assign(rel=d.margins["error"].abs() / d.margins["target"]).sort_values("rel").iloc[-1]
        super().__init__(
            f"raking stopped but misses its margins: {worst['variable']}={worst['level']} achieved "
            f"{worst['achieved']:,.6g} for a target of {worst['target']:,.6g} ({worst['rel']:.1%} off; tolerance "
            f"{d.margin_tolerance:.1%})",
            hint="the sample cannot represent these margins (levels confounded in few schools): collapse "
                 "levels, drop a raking variable, or use the base weights")
        self.result = result


@dataclass
class _Problem:
    variables: list[str]
    levels: list[np.ndarray]      # per variable: level labels (str), in margins order
    codes: list[np.ndarray]       # per variable: level index of each respondent, shape (n,)
    targets: list[np.ndarray]     # per variable: population totals, shape (levels,)
    base: np.ndarray              # d_i, shape (n,)


def kish_design_effect(weights) -> float:
    """Design effect from weighting (Kish): ``1 + CV^2 = n * sum(w^2) / sum(w)^2`` (scale-free: the
    weights are divided by their largest first, so squares of tiny weights do not underflow)."""
    w = np.asarray(weights, dtype=float)
    w = w / w.max()
    return float(len(w) * np.sum(w * w) / np.sum(w) ** 2)


def kish_effective_n(weights) -> float:
    """Kish effective sample size ``sum(w)^2 / sum(w^2)`` (= n / design effect)."""
    w = np.asarray(weights, dtype=float)
    w = w / w.max()
    return float(np.sum(w) ** 2 / np.sum(w * w))


def load_margins(source: str | Path | pd.DataFrame, instrument: str | None = None) -> pd.DataFrame:
    """Margins as a DataFrame ``variable, level, total`` (levels as text, totals as float).

    ``source`` is a CSV path or a DataFrame. A file with an ``instrument`` column (the instrument definition's
    ``population_margins.csv``) must be filtered with ``instrument``.
    """
    df = _read_csv(source, "margins") if not isinstance(source, pd.DataFrame) else source.copy()
    missing = [c for c in MARGIN_COLUMNS if c not in df.columns]
    if missing:
        raise LeapError(f"margins lack column(s) {', '.join(missing)}",
                        hint="the margins file needs columns variable, level, total")
    df = _filter_instrument(df, instrument)
    df = df[list(MARGIN_COLUMNS)].assign(variable=lambda d: d["variable"].astype(str).str.strip(),
                                         level=lambda d: d["level"].astype(str).str.strip())
    df["total"] = pd.to_numeric(df["total"], errors="coerce")
    _check_margins(df)
    return df.reset_index(drop=True)


def rake(sample: pd.DataFrame, margins: pd.DataFrame, *, base_weights: str | None = None,
         tolerance: float = 1e-10, max_iter: int = 1000, trim_lower: float | None = None,
         trim_upper: float | None = None, margin_tolerance: float = MARGIN_TOLERANCE) -> RakeResult:
    """Rake ``sample`` to ``margins`` (``variable, level, total``; see :func:`load_margins`).

    ``base_weights`` names a column of positive base weights (default: all 1). Levels are compared as text.
    ``tolerance``: raking stops when no cell of the weighted cross-table of the raking variables moved by
    ``tolerance * sum(base weights)`` in a cycle (at most ``max_iter`` cycles); trimming stops when every
    margin is met within ``tolerance * N`` (at most ``max_iter`` Newton steps). ``trim_lower`` (0..1) and
    ``trim_upper`` (> 1) bound the final weights as multiples of their mean ``N / n``; either may be None.
    Raises :class:`LeapError` when a variable is missing, a sample level has no margin or a margin level no
    respondents, a base weight is not positive, the margins disagree on the population size, or the
    weights do not converge within ``max_iter`` cycles (or the trimming bounds cannot be met), and
    :class:`MarginsMissed` (with the result) when they converge but miss a margin by more than
    ``margin_tolerance`` (relative).
    """
    margins = load_margins(margins)
    _check_options(tolerance, max_iter, trim_lower, trim_upper)
    prob = _prepare(sample, margins, base_weights)
    w, logf, iterations = _ipf(prob, tolerance, max_iter)
    bounds = None
    if trim_lower is not None or trim_upper is not None:
        mean = prob.targets[0].sum() / len(w)
        bounds = ((trim_lower or 0.0) * mean, (trim_upper if trim_upper is not None else np.inf) * mean)
        w, steps = _bounded(prob, logf, bounds, tolerance, max_iter)
        iterations += steps
    diag = _diagnostics(prob, w, iterations, bounds, margin_tolerance)
    result = RakeResult(pd.Series(w, index=sample.index, name="weight"), diag)
    if not diag.meets_margins:
        raise MarginsMissed(result)
    return result


def _read_csv(path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except FileNotFoundError as exc:
        raise LeapError(f"{what} file not found: {path}") from exc
    except pd.errors.EmptyDataError as exc:
        raise LeapError(f"{what} file is empty: {path}") from exc


def _filter_instrument(df: pd.DataFrame, instrument: str | None) -> pd.DataFrame:
    if "instrument" not in df.columns:
        if instrument is not None:
            raise LeapError("--instrument given but the margins have no instrument column")
        return df
    if instrument is None:
        if df["instrument"].nunique() > 1:
            raise LeapError("the margins hold several instruments: "
                            + ", ".join(sorted(df["instrument"].unique())),
                            hint="choose one with --instrument (instrument=... in Python)")
        return df
    out = df[df["instrument"] == instrument]
    if out.empty:
        raise LeapError(f"no margins for instrument {instrument!r}",
                        hint="instruments in the file: " + ", ".join(sorted(df["instrument"].unique())))
    return out


def _check_margins(df: pd.DataFrame) -> None:
    if df.empty:
        raise LeapError("the margins are empty")
    bad = df[~(df["total"] > 0) | ~np.isfinite(df["total"])]
    if not bad.empty:
        r = bad.iloc[0]
        raise LeapError(f"margin total for {r['variable']}={r['level']} is not a positive number")
    dup = df[df.duplicated(["variable", "level"])]
    if not dup.empty:
        r = dup.iloc[0]
        raise LeapError(f"margin {r['variable']}={r['level']} is listed twice")
    sums = df.groupby("variable", sort=False)["total"].sum()
    if (sums.max() - sums.min()) > 1e-9 * sums.max():
        raise LeapError("the margins disagree on the population size: "
                        + ", ".join(f"{v} sums to {s:,.10g}" for v, s in sums.items()),
                        hint="raking cannot meet margins with different totals; fix the margins file")


def _check_options(tolerance, max_iter, trim_lower, trim_upper) -> None:
    if not tolerance > 0:
        raise LeapError(f"tolerance must be positive, got {tolerance}")
    if max_iter < 1:
        raise LeapError(f"max_iter must be at least 1, got {max_iter}")
    if trim_lower is not None and not 0 <= trim_lower < 1:
        raise LeapError(f"trim_lower must be in [0, 1) (a multiple of the mean weight), got {trim_lower}")
    if trim_upper is not None and not trim_upper > 1:
        raise LeapError(f"trim_upper must be greater than 1 (a multiple of the mean weight), "
                        f"got {trim_upper}")


def _prepare(sample: pd.DataFrame, margins: pd.DataFrame, base_weights: str | None) -> _Problem:
    if len(sample) == 0:
        raise LeapError("the sample has no rows")
    variables = list(dict.fromkeys(margins["variable"]))
    missing = [v for v in variables if v not in sample.columns]
    if missing:
        raise LeapError(f"the sample lacks raking variable(s) {', '.join(missing)} named in the margins",
                        hint="columns in the sample: " + ", ".join(map(str, sample.columns)))
    prob = _Problem(variables, [], [], [], _base_weights(sample, base_weights))
    for v in variables:
        m = margins[margins["variable"] == v]
        levels = m["level"].to_numpy(dtype=object)
        prob.levels.append(levels)
        prob.codes.append(_codes(sample[v], v, levels))
        prob.targets.append(m["total"].to_numpy(dtype=float))
    return prob


def _codes(column: pd.Series, variable: str, levels: np.ndarray) -> np.ndarray:
    if column.isna().any():
        raise LeapError(f"raking variable {variable} is missing for {int(column.isna().sum())} respondent(s)",
                        hint="impute or drop them before raking")
    values = column.astype(str).str.strip()
    codes = pd.Index(levels).get_indexer(values)
    if (codes < 0).any():
        level = values[codes < 0].iloc[0]
        raise LeapError(f"sample level {variable}={level} has no margin "
                        f"({int((codes < 0).sum())} respondent(s) outside the margins)",
                        hint=f"levels in the margins for {variable}: {', '.join(levels)}")
    counts = np.bincount(codes, minlength=len(levels))
    if (counts == 0).any():
        level = levels[np.argmax(counts == 0)]
        raise LeapError(f"margin level {variable}={level} has no respondents in the sample",
                        hint="collapse it with a neighbouring level in both the margins and the sample")
    return codes.astype(np.intp)


def _base_weights(sample: pd.DataFrame, column: str | None) -> np.ndarray:
    if column is None:
        return np.ones(len(sample))
    if column not in sample.columns:
        raise LeapError(f"base weight column {column} not in the sample")
    d = pd.to_numeric(sample[column], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(d) & (d > 0))
    if bad.any():
        first = int(np.argmax(bad))
        raise LeapError(f"base weight {column} is missing or not positive for {int(bad.sum())} respondent(s)",
                        hint=f"first at row {first}: {sample[column].iloc[first]!r}")
    return d


def _joint_codes(prob: _Problem) -> np.ndarray:
    return np.ravel_multi_index(prob.codes, [len(lv) for lv in prob.levels])


def _ipf(prob: _Problem, tolerance: float, max_iter: int):
    """R's rake(): post-stratify on each variable per cycle until the joint table stops moving."""
    w = prob.base.copy()
    logf = [np.zeros(len(lv)) for lv in prob.levels]
    joint = _joint_codes(prob)
    size = int(np.prod([len(lv) for lv in prob.levels]))
    old = np.bincount(joint, weights=w, minlength=size)
    epsilon = tolerance * prob.base.sum()
    for cycle in range(1, max_iter + 1):
        for k, (codes, target) in enumerate(zip(prob.codes, prob.targets, strict=True)):
            ratio = target / np.bincount(codes, weights=w, minlength=len(target))
            w = w * ratio[codes]
            logf[k] += np.log(ratio)
        new = np.bincount(joint, weights=w, minlength=size)
        delta = np.abs(new - old).max()
        if delta < epsilon:
            return w, logf, cycle
        old = new
    raise LeapError(f"raking did not converge in {max_iter} iterations (largest change of a cell of the "
                    f"weighted cross-table in the last one: {delta:.6g}, needed < {epsilon:.6g})",
                    hint="raise --max-iter or --tolerance, or collapse sparse levels of the raking variables")


class _Dual:
    """Convex dual of bounded raking: ``F(lambda) = sum_i d_i Psi_i(x_i' lambda) - T' lambda``.

    ``Psi_i' (u) = clip(exp(u), lo_i, hi_i)`` (exp between the bounds, linear outside), so the gradient is
    ``achieved - target`` and the minimiser gives the bounded raking weights
    ``d_i clip(exp(u_i), lo_i, hi_i)``.
    """

    def __init__(self, prob: _Problem, bounds):
        self.prob = prob
        self.offsets = np.cumsum([0] + [len(lv) for lv in prob.levels])
        self.lo, self.hi = bounds[0] / prob.base, bounds[1] / prob.base
        with np.errstate(divide="ignore"):
            self.log_lo, self.log_hi = np.log(self.lo), np.log(self.hi)
        self.target = np.concatenate(prob.targets)

    def linear(self, lam: np.ndarray) -> np.ndarray:
        return sum(lam[self.offsets[k] + codes] for k, codes in enumerate(self.prob.codes))

    def value(self, lam: np.ndarray) -> float:
        u = self.linear(lam)
        with np.errstate(over="ignore", invalid="ignore"):
            psi = np.where(u < self.log_lo, self.lo * (u - self.log_lo + 1),
                           np.where(u > self.log_hi, self.hi * (u - self.log_hi + 1), np.exp(u)))
        return float(self.prob.base @ psi - self.target @ lam)

    def state(self, lam: np.ndarray):
        """Weights, gradient (achieved - target), Hessian unit weights ``d_i exp(u_i)`` (0 if clipped)."""
        u = self.linear(lam)
        free = (u > self.log_lo) & (u < self.log_hi)
        with np.errstate(over="ignore"):
            w = self.prob.base * np.clip(np.exp(u), self.lo, self.hi)
        achieved = np.concatenate([np.bincount(c, weights=w, minlength=len(t))
                                   for c, t in zip(self.prob.codes, self.prob.targets, strict=True)])
        return w, achieved - self.target, np.where(free, w, 0.0)


def _bounded(prob: _Problem, logf: list[np.ndarray], bounds, tolerance: float, max_iter: int):
    """Damped Newton on the dual (Armijo line search) from the unbounded solution ``lambda = log f``."""
    _check_bounds_feasible(prob, bounds)
    dual, lam = _Dual(prob, bounds), np.concatenate(logf)
    w, grad, h = dual.state(lam)
    for step in range(1, max_iter + 1):
        if np.abs(grad).max() < tolerance * prob.targets[0].sum():
            return w, step - 1
        hess = _jacobian(prob, h, dual.offsets)
        hess[np.diag_indices_from(hess)] += 1e-12 * max(hess.trace(), 1.0)   # flat (all-clipped) directions
        direction = -np.linalg.lstsq(hess, grad, rcond=None)[0]
        lam = _line_search(dual, lam, direction, grad)
        if lam is None:
            break
        w, grad, h = dual.state(lam)
    raise LeapError(f"the trimming bounds [{bounds[0]:.6g}, {bounds[1]:.6g}] cannot be met together with the "
                    f"margins (largest margin error after {step} Newton steps: {np.abs(grad).max():.6g})",
                    hint="widen --trim-lower / --trim-upper")


def _line_search(dual: _Dual, lam: np.ndarray, direction: np.ndarray, grad: np.ndarray):
    """Backtracking step along ``direction``: the first of 1, 1/2, 1/4, ... that decreases F enough (Armijo),
    or -- near the optimum, where F's rounding hides the decrease -- the largest margin error. None: stuck."""
    f0, slope, g0 = dual.value(lam), float(grad @ direction), np.abs(grad).max()
    for _ in range(50):
        f1 = dual.value(lam + direction)
        if np.isfinite(f1) and (f1 <= f0 + 1e-4 * slope or np.abs(dual.state(lam + direction)[1]).max() < g0):
            return lam + direction
        direction = direction / 2
        slope /= 2
    return None


def _check_bounds_feasible(prob: _Problem, bounds) -> None:
    """A level with n respondents can reach only totals in [n * lo, n * hi]: name the first that cannot."""
    for v, levels, codes, target in zip(prob.variables, prob.levels, prob.codes, prob.targets, strict=True):
        counts = np.bincount(codes, minlength=len(levels))
        bad = (target < counts * bounds[0]) | (target > counts * bounds[1])
        if bad.any():
            j = int(np.argmax(bad))
            raise LeapError(f"margin {v}={levels[j]} (total {target[j]:,.10g}) cannot be met by its "
                            f"{counts[j]} respondents with weights in [{bounds[0]:.6g}, {bounds[1]:.6g}]",
                            hint="widen --trim-lower / --trim-upper")


def _jacobian(prob: _Problem, h: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``X' diag(h) X`` for the level-indicator matrix X, block by block with bincount (no n × K matrix)."""
    k_total = offsets[-1]
    jac = np.zeros((k_total, k_total))
    for a, ca in enumerate(prob.codes):
        for b, cb in enumerate(prob.codes):
            na, nb = offsets[a + 1] - offsets[a], offsets[b + 1] - offsets[b]
            block = np.bincount(ca * nb + cb, weights=h, minlength=na * nb).reshape(na, nb)
            jac[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] = block
    return jac


def _diagnostics(prob: _Problem, w: np.ndarray, iterations: int, bounds, margin_tolerance: float) -> RakeDiagnostics:
    rows = []
    for v, levels, codes, target in zip(prob.variables, prob.levels, prob.codes, prob.targets, strict=True):
        achieved = np.bincount(codes, weights=w, minlength=len(levels))
        base = np.bincount(codes, weights=prob.base, minlength=len(levels))
        n_level = np.bincount(codes, minlength=len(levels))
        for j, level in enumerate(levels):
            rows.append({"variable": v, "level": level, "sample_n": int(n_level[j]), "base_total": base[j],
                         "target": target[j], "achieved": achieved[j], "error": achieved[j] - target[j]})
    margins = pd.DataFrame(rows)
    err = margins["error"].abs()
    at_bounds = 0 if bounds is None else int(np.sum(np.isclose(w, bounds[0]) | np.isclose(w, bounds[1])))
    return RakeDiagnostics(
        converged=True, iterations=iterations, n=len(w), weight_total=float(w.sum()),
        max_margin_error=float(err.max()), max_margin_relative_error=float((err / margins["target"]).max()),
        design_effect=kish_design_effect(w), effective_n=kish_effective_n(w), weight_min=float(w.min()),
        weight_max=float(w.max()), weight_mean=float(w.mean()),
        trim_bounds=None if bounds is None else (float(bounds[0]), float(bounds[1])), n_at_bounds=at_bounds,
        margins=margins, margin_tolerance=margin_tolerance)
