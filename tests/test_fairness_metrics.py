"""Fairness metrics against hand-computed examples, fairlearn, and the main silhouette."""

from __future__ import annotations

from fractions import Fraction
from functools import partial

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference
from sklearn.metrics import silhouette_samples

from segbench.errors import ConfigError
from segbench.evaluation.metrics import evaluate, silhouette_sample
from segbench.fairness.metrics import (
    balance,
    distribution_distance,
    dp_difference,
    fairness_metrics,
    group_table,
    segment_balance,
    silhouette_gap,
)
from segbench.fairness.scoring import fairness_scores, resolve_attributes
from segbench.settings import FairnessSettings
from toydata import toy_data

# 10 customers: segment 0 = {A, A, A, B}, segment 1 = {A, B, B, B, B, B}
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
GROUPS = np.array(["A", "A", "A", "B", "A", "B", "B", "B", "B", "B"])


def test_balance_by_hand():
    # r_A = 4/10, r_B = 6/10. Segment 0: p(A)=3/4, p(B)=1/4 -> rho_A = 15/8, rho_B = 5/12,
    # balance 0 = (5/12)/(15/8) = 2/9. Segment 1: p(A)=1/6, p(B)=5/6 -> rho_A = 5/12,
    # rho_B = 25/18, balance 1 = (5/12)/(25/18) = 3/10. Min over segments: 2/9.
    per_segment = segment_balance(LABELS, GROUPS)
    assert per_segment[0] == pytest.approx(float(Fraction(2, 9)))
    assert per_segment[1] == pytest.approx(float(Fraction(3, 10)))
    assert balance(LABELS, GROUPS) == pytest.approx(2 / 9)


def test_dp_difference_by_hand_and_against_fairlearn():
    # P(seg 0 | A) = 3/4, P(seg 0 | B) = 1/6 -> 7/12; segment 1 the complement -> 7/12
    assert dp_difference(LABELS, GROUPS) == pytest.approx(7 / 12)
    rng = np.random.default_rng(3)
    labels = rng.integers(-1, 4, 500)
    groups = rng.choice(["x", "y", "z"], 500, p=[0.5, 0.3, 0.2])
    expected = max(
        demographic_parity_difference(
            labels == k, (labels == k).astype(int), sensitive_features=groups
        )
        for k in np.unique(labels)
    )
    assert dp_difference(labels, groups) == pytest.approx(expected)


def test_distribution_distance_by_hand():
    # population over segments (0.4, 0.6); A: (3/4, 1/4) -> TV 0.35; B: (1/6, 5/6) -> 7/30
    assert distribution_distance(LABELS, GROUPS) == pytest.approx(0.35)


def test_noise_counts_as_a_segment_of_its_own():
    # the same 10 customers plus 2 noise points, both of group B
    labels = np.r_[LABELS, -1, -1]
    groups = np.concatenate([GROUPS, ["B", "B"]])
    # r_A = 4/12, r_B = 8/12; noise segment has only B -> rho_A = 0 -> balance 0
    assert balance(labels, groups) == 0.0
    # P(noise | A) = 0, P(noise | B) = 2/8; segment 0: 3/4 vs 1/8 -> 5/8 is the largest
    assert dp_difference(labels, groups) == pytest.approx(5 / 8)
    table = group_table(labels, groups)
    assert table.loc[(table.segment == -1) & (table.group == "B"), "count"].item() == 2


def test_balance_is_chierichetti_for_two_equal_groups():
    # Chierichetti et al. (2017): balance(C) = min(#red/#blue, #blue/#red), min over clusters
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [40, 30, 30])
    groups = np.r_[
        np.repeat(["r", "b"], [25, 15]), np.repeat(["r", "b"], [10, 20]), ["r", "b"] * 15
    ]
    order = rng.permutation(100)
    labels, groups = labels[order], groups[order]
    assert (groups == "r").sum() == (groups == "b").sum() == 50
    expected = min(min(r / b, b / r) for r, b in [(25, 15), (10, 20), (15, 15)])
    assert balance(labels, groups) == pytest.approx(expected)


def test_perfectly_mirrored_segments_score_perfectly():
    labels = np.repeat([0, 1, 2], 20)
    groups = np.tile(np.repeat(["a", "b", "c", "d"], [10, 5, 3, 2]), 3)
    metrics = fairness_metrics(labels, groups)
    assert metrics == pytest.approx(
        {"balance": 1.0, "dp_difference": 0.0, "distribution_distance": 0.0}
    )


def test_silhouette_gap_by_hand_and_against_sklearn():
    assert silhouette_gap([0.5, 0.7, 0.1, 0.3, 0.2], ["f", "f", "m", "m", "x"]) == pytest.approx(
        0.4
    )
    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [9.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    groups = np.array(["a", "a", "b", "b", "a", "b"])
    s = silhouette_samples(X, labels)
    by_group = pd.Series(s).groupby(groups).mean()
    assert silhouette_gap(s, groups) == pytest.approx(by_group.max() - by_group.min())


def test_missing_group_values_are_left_out():
    groups = pd.Series(
        ["A", "A", "A", "B", "A", "B", "B", "B", "B", "B", None, np.nan], dtype=object
    )
    labels = np.r_[LABELS, 0, 1]
    assert balance(labels, groups) == pytest.approx(2 / 9)
    assert group_table(labels, groups)["count"].sum() == 10


def test_single_group_is_trivially_fair():
    assert fairness_metrics([0, 1, 1], ["a", "a", "a"]) == {
        "balance": 1.0,
        "dp_difference": 0.0,
        "distribution_distance": 0.0,
    }


def test_group_table_counts_shares_and_small_cell_suppression():
    table = group_table(LABELS, GROUPS)
    row = table[(table.segment == 0) & (table.group == "A")].iloc[0]
    assert (row["count"], row["segment_share"], row["group_share"]) == (3, 0.75, 0.75)
    assert row["population_share"] == pytest.approx(0.4)
    assert row["representation"] == pytest.approx(15 / 8)
    assert table["count"].sum() == 10


def test_group_table_suppresses_small_and_complementary_cells():
    # counts: segment 0 (x 20, y 15, z 2), segments 1 and 2 (x 20, y 15, z 12); k = 5
    cells = {(0, "x"): 20, (0, "y"): 15, (0, "z"): 2}
    cells |= {(s, g): n for s in (1, 2) for g, n in (("x", 20), ("y", 15), ("z", 12))}
    labels = np.concatenate([[s] * n for (s, _), n in cells.items()])
    groups = np.concatenate([[g] * n for (_, g), n in cells.items()])
    table = group_table(labels, groups, min_cell_size=5)
    hidden = table[table["suppressed"]]
    # (0, z) has 2 customers; segment 0's size and group z's total are published, so one more
    # cell of each is hidden: (0, y), the smallest left in segment 0, and (1, z); that leaves
    # group y with one hidden cell, so (1, y) too. No segment or group then has exactly one.
    assert set(zip(hidden.segment, hidden.group, strict=True)) == {
        (0, "z"),
        (0, "y"),
        (1, "z"),
        (1, "y"),
    }
    assert hidden[["count", "segment_share", "group_share", "representation"]].isna().all().all()
    shown = table[~table["suppressed"]]
    assert shown["count"].notna().all() and shown["count"].sum() == 20 * 3 + 15 + 12
    assert table["population_share"].notna().all()  # every group has at least k customers
    # a group with fewer than k customers in all hides its population share too
    small = group_table(np.append(labels, 0), np.append(groups, "w"), min_cell_size=5)
    assert small.loc[small.group == "w", "population_share"].isna().all()


def test_fairness_scores_reuse_the_main_silhouette_sample():
    data = toy_data(300)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3)) + np.repeat(np.arange(3), 100)[:, None]
    labels = np.repeat([0, 1, 2], 100)
    labels[:7] = -1
    sample = silhouette_sample(X, labels, sample_size=120, seed=5)
    scores = fairness_scores(FairnessSettings(), data, data.customers.index, labels, sample)
    assert set(scores) == {
        "fairness.gender.balance",
        "fairness.gender.dp_difference",
        "fairness.gender.silhouette_gap",
        "fairness.gender.distribution_distance",
    }
    main, _ = evaluate(X, labels, silhouette_sample_size=120, seed=5)
    # the same 120 customers: recompute the gap from the main silhouette's sample
    keep = np.flatnonzero(labels != -1)
    rows = keep[np.random.default_rng(5).choice(len(keep), size=120, replace=False)]
    s = silhouette_samples(X[rows], labels[rows])
    assert s.mean() == pytest.approx(main["silhouette"])
    by_group = pd.Series(s).groupby(data.sensitive["gender"].to_numpy()[rows]).mean()
    assert scores["fairness.gender.silhouette_gap"] == pytest.approx(
        by_group.max() - by_group.min()
    )


def test_attributes_from_config():
    data = toy_data(30)
    assert resolve_attributes(None, data) == ["gender"]
    assert resolve_attributes([], data) == []
    with pytest.raises(ConfigError, match="it has: gender"):
        resolve_attributes(["age_band"], data)


@pytest.mark.realdata
def test_numpy_metrics_equal_fairlearn_on_a_real_dataset():
    # the metrics are computed from counts in numpy; fairlearn's MetricFrame (what they were
    # computed with before) gives the same values on Online Retail's countries and a k-means
    from fairlearn.metrics import MetricFrame, mean_prediction, selection_rate
    from sklearn.cluster import KMeans

    from datapaths import RETAIL, data_file
    from segbench.api import settings
    from segbench.datasets import load_dataset
    from segbench.experiment import build_features

    data_file(RETAIL)  # skips without the shared data
    cfg = settings(["dataset=online_retail", "features=rfm"])
    data = load_dataset(cfg.dataset)
    _, features = build_features(cfg, data)
    labels = KMeans(6, n_init=2, random_state=0).fit_predict(features.X)
    labels[:25] = -1  # a noise segment counts as a segment of its own
    rows, sil = silhouette_sample(features.X, labels, sample_size=2000, seed=0)
    assert data.sensitive is not None and data.sensitive.shape[1] >= 2
    for attribute in data.sensitive.columns:
        groups = data.sensitive[attribute].reindex(features.index).to_numpy()
        known = pd.notna(groups)
        lab, grp = labels[known], groups[known].astype(str)
        assert len(np.unique(grp)) >= 2
        frame = MetricFrame(
            metrics={int(k): partial(selection_rate, pos_label=k) for k in np.unique(lab)},
            y_true=lab,
            y_pred=lab,
            sensitive_features=grp,
        )
        expected_dp = float(np.max(frame.difference(method="between_groups").to_numpy()))
        keep = pd.notna(groups[rows])
        gap = MetricFrame(
            metrics=mean_prediction,
            y_true=sil[keep],
            y_pred=sil[keep],
            sensitive_features=groups[rows][keep].astype(str),
        ).difference(method="between_groups")
        by_hand = pd.crosstab(lab, grp)
        tv = (by_hand / by_hand.sum()).sub(by_hand.sum(axis=1) / len(lab), axis=0).abs().sum()
        got = fairness_metrics(labels, groups, (sil, groups[rows]))
        assert got["dp_difference"] == pytest.approx(expected_dp, rel=1e-12, abs=1e-15)
        assert got["silhouette_gap"] == pytest.approx(float(gap), rel=1e-12, abs=1e-15)
        assert got["distribution_distance"] == pytest.approx(0.5 * tv.max(), rel=1e-12)
        assert got["balance"] == pytest.approx(balance(labels, groups), rel=0)
        assert got["dp_difference"] > 0 and got["silhouette_gap"] > 0


# -- codes instead of strings (issue 14: a million customers) ----------------------------


def _plain_crosstab(labels, groups) -> pd.DataFrame:
    """The straightforward way: every value as text, ``pd.crosstab``."""
    values = pd.Series(np.asarray(groups, dtype=object))
    known = values.notna().to_numpy()
    return pd.crosstab(
        pd.Series(np.asarray(labels)[known], name="segment"),
        pd.Series(values[known].astype(str).to_numpy(), name="group"),
    )


@pytest.mark.parametrize(
    "kind", ["categorical", "with unobserved categories", "object", "integer categories"]
)
def test_counts_from_a_categoricals_codes_equal_the_plain_crosstab(kind):
    from segbench.fairness.metrics import counts, crosstab, fairness_metrics, group_codes

    rng = np.random.default_rng(4)
    labels = rng.integers(-1, 5, 3000)
    text = rng.choice(["female", "male", "other", None], 3000, p=[0.45, 0.45, 0.05, 0.05])
    if kind == "categorical":
        groups = pd.Series(text, dtype="category")
    elif kind == "with unobserved categories":
        groups = pd.Series(pd.Categorical(text, categories=["x", "other", "female", "male", "y"]))
    elif kind == "object":
        groups = text
    else:
        groups = pd.Series(pd.Categorical(rng.integers(0, 12, 3000)))
    expected = _plain_crosstab(labels, groups)
    found = crosstab(labels, groups)
    assert found.index.tolist() == expected.index.tolist()
    assert found.columns.tolist() == expected.columns.tolist()
    assert (found.to_numpy() == expected.to_numpy()).all()
    assert (counts(labels, groups) == expected.to_numpy()).all()
    codes, names = group_codes(groups)
    assert names.tolist() == expected.columns.tolist()
    as_text = np.asarray(groups, dtype=object)
    assert all((c < 0) == pd.isna(v) for c, v in zip(codes, as_text, strict=True))
    assert [names[c] for c in codes if c >= 0] == [str(v) for v in as_text if not pd.isna(v)]
    # the metrics are the same whether the column or its values as an array are given
    sil = rng.uniform(-1, 1, 3000)
    by_column = fairness_metrics(labels, groups, (sil[:500], groups[:500]))
    by_array = fairness_metrics(labels, as_text, (sil[:500], as_text[:500]))
    assert by_column == by_array
