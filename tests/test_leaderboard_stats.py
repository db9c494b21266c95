"""The leaderboard's statistics, checked by hand: intervals over few seeds, degenerate runs,
and the Friedman / Nemenyi comparison on Demšar's (2006) own worked example."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from segbench.leaderboard.stats import (
    compare,
    complete_design,
    critical_difference,
    degenerate,
    friedman,
    intervals,
)

# Demšar (2006), section 3.2.4: AUC of C4.5 with and without tuning m and cf on 14 data sets.
# The paper's mean ranks are 3.143, 2.000, 2.893 and 1.964 (rank sums 44, 28, 40.5, 27.5);
# these 14 rows of ranks have exactly those sums (the last row ties the two tuned variants).
DEMSAR = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]
DEMSAR_RANKS = [
    (4, 2, 1, 3),
    (3, 4, 1, 2),
    (2, 3, 4, 1),
    (4, 3, 2, 1),
    (2, 1, 3, 4),
    (2, 3, 4, 1),
    (3, 1, 4, 2),
    (3, 2, 4, 1),
    (4, 2, 1, 3),
    (3, 2, 4, 1),
    (3, 2, 4, 1),
    (3, 1, 4, 2),
    (4, 1, 2, 3),
    (4, 1, 2.5, 2.5),
]


def demsar_long() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"cell": f"data set {i}", "algorithm": name, "rank": rank}
            for i, row in enumerate(DEMSAR_RANKS)
            for name, rank in zip(DEMSAR, row, strict=True)
        ]
    )


def test_intervals_are_min_max_below_five_seeds_and_clipped_t_intervals_from_five():
    two = pd.Series([0.5, 0.7])
    five = pd.Series([0.99, 1.0, 1.0, 0.98, 1.0])
    groups = [two, five, pd.Series([0.4])]
    iv = intervals(
        pd.Series([g.mean() for g in groups]),
        pd.Series([g.std(ddof=1) for g in groups]),
        pd.Series([g.min() for g in groups]),
        pd.Series([g.max() for g in groups]),
        pd.Series([len(g) for g in groups]),
        bounds=(-0.5, 1.0),
    )
    # two seeds: the seeds' own min and max, never the t-interval 0.6 ± 1.27
    assert iv.loc[0, ["low", "high"]].tolist() == [0.5, 0.7] and iv.loc[0, "kind"] == "range"
    # five seeds: mean ± t(0.975, 4)·s/√5, the upper end clipped to ARI's maximum 1
    half = sps.t.ppf(0.975, 4) * five.std(ddof=1) / math.sqrt(5)
    assert five.mean() + half > 1.0
    assert iv.loc[1, "low"] == pytest.approx(five.mean() - half)
    assert iv.loc[1, "high"] == 1.0 and iv.loc[1, "kind"] == "t95"
    # one seed: no interval
    assert np.isnan(iv.loc[2, "low"]) and iv.loc[2, "kind"] == ""


def test_degenerate_runs_are_named_with_their_reason():
    segments = pd.Series([1.0, 6.0, 4.0, 6.0, np.nan, 0.0])
    noise = pd.Series([0.0, 0.0, 0.89, 0.5, np.nan, 1.0])
    assert degenerate(segments, noise).tolist() == [
        "1 segment",
        "",
        "89% noise",
        "",  # exactly the threshold is not above it
        "",  # unknown is not degenerate
        "0 segments",
    ]
    assert degenerate(segments, noise, max_noise=0.4).tolist()[3] == "50% noise"


def test_friedman_and_nemenyi_on_demsars_example():
    ranks, notes = complete_design(demsar_long())
    assert notes == []
    mean = ranks.mean()[DEMSAR]
    assert mean.round(3).tolist() == [3.143, 2.0, 2.893, 1.964]  # Demšar's figures
    chi2, _, ff, p_ff = friedman(ranks)
    # Demšar: χ²_F = 12N/(k(k+1)) [Σ R_j² − k(k+1)²/4] = 9.28 from the mean ranks; scipy divides
    # by the tie correction 1 − Σ(t³ − t)/(N k (k² − 1)) = 1 − 6/840 for the one tied pair
    n, k = 14, 4
    by_hand = 12 * n / (k * (k + 1)) * (sum(mean**2) - k * (k + 1) ** 2 / 4)
    assert by_hand == pytest.approx(9.28, abs=0.005)
    assert chi2 == pytest.approx(by_hand / (1 - 6 / 840))
    # Iman–Davenport F_F = (N − 1)χ²_F / (N(k − 1) − χ²_F); Demšar's 3.69 uses his 9.28
    assert (n - 1) * by_hand / (n * (k - 1) - by_hand) == pytest.approx(3.69, abs=0.005)
    assert ff == pytest.approx((n - 1) * chi2 / (n * (k - 1) - chi2))
    assert p_ff == pytest.approx(sps.f.sf(ff, 3, 39)) and p_ff < 0.05  # F(3, 39) critical 2.85
    # critical differences: q_0.05 = 2.569 → CD 1.25; q_0.10 = 2.291 → CD 1.12
    assert critical_difference(4, 14, 0.05) == pytest.approx(1.25, abs=0.005)
    assert critical_difference(4, 14, 0.10) == pytest.approx(1.12, abs=0.005)


def test_post_hoc_pairs_match_the_critical_difference():
    at_05 = compare(demsar_long(), alpha=0.05)
    # the Friedman test rejects, but no pair differs by more than CD = 1.25 (largest: 1.179)
    assert at_05.significant and at_05.pairs == []
    at_10 = compare(demsar_long(), alpha=0.10)
    # at α = 0.10 (CD = 1.12) C4.5 is worse than C4.5+m+cf (1.179) and than C4.5+m (1.143),
    # as in Demšar's text; C4.5+cf vs C4.5+m+cf (0.929) is not significant
    assert [(b, w) for b, w, _, _ in at_10.pairs] == [("C4.5+m+cf", "C4.5"), ("C4.5+m", "C4.5")]
    for better, worse, diff, p in at_10.pairs:
        assert diff > at_10.cd and p < 0.10
        assert at_10.pvalues.loc[better, worse] == pytest.approx(p)
    assert list(at_10.mean_ranks.index) == ["C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"]


def test_no_pair_is_declared_when_friedman_does_not_reject():
    # three algorithms, four cells, ranks that balance out: mean ranks all 2
    rows = [(1, 2, 3), (3, 2, 1), (2, 1, 3), (2, 3, 1)]
    long = pd.DataFrame(
        [
            {"cell": f"c{i}", "algorithm": a, "rank": r}
            for i, row in enumerate(rows)
            for a, r in zip("xyz", row, strict=True)
        ]
    )
    result = compare(long)
    assert result.chi2 == pytest.approx(0.0) and not result.significant and result.pairs == []
    assert (result.significance().to_numpy() == 1.0).all()


def test_incomplete_designs_leave_out_rare_algorithms_then_cells_with_gaps():
    long = demsar_long()
    rare = pd.DataFrame([{"cell": "data set 0", "algorithm": "one-off", "rank": 1}])
    gap = long[~((long["cell"] == "data set 3") & (long["algorithm"] == "C4.5"))]
    ranks, notes = complete_design(pd.concat([gap, rare]))
    assert list(ranks.columns) == sorted(DEMSAR) and len(ranks) == 13
    assert "one-off" in notes[0] and "data set 3" in notes[1]
    assert compare(long[long["cell"] == "data set 0"]).startswith("no test across cells")
