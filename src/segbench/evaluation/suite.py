"""Every metric of a fitted segmentation, as configured: the one scorer that a run and each
tuning trial call, so a tuning objective can be any logged metric.

>>> import numpy as np, pandas as pd
>>> from segbench.algorithms import Segmentation
>>> from segbench.data import CustomerData, DatasetMeta
>>> from segbench.features import FeatureMatrix
>>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
>>> ids = pd.Index(list("abcd"), name="customer_id")
>>> data = CustomerData(customers=pd.DataFrame(index=ids), meta=DatasetMeta(name="toy"))
>>> features = FeatureMatrix(X, ids, ["x"], {"toy": ["x"]})
>>> metrics, notes = Scorer()(features, data, Segmentation(None, np.array([0, 0, 1, 1]), 0.0))
>>> round(metrics["silhouette"], 3), metrics["n_segments"]
(0.98, 2.0)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace

from segbench.algorithms import Segmentation
from segbench.data.model import CustomerData
from segbench.evaluation.dbcv import is_density_based, sampled_dbcv
from segbench.evaluation.metrics import evaluate, silhouette_sample
from segbench.fairness.scoring import fairness_scores
from segbench.features import FeatureMatrix
from segbench.settings import EvaluationSettings, FairnessSettings


@dataclass(frozen=True)
class Scorer:
    """Scores segmentations with the run's evaluation and fairness settings and seed.

    Calling it gives ``(metrics, notes)``: internal indices, external ones when the data has
    labels, model-specific ones, ``fit_seconds``, DBCV for density methods
    (:func:`density_metrics`), and ``fairness.<attribute>.<metric>`` per audited sensitive
    attribute (:mod:`segbench.fairness.scoring`).

    ``only``: compute just these metrics (plus ``n_segments``, ``noise_fraction`` and
    ``fit_seconds``, which say whether a trial is feasible); ``None``, a run's scorer, computes
    every one. A tuning trial's scorer is :meth:`for_metrics` of its objectives.
    """

    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    fairness: FairnessSettings = field(default_factory=FairnessSettings)
    seed: int = 0
    only: frozenset[str] | None = None

    def for_metrics(self, names: Collection[str]) -> Scorer:
        """The same scorer computing only ``names`` (a tuning trial's objectives).

        >>> sorted(Scorer().for_metrics(["silhouette"]).only)
        ['silhouette']
        """
        return replace(self, only=frozenset(names))

    def wants(self, name: str) -> bool:
        """Whether this scorer computes ``name``."""
        return self.only is None or name in self.only

    def __call__(
        self, features: FeatureMatrix, data: CustomerData, seg: Segmentation
    ) -> tuple[dict[str, float], dict[str, str]]:
        only = self.only
        truth = None
        if (
            data.labels is not None
            and self.evaluation.external
            and (only is None or not only.isdisjoint(EXTERNAL))
        ):
            truth = data.labels.reindex(features.index).astype(str).to_numpy()
        silhouettes = None
        if only is None or any(
            n in ("silhouette", "silhouette_all") or n.endswith(".silhouette_gap") for n in only
        ):
            silhouettes = silhouette_sample(
                features.X, seg.labels, self.evaluation.silhouette_sample_size, self.seed
            )
        metrics, notes = evaluate(
            features.X,
            seg.labels,
            truth=truth,
            model=seg.estimator,
            silhouette_sample_size=self.evaluation.silhouette_sample_size,
            seed=self.seed,
            silhouettes=silhouettes,
            only=only,
        )
        metrics["fit_seconds"] = seg.fit_seconds
        metrics.update(
            density_metrics(features, seg, self.evaluation, self.seed, notes, self.wants("dbcv"))
        )
        if only is None or any(n.startswith("fairness.") for n in only):
            metrics.update(
                fairness_scores(self.fairness, data, features.index, seg.labels, silhouettes, only)
            )
        return metrics, notes


#: The external indices (they need the ground truth).
EXTERNAL = frozenset({"ari", "ami", "nmi", "labelled_customers"})


def density_metrics(
    features: FeatureMatrix,
    seg: Segmentation,
    evaluation: EvaluationSettings,
    seed: int,
    notes: dict[str, str],
    compute: bool = True,
) -> dict[str, float]:
    """``dbcv`` and ``dbcv_sample_size`` for a density method (:mod:`segbench.evaluation.dbcv`),
    nothing for any other; the values an estimator resolved at fit time
    (``resolved_params_``, e.g. DBSCAN's ``eps="auto"``) go to ``notes["resolved_params"]``."""
    resolved = getattr(seg.estimator, "resolved_params_", None)
    if resolved:
        notes["resolved_params"] = ", ".join(
            f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
            for key, value in resolved.items()
        )
    if not compute or not is_density_based(seg.estimator):
        return {}
    value, used = sampled_dbcv(features.X, seg.labels, evaluation.dbcv_sample_size, seed)
    if value != value:  # NaN: fewer than two segments
        notes["dbcv_skipped"] = "DBCV needs at least two segments (noise excluded)"
        return {}
    return {"dbcv": value, "dbcv_sample_size": float(used)}
