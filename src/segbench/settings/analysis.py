"""Settings of the analyses that follow the segmentation (config group ``analysis``).

Each analysis runs only when enabled and when the dataset has the parts it needs; otherwise
the tag ``segbench.<analysis>.skipped`` says why (:mod:`segbench.analyses`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from segbench.settings.base import Section


class AssignSettings(Section):
    """Agreement of the assignment method on held-out customers
    (:mod:`segbench.serving.assignment`)."""

    enabled: bool = True
    holdout: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of customers held out."""
    max_customers: int = Field(50_000, ge=20)
    """Larger data: a seeded sample of this many takes part."""


class PredictiveSettings(Section):
    """Next-period spend and churn (segments against gradient boosting), response lift
    (:mod:`segbench.analyses.predictive`). Off by default: cross-validated gradient boosting
    per outcome costs about 5-10 s at 5k customers."""

    enabled: bool = False
    cutoff: str | None = None
    """``YYYY-MM-DD``; null = last transaction day + 1 − ``horizon_days``."""
    horizon_days: int = Field(90, ge=1)
    """Length of the outcome period after the cutoff."""
    folds: int = Field(5, ge=2)
    """Cross-validation folds."""
    max_customers: int = Field(100_000, ge=20)
    """Larger data: a seeded sample of this many takes part."""


class PersonalisationSettings(Section):
    """Top products, over-bought products (lift), c-TF-IDF terms, RFM names, recommendations
    (:mod:`segbench.analyses.personalisation`)."""

    enabled: bool = True
    top_n: int = Field(10, ge=1)
    """Products / terms per segment."""
    min_support: float = Field(0.05, ge=0.0, le=1.0)
    """A product must be bought by this share of the segment …"""
    min_customers: int = Field(5, ge=1)
    """… and by at least this many of its customers (also for terms)."""
    n_offers: int = Field(3, ge=1)
    """Offers recommended per segment."""


class OnlineSettings(Section):
    """Online updates (mini-batch k-means ``partial_fit``) against a full refit."""

    enabled: bool = True
    """With ``temporal.enabled``."""
    batch_freq: str = "M"
    """One ``partial_fit`` per calendar period of transactions (pandas alias)."""
    history_days: int | None = Field(None, ge=1)
    """null = cumulative features (as the run); N = trailing N days."""
    warmup_batches: int = Field(3, ge=1)
    """The feature scaling is fitted (then frozen) after this many batches."""


class TemporalSettings(Section):
    """One segmentation per window, migration, drift (:mod:`segbench.analyses.temporal`)."""

    enabled: bool = False
    """Refits once per window: off by default."""
    freq: str = "Q"
    """Pandas period alias of the windows (``Q`` quarters, ``M`` months)."""
    min_customers: int = Field(20, ge=2)
    """Windows with fewer active customers are skipped."""
    match: Literal["centroids", "overlap"] = "centroids"
    """Matching of segments across windows: behaviour (centroids, in the previous window's
    feature space) or member overlap."""
    drift_ari: float = Field(0.5, ge=-1.0, le=1.0)
    """Drift when the ARI to the previous window's model is below this …"""
    drift_share: float = Field(0.15, ge=0.0, le=1.0)
    """… or the total variation distance of segment shares above this."""
    online: OnlineSettings = OnlineSettings()


class KSelectionSettings(Section):
    """Elbow (or BIC) and silhouette over k for the algorithms that take a number of segments
    (:mod:`segbench.analyses.k_selection`); on by default, at a bounded cost."""

    enabled: bool = True
    """Skipped (tag ``segbench.k_selection.skipped``) for algorithms without k."""
    k_min: int = Field(2, ge=2)
    k_max: int = Field(10, ge=2)
    sample_size: int = Field(2_000, ge=20)
    """The curve is fitted on a seeded sample of at most this many customers."""
    n_init: int | None = Field(2, ge=1)
    """At most this many restarts per fit (the run's own ``n_init`` when lower; null = the
    run's)."""

    @model_validator(mode="after")
    def _ordered(self) -> KSelectionSettings:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class AnalysisSettings(Section):
    """The analyses after the segmentation, in the same run."""

    threads: int | None = Field(1, ge=1)
    """OpenMP threads of the analyses' refits and gradient boosting (null = the library
    default); one avoids oversubscription, which made small fits 10-500× slower on a shared
    2-core machine."""
    assign: AssignSettings = AssignSettings()
    predictive: PredictiveSettings = PredictiveSettings()
    personalisation: PersonalisationSettings = PersonalisationSettings()
    temporal: TemporalSettings = TemporalSettings()
    k_selection: KSelectionSettings = KSelectionSettings()
