"""Fair k-means: k-means centres, then a balance-constrained assignment (Bera et al. 2019).

Reference
---------
Bera, Chakrabarty, Flores, Negahbani (2019), *Fair Algorithms for Clustering*, NeurIPS 32
(arXiv:1901.02393). Their framework turns any vanilla clustering into a fair one: keep the
vanilla centres ``μ_1..μ_k``, then solve the **fair assignment** linear programme

    minimise    Σ_j Σ_f  x_jf · ‖x_j − μ_f‖²                       (k-means cost, p = 2)
    subject to  Σ_f x_jf = 1                                       for every customer j
                β_a · Σ_j x_jf  ≤  Σ_{j ∈ a} x_jf  ≤  α_a · Σ_j x_jf   for every cluster f, group a
                0 ≤ x_jf ≤ 1

(their LP (2) with lower bounds ``β_a`` and upper bounds ``α_a`` on the share of group ``a`` in
every cluster) and round it. Here the bounds come from one parameter, the balance target
``τ = balance_target``: ``β_a = r_a·√τ`` and ``α_a = r_a/√τ`` with ``r_a`` the population share
of group ``a``. Every cluster then has representations ``ρ_fa = share/r_a`` in ``[√τ, 1/√τ]``, so
its balance ``min_a ρ_fa / max_b ρ_fb`` (:func:`segbench.fairness.metrics.balance`) is at least
``τ``: **the segmentation's balance is at least ``balance_target``** on the customers it was fitted
on (``balance_`` holds the value reached).

Rounding. A basic optimal solution of the LP (HiGHS dual simplex) is fractional for at most as
many customers as there are fairness constraints (``2·k·g``, g groups), because only tight
inequalities can split a customer. Bera et al. round those with an iterative LP and accept an
additive violation of at most ``4Δ + 3`` customers per constraint; we instead keep every integral
assignment and assign the fractional customers — plus, if that is infeasible, the customers
cheapest to move — by a small mixed-integer programme (HiGHS) with the *same* constraints, so
the bounds hold exactly. If even that fails (tiny clusters, where integer counts cannot meet the
bounds), the LP solution is rounded to its largest share and ``constraint_violation_`` says by
how many customers the bounds are missed.

Refinement (an extension, off by default): ``refine_iter > 0`` alternates Lloyd-style centre
updates (means of the fair clusters) with a new fair assignment. The cost never increases: the
new centres lower the cost of the current (feasible) assignment and the LP then finds the
cheapest feasible one.

Noise-free partition; ``predict`` cannot know a new customer's group and assigns to the nearest
centre (the fairness guarantee is for the fitted customers, ``labels_``).

The sensitive attribute reaches the estimator as ``fit(X, sensitive_features=...)``: a 1-D
array of group labels, or a DataFrame of sensitive attributes from which the column
``sensitive_attribute`` is used. :func:`segbench.algorithms.fit_segmentation` passes the
dataset's sensitive attributes to estimators that declare ``requires_sensitive = True``.

Example
-------
>>> rng = np.random.default_rng(0)
>>> X = np.r_[rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2))]
>>> g = np.r_[np.repeat(["f", "m"], [80, 20]), np.repeat(["f", "m"], [20, 80])]
>>> model = FairKMeans(n_clusters=2, balance_target=0.9, random_state=0).fit(
...     X, sensitive_features=g)
>>> bool(model.balance_ >= 0.9)
True
"""

from __future__ import annotations

import logging
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted

from segbench.errors import ConfigError, DataError
from segbench.fairness.metrics import balance

log = logging.getLogger(__name__)

_TOL = 1e-6


class FairKMeans(ClusterMixin, BaseEstimator):
    """k-means with every cluster's group composition close to the population's.

    Parameters
    ----------
    n_clusters
        Number of segments ``k``.
    balance_target
        ``τ`` in (0, 1]: the balance every segment must reach (1 = every segment mirrors the
        population exactly; 0.8 follows the "four-fifths" rule of thumb).
    sensitive_attribute
        Column of a ``sensitive_features`` DataFrame to be fair to; ``None`` = its first
        column (``sensitive_attribute_`` records the one used).
    refine_iter
        Number of (centre update, fair assignment) rounds after the first (0 = Bera et al.).
    n_init, max_iter, random_state
        Of the vanilla :class:`~sklearn.cluster.KMeans` that gives the centres.
    repair_pool
        Largest number of customers per (group, cluster) cell added to the integer repair when
        re-assigning only the fractional customers is infeasible.

    Attributes
    ----------
    labels_, cluster_centers_, inertia_
        Fair assignment, centres, and k-means cost of the assignment to those centres.
    balance_
        Balance reached on the fitted customers.
    vanilla_inertia_, vanilla_balance_
        The same for the unconstrained k-means (the price and the gain of fairness).
    groups_, group_shares_
        Group names and population shares ``r_a``.
    lp_cost_
        Cost of the LP relaxation: a lower bound on any fair assignment's cost to these centres
        (``inertia_ / lp_cost_ − 1`` bounds how far the rounded assignment is from optimal).
    n_fractional_, constraint_violation_
        Customers the LP split between clusters; customers by which rounding missed a bound
        (0 when the bounds hold exactly).
    """

    #: fit needs the sensitive attribute (see :func:`segbench.algorithms.fit_segmentation`).
    requires_sensitive: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "balance_target": [Interval(Real, 0, 1, closed="right")],
        "sensitive_attribute": [str, None],
        "refine_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "repair_pool": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters: int = 6,
        balance_target: float = 0.8,
        sensitive_attribute: str | None = None,
        refine_iter: int = 0,
        n_init: int = 4,
        max_iter: int = 300,
        random_state: int | None = None,
        repair_pool: int = 10,
    ) -> None:
        self.n_clusters = n_clusters
        self.balance_target = balance_target
        self.sensitive_attribute = sensitive_attribute
        self.refine_iter = refine_iter
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state
        self.repair_pool = repair_pool

    # -- inputs ---------------------------------------------------------------------------
    def _groups(self, sensitive_features: Any, n: int) -> np.ndarray:
        if sensitive_features is None:
            raise ConfigError(
                "FairKMeans needs the sensitive attribute of every customer: call "
                "fit(X, sensitive_features=...). segbench's fit_segmentation passes the "
                "dataset's sensitive attributes (a dataset without any cannot use "
                "algo=fair_kmeans). A step that refits a copy of the estimator must pass them "
                "too (evaluation.stability does); one that fits on X alone cannot run this "
                "algorithm: turn it off (e.g. analysis.assign.enabled=false)"
            )
        if isinstance(sensitive_features, pd.DataFrame):
            columns = [str(c) for c in sensitive_features.columns]
            if not columns:
                raise ConfigError("FairKMeans: sensitive_features has no columns")
            name = columns[0] if self.sensitive_attribute is None else self.sensitive_attribute
            if name not in columns:
                raise ConfigError(
                    f"FairKMeans: sensitive_attribute={name!r} is not a sensitive attribute of "
                    f"this dataset; it has: {', '.join(columns) or 'none'}"
                )
            values = sensitive_features[name]
            self.sensitive_attribute_ = name
        else:
            self.sensitive_attribute_ = self.sensitive_attribute
            values = pd.Series(np.asarray(sensitive_features, dtype=object).ravel())
        if len(values) != n:
            raise DataError(f"FairKMeans: {n} rows in X but {len(values)} sensitive values")
        values = pd.Series(np.asarray(values, dtype=object))
        if values.isna().any():
            raise DataError(
                f"FairKMeans: the sensitive attribute is missing for {int(values.isna().sum())} "
                "customers; fair assignment needs a group for every customer"
            )
        return values.astype(str).to_numpy()

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sensitive_features: Any = None) -> FairKMeans:
        """Fit centres with k-means, then assign customers fairly (see the module docstring)."""
        self._validate_params()
        X = check_array(X, dtype=np.float64)
        groups = self._groups(sensitive_features, len(X))
        names, codes = np.unique(groups, return_inverse=True)
        self.groups_ = names
        self.group_shares_ = np.bincount(codes, minlength=len(names)) / len(codes)
        vanilla = KMeans(
            n_clusters=int(self.n_clusters),
            n_init=self.n_init,
            max_iter=self.max_iter,
            random_state=self.random_state,
        ).fit(X)
        self.vanilla_inertia_ = float(vanilla.inertia_)
        self.vanilla_balance_ = balance(vanilla.labels_, groups)
        centres = vanilla.cluster_centers_
        labels, cost, info = self._assign(X, codes, centres)
        for _ in range(int(self.refine_iter)):
            moved = _means(X, labels, centres)
            new_labels, new_cost, new_info = self._assign(X, codes, moved)
            if new_cost >= cost - 1e-9 * max(cost, 1.0):
                break
            centres, labels, cost, info = moved, new_labels, new_cost, new_info
        self.cluster_centers_ = centres
        self.labels_ = labels
        self.inertia_ = float(cost)
        self.lp_cost_ = info["lp_cost"]
        self.n_fractional_ = info["n_fractional"]
        self.constraint_violation_ = info["violation"]
        self.balance_ = balance(labels, groups)
        self.n_features_in_ = X.shape[1]
        return self

    def fit_predict(self, X: Any, y: Any = None, sensitive_features: Any = None) -> np.ndarray:
        return self.fit(X, y, sensitive_features=sensitive_features).labels_

    def predict(self, X: Any) -> np.ndarray:
        """Nearest centre (a new customer's group is unknown, so no fairness constraint)."""
        check_is_fitted(self, "cluster_centers_")
        X = check_array(X, dtype=np.float64)
        return _sq_dist(X, self.cluster_centers_).argmin(axis=1)

    # -- the fair assignment --------------------------------------------------------------
    def _bounds(self) -> tuple[float, float]:
        root = float(np.sqrt(float(self.balance_target)))
        return root, 1.0 / root

    def _assign(
        self, X: np.ndarray, codes: np.ndarray, centres: np.ndarray
    ) -> tuple[np.ndarray, float, dict[str, Any]]:
        """Solve the fair-assignment LP for ``centres`` and round it; (labels, cost, info)."""
        cost = _sq_dist(X, centres)
        n, k = cost.shape
        lower, upper = self._bounds()
        A_ub = _fairness_rows(codes, self.group_shares_, k, lower, upper)
        A_eq = sp.csr_matrix(
            (np.ones(n * k), (np.repeat(np.arange(n), k), np.arange(n * k))), shape=(n, n * k)
        )
        result = linprog(
            cost.ravel(),
            A_ub=A_ub,
            b_ub=np.zeros(A_ub.shape[0]),
            A_eq=A_eq,
            b_eq=np.ones(n),
            bounds=(0, 1),
            method="highs-ds",
        )
        if result.status != 0:
            raise DataError(
                f"FairKMeans: the fair assignment has no solution ({result.message}); lower "
                f"balance_target (now {self.balance_target}) or n_clusters (now {self.n_clusters})"
            )
        share = result.x.reshape(n, k)
        fractional = np.flatnonzero(((share > _TOL) & (share < 1 - _TOL)).any(axis=1))
        labels = share.argmax(axis=1)
        violation = 0
        if len(fractional):
            labels, violation = self._repair(cost, codes, labels, fractional, lower, upper)
        info = {
            "lp_cost": float(result.fun),
            "n_fractional": len(fractional),
            "violation": violation,
        }
        return labels, float(cost[np.arange(n), labels].sum()), info

    def _repair(
        self,
        cost: np.ndarray,
        codes: np.ndarray,
        labels: np.ndarray,
        fractional: np.ndarray,
        lower: float,
        upper: float,
    ) -> tuple[np.ndarray, int]:
        """Re-assign the fractional customers (and, if needed, cheap movers) by a small MIP.

        Pools tried in turn: the fractional customers alone; then with, for every (group,
        cluster) cell, its 1, 3 and ``repair_pool`` members cheapest to move (smallest gap
        between their nearest and second-nearest centre).
        """
        n, k = cost.shape
        ordered = np.sort(cost, axis=1)
        regret = ordered[:, 1] - ordered[:, 0] if k > 1 else np.zeros(n)
        cells = [
            np.flatnonzero((codes == a) & (labels == f))
            for a in range(len(self.group_shares_))
            for f in range(k)
        ]
        cells = [idx[np.argsort(regret[idx], kind="stable")] for idx in cells]
        pools = [fractional]
        for per in sorted({1, 3, max(int(self.repair_pool), 1)}):
            pools.append(np.union1d(fractional, np.concatenate([idx[:per] for idx in cells])))
        for pool in pools:
            solved = _repair_mip(cost, codes, labels, pool, self.group_shares_, lower, upper)
            if solved is not None:
                return solved, 0
        violation = int(np.ceil(_violation(labels, codes, self.group_shares_, k, lower, upper)))
        log.warning(
            "FairKMeans: integer repair failed; rounded the LP, bounds missed by up to %d "
            "customer(s)",
            violation,
        )
        return labels, violation


def _sq_dist(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, n × k, without an n × k × d temporary."""
    sq = (X**2).sum(axis=1)[:, None] - 2.0 * X @ centres.T + (centres**2).sum(axis=1)[None, :]
    return np.maximum(sq, 0.0)


def _means(X: np.ndarray, labels: np.ndarray, previous: np.ndarray) -> np.ndarray:
    centres = previous.copy()
    for f in range(len(previous)):
        members = labels == f
        if members.any():
            centres[f] = X[members].mean(axis=0)
    return centres


def _fairness_rows(
    codes: np.ndarray, shares: np.ndarray, k: int, lower: float, upper: float
) -> sp.csr_matrix:
    """``A_ub`` of the fairness constraints over the flattened ``x_jf`` (j major, f minor).

    Row ``f·g + a``: ``lower·r_a·|C_f| − |C_f ∩ a| ≤ 0``;
    row ``k·g + f·g + a``: ``|C_f ∩ a| − upper·r_a·|C_f| ≤ 0``.
    """
    n, g = len(codes), len(shares)
    j = np.repeat(np.arange(n), k)
    f = np.tile(np.arange(k), n)
    col = np.arange(n * k)
    rows, cols, vals = [], [], []
    for a in range(g):
        member = (codes[j] == a).astype(np.float64)
        rows += [f * g + a, k * g + f * g + a]
        cols += [col, col]
        vals += [lower * shares[a] - member, member - upper * shares[a]]
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(2 * k * g, n * k),
    )


def _repair_mip(
    cost: np.ndarray,
    codes: np.ndarray,
    labels: np.ndarray,
    pool: np.ndarray,
    shares: np.ndarray,
    lower: float,
    upper: float,
) -> np.ndarray | None:
    """Assign the customers of ``pool`` by a MIP with the others fixed; ``None`` if infeasible."""
    n, k = cost.shape
    g = len(shares)
    fixed = np.ones(n, dtype=bool)
    fixed[pool] = False
    size = np.bincount(labels[fixed], minlength=k).astype(np.float64)
    count = np.zeros((k, g))
    np.add.at(count, (labels[fixed], codes[fixed]), 1.0)
    A = _fairness_rows(codes[pool], shares, k, lower, upper)
    # constants of the fixed customers, moved to the right-hand side
    const_lower = (lower * shares[None, :] * size[:, None] - count).ravel()
    const_upper = (count - upper * shares[None, :] * size[:, None]).ravel()
    rhs = -np.concatenate([const_lower, const_upper])
    m = len(pool)
    A_eq = sp.csr_matrix((np.ones(m * k), (np.repeat(np.arange(m), k), np.arange(m * k))))
    result = milp(
        cost[pool].ravel(),
        integrality=np.ones(m * k),
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(A, -np.inf, rhs + 1e-9), LinearConstraint(A_eq, 1, 1)],
        options={"time_limit": 10.0},
    )
    if result.x is None:  # infeasible (or no feasible point within the time limit)
        return None
    out = labels.copy()
    out[pool] = result.x.reshape(m, k).argmax(axis=1)
    return out


def _violation(
    labels: np.ndarray, codes: np.ndarray, shares: np.ndarray, k: int, lower: float, upper: float
) -> float:
    """Largest number of customers by which an assignment misses a fairness bound."""
    size = np.bincount(labels, minlength=k).astype(np.float64)
    count = np.zeros((k, len(shares)))
    np.add.at(count, (labels, codes), 1.0)
    low = lower * shares[None, :] * size[:, None] - count
    high = count - upper * shares[None, :] * size[:, None]
    return float(max(low.max(), high.max(), 0.0))
