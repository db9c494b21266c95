"""A surrogate decision tree: readable rules that say who is in which segment.

A shallow :class:`~sklearn.tree.DecisionTreeClassifier` (depth ``max_depth``) is trained to
predict the segment (noise, ``-1``, is a class of its own) from the **human-readable** source
columns (``FeatureMatrix.profile``: recency in days, frequency, spend, age, one-hot region, …),
not from the scaled/embedded clustering features — a global surrogate model in the sense of
Craven & Shavlik (1996), *Extracting Tree-Structured Representations of Trained Networks*,
NeurIPS 8; see also Molnar, *Interpretable Machine Learning*, ch. "Global Surrogate".

- Size: above ``sample_size`` customers (``fairness.surrogate.sample_size``, default
  100,000) the tree is fitted on a seeded sample of that size
  (:func:`segbench.data.sampling.sample_rows`); fidelity and every rule's support, precision
  and coverage are still counted on every customer (a prediction is a walk of ``max_depth``
  nodes), so the cost is bounded and linear in customers.
- ``fidelity`` (logged ``surrogate.fidelity``): share of customers whose segment the tree
  predicts, on every customer — how faithfully *the rules shown* describe the
  segmentation. ``fidelity_cv`` (``surrogate.fidelity_cv``): the same for a tree of the same
  shape, 3-fold cross-validated on the customers it is fitted on — how well such rules
  generalise.
- Rules: every leaf is one rule, the conjunction of the conditions on its path, with the
  conditions on one column merged into a range (``30 < recency ≤ 120``) and 0/1 columns
  written ``region = North`` / ``region ≠ North``. A leaf belongs to its majority segment; a rule
  reports its support (customers), precision (share of them in that segment) and coverage
  (share of the segment it covers).
- Privacy: ``min_samples_leaf`` (default: the k-anonymity k) keeps every leaf, and so every
  rule, about at least k customers (of the sample, so of every customer too). Missing values
  are imputed with the column median first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier

from segbench.data.sampling import sample_rows
from segbench.errors import DataError
from segbench.reporting.numbers import readable


@dataclass
class Rule:
    """One leaf of the surrogate tree, as readable conditions."""

    segment: int
    conditions: list[str]
    support: int
    precision: float
    coverage: float

    def text(self) -> str:
        """``IF a AND b THEN segment s (…)``."""
        body = " AND ".join(self.conditions) if self.conditions else "(every customer)"
        return (
            f"IF {body} THEN segment {self.segment} ({self.support} customers, "
            f"{self.precision:.0%} of them in segment {self.segment}; covers "
            f"{self.coverage:.0%} of the segment)"
        )


@dataclass
class Surrogate:
    """A fitted surrogate tree, its fidelity and its rules per segment."""

    tree: DecisionTreeClassifier
    features: list[str]
    fidelity: float
    fidelity_cv: float | None
    rules: dict[int, list[Rule]] = field(default_factory=dict)

    def rules_markdown(self) -> str:
        """All rules, grouped by segment, as Markdown."""
        lines = [
            f"# Surrogate decision tree (depth ≤ {self.tree.get_params()['max_depth']}, "
            f"{self.tree.get_n_leaves()} leaves)",
            "",
            f"Fidelity (in-sample agreement with the segments): {self.fidelity:.3f}"
            + (f"; 3-fold cross-validated: {self.fidelity_cv:.3f}" if self.fidelity_cv else ""),
            "",
        ]
        for segment in sorted(self.rules):
            lines.append(f"## Segment {segment}")
            lines += [f"- {rule.text()}" for rule in self.rules[segment]] or [
                "- no leaf of the tree predicts this segment"
            ]
            lines.append("")
        return "\n".join(lines)


def _binary(column: pd.Series) -> bool:
    """Whether the column's known values are all 0 or 1 (and it has some): a 0/1 column.

    >>> _binary(pd.Series([0.0, 1.0, None])), _binary(pd.Series([0.0, 2.0]))
    (True, False)
    >>> _binary(pd.Series([None], dtype=float))
    False
    """
    values = column.to_numpy(dtype=float, na_value=np.nan)
    values = values[~np.isnan(values)]  # compared in place: no hash of a million values
    return len(values) > 0 and bool(((values == 0.0) | (values == 1.0)).all())


def fit_surrogate(
    profile: pd.DataFrame,
    labels: np.ndarray,
    max_depth: int = 3,
    min_samples_leaf: int = 10,
    seed: int = 0,
    cv: bool = True,
    sample_size: int | None = None,
) -> Surrogate | None:
    """Fit the surrogate tree from ``profile`` (one row per customer) to ``labels``.

    ``sample_size``: above it, fit on a seeded sample of that many customers (fidelity and
    rules are still counted on every customer); ``None`` fits every customer.
    Returns ``None`` when the profile has no numeric column (e.g. text-only features).

    >>> profile = pd.DataFrame({"recency": [5, 10, 200, 300] * 5})
    >>> s = fit_surrogate(profile, np.array([0, 0, 1, 1] * 5), max_depth=1, min_samples_leaf=2)
    >>> s.fidelity, s.rules[1][0].conditions
    (1.0, ['recency > 105'])
    """
    labels = np.asarray(labels)
    if len(profile) != len(labels):
        raise DataError(f"surrogate: {len(profile)} profile rows but {len(labels)} labels")
    numeric = [
        c
        for c in profile.columns
        if pd.api.types.is_numeric_dtype(profile[c]) or pd.api.types.is_bool_dtype(profile[c])
    ]
    if not numeric:
        return None
    frame = profile[numeric].astype(float)
    frame = frame.fillna(frame.median()).fillna(0.0)
    X = frame.to_numpy()
    leaf = max(1, int(min_samples_leaf))
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=leaf, random_state=seed)
    rows = None if sample_size is None else sample_rows(len(X), int(sample_size), seed, sort=True)
    X_fit, y_fit = (X, labels) if rows is None else (X[rows], labels[rows])
    tree.fit(X_fit, y_fit)
    fidelity = float((tree.predict(X) == labels).mean())
    fidelity_cv = None
    _, counts = np.unique(y_fit, return_counts=True)
    if cv and len(counts) >= 2 and counts.min() >= 3:
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        fidelity_cv = float(cross_val_score(tree, X_fit, y_fit, cv=folds).mean())
    binary = {c for c in numeric if _binary(frame[c])}
    rules = extract_rules(tree, list(numeric), binary, labels, tree.apply(X))
    return Surrogate(tree, list(numeric), fidelity, fidelity_cv, rules)


def extract_rules(
    tree: DecisionTreeClassifier,
    features: list[str],
    binary: set[str],
    labels: np.ndarray,
    leaves: np.ndarray | None = None,
) -> dict[int, list[Rule]]:
    """Every leaf of ``tree`` as a :class:`Rule`, grouped by segment (most precise first).

    ``labels`` and ``leaves`` (each customer's leaf, ``tree.apply``; default: the tree's own
    training counts, ``labels`` being its training labels) are the customers the support,
    precision and coverage are counted on. A leaf's segment is the tree's prediction there.
    """
    t = tree.tree_
    classes = tree.classes_
    sizes = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    rules: dict[int, list[Rule]] = {int(c): [] for c in classes}
    per_leaf = None
    if leaves is not None:
        labels = np.asarray(labels)
        code = np.minimum(np.searchsorted(classes, labels), len(classes) - 1)  # classes_ sorted
        known = classes[code] == labels
        flat = np.bincount(
            leaves[known] * len(classes) + code[known], minlength=t.node_count * len(classes)
        )
        per_leaf = flat.reshape(t.node_count, len(classes))

    def walk(node: int, path: list[tuple[str, str, float]]) -> None:
        left, right = t.children_left[node], t.children_right[node]
        if left == right:  # a leaf
            weights = t.value[node][0]
            best = int(np.argmax(weights))
            segment = int(classes[best])
            if per_leaf is None:
                support = int(t.n_node_samples[node])
                precision = float(weights[best] / weights.sum()) if weights.sum() else 0.0
            else:
                support = int(per_leaf[node].sum())
                precision = float(per_leaf[node, best] / support) if support else 0.0
            in_segment = precision * support
            rules[segment].append(
                Rule(
                    segment=segment,
                    conditions=_simplify(path, binary),
                    support=support,
                    precision=precision,
                    coverage=float(in_segment / sizes[classes[best]]),
                )
            )
            return
        name, threshold = features[t.feature[node]], float(t.threshold[node])
        walk(left, [*path, (name, "<=", threshold)])
        walk(right, [*path, (name, ">", threshold)])

    walk(0, [])
    for segment in rules:
        rules[segment].sort(key=lambda r: (-r.precision * r.support, -r.support))
    return rules


def _simplify(path: list[tuple[str, str, float]], binary: set[str]) -> list[str]:
    """Merge the conditions on each column into one readable condition, in path order."""
    order: list[str] = []
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for name, op, value in path:
        if name not in order:
            order.append(name)
        if op == "<=":
            high[name] = min(high.get(name, np.inf), value)
        else:
            low[name] = max(low.get(name, -np.inf), value)
    out = []
    for name in order:
        if name in binary and "=" in name:
            column, level = name.split("=", 1)
            out.append(f"{column} = {level}" if name in low else f"{column} ≠ {level}")
        elif name in binary:
            out.append(f"{name} = 1" if name in low else f"{name} = 0")
        elif name in low and name in high:
            out.append(f"{readable(low[name])} < {name} ≤ {readable(high[name])}")
        elif name in low:
            out.append(f"{name} > {readable(low[name])}")
        else:
            out.append(f"{name} ≤ {readable(high[name])}")
    return out
