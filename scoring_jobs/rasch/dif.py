"""Differential item functioning (DIF) of the items of one scale between groups of persons.

Input: ``responses (n_persons, n_items)`` as for :func:`.api.calibrate` (int with -1 = missing, or float
with NaN), ``groups (n_persons,)`` of any labels (None / NaN / "" = no group: the person is left out),
``model`` "pcm" or "rsm". Unweighted. Output (:class:`DIFResult`), three tidy tables; their grain:

* ``items``: one row per item x focal group. The reference group is the largest group unless given;
  every other group is a focal group compared with it (the ETS reference/focal design; Winsteps
  Table 30.1's pairwise form).
* ``lr``: one row for the scale: Andersen's likelihood-ratio test across all analysed groups.
* ``groups``: one row per group: persons, role, whether it is analysed and why not.

Statistics (details and references in docs/rasch.md, "DIF"):

* **Andersen LR test**: CML fits of the pooled data and of each group; ``LR = 2 (sum_g loglik_g -
  loglik_pooled)``, ``df = sum_g npar_g - npar_pooled``, chi-square. As eRm's ``LRtest``.
* **Wald test of each item's location** (mean of its step thresholds), focal minus reference, in
  logits on the difficulty scale (positive = harder for the focal group), and for the PCM a joint Wald
  test of all the item's step thresholds (``steps_*``, non-uniform DIF). CML conditions person ability
  out, so a difference in the groups' ability distributions never enters the item estimates; only
  the origin of each group's scale has to be tied. **Anchoring**: each group's locations are re-origined
  so the mean location of the *anchor items* is equal in both groups, and all item contrasts are
  tested against that anchor. ``anchor="all"``: every item (the sum-zero identification within each
  group); a DIF of size ``d`` on one of ``I`` items then shows as ``d (1 - 1/I)`` on it and ``-d/I`` on
  every other item. ``anchor="purify"`` (default): start from all items, drop the items flagged
  (Benjamini-Hochberg q < alpha) from the anchor and test again, until the anchor set no longer
  changes (at most 10 rounds; an anchor is never emptied). When every item is flagged (a large sample,
  where one item's DIF spread over the all-items anchor is itself significant), the anchor item whose
  contrast lies farthest from the anchor's median contrast is dropped, one per round (at least two
  stay) — iterative purification (Candell & Drasgow
  1988; Wang & Yeh 2003). A list of item names: those items are the anchor (as psychotools'
  ``anchortest(class = "fixed")``).
* **Mantel's chi-square**, the standardized mean difference and the ETS A/B/C class: :mod:`.mantel`,
  matched on answered-items pattern x total score over the studied item and the anchor items, so
  the items the Wald test found with DIF (with the purified anchor) stay out of the other items'
  matching score (criterion refinement); with ``anchor="all"`` every analysed item is in it.
* **Multiple testing**: Benjamini-Hochberg q-values over the testable items of one comparison (one
  focal group against the reference), separately for the Wald (``q_value``) and the Mantel
  (``mantel_q``) p-values; ``flagged`` = testable and ``q_value < alpha``. The ETS class keeps its own
  per-item .05 rule.

**Not testable** (never read as "no DIF"): a group with fewer than ``min_group_n`` persons who answered
at least one item (all its rows, reason given; also every comparison with a too-small reference group);
an item some category of which, used in the pooled data, has fewer than ``min_category_n`` responses
in an analysed group, counting persons with a non-extreme score (the ones CML uses). Without the
category the item's location would mean something else in that group (eRm's ``LRtest`` drops such an
item likewise, at 0 responses), and with a handful of responses the step estimate is too far from normal
for a Wald z; so the item is left out of every fit and every comparison, with the reason in each of its
rows and in the LR row's ``items_excluded``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .api import MODELS, _jsonable
from .cml import CMLResult, _informative, fit_cml
from .io import as_responses, write_csv
from .mantel import mantel
from .params import step_spans
from .patterns import group_patterns, item_category_counts

__all__ = ["DIFResult", "dif_analysis", "ITEM_COLUMNS", "LR_COLUMNS"]

MIN_GROUP_N = 100
MIN_CATEGORY_N = 5
MAX_PURIFY_ROUNDS = 10

ITEM_COLUMNS = [
    "item", "group", "reference_group", "n_focal", "n_reference", "testable", "reason", "is_anchor",
    "dif_contrast_logits", "dif_contrast_se", "wald_z", "p_value", "q_value", "flagged",
    "steps_chi2", "steps_df", "steps_p", "mantel_chi2", "mantel_p", "mantel_q", "smd", "smd_sd", "ets_class",
]
LR_COLUMNS = [
    "model", "groups", "n_groups", "n_persons", "n_items", "items_excluded", "loglik_pooled", "loglik_groups",
    "lr_chi2", "df", "p_value", "testable", "reason",
]


@dataclass
class DIFResult:
    """Result of :func:`dif_analysis`; see the module doc for the tables' grain and columns."""

    items: pd.DataFrame
    lr: pd.DataFrame
    groups: pd.DataFrame
    reference_group: str | None
    anchors: dict[str, list[str]]  # focal group -> the final anchor items of its comparison
    settings: dict
    pooled_fit: CMLResult | None = None
    group_fits: dict[str, CMLResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """The ``summary.json`` content."""
        lr = self.lr.iloc[0].to_dict()
        flagged = self.items[self.items["flagged"]]
        return {
            **self.settings,
            "reference_group": self.reference_group,
            "lr": {k: lr[k] for k in ("lr_chi2", "df", "p_value", "testable", "reason", "items_excluded")},
            "groups": self.groups.to_dict(orient="records"),
            "n_rows": len(self.items),
            "n_rows_testable": int(self.items["testable"].sum()),
            "flagged": flagged[["item", "group", "dif_contrast_logits", "q_value"]].to_dict(orient="records"),
            "ets_class_counts": self.items["ets_class"].value_counts().to_dict(),
            "anchors": self.anchors,
            "converged": all(f.converged for f in self._fits()),
            "notes": self.notes,
        }

    def _fits(self) -> list[CMLResult]:
        return ([self.pooled_fit] if self.pooled_fit is not None else []) + list(self.group_fits.values())

    def to_dir(self, path) -> Path:
        """Write ``dif_items.csv``, ``dif_lr.csv`` and ``summary.json`` into ``path``."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(self.items, out / "dif_items.csv")
        write_csv(self.lr, out / "dif_lr.csv")
        (out / "summary.json").write_text(json.dumps(_jsonable(self.summary()), indent=2) + "\n")
        return out


# ---------------------------------------------------------------------------------------------- groups


def _label(value) -> str | None:
    """A group label as text; missing (None, NaN, "") -> None; 2.0 -> "2" (integers read as floats)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _labels(groups, n: int) -> np.ndarray:
    values = groups.to_numpy(dtype=object) if isinstance(groups, pd.Series) else np.asarray(groups, dtype=object)
    if values.shape != (n,):
        raise ValueError(f"groups must have one label per person ({n}), not shape {values.shape}")
    # Labelled once per distinct value, not per person (2 million calls for the five groupings of a scale
    # of 400,000 students: 0.2 s of the scale's 7.3 s); only when every distinct value is text, as
    # factorize would take 1 and True (or 1.0) for one value, which _label tells apart.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if all(isinstance(u, str) for u in uniques):
        return np.array([_label(u) for u in uniques] + [None], dtype=object)[codes]  # code -1 (missing): None
    return np.array([_label(v) for v in values], dtype=object)


def _collapse(resp: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Persons with the same responses and the same group as one row each: ``(resp, labels, freq)`` with
    ``freq`` the number of persons a row stands for (int64).

    Every statistic here is a function of counts of persons (CML's sufficient statistics, Mantel's
    stratum sums, the group sizes), and counts of integers are exact in floating point: the results
    are the same to the bit as person by person (the items' score SD to its last bits), at the cost of
    the distinct rows. Seven five-category items of 400,000 students are ~100,000 distinct rows by
    group (~50,000 response patterns), so every pass over the persons (the fits' grouping, each item's
    Mantel strata, the category screens) reads a quarter of the rows. Rows come out in the order of
    their key, which orders nothing downstream (patterns and strata are numbered by sorting)."""
    codes, _ = pd.factorize(labels, use_na_sentinel=True)
    key = _row_keys(resp, codes)
    if key is None:  # too wide to pack into one integer: the rows themselves
        _, first, freq = np.unique(np.column_stack([resp, codes]), axis=0, return_index=True, return_counts=True)
    else:
        _, first, freq = np.unique(key, return_index=True, return_counts=True)
    return resp[first], labels[first], freq.astype(np.int64)


def _row_keys(resp: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
    """One int64 per row, the responses (missing -1 as 0, category x as x + 1) and the group code (missing
    -1 as 0) in fixed bit fields; None when they need more than 63 bits."""
    bits = int(max(int(resp.max(initial=0)) + 2, 2) - 1).bit_length()
    code_bits = int(int(codes.max(initial=0)) + 2 - 1).bit_length()
    if bits * resp.shape[1] + code_bits > 63:
        return None
    key = codes.astype(np.int64) + 1
    for i in range(resp.shape[1]):
        key = (key << bits) | (resp[:, i].astype(np.int64) + 1)
    return key


def _group_table(labels, answered, freq, min_group_n: int, reference: str | None) -> pd.DataFrame:
    """One row per group: persons who answered at least one item, role, analysed or why not."""
    names = sorted({g for g in labels if g is not None})
    if len(names) < 2:
        raise ValueError(f"DIF needs at least two groups; found {len(names)} ({', '.join(names) or 'none'})")
    n = {g: int(freq[(labels == g) & answered].sum()) for g in names}
    if reference is None:
        reference = max(names, key=lambda g: (n[g], -names.index(g)))  # largest; a tie goes to the first
    elif reference not in n:
        raise ValueError(f"reference group {reference!r} is not among the groups: {', '.join(names)}")
    rows = []
    for g in names:
        small = n[g] < min_group_n
        reason = f"{n[g]} persons, fewer than min_group_n = {min_group_n}" if small else None
        rows.append((g, n[g], "reference" if g == reference else "focal", not small, reason))
    return pd.DataFrame(rows, columns=["group", "n_persons", "role", "testable", "reason"])


# ----------------------------------------------------------------------------------------------- items


def _n_steps(resp: np.ndarray) -> np.ndarray:
    return np.maximum(resp.max(axis=0), 0).astype(int)


def _unestimable(resp, labels, freq, analysed, names, min_category_n) -> dict[str, str]:
    """Items a category of which (used by the pooled non-extreme persons) is too rare in some group."""
    n_steps = _n_steps(resp)
    info = _informative(resp, n_steps)
    n_cats = int(n_steps.max()) + 1
    pooled = item_category_counts(resp[info], n_cats, freq[info])
    out = {}
    for i, name in enumerate(names):
        if (pooled[i] > 0).sum() < 2:
            out[name] = "fewer than two categories used by persons with a non-extreme score"
    for g in analysed:
        sel = info & (labels == g)
        counts = item_category_counts(resp[sel], n_cats, freq[sel])
        for i, name in enumerate(names):
            short = np.flatnonzero((pooled[i] > 0) & (counts[i] < min_category_n))
            if name not in out and short.size:
                x = int(short[0])
                out[name] = (f"category {x} has {int(counts[i, x])} non-extreme responses in group {g}, "
                             f"fewer than min_category_n = {min_category_n}")
    return out


def _screen_items(resp, labels, freq, analysed, names, min_category_n) -> dict[str, str]:
    """Excluded items and why. Dropping an item changes who has an extreme score, so repeat to a fixpoint."""
    excluded: dict[str, str] = {}
    while True:
        keep = [i for i, n in enumerate(names) if n not in excluded]
        if len(keep) < 2:
            return excluded
        new = _unestimable(resp[:, keep], labels, freq, analysed, [names[i] for i in keep], min_category_n)
        if not new:
            return excluded
        excluded.update(new)


# ------------------------------------------------------------------------------------------ likelihood


def _npar(res: CMLResult) -> int:
    """Free parameters of a CML fit: estimable steps - 1 (PCM); items - 1 + steps - 1 (RSM)."""
    if res.model == "rsm":
        return len(res.n_steps) - 1 + len(res.tau) - 1
    return len(res.step_index) - 1


def _lr_row(pooled: CMLResult, fits: dict[str, CMLResult]) -> dict:
    """Andersen (1973): under no DIF, 2 (sum_g loglik_g - loglik_pooled) is chi-square with the extra
    parameters of the group-wise fits as df. CML's conditional likelihoods add over disjoint groups."""
    ll_groups = sum(f.loglik for f in fits.values())
    lr = max(2.0 * (ll_groups - pooled.loglik), 0.0)
    df = sum(_npar(f) for f in fits.values()) - _npar(pooled)
    return {"loglik_pooled": pooled.loglik, "loglik_groups": ll_groups, "lr_chi2": lr, "df": df,
            "p_value": float(stats.chi2.sf(lr, df)), "testable": True, "reason": None}


# ------------------------------------------------------------------------------------------------ Wald


@dataclass
class _Steps:
    """One group's estimable step thresholds ``t`` (in ``step_index`` order) and their covariance."""

    t: np.ndarray
    cov: np.ndarray


def _steps(res: CMLResult) -> _Steps:
    t = np.array([res.thresholds[i, k - 1] for i, k in res.step_index])
    return _Steps(t=t, cov=res.cov)


def _location_map(res: CMLResult) -> tuple[np.ndarray, np.ndarray]:
    """``L (n_items, n_steps)`` with locations = L t, and each step's span (categories it covers).

    An item's location is its finite threshold mass per category of its used range
    (:func:`.params.item_locations`); moving the origin by ``c`` moves a step spanning ``s`` categories by
    ``c s`` (:func:`.params.center_shift`)."""
    spans = step_spans(res.thresholds, res.n_steps)
    span = np.array([spans[i, k - 1] for i, k in res.step_index], dtype=float)
    L = np.zeros((len(res.n_steps), len(span)))
    for s, (i, _) in enumerate(res.step_index):
        L[i, s] = 1.0 / spans[i].sum()
    return L, span


@dataclass
class _Wald:
    contrast: np.ndarray  # (n_items,) anchored location, focal - reference
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    steps_chi2: np.ndarray
    steps_df: np.ndarray


def _wald(ref: _Steps, foc: _Steps, L, span, anchor: np.ndarray, steps: bool) -> _Wald:
    """Contrasts with the anchor items' mean location tied across groups: each group's thresholds move
    by ``-span * mean_{j in anchor} location_j`` (P), the groups are independent samples so the
    covariances add, and z = contrast / se."""
    a = anchor / anchor.sum()
    P = np.eye(len(span)) - np.outer(span, a @ L)
    d_steps = P @ (foc.t - ref.t)
    V_steps = P @ (foc.cov + ref.cov) @ P.T
    contrast, V = L @ d_steps, L @ V_steps @ L.T
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = contrast / se
    chi2, df = _steps_chi2(d_steps, V_steps, L) if steps else (np.full(len(se), np.nan),) * 2
    return _Wald(contrast, se, z, 2 * stats.norm.sf(np.abs(z)), chi2, df)


def _steps_chi2(d, V, L) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the joint Wald chi-square of all its (anchored) step threshold differences, df = steps."""
    chi2, df = np.full(L.shape[0], np.nan), np.full(L.shape[0], np.nan)
    for i in range(L.shape[0]):
        s = np.flatnonzero(L[i])
        chi2[i] = d[s] @ np.linalg.pinv(V[np.ix_(s, s)]) @ d[s]
        df[i] = s.size
    return chi2, df


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (scipy's; the platform's leap.inference.bh_qvalues is tested equal)."""
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def _anchor_mask(anchor, names, run, alpha) -> np.ndarray:
    """The final anchor set of one comparison; ``run(mask)`` gives the Wald tests with that anchor."""
    if not isinstance(anchor, str):
        return np.isin(names, list(anchor))
    mask = np.ones(len(names), dtype=bool)
    if anchor == "all":
        return mask
    for _ in range(MAX_PURIFY_ROUNDS):
        w = run(mask)
        clean = ~(_bh(w.p) < alpha)
        if not clean.any():
            # Every item flagged: with a large sample the all-items anchor spreads one item's DIF d over
            # the others as -d/I, and that alone is significant. Drop the one anchor item whose contrast
            # lies farthest from the anchor's median contrast (the median is what DIF-free items share)
            # and test again; an anchor keeps at least two items.
            if mask.sum() <= 2:
                break
            dev = np.where(mask, np.abs(w.contrast - np.median(w.contrast[mask])), -np.inf)
            clean = mask.copy()
            clean[np.argmax(dev)] = False
        if np.array_equal(clean, mask):
            break
        mask = clean
    return mask


# ------------------------------------------------------------------------------------------ comparison


@dataclass
class _Data:
    """The analysed persons and items: ``resp`` (kept items only), group labels, item names, and how many
    persons each row stands for (:func:`_collapse`)."""

    resp: np.ndarray
    labels: np.ndarray
    names: list[str]
    freq: np.ndarray


def _strata(resp: np.ndarray) -> np.ndarray:
    """Mantel matching strata: answered-items pattern x total score (the CML sufficient statistics)."""
    pg = group_patterns(resp)
    return pg.pattern * (int(pg.raw_score.max()) + 1) + pg.raw_score


def _mantel_columns(data: _Data, focal: str, reference: str, anchor: np.ndarray) -> dict[str, np.ndarray]:
    """Mantel per item, matched on the item itself plus the anchor items: the items found with DIF are
    left out of the matching score (criterion refinement, Holland & Thayer 1988; Zwick 2012), as a DIF
    item in the total would shift the matched groups' ability and show as DIF on the clean items."""
    sel = np.isin(data.labels, [focal, reference])
    resp, is_focal, freq = data.resp[sel], data.labels[sel] == focal, data.freq[sel]
    cols = {k: np.full(len(data.names), np.nan) for k in ("mantel_chi2", "mantel_p", "smd", "smd_sd")}
    cols["ets_class"] = np.full(len(data.names), None, dtype=object)
    # An anchor item is matched on the anchors: one set of strata for all of them, made once over the
    # persons of both groups; the persons who answered an item are then in the same strata as when made
    # over those persons alone (a stratum is a pattern and a score of the matching items, person by person).
    anchor_strata = _strata(resp[:, anchor]) if anchor.any() else None
    for j in range(len(data.names)):
        ok = resp[:, j] >= 0
        if anchor[j]:
            strata = anchor_strata[ok]
        else:
            strata = _strata(resp[ok][:, anchor | (np.arange(len(data.names)) == j)])
        m = mantel(resp[ok, j], is_focal[ok], strata, freq[ok])
        cols["mantel_chi2"][j], cols["mantel_p"][j], cols["smd"][j] = m.chi2, m.p_value, m.smd
        cols["smd_sd"][j], cols["ets_class"][j] = m.smd / m.sd if m.sd > 0 else np.nan, m.ets_class
    cols["mantel_q"] = _bh(cols["mantel_p"])
    return cols


def _compare(data: _Data, fits, focal, reference, anchor, alpha, model) -> tuple[pd.DataFrame, list[str]]:
    """All items of one focal group against the reference group, testable rows only."""
    ref, foc = _steps(fits[reference]), _steps(fits[focal])
    L, span = _location_map(fits[reference])

    def run(mask):
        return _wald(ref, foc, L, span, mask, steps=model == "pcm")

    mask = _anchor_mask(anchor, np.array(data.names), run, alpha)
    w = run(mask)
    q = _bh(w.p)
    frame = pd.DataFrame({
        "item": data.names, "group": focal, "reference_group": reference, "testable": True, "reason": None,
        "is_anchor": mask, "dif_contrast_logits": w.contrast, "dif_contrast_se": w.se, "wald_z": w.z,
        "p_value": w.p, "q_value": q, "flagged": q < alpha, "steps_chi2": w.steps_chi2,
        "steps_df": w.steps_df, "steps_p": stats.chi2.sf(w.steps_chi2, w.steps_df),
        **_mantel_columns(data, focal, reference, mask),
    })
    return frame, [n for n, m in zip(data.names, mask, strict=True) if m]


def _untestable(items, focal, reference, reasons) -> pd.DataFrame:
    return pd.DataFrame({"item": items, "group": focal, "reference_group": reference, "testable": False,
                         "reason": reasons, "is_anchor": False, "flagged": False})


# ------------------------------------------------------------------------------------------------- api


def _validate(model, anchor, min_group_n, min_category_n, alpha):
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    if isinstance(anchor, str) and anchor not in ("purify", "all"):
        raise ValueError(f"anchor must be 'purify', 'all' or a list of item names, not {anchor!r}")
    if min_group_n < 1 or min_category_n < 1:
        raise ValueError("min_group_n and min_category_n must be at least 1")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")


def _item_names(item_names, n_items) -> list[str]:
    names = [f"item{i + 1}" for i in range(n_items)] if item_names is None else [str(n) for n in item_names]
    if len(names) != n_items or len(set(names)) != n_items:
        raise ValueError(f"need {n_items} distinct item names, got {names}")
    return names


def dif_analysis(
    responses,
    groups,
    model: str = "pcm",
    item_names=None,
    reference_group=None,
    min_group_n: int = MIN_GROUP_N,
    min_category_n: int = MIN_CATEGORY_N,
    anchor="purify",
    alpha: float = 0.05,
    start: CMLResult | None = None,
) -> DIFResult:
    """DIF of one scale's items between the groups; see the module doc for statistics and tables.

    ``anchor``: "purify" (default), "all", or a list of item names. ``min_group_n``: fewest persons
    (with at least one answer) for a group to be analysed; ``min_category_n``: fewest non-extreme
    responses in every used category of an item, in every analysed group, for the item to be tested.
    ``start``: a pooled fit of related data (the same scale's analysis by another grouping, whose pooled
    persons differ only by those without a group) to start the pooled fit's Newton iterations from
    (:func:`.cml.fit_cml`: the same maximum, to its stopping rule, in fewer steps).
    """
    _validate(model, anchor, min_group_n, min_category_n, alpha)
    resp = as_responses(responses)
    names = _item_names(item_names, resp.shape[1])
    resp, labels, freq = _collapse(resp, _labels(groups, resp.shape[0]))
    answered = (resp >= 0).any(axis=1)
    ref = None if reference_group is None else _label(reference_group)
    gtab = _group_table(labels, answered, freq, min_group_n, ref)
    ref = str(gtab.loc[gtab["role"] == "reference", "group"].iloc[0])
    analysed = list(gtab.loc[gtab["testable"], "group"])
    settings = {"model": model, "min_group_n": min_group_n, "min_category_n": min_category_n,
                "anchor": anchor if isinstance(anchor, str) else list(anchor), "alpha": alpha,
                "multiple_testing": "Benjamini-Hochberg over the items of each focal-vs-reference comparison",
                "n_persons": int(freq[answered].sum()), "n_items": len(names)}
    persons = answered & np.isin(labels, analysed)
    excluded = {} if len(analysed) < 2 else _screen_items(resp[persons], labels[persons], freq[persons], analysed,
                                                          names, min_category_n)
    kept = [i for i, n in enumerate(names) if n not in excluded]
    if not isinstance(anchor, str):
        _check_anchor(anchor, names, excluded)
    return _run(resp, labels, freq, names, gtab, ref, persons, kept, excluded, settings, start)


def _check_anchor(anchor, names, excluded):
    unknown = [a for a in anchor if a not in names or a in excluded]
    if unknown or not list(anchor):
        raise ValueError(f"anchor items must be analysed items of the scale; not usable: {unknown or 'empty list'}")


def _run(resp, labels, freq, names, gtab, ref, persons, kept, excluded, settings, start=None) -> DIFResult:
    analysed = list(gtab.loc[gtab["testable"], "group"])
    lr = {"model": settings["model"], "groups": "|".join(analysed), "n_groups": len(analysed),
          "n_persons": int(freq[persons].sum()), "n_items": len(kept), "items_excluded": "|".join(excluded) or None}
    result = DIFResult(items=pd.DataFrame(), lr=pd.DataFrame(), groups=gtab, reference_group=ref, anchors={},
                       settings=settings)
    why = _why_untestable(gtab, ref, len(analysed), len(kept))
    tested: dict[str, pd.DataFrame] = {}
    if len(analysed) >= 2 and len(kept) >= 2:
        data = _Data(resp[persons][:, kept], labels[persons], [names[i] for i in kept], freq[persons])
        _fit(result, data, analysed, settings["model"], start)
        lr.update(_lr_row(result.pooled_fit, result.group_fits))
        for focal in (g for g in analysed if g != ref and why.get(g) is None):
            tested[focal], result.anchors[focal] = _compare(data, result.group_fits, focal, ref,
                                                            settings["anchor"], settings["alpha"], settings["model"])
    else:
        lr.update(testable=False, reason=why["*"])
    frames = [_focal_frame(g, ref, names, tested.get(g), [why[g] or excluded.get(n) or why["*"] for n in names])
              for g in gtab.loc[gtab["role"] == "focal", "group"]]
    result.items = _with_counts(pd.concat(frames, ignore_index=True), resp, labels, freq, names, ref)
    result.lr = pd.DataFrame([lr]).reindex(columns=LR_COLUMNS)
    return result


def _why_untestable(gtab, ref, n_analysed, n_kept) -> dict[str, str | None]:
    """Why each focal group's rows are not testable (None = they are); ``"*"``: why nothing is."""
    reason = {g: None if pd.isna(r) else r for g, r in zip(gtab["group"], gtab["reason"], strict=True)}
    out: dict[str, str | None] = {g: None if r is None else f"group {g}: {r}" for g, r in reason.items()}
    if reason[ref] is not None:
        out = {g: r or f"reference group {ref}: {reason[ref]}" for g, r in out.items()}
    out["*"] = ("fewer than two groups with at least min_group_n persons" if n_analysed < 2
                else "fewer than two items can be tested" if n_kept < 2 else None)
    return out


def _fit(result: DIFResult, data: _Data, analysed: list[str], model: str, start: CMLResult | None = None) -> None:
    """CML fits of the pooled analysed persons and of each group, on one category range per item."""
    n_steps = _n_steps(data.resp)
    # the row counts as CML's case weights: its sufficient statistics (category counts, persons per
    # pattern and score) are then the same integers as with the persons repeated, and so is the fit
    result.pooled_fit = fit_cml(data.resp, model, weights=data.freq, n_steps=n_steps, start=start)
    # each group's fit starts at the pooled estimate: the same maximum, in fewer Newton steps
    result.group_fits = {g: fit_cml(data.resp[in_g], model, weights=data.freq[in_g], n_steps=n_steps,
                                    start=result.pooled_fit)
                         for g, in_g in ((g, data.labels == g) for g in analysed)}
    result.notes += [f"CML did not converge for {k}" for k, f in [("pooled", result.pooled_fit),
                                                                   *result.group_fits.items()] if not f.converged]


def _focal_frame(focal, ref, names, tested, reasons) -> pd.DataFrame:
    """All items of one focal group, in scale order: the tested rows and the not-testable ones with
    their reason (the group's or the reference group's size first, then the item's own)."""
    done = set() if tested is None else set(tested["item"])
    rest = [(n, r) for n, r in zip(names, reasons, strict=True) if n not in done]
    untested = _untestable([n for n, _ in rest], focal, ref, [r for _, r in rest])
    frame = pd.concat([f for f in (tested, untested) if f is not None and len(f)], ignore_index=True)
    order = {n: i for i, n in enumerate(names)}
    return frame.sort_values("item", key=lambda s: s.map(order)).reindex(columns=ITEM_COLUMNS)


def _with_counts(items, resp, labels, freq, names, ref) -> pd.DataFrame:
    """Fill n_focal / n_reference: persons of the group who answered the item."""
    def answered_by(g) -> list[int]:
        sel = labels == g
        return (freq[sel] @ (resp[sel] >= 0)).tolist()

    answered = {g: dict(zip(names, answered_by(g), strict=True)) for g in set(items["group"]) | {ref}}
    items["n_focal"] = [answered[g][n] for n, g in zip(items["item"], items["group"], strict=True)]
    items["n_reference"] = items["item"].map(answered[ref])
    return items.reset_index(drop=True).astype({"testable": bool, "is_anchor": bool, "flagged": bool})
