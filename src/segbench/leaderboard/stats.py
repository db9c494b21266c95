"""The statistics of a leaderboard: intervals over seeds, degenerate runs, and the comparison
of algorithms across (dataset × feature expression) cells.

**Intervals over seeds** (:func:`intervals`), for ``n`` seeds that have the metric:

- ``n = 1``: no interval;
- ``2 ≤ n < 5`` (:data:`MIN_SEEDS_T`): the seeds' minimum and maximum (``kind = "range"``).
  A Student-t interval on 2 seeds multiplies the spread by 12.7 and says little more than the
  two values themselves;
- ``n ≥ 5``: the 95% Student-t interval ``mean ± t(0.975, n−1)·s/√n`` (``kind = "t95"``),
  clipped to the metric's valid range (:mod:`segbench.evaluation.registry`): a bounded
  metric is never drawn beyond its bounds.

**Degenerate runs** (:func:`degenerate`): a run that found fewer than 2 segments, or labelled
more than ``max_noise`` of its customers noise (:data:`MAX_NOISE`, 50% by default). Internal
indices are computed on the non-noise customers, so a run that throws most customers away
can score well on them; the leaderboard ranks such runs after every other run.

**Across cells** (:func:`compare`), after Demšar (2006), *Statistical comparisons of
classifiers over multiple data sets*, JMLR 7:1–30: each cell ranks its algorithms (1 = best,
ties share the average rank); the Friedman test asks whether the mean ranks differ more than
chance allows, with the Iman–Davenport F form deciding (Demšar's recommendation; the
χ² form is shown beside it); if it rejects at ``alpha``, the Nemenyi post-hoc test
(:func:`scikit_posthocs.posthoc_nemenyi_friedman`) names the pairs whose mean ranks differ by
more than the critical difference ``CD = q_α·√(k(k+1)/(6N))``.

Hand-checked against Demšar's own example (his section 3.2.4: four variants of C4.5 on 14
data sets, mean ranks 3.143, 2.000, 2.893, 1.964): χ²_F = 9.28, F_F = 3.69, CD = 1.25 at
α = 0.05 (no pair significant) and 1.12 at α = 0.10 (C4.5 worse than C4.5+m and than
C4.5+m+cf) — ``tests/test_leaderboard_stats.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

#: Below this many seeds an interval is the seeds' min–max, never a t-interval.
MIN_SEEDS_T = 5
#: Default share of noise above which a run is degenerate.
MAX_NOISE = 0.5
#: Fewest segments a run must find not to be degenerate.
MIN_SEGMENTS = 2


def intervals(
    mean: pd.Series,
    std: pd.Series,
    low: pd.Series,
    high: pd.Series,
    n: pd.Series,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> pd.DataFrame:
    """Interval columns ``low, high, kind`` for groups with these summary statistics.

    ``low``/``high`` are the groups' minimum and maximum; ``n`` the number of values.

    >>> s = lambda *v: pd.Series(v, dtype=float)
    >>> intervals(s(0.6, 0.9), s(0.14, 0.05), s(0.5, 0.8), s(0.7, 0.95), s(2, 6),
    ...           bounds=(-1, 1)).round(3).values.tolist()
    [[0.5, 0.7, 'range'], [0.848, 0.952, 't95']]
    """
    n = n.astype(float)
    t_half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * std / np.sqrt(n)
    use_t = n >= MIN_SEEDS_T
    use_range = (n >= 2) & ~use_t
    out = pd.DataFrame(index=mean.index)
    out["low"] = np.where(
        use_t, np.maximum(mean - t_half, bounds[0]), np.where(use_range, low, np.nan)
    )
    out["high"] = np.where(
        use_t, np.minimum(mean + t_half, bounds[1]), np.where(use_range, high, np.nan)
    )
    out["kind"] = np.where(use_t, "t95", np.where(use_range, "range", ""))
    return out


def degenerate(n_segments: pd.Series, noise: pd.Series, max_noise: float = MAX_NOISE) -> pd.Series:
    """Per run, why it is degenerate (``""`` when it is not; unknown values never make it so).

    >>> degenerate(pd.Series([1.0, 6, 4, None]), pd.Series([0.0, 0.0, 0.89, None])).tolist()
    ['1 segment', '', '89% noise', '']
    """
    few = n_segments < MIN_SEGMENTS
    noisy = noise > max_noise
    why = np.where(
        few, n_segments.map(lambda v: f"{v:.0f} segment" if v == 1 else f"{v:.0f} segments"), ""
    )
    why = np.where(noisy & ~few, noise.map(lambda v: f"{100 * v:.0f}% noise"), why)
    return pd.Series(why, index=n_segments.index, dtype=object).fillna("")


@dataclass
class Comparison:
    """The Friedman test and the Nemenyi post-hoc test over the cells (module docstring)."""

    ranks: pd.DataFrame  # cells (rows) × algorithms, 1 = best
    mean_ranks: pd.Series  # best first
    alpha: float
    chi2: float
    p_chi2: float
    ff: float
    p_ff: float
    cd: float
    pvalues: pd.DataFrame  # Nemenyi, algorithms × algorithms
    #: ``(better, worse, difference of mean ranks, p)`` of the significant pairs
    pairs: list[tuple[str, str, float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_cells(self) -> int:
        return len(self.ranks)

    @property
    def k(self) -> int:
        return self.ranks.shape[1]

    @property
    def significant(self) -> bool:
        """Whether the Friedman test (Iman–Davenport form) rejects equal mean ranks."""
        return bool(self.p_ff < self.alpha)

    def significance(self) -> pd.DataFrame:
        """The p-values the post-hoc decisions use: Nemenyi's when Friedman rejects, else 1."""
        if self.significant:
            return self.pvalues
        return pd.DataFrame(1.0, index=self.pvalues.index, columns=self.pvalues.columns)


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of mean ranks for ``k`` algorithms over ``n`` cells.

    >>> round(critical_difference(4, 14, 0.05), 2), round(critical_difference(4, 14, 0.10), 2)
    (1.25, 1.12)
    """
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def friedman(ranks: pd.DataFrame) -> tuple[float, float, float, float]:
    """``(χ²_F, p, F_F, p)`` of the Friedman test on a cells × algorithms rank matrix.

    χ²_F from scipy (with its correction for ties); F_F = (N−1)χ²_F / (N(k−1) − χ²_F) on
    (k−1, (k−1)(N−1)) degrees of freedom (Iman and Davenport, 1980).
    """
    n, k = ranks.shape
    chi2, p_chi2 = stats.friedmanchisquare(*ranks.to_numpy(dtype=float).T)
    denominator = n * (k - 1) - chi2
    if denominator <= 0:  # every cell ranks the algorithms alike
        return float(chi2), float(p_chi2), math.inf, 0.0
    ff = (n - 1) * chi2 / denominator
    p_ff = stats.f.sf(ff, k - 1, (k - 1) * (n - 1))
    return float(chi2), float(p_chi2), float(ff), float(p_ff)


def complete_design(long: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The cells × algorithms rank matrix with no gap, and notes on what was left out.

    ``long`` has columns ``cell, algorithm, rank``. Algorithms present in fewer than half
    the cells are left out; then cells lacking one of the remaining algorithms.
    """
    wide = long.pivot_table(index="cell", columns="algorithm", values="rank", aggfunc="mean")
    notes = []
    present = wide.notna().sum()
    rare = sorted(present[present < len(wide) / 2].index)
    if rare:
        notes.append(f"left out: {', '.join(rare)} (in fewer than half of the {len(wide)} cells)")
        wide = wide.drop(columns=rare)
    gaps = wide.index[wide.isna().any(axis=1)]
    if len(gaps):
        notes.append(
            f"left out {len(gaps)} cell(s) where an algorithm did not finish: "
            + ", ".join(str(g) for g in gaps)
        )
        wide = wide.drop(index=gaps)
    # re-rank within each remaining cell: dropping algorithms shifts the ranks
    return wide.rank(axis=1, method="average"), notes


def compare(long: pd.DataFrame, alpha: float = 0.05) -> Comparison | str:
    """The Friedman and Nemenyi tests on ``long`` (``cell, algorithm, rank``), or the reason
    they cannot run (fewer than 2 cells or 3 algorithms in a complete design)."""
    ranks, notes = complete_design(long)
    n, k = ranks.shape
    if n < 2 or k < 3:
        return (
            f"no test across cells: it needs at least 2 cells and 3 algorithms that ran in "
            f"all of them, found {n} cell(s) and {k} algorithm(s)"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    import scikit_posthocs  # seaborn and statsmodels come with it: import only when used

    chi2, p_chi2, ff, p_ff = friedman(ranks)
    mean_ranks = ranks.mean().sort_values(kind="stable")
    pvalues = scikit_posthocs.posthoc_nemenyi_friedman(ranks.to_numpy(dtype=float))
    pvalues.index = pvalues.columns = list(ranks.columns)
    result = Comparison(
        ranks=ranks,
        mean_ranks=mean_ranks,
        alpha=alpha,
        chi2=chi2,
        p_chi2=p_chi2,
        ff=ff,
        p_ff=p_ff,
        cd=critical_difference(k, n, alpha),
        pvalues=pvalues,
        notes=notes,
    )
    if result.significant:
        order = list(mean_ranks.index)
        for i, better in enumerate(order):
            for worse in order[i + 1 :]:
                p = float(pvalues.loc[better, worse])
                if p < alpha:
                    diff = float(mean_ranks[worse] - mean_ranks[better])
                    result.pairs.append((better, worse, diff, p))
    return result


__all__ = [
    "MAX_NOISE",
    "MIN_SEEDS_T",
    "MIN_SEGMENTS",
    "Comparison",
    "compare",
    "complete_design",
    "critical_difference",
    "degenerate",
    "friedman",
    "intervals",
]
