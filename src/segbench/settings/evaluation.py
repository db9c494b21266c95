"""Settings of the evaluation of a segmentation (config group ``evaluation``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from segbench.settings.base import Section


class StabilitySettings(Section):
    """Stability: mean pairwise ARI between refits of the run's algorithm on resamples of a
    seeded sample of the customers (:mod:`segbench.evaluation.stability`)."""

    enabled: bool = True
    """Compute ``stability`` (``n_resamples`` small fits, whatever the dataset size)."""
    method: Literal["bootstrap", "subsample", "seeds"] = "bootstrap"
    """``bootstrap`` (with replacement), ``subsample`` (without, ``subsample_fraction``) or
    ``seeds`` (same sample, ``random_state`` varied; skipped for deterministic algorithms)."""
    n_resamples: int = Field(5, ge=2)
    """Refits compared pairwise."""
    max_samples: int = Field(2000, ge=20)
    """Customers in the base sample the resamples are drawn from."""
    subsample_fraction: float = Field(0.8, gt=0.0, le=1.0)
    """Share of the base sample in each resample (``method=subsample``)."""
    threads: int | None = Field(1, ge=1)
    """OpenMP/BLAS threads of the refits (null = the libraries' default); one is many times
    faster for these small fits on a loaded machine."""


class EvaluationSettings(Section):
    """Which metrics a segmentation gets (:mod:`segbench.evaluation`)."""

    silhouette_sample_size: int = Field(10_000, ge=2)
    """Silhouette is O(n²): above this many customers it is computed on a seeded sample of
    this size (logged as ``silhouette_sample_size``)."""
    dbcv_sample_size: int = Field(2000, ge=10)
    """DBCV (density methods only, :mod:`segbench.evaluation.dbcv`) is O(n²) within each
    segment: above this many segmented customers it is computed on a seeded stratified sample
    of this size (logged as ``dbcv_sample_size``)."""
    external: bool = True
    """External indices (``ari``, ``ami``, ``nmi``) when the dataset has ground-truth labels."""
    stability: StabilitySettings = StabilitySettings()
    """See :class:`StabilitySettings`."""
