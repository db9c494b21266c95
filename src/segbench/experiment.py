"""One segmentation experiment, top to bottom (docs/architecture.md, "The flow of one run").

settings → load dataset → build features → fit (or tune) → evaluate → profile → analyses →
track. This module is the top: it receives the run's typed settings
(:class:`~segbench.settings.RunSettings`, resolved once by :func:`segbench.configs.resolve`)
and hands each stage its own section or plain values, inside one MLflow run that ends FAILED
(with the error) if any stage raises.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml
from threadpoolctl import threadpool_limits

from segbench import __version__
from segbench.algorithms import Segmentation, fit_segmentation
from segbench.analyses.runner import Fitted, RunFacts, run_analyses
from segbench.data.model import CustomerData
from segbench.data.pseudonyms import key_source
from segbench.datasets import load_dataset
from segbench.evaluation.stability import stability_metrics
from segbench.evaluation.suite import Scorer
from segbench.fairness.scoring import sensitive_frame
from segbench.features import FeatureMatrix, FeaturePipeline, build_blocks, check_feedable
from segbench.reporting.profiles import segment_profiles
from segbench.reporting.responsibility import audit_segmentation
from segbench.settings import RunSettings
from segbench.settings.identity import defining
from segbench.tracking import tracked_run
from segbench.tracking.mlflow_run import RunTracker, flatten
from segbench.tracking.outputs import log_dataset, log_outputs, log_responsibility, run_tags
from segbench.tuning import FeatureSpec, StudySpec

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one experiment produced (also everything it logged to MLflow)."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    labels: pd.Series
    metrics: dict[str, float]
    notes: dict[str, str]
    profiles: pd.DataFrame
    features: FeatureMatrix
    estimator: Any
    data: CustomerData
    settings: RunSettings
    wall_seconds: float = 0.0


def feature_spec(settings: RunSettings) -> FeatureSpec:
    """What builds the run's features."""
    return FeatureSpec(settings.features, settings.blocks, settings.preprocess, settings.seed)


def scorer(settings: RunSettings) -> Scorer:
    """The run's scorer (evaluation and fairness settings, seed)."""
    return Scorer(settings.evaluation, settings.fairness, settings.seed)


def study_spec(settings: RunSettings) -> StudySpec:
    """What the run's study is about (:mod:`segbench.tuning`)."""
    setup = {
        key: value
        for key, value in defining(flatten(settings.dump())).items()
        if not key.startswith(("tune.", "analysis.", "algo.search_space.", "dataset.path"))
    }
    return StudySpec(
        tune=settings.tune,
        algo=settings.algo,
        features=feature_spec(settings),
        seed=settings.seed,
        prefix=".".join(
            (
                settings.tracking.experiment,
                settings.dataset.name,
                settings.features,
                settings.algo.name,
            )
        ),
        setup=setup,
        context={
            "dataset": settings.dataset.name,
            "features": settings.features,
            "preprocess": settings.preprocess.name,
            "algo": settings.algo.name,
        },
        title=settings.title,
        log_plots=settings.tracking.log_plots,
    )


def build_features(
    settings: RunSettings, data: CustomerData
) -> tuple[FeaturePipeline, FeatureMatrix]:
    """The run's feature pipeline, fitted on ``data``, and its feature matrix."""
    pipeline = feature_spec(settings).pipeline()
    check_feedable(pipeline.blocks, data, candidates=build_blocks(settings.blocks))
    features = pipeline.fit_transform(data)
    log.info("features: %d customers × %d columns (%s)", *features.shape, settings.features)
    return pipeline, features


def segment(
    settings: RunSettings,
    data: CustomerData,
    features: FeatureMatrix,
    pipeline: FeaturePipeline,
    run: RunTracker,
) -> tuple[Segmentation, dict[str, float], dict[str, str], FeatureMatrix, FeaturePipeline]:
    """Fit (or tune, then refit) and score the segmentation; its stability too.

    Returns the segmentation, its metrics and notes, and the features and pipeline it was
    fitted on (a study that tunes feature values replaces the run's own).
    """
    score = scorer(settings)
    if not settings.tune.enabled:
        seg = fit_segmentation(settings.algo, features.X, sensitive_frame(data, features.index))
        metrics, notes = score(features, data, seg)
    else:  # a study of trials (nested runs); the selected trial refit
        from segbench.tuning import tune_segmentation

        tuned = tune_segmentation(study_spec(settings), score, data, features, run, pipeline)
        seg, metrics, notes = tuned.segmentation, tuned.metrics, tuned.notes
        features, pipeline = tuned.features, tuned.pipeline or pipeline
    sensitive = sensitive_frame(data, features.index)  # fairness-aware refits need it
    stability = settings.evaluation.stability
    metrics.update(stability_metrics(stability, seg, features.X, settings.seed, notes, sensitive))
    metrics["n_customers"] = float(data.n_customers)
    metrics["n_features"] = float(features.shape[1])
    for name, block in pipeline.blocks.items():
        for key, value in getattr(block, "embedding_stats_", {}).items():
            metrics[f"{name}.embeddings_{key}"] = float(value)
    return seg, metrics, notes, features, pipeline


def describe(
    settings: RunSettings,
    run: RunTracker,
    fitted: Fitted,
    metrics: dict[str, float],
    notes: dict[str, str],
) -> None:
    """Analyse, log and report the fitted run: the analyses, the metrics and artifacts, the
    model, and the fairness, privacy and transparency report with the segment card."""
    facts = RunFacts(
        seed=settings.seed,
        min_cell_size=settings.privacy.min_cell_size,
        silhouette_sample_size=settings.evaluation.silhouette_sample_size,
        title=settings.title,
    )
    analyses = run_analyses(run, settings.analysis, facts, fitted)
    metrics.update(analyses.metrics)
    seg, features = fitted.seg, fitted.features
    log_outputs(
        run,
        settings.tracking,
        metrics,
        notes,
        fitted.profiles,
        seg.labels,
        features,
        seg.estimator,
        title=settings.title,
        seed=settings.seed,
        pipeline=fitted.pipeline,
        data=fitted.data,
        dataset_config=settings.dataset.dump(),
        silhouette_sample_size=facts.silhouette_sample_size,
    )
    report = audit_segmentation(
        settings.fairness,
        fitted.data,
        features,
        seg.labels,
        fitted.profiles,
        min_cell_size=facts.min_cell_size,
        seed=settings.seed,
        title=settings.title,
        expression=settings.features,
        metrics=metrics,
    )
    log_responsibility(
        run,
        report,
        fitted.data.name,
        settings.tracking.log_plots,
        extend_card=analyses.extend_card,
    )
    metrics.update(report.metrics)


def run_experiment(
    settings: RunSettings, overrides: list[str] | None = None, parent_run_id: str | None = None
) -> RunResult:
    """Run the experiment ``settings`` describe and log it; returns the :class:`RunResult`."""
    started = time.perf_counter()
    tags = run_tags(settings, overrides or [], version=__version__, key_source=key_source())
    tracking = settings.tracking
    with (
        tracked_run(
            tracking.uri,
            tracking.experiment,
            run_name=tracking.run_name or settings.title,
            tags=tags,
            parent_run_id=parent_run_id or tracking.parent_run_id,
            heartbeat_seconds=tracking.heartbeat_seconds,
            stale_after_seconds=tracking.stale_after_seconds,
        ) as run,
        threadpool_limits(limits=settings.blas_threads, user_api="blas"),
    ):
        run.params(flatten(settings.dump()))
        run.text(yaml.safe_dump(settings.dump(), sort_keys=False), "config.yaml")
        data = load_dataset(settings.dataset)
        log_dataset(run, data)
        pipeline, features = build_features(settings, data)
        seg, metrics, notes, features, pipeline = segment(settings, data, features, pipeline, run)
        profiles = segment_profiles(seg.labels, features.profile, settings.privacy.min_cell_size)
        describe(settings, run, Fitted(data, features, seg, pipeline, profiles), metrics, notes)
        wall = time.perf_counter() - started
        run.metrics({"wall_seconds": wall})

    return RunResult(
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        tracking_uri=run.uri,
        labels=pd.Series(seg.labels, index=features.index, name="segment"),
        metrics=metrics | {"wall_seconds": wall},
        notes=notes,
        profiles=profiles,
        features=features,
        estimator=seg.estimator,
        data=data,
        settings=settings,
        wall_seconds=wall,
    )


__all__ = [
    "RunResult",
    "build_features",
    "describe",
    "feature_spec",
    "run_experiment",
    "scorer",
    "segment",
    "study_spec",
]
