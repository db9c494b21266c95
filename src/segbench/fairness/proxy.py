"""Proxy audit: can the clustering features predict a sensitive attribute?

Sensitive attributes are kept out of the features by default, but features can carry them by
proxy (age bands through age, gender through what people buy, country through spend). For one
attribute, a class-balanced multinomial logistic regression (standardised inputs) is trained
from the clustering features to the attribute:

- ``score`` — its stratified ``cv``-fold cross-validated **balanced accuracy** (mean recall
  over groups; Brodersen et al. 2010, *The balanced accuracy and its posterior distribution*,
  ICPR). ``chance`` = 1 / number of groups is what a model that knows nothing gets, so a score
  well above ``chance`` means the features encode the attribute.
- ``importances`` — permutation importance (Breiman 2001, *Random Forests*; scikit-learn's
  :func:`~sklearn.inspection.permutation_importance`) of every feature for the balanced
  accuracy on a stratified held-out quarter: the drop in balanced accuracy when the feature's
  values are shuffled (mean and standard deviation over ``n_repeats`` shuffles).

Cost is linear in the number of customers: at most ``sample_size`` customers are used
(stratified seeded sample), groups with fewer than ``cv`` customers in the sample are left out
(they cannot be stratified; their count is returned in ``n_dropped``). Logged by the run as
``proxy.<attribute>.score`` and ``proxy.<attribute>.chance``; the importances go to the
artifact ``fairness/proxy_importance.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from segbench.errors import DataError


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
    values = pd.Series(np.asarray(groups, dtype=object))
    if len(values) != len(X):
        raise DataError(f"proxy audit: {len(X)} feature rows but {len(values)} group values")
    keep = values.notna().to_numpy()
    X, y = X[keep], values[keep].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    if len(y) > sample_size:
        idx, _ = train_test_split(
            np.arange(len(y)), train_size=sample_size, random_state=seed, stratify=_strata(y, 2)
        )
        X, y = X[np.sort(idx)], y[np.sort(idx)]  # the audit itself: at most sample_size rows
    names, counts = np.unique(y, return_counts=True)
    enough = set(names[counts >= cv])
    mask = np.array([v in enough for v in y])
    n_dropped = int((~mask).sum())
    X, y = X[mask], y[mask]
    if len(enough) < 2:
        return None
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    scores = cross_val_score(_classifier(seed), X, y, cv=folds, scoring="balanced_accuracy")
    X_fit, X_held, y_fit, y_held = train_test_split(
        X, y, test_size=0.25, random_state=int(rng.integers(2**31)), stratify=y
    )
    model = _classifier(seed).fit(X_fit, y_fit)
    result = permutation_importance(
        model,
        X_held,
        y_held,
        scoring="balanced_accuracy",
        n_repeats=n_repeats,
        random_state=seed,
    )
    importances = (
        pd.DataFrame(
            {
                "feature": list(columns),
                "importance_mean": result.importances_mean,
                "importance_std": result.importances_std,
            }
        )
        .sort_values("importance_mean", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return ProxyAudit(
        attribute=attribute,
        score=float(scores.mean()),
        chance=1.0 / len(enough),
        n_used=len(y),
        n_groups=len(enough),
        n_dropped=n_dropped,
        importances=importances,
    )


def _strata(y: np.ndarray, minimum: int) -> np.ndarray | None:
    """Stratification labels for sampling (groups under ``minimum`` merged into ``"<rare>"``),
    or ``None``; as integer codes in the sort order of the labels' names, so a split draws
    what it would draw from the names (one hash pass, no Python loop over customers).

    >>> _strata(np.array(["b", "a", "b", "c", "a", "d"], dtype=object), 2).tolist()
    [2, 1, 2, 0, 1, 0]
    """
    codes, uniques = pd.factorize(y)
    counts = np.bincount(codes, minlength=len(uniques))
    names = np.array(
        ["<rare>" if n < minimum else str(u) for u, n in zip(uniques, counts, strict=True)],
        dtype=object,
    )
    strata_names, stratum_of_unique = np.unique(names, return_inverse=True)
    strata = stratum_of_unique.reshape(-1)[codes]
    merged = np.bincount(strata, minlength=len(strata_names))
    return strata if merged.min() >= minimum else None
