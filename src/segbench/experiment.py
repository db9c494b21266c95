"""One segmentation experiment, top to bottom (docs/architecture.md, "The flow of one run").

settings → load dataset → build features → fit (or tune) → evaluate → profile → analyses →
track. This module is the top: it receives the run's typed settings
(:class:`~segbench.settings.RunSettings`, resolved once by :func:`segbench.configs.resolve`)
and hands each stage its own section or plain values, inside one MLflow run that ends FAILED
(with the error) if any stage raises.
"""

from __future__ import annotations

import logging
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd
import yaml
from threadpoolctl import threadpool_limits

from segbench import __version__
from segbench.algorithms import Segmentation
from segbench.analyses.runner import Fitted, RunFacts, run_analyses, started_early
from segbench.data.model import CustomerData
from segbench.data.pseudonyms import key_source
from segbench.datasets import load_dataset
from segbench.evaluation.stability import stability_metrics
from segbench.evaluation.suite import Scorer
from segbench.fairness.scoring import sensitive_frame
from segbench.features import FeatureMatrix, FeaturePipeline, build_blocks, check_feedable
from segbench.reporting.profiles import segment_profiles
from segbench.reporting.responsibility import audit_segmentation
from segbench.serving.subsample import fit_segmentation
from segbench.settings import RunSettings
from segbench.settings.identity import defining
from segbench.tracking import tracked_run
from segbench.tracking.console import quiet_libraries
from segbench.tracking.mlflow_run import RunTracker, flatten
from segbench.tracking.outputs import (
    DESCRIPTION_TAG,
    log_dataset,
    log_outputs,
    log_responsibility,
    run_description,
    run_tags,
    sketch_plots,
)
from segbench.tracking.params import run_name, run_params, taken_names, unique_name
from segbench.tracking.phases import PhaseClock
from segbench.tuning.features import FeatureSpec
from segbench.tuning.spec import StudySpec

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
    #: Seconds per phase of the run (``time.<phase>`` metrics), in the order they ran.
    phase_seconds: dict[str, float] = field(default_factory=dict)


def feature_spec(settings: RunSettings) -> FeatureSpec:
    """What builds the run's features."""
    return FeatureSpec(settings.features, settings.blocks, settings.preprocess, settings.seed)


def scorer(settings: RunSettings) -> Scorer:
    """The run's scorer (evaluation and fairness settings, seed)."""
    return Scorer(settings.evaluation, settings.fairness, settings.seed)


#: Tuning settings that change how a study is run, not what its trials compute.
STUDY_OPTIONS = (
    "tune.name",
    "tune.start_at_configured",
    "tune.refit_only",
    "tune.n_trials",
    "tune.budget",
    "tune.timeout",
    "tune.sampler",
    "tune.select",
    "tune.weights",
    "tune.storage",
    "tune.study_name",
    "tune.baseline",
)


def study_spec(settings: RunSettings) -> StudySpec:
    """What the run's study is about (:mod:`segbench.tuning`).

    Its setup (hashed into the default study name) is every setting that defines what a
    trial computes: the defining settings (:func:`segbench.settings.identity.defining`)
    including both search spaces and the feasibility rules, without the analyses, the data
    file's path (its content is checked by fingerprint) and the options of how the study is
    run (:data:`STUDY_OPTIONS`, ``tune.sampler_options``).
    """
    setup = {
        key: value
        for key, value in defining(flatten(settings.dump())).items()
        if not key.startswith(("analysis.", "dataset.path", "tune.sampler_options."))
        and key not in STUDY_OPTIONS
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


_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the password of any URL hidden (``postgresql://user:***@host/db``): the
    tracking and study storage URLs go into the ``config.yaml`` artifact.

    >>> redacted({"tune": {"storage": "postgresql://me:secret@db/optuna"}})
    {'tune': {'storage': 'postgresql://me:***@db/optuna'}}
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out[key] = redacted(value)
        elif isinstance(value, str):
            out[key] = _PASSWORD.sub(r"\1***@", value)
        else:
            out[key] = value
    return out


def dataset_source(settings: RunSettings) -> tuple[list[str], str]:
    """The raw files the run's dataset adapter reads, and its class (the generator of a
    generated dataset): the source of the run's MLflow dataset input."""
    from segbench.datasets.base import build_adapter

    adapter = build_adapter(settings.dataset)
    sources = getattr(adapter, "sources", None)
    files = [str(f) for f in sources()] if callable(sources) else []
    return files, settings.dataset.target


def tuned_paths(settings: RunSettings) -> list[str]:
    """The config paths the run's study varies (none when not tuning)."""
    if not settings.tune.enabled:
        return []
    from segbench.tuning.space import SearchSpace

    return SearchSpace.from_settings(settings.algo, settings.tune, feature_spec(settings)).paths


def name_run(run: RunTracker, name: str) -> str:
    """Give the run ``name``, numbered (``#2``…) when other runs of the experiment have it."""
    from mlflow.tracking import MlflowClient

    unique = unique_name(
        name, taken_names(MlflowClient(run.uri), run.experiment_id, name, run.run_id)
    )
    if unique != name:
        run.tags({"mlflow.runName": unique})
    return unique


def build_features(
    settings: RunSettings, data: CustomerData
) -> tuple[FeaturePipeline, FeatureMatrix]:
    """The run's feature pipeline, fitted on ``data``, and its feature matrix."""
    pipeline = feature_spec(settings).pipeline()
    check_feedable(pipeline.blocks, data, candidates=build_blocks(settings.blocks))
    features = pipeline.fit_transform(data)
    log.info("features: %d customers × %d columns (%s)", *features.shape, settings.features)
    return pipeline, features


class Segmented(NamedTuple):
    """What :func:`segment` gives: the segmentation, its metrics and notes, the features and
    pipeline it was fitted on (a study that tunes feature values replaces the run's own), and
    the tuned values of the refit (path → value; empty when not tuning)."""

    seg: Segmentation
    metrics: dict[str, float]
    notes: dict[str, str]
    features: FeatureMatrix
    pipeline: FeaturePipeline
    tuned: dict[str, Any]


def segment(
    settings: RunSettings,
    data: CustomerData,
    features: FeatureMatrix,
    pipeline: FeaturePipeline,
    run: RunTracker,
    clock: PhaseClock | None = None,
) -> Segmented:
    """Fit (or tune, then refit) and score the segmentation; its stability too.

    A tuned run's params get the refit's values at the tuned paths (the configured ones are
    its ``baseline.*`` params, :func:`segbench.tracking.params.run_params`). ``clock`` times
    the phases ``fit`` (or ``tune``), ``score`` and ``stability``.
    """
    clock = clock or PhaseClock(announce_after=None)
    score = scorer(settings)
    values: dict[str, Any] = {}
    if not settings.tune.enabled:
        clock.mark("fit")
        sensitive = sensitive_frame(data, features.index)
        seg = fit_segmentation(settings.algo, features.X, sensitive, settings.seed)
        clock.mark("score")
        metrics, notes = score(features, data, seg)
        metrics.update(seg.metrics)  # the subsample-then-assign mode's subsample.* metrics
        notes.update(seg.notes)
    else:  # a study of trials (nested runs); the selected trial refit
        from segbench.tuning import tune_segmentation

        clock.mark("tune")
        tuned = tune_segmentation(study_spec(settings), score, data, features, run, pipeline)
        seg, metrics, notes = tuned.segmentation, tuned.metrics, tuned.notes
        features, pipeline = tuned.features, tuned.pipeline or pipeline
        values = dict(tuned.values)
        run.params(values)
    sensitive = sensitive_frame(data, features.index)  # fairness-aware refits need it
    stability = settings.evaluation.stability
    clock.mark("stability")
    metrics.update(stability_metrics(stability, seg, features.X, settings.seed, notes, sensitive))
    metrics["n_customers"] = float(data.n_customers)
    metrics["n_features"] = float(features.shape[1])
    for name, block in pipeline.blocks.items():
        for key, value in getattr(block, "embedding_stats_", {}).items():
            metrics[f"{name}.embeddings_{key}"] = float(value)
    return Segmented(seg, metrics, notes, features, pipeline, values)


def describe(
    settings: RunSettings,
    run: RunTracker,
    fitted: Fitted,
    metrics: dict[str, float],
    notes: dict[str, str],
    clock: PhaseClock | None = None,
    early: dict[str, Any] | None = None,
) -> None:
    """Analyse, report and log the fitted run: the analyses (``early``: those started before
    the fit, :func:`segbench.analyses.runner.started_early`); the fairness, privacy and
    transparency report with the segment card; the metrics and artifacts and the model (the
    phases ``analyses``, ``report`` and ``log`` of ``clock``).

    The figures are sketched as soon as what they show is known, and drawn beside the run
    meanwhile (:mod:`segbench.reporting.drawing`); the ``log`` phase ends by logging them.
    """
    clock = clock or PhaseClock(announce_after=None)
    clock.mark("analyses")
    seg, features = fitted.seg, fitted.features
    facts = RunFacts(
        seed=settings.seed,
        min_cell_size=settings.privacy.min_cell_size,
        silhouette_sample_size=settings.evaluation.silhouette_sample_size,
        title=settings.title,
    )
    if settings.tracking.log_plots:
        sketch_plots(
            run,
            seg.labels,
            features,
            fitted.profiles,
            title=settings.title,
            seed=settings.seed,
            silhouette_sample_size=facts.silhouette_sample_size,
        )
    analyses = run_analyses(run, settings.analysis, facts, fitted, early)
    metrics.update(analyses.metrics)
    clock.mark("report")
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
    clock.mark("log")
    log_outputs(
        run,
        settings.tracking,
        metrics,
        notes,
        fitted.profiles,
        seg.labels,
        features,
        seg.estimator,
        seed=settings.seed,
        pipeline=fitted.pipeline,
        data=fitted.data,
        dataset_config=settings.dataset.dump(),
        min_cell_size=settings.privacy.min_cell_size,
    )
    metrics.update(report.metrics)
    run.log_sketches()  # the figures, drawn beside the run meanwhile


def run_experiment(
    settings: RunSettings, overrides: list[str] | None = None, parent_run_id: str | None = None
) -> RunResult:
    """Run the experiment ``settings`` describe and log it; returns the :class:`RunResult`.

    ``overrides`` (the command line's) name the run by what they change
    (:func:`segbench.tracking.params.run_name`) and are kept as the tag
    ``segbench.overrides``.
    """
    clock = PhaseClock()
    clock.mark("setup")  # the store, the run, its params and config
    overrides = list(overrides or [])
    tags = run_tags(settings, overrides, version=__version__, key_source=key_source())
    tracking = settings.tracking
    name = run_name(settings, overrides)
    try:
        with (
            quiet_libraries(),
            tracked_run(
                tracking.uri,
                tracking.experiment,
                run_name=name,
                tags=tags,
                parent_run_id=parent_run_id or tracking.parent_run_id,
                heartbeat_seconds=tracking.heartbeat_seconds,
                stale_after_seconds=tracking.stale_after_seconds,
                draw_aside=tracking.log_plots and tracking.draw_aside,
            ) as run,
            threadpool_limits(limits=settings.blas_threads, user_api="blas"),
        ):
            if not tracking.run_name:
                name_run(run, name)
            tuned = tuned_paths(settings)
            run.params(run_params(settings, tuned))
            run.text(yaml.safe_dump(redacted(settings.dump()), sort_keys=False), "config.yaml")
            clock.mark("load")
            data = load_dataset(settings.dataset)
            log_dataset(run, data, *dataset_source(settings))
            clock.mark("features")
            pipeline, features = build_features(settings, data)
            # the analyses that read only the features start beside the fit; not when
            # tuning, where the study decides the refit's values
            starting = (
                nullcontext({})
                if settings.tune.enabled
                else started_early(settings.analysis, settings.algo, data, features, settings.seed)
            )
            with starting as early:
                seg, metrics, notes, features, pipeline, values = segment(
                    settings, data, features, pipeline, run, clock
                )
                clock.mark("profile")
                profiles = segment_profiles(
                    seg.labels, features.profile, settings.privacy.min_cell_size
                )
                describe(
                    settings,
                    run,
                    Fitted(data, features, seg, pipeline, profiles),
                    metrics,
                    notes,
                    clock,
                    early,
                )
            clock.stop()
            wall = clock.total
            times = clock.metrics()
            run.metrics({"wall_seconds": wall, **times})
            summary = run_description(
                metrics,
                notes,
                tuned=values if settings.tune.enabled else None,
                objectives=[o.rpartition(":")[0] or o for o in settings.tune.objectives],
            )
            run.tags({DESCRIPTION_TAG: summary})
    finally:  # a failed run leaves no phase announcing itself
        clock.stop()

    return RunResult(
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        tracking_uri=run.uri,
        labels=pd.Series(seg.labels, index=features.index, name="segment"),
        metrics=metrics | {"wall_seconds": wall, **times},
        notes=notes,
        profiles=profiles,
        features=features,
        estimator=seg.estimator,
        data=data,
        settings=settings,
        wall_seconds=wall,
        phase_seconds=dict(clock.seconds),
    )


__all__ = [
    "RunResult",
    "Segmented",
    "build_features",
    "dataset_source",
    "describe",
    "feature_spec",
    "name_run",
    "run_experiment",
    "scorer",
    "segment",
    "study_spec",
    "tuned_paths",
]
