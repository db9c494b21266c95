"""The proxy audit (segbench.fairness.proxy): its numpy scoring against scikit-learn's, and a
bounded sample however many customers there are."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from segbench.fairness.proxy import (
    POOL_FACTOR,
    balanced_accuracy,
    permutation_drop,
    proxy_audit,
)


@pytest.mark.parametrize("seed", range(5))
def test_balanced_accuracy_is_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 7, 300))  # unseen classes
    y_true[y_true == 3] = 2  # a class never true
    with pytest.warns(UserWarning, match="y_pred contains classes not in y_true"):
        expected = balanced_accuracy_score(y_true, y_pred)
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


def test_permutation_drop_agrees_with_scikit_learns_permutation_importance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    X = np.column_stack(
        [y + rng.normal(0, 0.6, 2000), rng.normal(size=2000), 0.3 * y + rng.normal(size=2000)]
    )
    model = LogisticRegression(class_weight="balanced").fit(X, y)
    mean, std = permutation_drop(model, X, y, n_repeats=30, seed=0)
    theirs = permutation_importance(
        model, X, y, scoring="balanced_accuracy", n_repeats=30, random_state=0
    )
    np.testing.assert_allclose(mean, theirs.importances_mean, atol=0.01)
    np.testing.assert_allclose(std, theirs.importances_std, atol=0.01)
    assert mean[0] > 0.3 and abs(mean[1]) < 0.02 and mean[0] > mean[2] > mean[1]


def test_the_audit_of_many_customers_uses_a_bounded_stratified_sample():
    n = 300_000  # more than POOL_FACTOR × sample_size: drawn through the seeded pool
    sample_size = 2000
    assert n > POOL_FACTOR * sample_size
    rng = np.random.default_rng(1)
    groups = rng.choice(np.array(["a", "b", 1, "1"], dtype=object), n)  # 1 and "1": one group
    groups[rng.random(n) < 0.1] = None
    groups[:3] = "rare"  # too few for a stratum: merged, then left out for the folds
    known = np.array([g is not None for g in groups])
    as_text = np.array([str(g) for g in groups], dtype=object)
    X = np.column_stack([(as_text == "a") + rng.normal(0, 0.2, n), rng.normal(size=n)])
    audit = proxy_audit(X, ["signal", "noise"], groups, "g", sample_size=sample_size, cv=3)
    assert audit.n_used + audit.n_dropped == sample_size
    assert audit.n_groups == 3 and audit.chance == pytest.approx(1 / 3)
    assert audit.score > 0.6  # "a" is told from the rest; "b" and "1" are not told apart
    assert audit.top(1)["feature"].item() == "signal"
    again = proxy_audit(X, ["signal", "noise"], groups, "g", sample_size=sample_size, cv=3)
    assert again.score == audit.score  # seeded
    few = proxy_audit(X[known][:500], ["signal", "noise"], groups[known][:500], "g", cv=3)
    assert few.n_used + few.n_dropped == 500  # under the sample size: every known customer
