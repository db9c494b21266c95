"""Every metric segbench logs: its better direction, family and valid range, in one place.

Evaluation documents its metrics here, tuning reads an objective's default direction here,
and the leaderboard ranks and bounds its columns by it. A name is an exact metric name or a
pattern where ``*`` stands for one part of a dotted name (``fairness.*.balance`` covers
``fairness.gender.balance``).

Directions: ``"max"`` (higher is better), ``"min"`` (lower is better) or ``None`` for context
that has no better direction (the number of segments, a sample size); such a metric cannot be
ranked or be an objective without an explicit direction.

>>> direction("fairness.gender.dp_difference"), direction("silhouette")
('min', 'max')
>>> lookup("ari").bounds
(-0.5, 1.0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from segbench.errors import ConfigError

INF = math.inf


@dataclass(frozen=True)
class MetricDef:
    """One metric (or pattern of metrics): how to read it."""

    name: str
    direction: str | None
    family: str
    low: float = -INF
    high: float = INF
    description: str = ""

    @property
    def bounds(self) -> tuple[float, float]:
        """The range every value lies in (``-inf``/``inf`` when unbounded)."""
        return self.low, self.high

    @property
    def is_pattern(self) -> bool:
        return "*" in self.name


def _m(name: str, direction: str | None, family: str, low: float = -INF, high: float = INF,
       description: str = "") -> MetricDef:  # fmt: skip
    return MetricDef(name, direction, family, float(low), float(high), description)


#: The registry (see the module docstring). Exact names before patterns.
METRICS: tuple[MetricDef, ...] = (
    # internal indices, on non-noise customers (segbench.evaluation.metrics)
    _m("silhouette", "max", "internal", -1, 1, "mean silhouette (sampled above a size)"),
    _m("davies_bouldin", "min", "internal", 0, INF, "Davies–Bouldin index"),
    _m("calinski_harabasz", "max", "internal", 0, INF, "Calinski–Harabasz index"),
    _m("silhouette_all", "max", "internal", -1, 1, "silhouette × coverage: noise counts 0"),
    _m("silhouette_sample_size", None, "context", 0, INF, "customers in the silhouette"),
    # density-based validity, density methods only (segbench.evaluation.dbcv)
    _m("dbcv", "max", "internal", -1, 1, "density-based clustering validation (DBCV)"),
    _m("dbcv_sample_size", None, "context", 0, INF, "customers in the DBCV"),
    # external indices, against ground truth
    _m("ari", "max", "external", -0.5, 1, "adjusted Rand index"),
    _m("ami", "max", "external", -1, 1, "adjusted mutual information"),
    _m("nmi", "max", "external", 0, 1, "normalised mutual information"),
    _m("labelled_customers", None, "context", 0, INF, "customers the external indices used"),
    # model-specific
    _m("bic", "min", "model", description="Bayesian information criterion (GMM)"),
    _m("aic", "min", "model", description="Akaike information criterion (GMM)"),
    _m("inertia", "min", "model", 0, INF, "within-segment sum of squares (k-means)"),
    # context of a segmentation and of the data
    _m("n_segments", None, "context", 0, INF, "segments found, noise excluded"),
    _m("noise_fraction", "min", "context", 0, 1, "share of customers labelled noise"),
    # derived by the leaderboard from noise_fraction, not logged by runs
    _m("coverage", "max", "context", 0, 1, "share of customers in a segment: 1 − noise_fraction"),
    _m("n_customers", None, "context", 0, INF),
    _m("n_features", None, "context", 0, INF),
    # cost
    _m("fit_seconds", "min", "cost", 0, INF, "wall time of the fit"),
    _m("wall_seconds", "min", "cost", 0, INF, "wall time of the run"),
    _m("*.seconds", "min", "cost", 0, INF, "wall time of an analysis"),
    _m("time.*", "min", "cost", 0, INF, "wall time of a phase of the run"),
    # stability (segbench.evaluation.stability)
    _m("stability", "max", "stability", -0.5, 1, "mean pairwise ARI of refits"),
    _m("stability_std", "min", "stability", 0, INF),
    _m("stability_resamples", None, "context", 0, INF),
    _m("stability_sample_size", None, "context", 0, INF),
    # fairness, per sensitive attribute (segbench.fairness.metrics)
    _m("fairness.*.balance", "max", "fairness", 0, 1),
    _m("fairness.*.dp_difference", "min", "fairness", 0, 1),
    _m("fairness.*.silhouette_gap", "min", "fairness", 0, 2),
    _m("fairness.*.distribution_distance", "min", "fairness", 0, 1),
    _m("proxy.*.score", "min", "fairness", 0, 1, "balanced accuracy of predicting the attribute"),
    _m("proxy.*.chance", None, "context", 0, 1),
    # transparency and privacy (segbench.reporting)
    _m("surrogate.fidelity", "max", "transparency", 0, 1),
    _m("surrogate.fidelity_cv", "max", "transparency", 0, 1),
    _m("surrogate.n_leaves", None, "context", 0, INF),
    _m("privacy.small_segments", "min", "privacy", 0, INF),
    # assignment of new customers (segbench.serving.assignment)
    _m("assign.agreement", "max", "assign", 0, 1),
    _m("assign.agreement_ari", "max", "assign", -0.5, 1),
    _m("assign.train_agreement", "max", "assign", 0, 1),
    _m("assign.holdout_customers", None, "context", 0, INF),
    # predictive value (segbench.analyses.predictive)
    _m("predictive.spend.r2_segments", "max", "predictive", -INF, 1),
    _m("predictive.spend.r2_model", "max", "predictive", -INF, 1),
    _m("predictive.spend.r2_log_segments", "max", "predictive", -INF, 1),
    _m("predictive.spend.r2_log_model", "max", "predictive", -INF, 1),
    _m("predictive.spend.mae_segments", "min", "predictive", 0, INF),
    _m("predictive.spend.mae_model", "min", "predictive", 0, INF),
    _m("predictive.churn.auc_segments", "max", "predictive", 0, 1),
    _m("predictive.churn.auc_model", "max", "predictive", 0, 1),
    _m("predictive.churn.rate", None, "context", 0, 1),
    _m("predictive.response.auc_segments", "max", "predictive", 0, 1),
    _m("predictive.response.auc_model", "max", "predictive", 0, 1),
    _m("predictive.response.max_lift", "max", "predictive", 0, INF),
    _m("predictive.response.min_lift", None, "context", 0, INF),
    _m("predictive.response.base_rate", None, "context", 0, 1),
    _m("predictive.customers", None, "context", 0, INF),
    _m("predictive.horizon_days", None, "context", 0, INF),
    # segments over time (segbench.analyses.temporal)
    _m("temporal.stability", "max", "temporal", -0.5, 1),
    _m("temporal.stay_rate", "max", "temporal", 0, 1),
    _m("temporal.mean_share_tvd", "min", "temporal", 0, 1),
    _m("temporal.drift_windows", "min", "temporal", 0, INF),
    _m("temporal.windows", None, "context", 0, INF),
    _m("temporal.online.ari_vs_refit", "max", "temporal", -0.5, 1),
    _m("temporal.online.ari_vs_refit_same_features", "max", "temporal", -0.5, 1),
    _m("temporal.online.ari_refit_reseeded", "max", "temporal", -0.5, 1),
    _m("temporal.online.inertia_ratio", "min", "temporal", 0, INF),
    _m("temporal.online.update_seconds_mean", "min", "cost", 0, INF),
    _m("temporal.online.update_seconds_total", "min", "cost", 0, INF),
    _m("temporal.online.refit_seconds", "min", "cost", 0, INF),
    _m("temporal.online.batches", None, "context", 0, INF),
    # choice of k (segbench.analyses.k_selection)
    _m("k_selection.elbow_k", None, "context", 0, INF),
    _m("k_selection.silhouette_k", None, "context", 0, INF),
    # text embeddings (segbench.features.text)
    _m("*.embeddings_computed", None, "context", 0, INF),
    _m("*.embeddings_cached", None, "context", 0, INF),
)


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, MetricDef], list[tuple[re.Pattern[str], MetricDef]]]:
    exact = {m.name: m for m in METRICS if not m.is_pattern}
    patterns = [
        (re.compile("^" + re.escape(m.name).replace(r"\*", r"[^.]+") + "$"), m)
        for m in METRICS
        if m.is_pattern
    ]
    return exact, patterns


def lookup(name: str) -> MetricDef | None:
    """The definition of metric ``name``, or ``None`` for a metric segbench does not know.

    ``best.<metric>`` and ``baseline.<metric>`` (tuned runs) read as ``<metric>``.
    """
    exact, patterns = _index()
    for prefix in ("best.", "baseline."):
        if name.startswith(prefix) and name[len(prefix) :] in exact:
            return exact[name[len(prefix) :]]
    if name in exact:
        return exact[name]
    for pattern, metric in patterns:
        if pattern.match(name):
            return metric
    return None


def direction(name: str) -> str:
    """``"max"`` or ``"min"``: the better direction of ``name``.

    Raises :class:`ConfigError` for a metric that is unknown or has no better direction.
    """
    metric = lookup(name)
    if metric is None or metric.direction is None:
        known = sorted(m.name for m in METRICS if m.direction is not None)
        why = "has no better direction" if metric is not None else "is not a metric segbench knows"
        raise ConfigError(f"metric {name!r} {why}; metrics with a direction: {', '.join(known)}")
    return metric.direction


__all__ = ["METRICS", "MetricDef", "direction", "lookup"]
