"""Proxy audit: can the clustering features predict a sensitive attribute?

Sensitive attributes are kept out of the features by default, but features can carry them by
proxy (age bands through age, gender through what people buy, country through spend). For one
attribute, a class-balanced multinomial logistic regression (standardised inputs) is trained
from the clustering features to the attribute:

- ``score`` — its stratified ``cv``-fold cross-validated **balanced accuracy** (mean recall
  over groups; Brodersen et al. 2010, *The balanced accuracy and its posterior distribution*,
  ICPR). ``chance`` = 1 / number of groups is what a model that knows nothing gets, so a score
  well above ``chance`` means the features encode the attribute.
- ``importances`` — permutation importance (Breiman 2001, *Random Forests*; computed as
  scikit-learn's :func:`~sklearn.inspection.permutation_importance` does, directly with numpy:
  :func:`permutation_drop`) of every feature for the balanced accuracy on a stratified
  held-out quarter: the drop in balanced accuracy when the feature's values are shuffled
  (mean and standard deviation over ``n_repeats`` shuffles).

Cost is linear in the number of customers, and small: each customer's group is coded once
(one hash pass), then at most ``sample_size`` customers are used (a stratified seeded sample,
drawn from a seeded uniform pool of ``POOL_FACTOR × sample_size`` customers when there are
more), groups with fewer than ``cv`` customers in the sample are left out (they cannot be
stratified; their count is returned in ``n_dropped``). Logged by the run as
``proxy.<attribute>.score`` and ``proxy.<attribute>.chance``; the importances go to the
artifact ``fairness/proxy_importance.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from segbench.data.sampling import sample_rows
from segbench.errors import DataError
from segbench.fairness.metrics import group_codes

#: Above ``POOL_FACTOR × sample_size`` customers, the stratified sample is drawn from a seeded
#: uniform pool of that many (:func:`segbench.data.sampling.sample_rows`), so its cost does
#: not grow with the number of customers.
POOL_FACTOR = 20


@dataclass
class ProxyAudit:
    """Result of :func:`proxy_audit` for one sensitive attribute."""

    attribute: str
    score: float
    chance: float
    n_used: int
    n_groups: int
    n_dropped: int
    importances: pd.DataFrame

    def top(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` features that carry the most signal about the attribute."""
        return self.importances.head(n)


def _classifier(seed: int):
    return make_pipeline(
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=500, random_state=seed),
    )


def proxy_audit(
    X: np.ndarray,
    columns: list[str],
    groups: pd.Series | np.ndarray,
    attribute: str = "attribute",
    *,
    sample_size: int = 5000,
    cv: int = 5,
    n_repeats: int = 5,
    seed: int = 0,
) -> ProxyAudit | None:
    """Audit how well ``X`` predicts ``groups`` (see the module docstring).

    Returns ``None`` when fewer than two groups have at least ``cv`` known members (nothing to
    predict). Missing group values are left out.

    >>> rng = np.random.default_rng(0)
    >>> g = rng.integers(0, 2, 400)
    >>> X = np.column_stack([g + rng.normal(0, 0.3, 400), rng.normal(size=400)])
    >>> audit = proxy_audit(X, ["proxy", "noise"], g, seed=0)
    >>> audit.score > 0.9, audit.top(1)["feature"].item()
    (True, 'proxy')
    """
    X = np.asarray(X, dtype=float)
    if X.shape[1] != len(columns):
        raise DataError(f"proxy audit: X has {X.shape[1]} columns but {len(columns)} names")
    codes, names = group_codes(groups)
    if len(codes) != len(X):
        raise DataError(f"proxy audit: {len(X)} feature rows but {len(codes)} group values")
    rows = np.flatnonzero(codes >= 0)  # customers whose group is known
    rng = np.random.default_rng(seed)
    if len(rows) > sample_size:
        pool = sample_rows(len(rows), POOL_FACTOR * sample_size, seed, sort=True)
        if pool is not None:  # a seeded pool first: the stratified draw's cost stays bounded
            rows = rows[pool]
        idx, _ = train_test_split(
            np.arange(len(rows)),
            train_size=sample_size,
            random_state=seed,
            stratify=_code_strata(codes[rows], names, 2),
        )
        rows = rows[np.sort(idx)]  # the audit itself: at most sample_size rows
    X, y = X[rows], codes[rows]  # the audited rows, their groups as codes into ``names``
    counts = np.bincount(y, minlength=len(names))
    enough = counts >= cv
    mask = enough[y]
    n_dropped = int((~mask).sum())
    X, y = X[mask], y[mask]
    if enough.sum() < 2:
        return None
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    scores = [
        balanced_accuracy(y[test], _classifier(seed).fit(X[train], y[train]).predict(X[test]))
        for train, test in folds.split(X, y)
    ]
    X_fit, X_held, y_fit, y_held = train_test_split(
        X, y, test_size=0.25, random_state=int(rng.integers(2**31)), stratify=y
    )
    model = _classifier(seed).fit(X_fit, y_fit)
    mean, std = permutation_drop(model, X_held, y_held, n_repeats, seed)
    importances = (
        pd.DataFrame(
            {
                "feature": list(columns),
                "importance_mean": mean,
                "importance_std": std,
            }
        )
        .sort_values("importance_mean", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return ProxyAudit(
        attribute=attribute,
        score=float(np.mean(scores)),
        chance=1.0 / int(enough.sum()),
        n_used=len(y),
        n_groups=int(enough.sum()),
        n_dropped=n_dropped,
        importances=importances,
    )


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the groups present in ``y_true`` (integer codes), as scikit-learn's
    :func:`~sklearn.metrics.balanced_accuracy_score` computes it, with two ``bincount``.

    >>> balanced_accuracy(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]))
    0.8333333333333333
    """
    size = int(max(y_true.max(), y_pred.max())) + 1
    members = np.bincount(y_true, minlength=size)
    hits = np.bincount(y_true[y_true == y_pred], minlength=size)
    present = members > 0
    return float(np.mean(hits[present] / members[present]))


def permutation_drop(
    model, X: np.ndarray, y: np.ndarray, n_repeats: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Permutation importance of each column of ``X`` for ``model``'s balanced accuracy on
    ``(X, y)``: the mean and standard deviation over ``n_repeats`` seeded shuffles of the
    column of the drop from the unshuffled score (what
    :func:`~sklearn.inspection.permutation_importance` computes, without its per-call
    overhead: one prediction per shuffle on a copy whose one column is shuffled).
    """
    rng = np.random.default_rng(seed)
    base = balanced_accuracy(y, model.predict(X))
    drops = np.empty((X.shape[1], n_repeats))
    shuffled = X.copy()
    for j in range(X.shape[1]):
        for r in range(n_repeats):
            shuffled[:, j] = X[rng.permutation(len(X)), j]
            drops[j, r] = base - balanced_accuracy(y, model.predict(shuffled))
        shuffled[:, j] = X[:, j]
    return drops.mean(axis=1), drops.std(axis=1)


def _code_strata(codes: np.ndarray, names: np.ndarray, minimum: int) -> np.ndarray | None:
    """Stratification labels for sampling the groups ``names[codes]`` (groups under
    ``minimum`` merged into ``"<rare>"``), or ``None``; as integer codes in the sort order of
    the strata's names, so a split draws what it would draw from the names.

    >>> codes, names = group_codes(np.array(["b", "a", "b", "c", "a", "d"], dtype=object))
    >>> _code_strata(codes, names, 2).tolist()
    [2, 1, 2, 0, 1, 0]
    """
    counts = np.bincount(codes, minlength=len(names))
    merged = np.array(
        ["<rare>" if n < minimum else str(u) for u, n in zip(names, counts, strict=True)],
        dtype=object,
    )
    strata_names, stratum_of_name = np.unique(merged, return_inverse=True)
    strata = stratum_of_name.reshape(-1)[codes]
    sizes = np.bincount(strata, minlength=len(strata_names))
    return strata if sizes[sizes > 0].min() >= minimum else None
